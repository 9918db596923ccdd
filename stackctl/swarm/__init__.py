"""What stackctl reads from a swarm, and the rules for reading it, each in one place.

A low layer (it imports only placement, units, names and errors): the Engine API JSON parts read
(`api.py`), task states (`states.py`), engine times and `--since` (`times.py`), service modes and
tasks wanted (`modes.py`), nodes and node eligibility (`nodes.py`), stack filters and object names
(`stacks.py`) and service-log framing (`logs.py`). Pure functions: no engine calls here.
"""
