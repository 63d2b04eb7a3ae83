# Every target bootstraps the environment idempotently (scripts/setup.sh is a few seconds when nothing changed).
.PHONY: setup test test-slow lint bench demo clean

RUN := scripts/run.sh

setup:
	@bash scripts/setup.sh

lint: setup
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .

test: lint
	@$(RUN) python -m pytest -q

test-slow: setup
	@$(RUN) python -m pytest -q -m slow

# Simulated closed loop with the bundled models; options: make demo DEMO_ARGS="--task reach --episodes 5"
demo: setup
	@$(RUN) python -m jepa_bringup.demo $(DEMO_ARGS)

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

clean:
	rm -rf ros2_ws/build ros2_ws/install ros2_ws/log ros2_ws/.build.sha256
