"""Stage 4, convert: a validated stack to Engine API specs (pure functions, no engine calls)."""
