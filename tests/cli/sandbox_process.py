"""`ecr-drift sandbox --port 0` as a subprocess, for the tests that need a running sandbox."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ECR_DRIFT = shutil.which("ecr-drift", path=str(Path(sys.executable).parent))
URL = re.compile(r"http://127\.0\.0\.1:\d+")
STOP_TIMEOUT = 20


def cli_environment(region: str) -> dict[str, str]:
    """An environment for the installed `ecr-drift` as a process: test credentials and ``region``, and
    nothing of the machine's AWS configuration (no files, no metadata service)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    stderr: IO[str]
    url: str
    first_line: str

    def stop(self, signum: signal.Signals = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``signum``; the exit code, all of stdout, and stderr."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=STOP_TIMEOUT)
        assert self.process.stdout is not None
        # Read through the pipe's own buffer, where the lines after the first may already be.
        out = self.first_line + self.process.stdout.read()
        self.stderr.seek(0)
        return code, out, self.stderr.read()


@contextmanager
def running_sandbox() -> Iterator[Sandbox]:
    """The dev venv's sandbox on a free port, once it has printed its URL; killed if a test left it up."""
    assert ECR_DRIFT, "the ecr-drift console script is installed next to the interpreter"
    # stderr in a file: a pipe nobody reads could fill up and block the server.
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [ECR_DRIFT, "sandbox", "--port", "0", "--no-color"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # printed once the server listens
            match = URL.search(first)
            assert match, f"no URL in {first!r}"
            yield Sandbox(process, stderr, match.group(0), first)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
            if process.stdout is not None:
                process.stdout.close()
