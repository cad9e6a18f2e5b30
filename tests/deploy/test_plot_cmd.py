"""`vtrax plot` and the curve maths behind it, on synthetic run directories (real PNGs, read back)."""

import json

import numpy as np
import pytest

from vtrax.deploy.bench.curves import band, group_runs, read_run, return_at
from vtrax.deploy.cli import main


def write_run(path, *, seed, slope, env_id="MinAtar/Breakout-v1", use_lstm=False, rows=30, frames_per_row=1000):
    """A run directory whose return grows by `slope` per 1000 frames (None before the first episode)."""
    path.mkdir(parents=True)
    config = {"env_id": env_id, "network": "minatar", "use_lstm": use_lstm, "seed": seed, "max_seconds": 60.0,
              "learner": {"learning_rate": 1e-3, "seed": seed}}
    (path / "config.json").write_text(json.dumps(config))
    lines = [{"env_frames": 0, "wall_seconds": 1.0, "episode_return_mean_last100": None}]
    lines += [{"env_frames": (i + 1) * frames_per_row, "wall_seconds": 2.0 + i,
               "episode_return_mean_last100": slope * (i + 1)} for i in range(rows)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_seeds_of_one_config_form_one_band_with_median_and_min_max(tmp_path):
    runs = [read_run(write_run(tmp_path / f"s{seed}", seed=seed, slope=slope, rows=rows))
            for seed, slope, rows in [(0, 1.0, 30), (1, 2.0, 20), (2, 4.0, 30)]]
    runs.append(read_run(write_run(tmp_path / "lstm", seed=0, slope=0.5, use_lstm=True)))
    groups = group_runs(runs)
    assert {label: len(curves) for label, curves in groups.items()} == {
        "MinAtar/Breakout-v1 minatar": 3, "MinAtar/Breakout-v1 minatar + LSTM": 1}
    frames = band("MinAtar/Breakout-v1 minatar", groups["MinAtar/Breakout-v1 minatar"], "env_frames", points=5)
    np.testing.assert_allclose(frames.grid, np.linspace(1000, 20_000, 5))  # ends where the shortest seed ends
    np.testing.assert_allclose(frames.median, 2.0 * frames.grid / 1000)
    np.testing.assert_allclose(frames.low, 1.0 * frames.grid / 1000)
    np.testing.assert_allclose(frames.high, 4.0 * frames.grid / 1000)
    assert return_at(runs[0], 2500) == pytest.approx(2.5) and return_at(runs[1], 25_000) is None


def test_plot_writes_a_png_with_both_panels(tmp_path, capsys):
    dirs = [write_run(tmp_path / f"s{seed}", seed=seed, slope=1.0 + seed) for seed in range(3)]
    dirs.append(write_run(tmp_path / "lstm", seed=0, slope=0.5, use_lstm=True))
    output = tmp_path / "out" / "curve.png"
    assert main(["plot", *map(str, dirs), "-o", str(output), "--title", "synthetic"]) == 0
    assert "wrote" in capsys.readouterr().out
    from PIL import Image

    with Image.open(output) as image:
        assert image.format == "PNG" and image.size[0] > 2 * image.size[1] > 400  # two panels side by side
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours = {tuple(pixel) for pixel in pixels[::7]}
    assert len(colours) > 20, "the picture is (nearly) blank"


def test_a_directory_without_metrics_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "c.png")]) == 2
    error = capsys.readouterr().err
    assert "has no metrics.jsonl; pass run directories written by `vtrax train`" in error
    assert error.count("\n") == 1 and not (tmp_path / "c.png").exists()


def test_bench_learning_summarises_seeds_and_wraps_each_in_flock(tmp_path):
    import argparse

    from vtrax.deploy.bench.learning import summarise, train_command

    dirs = []
    for seed, slope in enumerate([1.0, 3.0, 2.0]):
        path = write_run(tmp_path / f"s{seed}", seed=seed, slope=slope, rows=40 - 10 * seed)
        frames = (40 - 10 * seed) * 1000
        (path / "summary.json").write_text(json.dumps({"env_frames": frames, "wall_seconds": 50.0 + seed,
                                                       "frames_per_second": 100.0 * (seed + 1),
                                                       "stopped_because": "max_seconds"}))
        dirs.append(path)
    result = summarise(dirs)
    assert [run["final_return"] for run in result["runs"]] == [40.0, 90.0, 40.0]
    assert (result["median_final_return"], result["min_final_return"], result["max_final_return"]) == (40.0, 40.0,
                                                                                                        90.0)
    assert result["median_return_at_frames"] == {"5000": 10.0, "10000": 20.0, "15000": 30.0, "20000": 40.0}
    assert result["median_frames_per_second"] == 200.0 and result["median_env_frames"] == 30_000
    args = argparse.Namespace(preset="minatar", env="MinAtar/Breakout-v1", max_seconds=60.0, max_env_frames=0,
                              lock="/tmp/some.lock")
    command = train_command(args, 2, tmp_path, ["--launcher", "local"])
    assert command[:2] == ["flock", "/tmp/some.lock"]
    assert command[command.index("--seed") + 1] == "2" and "--quiet" in command
    assert command[-2:] == ["--env", "MinAtar/Breakout-v1"] and "local" in command


def test_bench_learning_games_name_minatar_ids_and_summarise_each_game(tmp_path, capsys):
    import argparse

    from vtrax.deploy.bench import learning

    assert learning.game_env_ids("Breakout, SpaceInvaders", "minatar") == ["MinAtar/Breakout-v1",
                                                                          "MinAtar/SpaceInvaders-v1"]
    assert learning.game_env_ids("all", "minatar") == [f"MinAtar/{game}-v1" for game in learning.MINATAR_GAMES]
    assert learning.game_env_ids("CartPole-v1,Acrobot-v1", "cartpole") == ["CartPole-v1", "Acrobot-v1"]
    with pytest.raises(ValueError, match="pass --preset minatar"):
        learning.game_env_ids("all", "cartpole")
    args = argparse.Namespace(preset="minatar", env=None, games="Breakout", seeds=2, max_seconds=60.0,
                              max_env_frames=20_000, lock=None, json=False, out=str(tmp_path), extra=[])
    assert learning.run(argparse.Namespace(**{**vars(args), "env": "MinAtar/Breakout-v1"})) == 2
    assert "not both" in capsys.readouterr().err

    results = {}
    for game, slope in [("Breakout", 1.0), ("Asterix", 2.0)]:
        dirs = []
        for seed in range(2):
            path = write_run(tmp_path / game / "runs" / f"s{seed}", env_id=f"MinAtar/{game}-v1", seed=seed,
                             slope=slope * (seed + 1), rows=20)
            (path / "summary.json").write_text(json.dumps({"env_frames": 20_000, "wall_seconds": 60.0,
                                                           "frames_per_second": 333.0,
                                                           "stopped_because": "max_env_frames"}))
            dirs.append(path)
        env_args = argparse.Namespace(**{**vars(args), "env": f"MinAtar/{game}-v1"})
        results[f"MinAtar/{game}-v1"] = learning._summary(env_args, tmp_path / game, dirs, [])
    # Fixed frame counts: quarters of --max-env-frames.
    assert list(results["MinAtar/Breakout-v1"]["median_return_at_frames"]) == ["5000", "10000", "15000", "20000"]
    assert learning._print_games(args, tmp_path, results) == 0
    table = capsys.readouterr().out
    assert "MinAtar/Asterix-v1" in table and "2 games x 2 seeds" in table, table
    combined = json.loads((tmp_path / "summary.json").read_text())
    assert combined["games"]["MinAtar/Asterix-v1"]["median_final_return"] == pytest.approx(60.0)
    assert (tmp_path / "Asterix" / "curve.png").is_file() and (tmp_path / "Breakout" / "summary.json").is_file()
