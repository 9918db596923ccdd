"""The lab: a multi-node swarm of real dockerds in network namespaces on this machine."""
