"""`vtrax train --agent dqn --launcher local`: the whole Ape-X pipeline runs (a few seconds; learning is in
BENCHMARKS.md): n-step adder -> prioritised table -> learner -> priorities written back, and the evaluator's
returns are the run's."""

import json
import subprocess
import sys


def test_dqn_trains_writes_priorities_and_reports_the_evaluator(tmp_path):
    command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--agent", "dqn", "--preset", "cartpole",
               "--launcher", "local", "--num-actors", "1", "--num-envs-per-actor", "4", "--evaluator-num-envs", "4",
               "--min-replay-size", "20", "--batch-size", "32", "--target-update-period-updates", "10",
               "--max-seconds", "25", "--report-period-s", "0.5", "--quiet", "--logdir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "evaluator return" in result.stdout and "(acting actors" in result.stdout
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["learner_updates"] > 0 and summary["return_source"] == "evaluator"
    assert summary["episodes"] > 0  # evaluator episodes
    assert summary["final_checkpoint"]
    reports = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    written = [report["learner_metrics"].get("priority_updates_written", 0) for report in reports]
    assert max(written) > 0
    assert all(report["learner_metrics"].get("priority_updates_failed", 0) == 0 for report in reports)
    last = reports[-1]
    assert last["replay_samples"] > 0 and last["replay_inserts"] > 0
    assert "q_mean" in last["learner_metrics"] or any("q_mean" in r["learner_metrics"] for r in reports)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["agent"] == "dqn" and config["dqn"]["min_replay_size"] == 20
