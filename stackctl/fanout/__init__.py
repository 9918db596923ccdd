"""One environment, many swarms: targets, waves, bake, gates and on_failure (docs/fan-out.md).

`spec.py` reads them from stackctl.yml, `driver.py` rolls a stack out through them (the deploy service
layer's multi-target driver), `gates.py` runs a wave's gates.
"""
