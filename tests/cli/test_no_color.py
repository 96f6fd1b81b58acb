"""NO_COLOR (https://no-color.org) and --no-color on a terminal: the installed `ecr-drift` in a
pseudo-terminal, where it would otherwise style its output."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.cli.sandbox_process import ECR_DRIFT

pytestmark = pytest.mark.slow
ESC = b"\x1b"


def _on_a_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Run ``ecr-drift args`` with a pseudo-terminal as stdin, stdout and stderr; its code and output."""
    assert ECR_DRIFT
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "TERM": "xterm-256color",
    }
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [ECR_DRIFT, *args], stdin=secondary, stdout=secondary, stderr=secondary, env=environment | (env or {})
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return process.wait(timeout=60), b"".join(chunks)


@pytest.fixture
def invalid_file(tmp_path: Path) -> str:
    path = tmp_path / "desired_state.json"
    path.write_text('{"version": 1, "repositories": {"Not A Name": {}}}')
    return str(path)


def test_a_terminal_gets_styles_without_no_color(invalid_file: str) -> None:
    code, output = _on_a_terminal("validate", invalid_file)
    assert code == 1
    assert ESC in output  # the red "error:" the two tests below must not show


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), {"NO_COLOR": "1"}),
        ((), {"NO_COLOR": "any value"}),
        (("--no-color",), {}),
    ],
    ids=["NO_COLOR=1", "NO_COLOR=any", "--no-color"],
)
def test_no_color_turns_off_every_style(
    invalid_file: str, args: tuple[str, ...], env: dict[str, str]
) -> None:
    code, output = _on_a_terminal("validate", invalid_file, *args, env=env)
    assert code == 1
    assert b"is not valid" in output
    assert ESC not in output


def test_an_empty_no_color_is_unset(invalid_file: str) -> None:
    assert ESC in _on_a_terminal("validate", invalid_file, env={"NO_COLOR": ""})[1]


@pytest.mark.parametrize("args", [("--help",), ("validate", "--no-such-option")], ids=["help", "usage-error"])
def test_no_color_reaches_the_help_and_usage_errors(args: tuple[str, ...]) -> None:
    assert ESC in _on_a_terminal(*args)[1]
    assert ESC not in _on_a_terminal(*args, env={"NO_COLOR": "1"})[1]
