"""`make`: without a Python 3.10/3.11 (Ubuntu 24.04, Debian 13) uv provides 3.11, or one line says how to get it."""

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")


def _make(target: Path, **variables: str) -> subprocess.CompletedProcess:
    assignments = [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(["make", "--no-print-directory", *assignments, str(target)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def test_without_python_3_11_and_without_uv_one_line_says_how_to_get_it(tmp_path):
    venv = tmp_path / "venv"
    result = _make(venv / "bin" / "python", PYTHON="python3.12-not-here", VENV=str(venv),
                   UV_VENV="/proc/vtrax-no-uv-venv")
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("make: python3.12-not-here is missing or not Python 3.10/3.11")
    assert lines[1].startswith("make: cannot install uv") and "make PYTHON=/path/to/python3.11" in lines[1]
    assert not venv.exists()


@pytest.mark.skipif(not _reachable("pypi.org"), reason="uv comes from PyPI, which this machine cannot reach")
def test_without_python_3_11_uv_provides_one_for_the_venv(tmp_path):
    venv = tmp_path / "venv"
    result = _make(venv / "bin" / "python", PYTHON="python3.12-not-here",
                   VENV=str(venv), UV_VENV=str(tmp_path / "uv"))
    assert result.returncode == 0, result.stdout + result.stderr
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout
    assert version.strip() == "(3, 11)"
