# Two entry points for a newcomer: `make demo` and `make test`.
# Each sets up whatever is missing (host packages, podman, the venv, the
# container images) and then runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
ACTIVATE := source $(VENV)/bin/activate &&
SCENARIOS := $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

.PHONY: help setup images demo demo-down test lint unit collection molecule bench-smoke ee build clean

help:
	@echo "make demo      set up and run the SLA maintenance job on the demo fleet, then write its docs and reports"
	@echo "make test      set up and run lint, unit and molecule tests"
	@echo "make demo-down stop the demo fleet"
	@echo "make build     build the collection tarball"

setup:
	@bash scripts/setup.sh

images: setup
	@bash scripts/build-images.sh

# The demo ends with each customer's documentation and SLA report. A fresh
# fleet has no complete quarter behind it, so its report covers the quarter to date.
demo: images
	@bash scripts/demo-fleet.sh up
	@$(ACTIVATE) ansible-playbook playbooks/maintenance.yml
	@$(ACTIVATE) ansible-playbook playbooks/docs.yml
	@$(ACTIVATE) ansible-playbook playbooks/sla_report.yml \
	  -e sla_report_period_start=$$(bash scripts/demo-fleet.sh quarter-start) \
	  -e sla_report_period_end=$$(date +%F)

demo-down:
	@bash scripts/demo-fleet.sh down

# Each stage timed, with a table of wall times at the end (scripts/test.sh).
test:
	@bash scripts/test.sh

lint: setup
	@echo "==> yamllint"; $(ACTIVATE) yamllint --strict .
	@echo "==> ruff"; $(ACTIVATE) ruff check . && ruff format --check .
	@echo "==> ansible-lint"; $(ACTIVATE) ansible-lint
	@echo "==> role READMEs match their argument specs"; $(ACTIVATE) python scripts/role_readmes.py --check

unit: setup
	@echo "==> unit and integration tests"; $(ACTIVATE) pytest

collection: setup
	@echo "==> collection tarball"; $(ACTIVATE) bash scripts/check-build.sh

molecule: images
	@set -e; for s in $(SCENARIOS); do \
	  echo "==> molecule scenario $$s"; \
	  $(ACTIVATE) molecule test -s $$s; \
	done

# The fleet benchmark at one host: a check that it still works, not a measurement.
bench-smoke: images
	@echo "==> fleet benchmark smoke run (N=1)"; $(ACTIVATE) python benchmarks/fleet.py --hosts 1 --runs 1

# The execution environment AWX runs (cached by a hash of its inputs), and the
# maintenance job run in it against the demo fleet with ansible-runner.
ee: images
	@echo "==> execution environment: build and maintenance run"; $(ACTIVATE) pytest -s -p no:cacheprovider tests/ee

build: setup
	@$(ACTIVATE) ansible-galaxy collection build --force --output-path out/

clean: demo-down
	rm -rf out .cache/collections
