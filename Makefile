# stackctl: the two commands that matter are `make demo` and `make test` (as root; with sudo otherwise).
PYTHON ?= python3
export PYTHON

.PHONY: setup test demo up down status unit lint typecheck bench bench-compose-v1

setup:  ## install missing system packages and stackctl itself (only what is missing)
	./scripts/setup.sh

test: setup  ## lint, N labs up, the whole suite (unit + integration) on N pytest workers, labs down (always)
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

lint:  ## ruff, mypy --strict on the package, and the layer contract (import-linter); also run by `make test`
	./scripts/lint.sh

typecheck:  ## mypy --strict on the whole stackctl package (also run by `make lint` and `make test`)
	$(PYTHON) -m mypy

bench:  ## stackctl against docker stack config/deploy on the lab (starts the lab only if it is down)
	$(PYTHON) -m bench $(BENCH_ARGS)

bench-compose-v1:  ## optional: docker-compose 1.29.2 in /tmp/stackctl-bench-compose-v1 as the config baseline
	./bench/setup-compose-v1.sh
