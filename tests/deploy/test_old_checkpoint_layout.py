"""A run directory written before orbax checkpoints (layout v1): `train --resume`, `eval` and `serve` refuse it
in one sentence."""

import json
import subprocess
import sys

import numpy as np
import pytest

from vtrax.deploy.serve import write_initial_run


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """config.json as today, and checkpoints/ckpt-000000000003/{arrays.npz, meta.json} as vtrax wrote them before."""
    run_dir = tmp_path_factory.mktemp("old") / "run"
    write_initial_run(run_dir, seed=0)
    for checkpoint in (run_dir / "checkpoints").iterdir():
        subprocess.run(["rm", "-r", str(checkpoint)], check=True)
    old = run_dir / "checkpoints" / "ckpt-000000000003"
    old.mkdir()
    np.savez(old / "arrays.npz", a0=np.zeros(2, np.float32))
    (old / "meta.json").write_text(json.dumps({"format_version": 1, "step": 3, "leaves": []}))
    return run_dir


@pytest.mark.parametrize("command, prefix, exit_code", [
    (["train", "--resume", "{run}", "--quiet"], "vtrax train: cannot resume {run}: ", 2),
    (["eval", "{run}"], "vtrax eval: ", 1),
    (["serve", "{run}", "--port", "0"], "vtrax serve: ", 2),
    (["serve", "{run}/checkpoints/ckpt-000000000003", "--port", "0"], "vtrax serve: ", 2),
])
def test_a_run_of_the_older_checkpoint_layout_is_refused_in_one_sentence(old_run, command, prefix, exit_code):
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", *[arg.format(run=old_run) for arg in command]],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == exit_code, result.stderr
    assert result.stderr.startswith(prefix.format(run=old_run)) and result.stderr.count("\n") == 1
    assert "was written by an older vtrax (checkpoint layout v1); start a new run or use vtrax" in result.stderr
    assert result.stdout == ""
