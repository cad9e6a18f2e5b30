"""`vtrax train` setup errors that need no Ray: one line naming the problem and the fix, exit 2."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("logdir, phrase", [
    ("a-file", "is a file, not a directory"),
    ("a-file/below", "cannot hold a run directory (Not a directory)"),
    ("/proc/vtrax-forbidden", "cannot hold a run directory (No such file or directory)"),
])
def test_a_logdir_that_cannot_hold_a_run_is_one_line_and_exit_2(tmp_path, logdir, phrase):
    (tmp_path / "a-file").write_text("kept\n")
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "train", "--logdir", logdir, "--quiet"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert f"--logdir {logdir} {phrase}; pass a directory you can write to" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert (tmp_path / "a-file").read_text() == "kept\n"
