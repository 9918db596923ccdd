"""One module per command: each `run(...)` wires pipeline stages and returns an exit code."""
