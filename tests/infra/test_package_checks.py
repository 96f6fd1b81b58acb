"""Build output never breaks the checks: the documented deploy (``pulumi preview``/``up``) leaves the Lambda
package and its pip-installed SDK under infra/build/, and ``make test`` must still pass after it.

The checks run, as the Makefile words them, in a copy of the project's check configuration (pyproject.toml,
the Makefile) beside the real build output. Its own code is a module per checked package and a test: what the
checks make of the build output is the question here, the project's code is `make test`'s own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.package import PIP_PLATFORMS, ROOT, build_lambda_package

STAND_INS = {
    "handler/__init__.py": "",
    "ecr_drift/__init__.py": "",
    "infra/__init__.py": "",
    "bench/__init__.py": "",
    "tests/__init__.py": "",
    "tests/test_collected.py": 'def test_collected() -> None:\n    """The only test pytest finds."""\n',
}


@pytest.mark.slow
def test_make_test_passes_beside_the_deploys_build_output(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "Makefile"):
        shutil.copy2(ROOT / name, tmp_path / name)
    for name, text in STAND_INS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    # As infra/__main__.py builds it into package.DEFAULT_BUILD_DIR (pip installs the SDK: about 3 s).
    build_lambda_package(tmp_path / "infra" / "build", python_version="3.13", platform=PIP_PLATFORMS["arm64"])
    assert list((tmp_path / "infra" / "build").glob("dependencies-*/botocore/__init__.py"))

    # The tools of this venv instead of a new .venv in the copy (STAMP empty: no install prerequisite).
    # Nothing of this pytest run's own environment reaches the one inside.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    result = subprocess.run(
        ["make", "test", f"BIN={Path(sys.executable).parent}", "STAMP="],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 4 source files" in result.stdout
    assert "1 passed" in result.stdout
