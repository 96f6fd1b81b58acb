"""moto_server with the project's ECR double, in a process of its own on 127.0.0.1.

A separate process, so the server's CPU is never charged to the CLI being measured (and its CPU time can
be read on its own from /proc).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
READY_LINE = re.compile(r"on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 60.0


class DoubleServer:
    """``python -m ecr_drift.cli.ecr_double --port 0``; the URL is read from the line it prints."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self._process is not None, "started"
        return self._process.pid

    def start(self) -> DoubleServer:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ecr_drift.cli.ecr_double", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = self._process.stdout.readline()  # the double prints its URL once it listens
        match = READY_LINE.search(line)
        if match is None:
            self.stop()
            raise RuntimeError(f"the ECR double did not start: {line!r}")
        self.url = match.group(1)
        while time.monotonic() < deadline:
            try:
                self.reset()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the ECR double does not answer")

    def reset(self) -> None:
        """An empty account (moto's reset clears the double's state too)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).close()

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # the double stops moto_server cleanly on Ctrl-C
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> DoubleServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
