"""Stage 1, load: YAML (anchors, merge keys, x- fields), interpolation, env files, merge."""
