"""jepa_core.stop_signals: SIGINT/SIGTERM become a recorded stop request; after a stop they stay ignored."""

import os
import signal

import pytest

from jepa_core.stop_signals import StopSignals, run_until_stopped


@pytest.fixture(autouse=True)
def restore_handlers():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


def test_signals_are_recorded_not_raised_and_errors_after_a_stop_are_quiet():
    with StopSignals() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)  # the default handler would raise KeyboardInterrupt here
        os.kill(os.getpid(), signal.SIGTERM)  # ... and this would end the process
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.received == [signal.SIGINT, signal.SIGTERM, signal.SIGINT]
        raise RuntimeError("context shut down while the node was built")  # swallowed: caused by the stop
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_without_a_stop_errors_propagate_and_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="real failure"), StopSignals():
        raise RuntimeError("real failure")
    assert signal.getsignal(signal.SIGINT) is before


def test_run_until_stopped_closes_and_finishes_in_every_case():
    calls = []

    def lifecycle(run, build=lambda: calls.append("build") or "service"):
        run_until_stopped(
            start=lambda: calls.append("start"), build=build, run=run, close=lambda s: calls.append(f"close {s}"),
            finish=lambda: calls.append("finish"), stopped_by=(TimeoutError,),
        )  # fmt: skip

    lifecycle(lambda service: calls.append(f"run {service}"))
    assert calls == ["start", "build", "run service", "close service", "finish"]
    calls.clear()

    def stopped_by_signal(service):
        os.kill(os.getpid(), signal.SIGTERM)
        raise TimeoutError("what rclpy raises once its context is shut down")

    lifecycle(stopped_by_signal)
    assert calls == ["start", "build", "close service", "finish"]
    calls.clear()

    def failing_build():
        raise ValueError("bad parameter")

    with pytest.raises(ValueError, match="bad parameter"):
        lifecycle(lambda service: None, build=failing_build)
    assert calls == ["start", "finish"]  # nothing was built, so nothing is closed; the runtime is still shut down
