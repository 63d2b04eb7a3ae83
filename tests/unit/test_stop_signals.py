"""jepa_core.stop_signals: SIGINT/SIGTERM become a recorded stop request, repeated ones are ignored within the grace
time and end the process after it; inside `interrupting()` a signal abandons start-up."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from jepa_core.stop_signals import StopRequested, StopSignals


@pytest.fixture(autouse=True)
def restore_handlers():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (for what ends a process), with its exit status and output."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )


def test_signals_are_recorded_not_raised_and_errors_after_a_stop_are_quiet():
    with StopSignals() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)  # the default handler would raise KeyboardInterrupt here
        os.kill(os.getpid(), signal.SIGTERM)  # ... and this would end the process
        os.kill(os.getpid(), signal.SIGINT)  # within the grace time: ignored
        assert stop.received == [signal.SIGINT, signal.SIGTERM, signal.SIGINT]
        raise RuntimeError("context shut down while the node was built")  # swallowed: caused by the stop
    os.kill(os.getpid(), signal.SIGINT)  # after the block too: a late Ctrl-C while the process exits is ignored
    assert stop.received[-1] == signal.SIGINT


def test_without_a_stop_errors_propagate_and_handlers_come_back():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="real failure"), StopSignals():
        raise RuntimeError("real failure")
    assert signal.getsignal(signal.SIGINT) is before


def test_a_signal_while_interrupting_abandons_the_block_and_ends_quietly():
    reached = []
    with StopSignals() as stop, stop.interrupting():
        os.kill(os.getpid(), signal.SIGTERM)
        reached.append("after the signal")  # never: StopRequested left the block
    assert stop.received == [signal.SIGTERM] and not reached
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(StopRequested), stop.interrupting():  # a stop that came before: raised on entry
            reached.append("entered")
    assert not reached


def test_a_repeated_signal_after_the_grace_time_ends_the_process_at_once():
    """Escalation (launch's SIGTERM after SIGINT) must work once cleanup overran; before that, it is ignored."""
    result = run_python("""
        import os, signal, time
        from jepa_core.stop_signals import StopSignals
        with StopSignals(grace_s=0.2) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            print("ignored within the grace time", flush=True)
            time.sleep(0.3)  # a cleanup that overruns
            os.kill(os.getpid(), signal.SIGTERM)
            print("not reached", flush=True)
    """)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stdout == "ignored within the grace time\n"
    assert "exiting now" in result.stderr and "Traceback" not in result.stderr


def test_a_repeat_handled_during_the_teardown_does_not_escalate():
    """Destroying rclpy entities held the main thread 1 s per service when the peers stopped too, so a repeat sent
    50 ms after the first signal was handled after the grace time and ended a process that was exiting (exit 130)."""
    result = run_python("""
        import os, signal, time
        from jepa_core.stop_signals import StopSignals
        with StopSignals(grace_s=0.2) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            stop.tearing_down()
            time.sleep(0.3)  # a teardown that takes longer than the grace time
            os.kill(os.getpid(), signal.SIGINT)
            print("torn down", len(stop.received), flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "torn down 2\n" and "exiting now" not in result.stderr


def test_exit_after_stop_runs_the_atexit_handlers_and_exits_0():
    result = run_python("""
        import atexit, sys
        from jepa_core.stop_signals import exit_after_stop
        atexit.register(print, "atexit ran")
        sys.stdout.write("buffered ")
        exit_after_stop()
        print("not reached")
    """)
    assert (result.returncode, result.stdout) == (0, "buffered atexit ran\n"), result.stderr
