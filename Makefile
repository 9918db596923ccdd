# stackctl: the two commands that matter are `make demo` and `make test` (as root; with sudo otherwise).
PYTHON ?= python3
export PYTHON

.PHONY: setup test demo up down status unit lint typecheck bench bench-compose-v1

setup:  ## install missing system packages and stackctl itself (only what is missing)
	./scripts/setup.sh

test: setup  ## lab up, the whole test suite (unit + integration), lab down (always)
	./scripts/test.sh

demo: setup  ## lab up, then deploy the AtSea example and show where its tasks run
	./scripts/demo.sh

up:  ## start the lab swarm (mgr-1, wrk-1, wrk-2)
	$(PYTHON) -m stackctl lab up

down:  ## stop the lab and remove everything it made
	$(PYTHON) -m stackctl lab down

status:
	$(PYTHON) -m stackctl lab status

unit:  ## unit tests only: no lab, no root
	$(PYTHON) -m pytest -q tests/unit

lint:
	$(PYTHON) -m ruff check stackctl tests

typecheck:  ## mypy --strict on the modules [tool.mypy] lists in pyproject.toml (also run by `make test`)
	$(PYTHON) -m mypy

bench:  ## stackctl against docker stack config/deploy on the lab (starts the lab only if it is down)
	$(PYTHON) -m bench $(BENCH_ARGS)

bench-compose-v1:  ## optional: docker-compose 1.29.2 in /tmp/stackctl-bench-compose-v1 as the config baseline
	./bench/setup-compose-v1.sh
