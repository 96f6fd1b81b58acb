"""Measurements of the installed product: the CLI as a subprocess, cold import time, package size."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ECR_DRIFT = BIN / "ecr-drift"
CLI_TIMEOUT = 900.0
IMPORT_RUNS = 7


def cli_env() -> dict[str, str]:
    """Fake credentials and a region; nothing from the user's AWS configuration leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (``/proc/stat``), 0.0 elsewhere."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CliRun:
    """One CLI process: its exit code, parsed JSON report, wall time, CPU time and peak RSS."""

    argv: tuple[str, ...]
    exit_code: int
    report: dict[str, Any]
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    stderr: str


def run_cli(*args: str, command: tuple[str, ...] = (str(ECR_DRIFT),)) -> CliRun:
    """Run ``ecr-drift ARGS`` and wait for exactly that child with ``wait4``: its own rusage, no other's."""
    argv = (*command, *args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=cli_env(), cwd=ROOT)
        deadline = started + CLI_TIMEOUT
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    try:
        report = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        report = {"unparsed_stdout": stdout[:2000]}
    return CliRun(
        argv=argv,
        exit_code=process.returncode,
        report=report,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,  # kilobytes on Linux
        stderr=stderr,
    )


@dataclass(frozen=True)
class ImportTime:
    module: str
    warm_ms: float  # median over IMPORT_RUNS, byte code cached
    warm_min_ms: float  # the fastest of those runs: the least disturbed by other processes
    no_bytecode_ms: float  # every module compiled from source: the worst case of a fresh package
    outside_lambda_min_ms: float  # the fastest run with byte code cached and LAMBDA_TASK_ROOT not set
    by_package: list[tuple[str, float]]  # self time summed by top-level package (warm), largest first


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)")


@dataclass(frozen=True)
class _Import:
    depth: int  # 1: imported by the script (or the interpreter's start-up)
    name: str
    self_ms: float
    cumulative_ms: float


def _importtime(code: str, extra_env: dict[str, str]) -> list[_Import]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **extra_env},
        timeout=120,
    )
    lines = []
    for line in result.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            depth = (len(match.group(3)) - 1) // 2 + 1
            lines.append(
                _Import(depth, match.group(4), int(match.group(1)) / 1000, int(match.group(2)) / 1000)
            )
    return lines


def _module_ms(lines: list[_Import], module: str) -> float:
    """The import of ``module`` and its parent packages by the script (interpreter start-up left out)."""
    parts = module.split(".")
    chain = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return sum(line.cumulative_ms for line in lines if line.depth == 1 and line.name in chain)


def import_time(module: str = "handler.enforce") -> ImportTime:
    """The Lambda handler's import, as `python -X importtime` reports it, in and out of a Lambda-like
    environment: ``LAMBDA_TASK_ROOT`` set, as the runtime sets it. It matters: outside Lambda the X-Ray SDK
    (imported by Powertools' Tracer) starts a sampler that builds botocore clients at import time; inside,
    it does not. The SDK then drops a touch file in /tmp/.aws-xray, which is removed again unless it was
    there before."""
    lambda_env = {"LAMBDA_TASK_ROOT": str(ROOT)}
    touch_dir = Path("/tmp/.aws-xray")
    touch_dir_existed = touch_dir.exists()
    try:
        _importtime(f"import {module}", lambda_env)  # writes any missing byte code
        startup = {line.name for line in _importtime("pass", lambda_env)}
        # Interleaved, so that a busy moment of the machine weighs on both alike.
        pairs = [
            (_importtime(f"import {module}", lambda_env), _importtime(f"import {module}", {}))
            for _ in range(IMPORT_RUNS)
        ]
        warm, outside = [p[0] for p in pairs], [p[1] for p in pairs]
        with tempfile.TemporaryDirectory() as empty:
            no_bytecode = {**lambda_env, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
            cold = _importtime(f"import {module}", no_bytecode)
    finally:
        if not touch_dir_existed:
            shutil.rmtree(touch_dir, ignore_errors=True)
    median_run = sorted(warm, key=lambda lines: _module_ms(lines, module))[len(warm) // 2]
    # Self time summed by top-level package: a partition of the import's time.
    packages: dict[str, float] = {}
    for line in median_run:
        if line.name not in startup:
            top = line.name.split(".", 1)[0]
            packages[top] = packages.get(top, 0.0) + line.self_ms
    ranked = sorted(packages.items(), key=lambda item: -item[1])
    return ImportTime(
        module,
        statistics.median(_module_ms(lines, module) for lines in warm),
        min(_module_ms(lines, module) for lines in warm),
        _module_ms(cold, module),
        min(_module_ms(lines, module) for lines in outside),
        ranked[:8],
    )


@dataclass(frozen=True)
class PackageSize:
    how: str
    zip_bytes: int
    uncompressed_bytes: int
    files: int


def package_size() -> PackageSize:
    """The Lambda zip without dependencies, by infra/package.py when it offers ``build_lambda_package``."""
    sys.path.insert(0, str(ROOT))
    try:
        from infra import package  # noqa: PLC0415  (infra is a Pulumi program, not an installed package)
    finally:
        sys.path.remove(str(ROOT))
    build = getattr(package, "build_lambda_package", None)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as out:
        if build is not None:
            archive = Path(
                build(
                    Path(out),
                    python_version=version,
                    platform="manylinux2014_x86_64",
                    include_dependencies=False,
                )
            )
            how = "infra/package.py build_lambda_package(include_dependencies=False)"
        else:
            archive = Path(out) / "lambda.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                sources = [*(ROOT / "handler").rglob("*.py"), *(ROOT / "ecr_drift").rglob("*.py")]
                for path in sorted(sources):
                    relative = path.relative_to(ROOT)
                    if "cli" not in relative.parts and "__pycache__" not in relative.parts:
                        zf.write(path, relative.as_posix())
                zf.write(ROOT / "desired_state.json", "desired_state.json")
            how = "zip of handler/, ecr_drift/ without its cli/, desired_state.json (built by bench/)"
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
        return PackageSize(how, archive.stat().st_size, sum(i.file_size for i in infos), len(infos))
