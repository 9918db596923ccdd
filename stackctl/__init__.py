"""stackctl: a declarative stack deployer for Docker Swarm."""

__version__ = "0.1.0"
