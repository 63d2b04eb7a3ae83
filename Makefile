# Every target bootstraps the environment idempotently (scripts/setup.sh is a few seconds when nothing changed).
# ROS_DISTRO=jazzy make <target> uses the Jazzy environment (.venv-jazzy, ros2_ws/*-jazzy); Kilted is the default.
.PHONY: setup test test-slow lint bench demo clean

RUN := scripts/run.sh
# pytest-xdist workers of `make test` (test files stay whole on one worker, so module fixtures run once); 0 = serial.
TEST_WORKERS ?= 2

setup:
	@bash scripts/setup.sh

lint: setup
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

test: lint
	@$(RUN) python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: setup
	@$(RUN) python -m pytest -q -m slow

# Simulated closed loop with the bundled models; options: make demo DEMO_ARGS="--task reach --episodes 5"
demo: setup
	@$(RUN) python -m jepa_bringup.demo $(DEMO_ARGS)

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

clean:
	@bash -c 'source scripts/distro.sh && rm -rf "$$JEPA_BUILD_BASE" "$$JEPA_INSTALL_BASE" "$$JEPA_LOG_BASE" "$$JEPA_BUILD_LOG" "$$JEPA_BUILD_STAMP"'
