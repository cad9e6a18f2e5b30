"""`vtrax train` end to end: real local Ray, Reverb server process, learner and 2 actors; and the local launcher."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from vtrax.learner import latest_checkpoint

TRAIN = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", "cartpole", "--quiet"]
RANDOM_CARTPOLE_RETURN = 22.0  # mean return of uniformly random actions on CartPole-v1
# NOTE: every process these tests start (and the Ray processes those start) inherits this tag, so the
# process checks see only this test's processes, not those of other jobs on the machine.
TAG = f"integration-{os.getpid()}"
ENV = dict(os.environ, VTRAX_TEST_TAG=TAG)


def _train(*flags, timeout=240):
    return subprocess.run([*TRAIN, *flags], capture_output=True, text=True, timeout=timeout, env=ENV)


def _tagged(process: psutil.Process) -> bool:
    try:
        return process.environ().get("VTRAX_TEST_TAG") == TAG
    except (psutil.Error, OSError):
        return False


def _ray_processes() -> set[int]:
    """Ray and Reverb server processes started by these tests (see TAG)."""
    names = ("raylet", "gcs_server", "ray::", "vtrax.replay.server_main")
    found = set()
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if any(name in cmdline for name in names) and _tagged(process):
            found.add(process.info["pid"])
    return found


def _wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def _progress(run_dir: Path):
    try:
        return json.loads((run_dir / "progress.json").read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _training(tmp_path: Path, *flags: str):
    """A `vtrax train` child process writing under `tmp_path`: yields (child, run_dir); killed if still running."""
    child = subprocess.Popen([*TRAIN, "--logdir", str(tmp_path), "--report-period-s", "0.5", *flags],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        yield child, _wait_for(lambda: next(tmp_path.glob("CartPole-v1-*"), None), 60, "the run directory")
    finally:
        if child.poll() is None:
            child.kill()


def test_train_learns_through_actor_learner_and_replay_kills_stops_on_sigterm_and_resumes(tmp_path):
    """One Ray run (a run costs ~20 s of start-up here, so the faults share it): SIGKILL of an actor (Ray
    restarts it), of the learner (Ray restarts it; it restores its checkpoint) and of the Reverb server (the
    driver restarts it); learning goes on; SIGTERM stops it cleanly; `--resume` continues it; eval reads it."""
    before = _ray_processes()
    flags = ("--num-actors", "2", "--num-envs-per-actor", "16", "--max-seconds", "400", "--stop-at-target", "false",
             "--checkpoint-period-s", "2")
    with _training(tmp_path, *flags) as (child, run_dir):
        progress = _wait_for(lambda: (p := _progress(run_dir)) and p["env_frames"] > 2000 and all(p["actor_pids"]) and p,
                             120, "frames to flow from both actors")
        os.kill(progress["actor_pids"][0], signal.SIGKILL)
        frames_at_kill = progress["env_frames"]

        progress = _wait_for(lambda: (p := _progress(run_dir)) and p["learner_updates"] > 20 and p["learner_pid"]
                             and latest_checkpoint(str(run_dir / "checkpoints")) and p, 150, "updates and a checkpoint")
        saved_step = int(os.path.basename(latest_checkpoint(str(run_dir / "checkpoints"))).split("_")[1])
        os.kill(progress["learner_pid"], signal.SIGKILL)
        restarted = _wait_for(lambda: (p := _progress(run_dir)) and p["learner_restarts"] == 1 and p, 150,
                              "the learner to be restarted")
        assert restarted["learner_pid"] != progress["learner_pid"]
        assert restarted["learner_updates"] >= saved_step, "the restarted learner did not restore its checkpoint"
        restarted = _wait_for(lambda: (p := _progress(run_dir)) and p["learner_updates"] > restarted["learner_updates"]
                              and p, 150, "the restarted learner to update again")

        os.kill(_replay_server_pid(), signal.SIGKILL)
        _wait_for(lambda: (p := _progress(run_dir)) and p["learner_updates"] > restarted["learner_updates"] + 20, 150,
                  "updates to flow again through the restarted replay server")
        _wait_for(lambda: (p := _progress(run_dir)) and (p["best_episode_return_mean_last100"] or 0)
                  > 2 * RANDOM_CARTPOLE_RETURN, 200, "the return to rise above twice a random policy's")
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=120)
    assert child.returncode == 0, output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "SIGTERM"
    assert summary["final_checkpoint"] and Path(summary["final_checkpoint"]).is_dir()
    assert summary["env_frames"] > frames_at_kill, "training did not continue after the actor was killed"
    assert summary["actor_restarts"] >= 1
    assert summary["learner_restarts"] == 1 and summary["replay_restarts"] == 1
    assert summary["learner_updates"] == int(Path(summary["final_checkpoint"]).name.split("_")[1]) > 0, \
        "the summary's update count must be the final checkpoint's"
    final = _progress(run_dir)
    assert final["param_version"] > 0 and max(final["actor_param_versions"]) > 0, "parameters never reached actors"
    reports = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(reports) >= 3
    last = reports[-1]
    assert last["episode_length_mean_last100"] > 0
    assert set(last["actor_ms_per_step"]) == {"env", "inference", "adder", "params"}
    assert last["actor_ms_per_step"]["inference"] > 0
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert _ray_processes() - before == set(), "processes left running after SIGTERM"

    resumed = _train("--resume", str(run_dir), "--max-env-frames", str(summary["env_frames"] + 20000),
                     "--max-seconds", "300", timeout=400)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = json.loads((run_dir / "summary.json").read_text())
    assert after["resumed"] is True and after["stopped_because"] == "max_env_frames"
    assert after["env_frames"] > summary["env_frames"]
    assert after["learner_updates"] > summary["learner_updates"]
    resumed_reports = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    first = resumed_reports[len(reports)]
    assert first["learner_updates"] >= summary["learner_updates"], "counters must continue from the checkpoint"
    assert first["updates_per_second"] <= 3 * max(report["updates_per_second"] for report in reports), \
        "the first report after --resume counted the restored updates as new ones"
    assert _ray_processes() - before == set(), "processes left running after the run"

    video = tmp_path / "episode.gif"
    evaluated = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "eval", str(run_dir), "--episodes", "2",
                                "--video", str(video)], capture_output=True, text=True, timeout=120)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    assert "mean return" in evaluated.stdout and "over 2 greedy episodes" in evaluated.stdout
    from PIL import Image

    with Image.open(video) as gif:
        assert gif.n_frames > 5 and gif.size[0] > 100


def _replay_server_pid() -> int | None:
    for process in psutil.process_iter(["pid", "cmdline"]):
        if "vtrax.replay.server_main" in " ".join(process.info["cmdline"] or []) and _tagged(process):
            return process.info["pid"]
    return None


@pytest.mark.parametrize("flags, message", [
    (("--env", "NoSuchEnv-v0"), "unknown environment id 'NoSuchEnv-v0'"),
    (("--batch-size", "30", "--launcher", "local"), "not divisible"),  # the Ray path: test_workers.py
    (("--address", "127.0.0.1:1"), "no Ray cluster answers at 127.0.0.1:1"),
    (("--learning-rate", "-1"), "learning_rate must be > 0"),
    (("--launcher", "local", "--address", "auto"), "--launcher local runs every role in this process"),
    (("--launcher", "threads"), "launcher must be one of ('ray', 'local')"),
    (("--network", "impala_deep"), "network 'impala_deep' needs image observations [H, W, C]"),
    (("--num-actors", "500"), "--num-actors 500 is far beyond this machine's"),
])
def test_bad_input_fails_fast_with_one_sentence_and_no_processes(tmp_path, flags, message):
    before = _ray_processes()
    result = _train(*flags, "--logdir", str(tmp_path), timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert _ray_processes() - before == set()


def test_local_launcher_learns_in_one_process_with_no_ray(tmp_path):
    """The same roles as threads of one process: no Ray process, no replay server process, a learning run."""
    flags = ("--launcher", "local", "--num-actors", "1", "--max-env-frames", "150000", "--max-seconds", "400")
    with _training(tmp_path, *flags) as (child, run_dir):
        _wait_for(lambda: (p := _progress(run_dir)) and p["learner_updates"] > 0, 120, "learner updates")
        children = psutil.Process(child.pid).children(recursive=True)
        assert not children, f"the local launcher started processes (Ray, a replay server): {children}"
        output, _ = child.communicate(timeout=420)
    assert child.returncode == 0, output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] in ("target_return", "max_env_frames")
    assert summary["best_episode_return_mean_last100"] > 2 * RANDOM_CARTPOLE_RETURN
    assert summary["final_checkpoint"] and Path(summary["final_checkpoint"]).is_dir()
    final = _progress(run_dir)
    assert final["param_version"] > 0 and max(final["actor_param_versions"]) > 0, "parameters never reached actors"
    assert json.loads((run_dir / "config.json").read_text())["launcher"] == "local"


def test_resume_of_a_directory_that_is_not_a_run_is_one_sentence(tmp_path):
    for target, phrase in ((tmp_path / "missing", "no such directory"), (tmp_path, "it has no config.json")):
        result = _train("--resume", str(target), timeout=60)
        assert result.returncode == 2, result.stdout + result.stderr
        assert phrase in result.stderr and "Traceback" not in result.stderr
