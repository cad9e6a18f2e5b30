"""`vtrax eval` as a command: GIF and MP4 videos, and one-line refusals before any episode is played."""

import shutil
import subprocess
import sys

import pytest

from vtrax.deploy.serve import write_initial_run


def _eval(run_dir, *args):
    return subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "eval", str(run_dir), *args],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "run"
    write_initial_run(path, seed=1)
    return path


def test_mp4_video_is_written_and_readable(run_dir, tmp_path):
    import cv2

    video = tmp_path / "episode.mp4"
    result = _eval(run_dir, "--episodes", "1", "--video", str(video))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"video: {video}" in result.stdout
    capture = cv2.VideoCapture(str(video))
    try:
        assert capture.get(cv2.CAP_PROP_FRAME_COUNT) > 5 and capture.get(cv2.CAP_PROP_FRAME_WIDTH) > 100
        read, frame = capture.read()
        assert read and frame.mean() > 100, "CartPole frames are mostly white"
    finally:
        capture.release()


@pytest.mark.parametrize("name, phrase", [
    ("episode.avi", "unknown file extension '.avi'; end the name in .gif or .mp4"),
    ("episode", "unknown file extension '(none)'"),
    ("missing/episode.gif", "does not exist; create it or pick another path"),
])
def test_a_video_path_that_cannot_be_written_is_refused_before_playing(run_dir, tmp_path, name, phrase):
    result = _eval(run_dir, "--video", str(tmp_path / name))
    assert result.returncode == 2
    assert phrase in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_a_complete_checkpoint_is_one_line(run_dir, tmp_path):
    young = tmp_path / "young"
    shutil.copytree(run_dir, young)
    for checkpoint in (young / "checkpoints").glob("ckpt_*"):
        # A checkpoint still being written has orbax's temporary name until it is final.
        checkpoint.rename(checkpoint.with_name(checkpoint.name + ".orbax-checkpoint-tmp-1234"))
    result = _eval(young)
    assert result.returncode == 1
    assert "holds no complete checkpoint yet" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
