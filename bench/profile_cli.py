"""Run ``ecr-drift ARGS`` in this process under cProfile, every thread included, and save the stats.

``python -m bench.profile_cli [--cpu] OUT.prof -- audit --endpoint-url ...``. cProfile alone sees only the
thread that enabled it; the engine checks repositories in worker threads, so ``threading.setprofile``
starts one profiler in each new thread, and all of them are merged. By default times are thread-seconds of
wall time (waiting for the network and for the GIL included); with ``--cpu`` the timer is each thread's own
CPU time (``time.thread_time``), so the figures say where the process's CPU goes. Imports are profiled too:
the CLI module is imported after profiling starts.
"""

from __future__ import annotations

import cProfile
import importlib
import pstats
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()
_cpu_timer: list[bool] = []  # [True]: each thread's CPU time; empty: cProfile's wall-clock timer


def _new_profile() -> cProfile.Profile:
    return cProfile.Profile(time.thread_time) if _cpu_timer else cProfile.Profile()


def _start_in_thread(*_: Any) -> None:
    """The first profile event of a new thread: replace this hook with a profiler of the thread's own."""
    profile = _new_profile()
    with _lock:
        _profiles.append(profile)
    sys.setprofile(None)
    profile.enable()


def main() -> int:
    options = sys.argv[1:]
    if options[:1] == ["--cpu"]:
        _cpu_timer.append(True)
        options = options[1:]
    out, separator, *args = options
    if separator != "--":
        raise SystemExit("usage: python -m bench.profile_cli [--cpu] OUT.prof -- ECR-DRIFT-ARGS...")
    threading.setprofile(_start_in_thread)
    main_profile = _new_profile()
    sys.argv = ["ecr-drift", *args]
    code = 0
    main_profile.enable()
    try:
        cli_main: Callable[[], None] = importlib.import_module("ecr_drift.cli.app").main
        cli_main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        main_profile.disable()
        threading.setprofile(None)
    stats = pstats.Stats(main_profile)
    with _lock:
        for profile in _profiles:
            profile.disable()
            stats.add(profile)
    stats.dump_stats(out)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
