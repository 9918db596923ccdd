"""The compose file's short syntaxes, one module each: what validate accepts is what load expands.

`ports.py` (`[IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`), `volumes.py`
(`[SOURCE:]TARGET[:OPTIONS]`). Value units (durations, byte sizes, CPUs) are in `stackctl.units`.
"""
