"""The StderrLog fixture keeps every line a thread writes to fd 2 while the test reads it (polling capfd lost 5717 of
20000 such lines: its reads truncate the file the writer shares an offset with)."""

import os
import threading


def test_every_line_written_while_reading_is_kept(stderr_log):
    stderr_log.start()
    count = 5000
    writer = threading.Thread(target=lambda: [os.write(2, f"line {i}\n".encode()) for i in range(count)])
    writer.start()
    while writer.is_alive():
        assert all(line.startswith("line ") for line in stderr_log.lines())  # complete lines only
    writer.join()
    assert stderr_log.lines() == [f"line {i}" for i in range(count)]
