"""Stage 2, validate: JSON schema per Compose version, then meaning checks."""
