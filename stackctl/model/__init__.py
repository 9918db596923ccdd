"""Facts derived from the normalised stack (the model, docs/architecture.md): pure, no engine."""
