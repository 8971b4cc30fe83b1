"""A child process with its output kept in memory and copied to a log file.

Used by `ttm-ros demo` for the node, camera and recorder processes, and by the tests.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import threading
import time
from typing import Dict, List, Optional, Sequence


class ChildProcess:
    """Runs `command` with stdout and stderr captured; stops it with SIGINT on exit."""

    def __init__(self, name: str, command: List[str], log_path: pathlib.Path,
                 environment: Optional[Dict[str, str]] = None):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.lines: List[str] = []
        self._log = open(log_path, 'w')
        self.process = subprocess.Popen(command, env=environment or dict(os.environ),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1)
        self._reader = threading.Thread(target=self._copy_output, daemon=True)
        self._reader.start()

    def _copy_output(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip('\n'))
            self._log.write(line)
            self._log.flush()

    def __enter__(self) -> 'ChildProcess':
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def output(self) -> str:
        """Return everything the process printed so far."""
        return '\n'.join(self.lines)

    def failure(self) -> str:
        """Return a message with the exit code, the log path and the last output lines."""
        tail = '\n'.join(self.lines[-20:])
        return (f'the {self.name} process exited with code {self.process.returncode}; '
                f'its log is {self.log_path}:\n{tail}')

    def wait_for_line(self, text: str, timeout: float,
                      also_alive: Sequence['ChildProcess'] = ()) -> None:
        """Wait until an output line contains `text`.

        Raises RuntimeError when this process or one of `also_alive` exits first, and
        TimeoutError after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            for process in (self, *also_alive):
                if process.process.poll() is not None:
                    time.sleep(0.2)  # Let the reader copy the last lines.
                    raise RuntimeError(process.failure())
            if time.monotonic() > deadline:
                raise TimeoutError(f'the {self.name} process did not print {text!r} within '
                                   f'{timeout:.0f} s:\n' + '\n'.join(self.lines[-20:]))
            time.sleep(0.05)

    def wait(self, timeout: float, also_alive: Sequence['ChildProcess'] = ()) -> int:
        """Wait for the process to exit and return its code.

        Raises RuntimeError when one of `also_alive` exits first, and TimeoutError
        after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            for process in also_alive:
                if process.process.poll() is not None:
                    raise RuntimeError(process.failure())
            if time.monotonic() > deadline:
                raise TimeoutError(f'the {self.name} process did not finish within {timeout:.0f} s')
            time.sleep(0.05)
        self._reader.join(timeout=5)
        return self.process.returncode

    def stop(self, timeout: float = 20.0) -> int:
        """Send SIGINT, wait up to `timeout` seconds (then kill) and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if not self._log.closed:
            self._log.close()
        return self.process.returncode
