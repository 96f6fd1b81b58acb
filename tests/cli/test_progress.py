"""The progress bar: on stderr, only on a terminal, only for sweeps over more than a few repositories."""

from __future__ import annotations

import io

from rich.console import Console

from ecr_drift.cli.account import PROGRESS_THRESHOLD, _progress
from ecr_drift.cli.output import Output, OutputFormat


def _terminal_output(output_format: OutputFormat = OutputFormat.table) -> tuple[Output, io.StringIO]:
    output = Output(output_format)
    buffer = io.StringIO()
    output.err = Console(file=buffer, force_terminal=True, width=100)
    return output, buffer


def test_a_long_sweep_shows_a_bar_on_a_terminal() -> None:
    output, buffer = _terminal_output()
    with _progress(output) as advance:
        assert advance is not None
        for done in range(1, 21):
            advance(done, 20)
    assert "checking repositories" in buffer.getvalue()
    assert "20/20" in buffer.getvalue()


def test_a_short_run_shows_no_bar() -> None:
    output, buffer = _terminal_output()
    with _progress(output) as advance:
        assert advance is not None
        advance(PROGRESS_THRESHOLD, PROGRESS_THRESHOLD)
    assert "checking repositories" not in buffer.getvalue()


def test_no_bar_when_piped_or_in_json_mode() -> None:
    with _progress(Output()) as advance:  # pytest's stderr is not a terminal
        assert advance is None
    output, _ = _terminal_output(OutputFormat.json)
    with _progress(output) as advance:
        assert advance is None
