"""`vtrax train`: parse flags into a TrainConfig, create or resume the run directory, run."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from vtrax.deploy.config import PRESETS, TrainConfig, preset
from vtrax.deploy.flags import add_dataclass_flags, overrides
from vtrax.deploy.runtime.run_dir import new_run_dir, read_json, write_json_atomic
from vtrax.learner.config import LearnerConfig
from vtrax.learner.dqn_config import DQNConfig

START_TIME = time.monotonic()  # module import is the command's start, for seconds_to_target
START_EPOCH = time.time()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cartpole",
                        help="Start from these values (default: cartpole); flags override single fields.")
    parser.add_argument("--env", dest="train.env_id", default=argparse.SUPPRESS, metavar="ENV_ID",
                        help="Gymnasium id, e.g. CartPole-v1 or ALE/Breakout-v5 (same as --env-id).")
    parser.add_argument("--logdir", default="runs", help="Directory that holds run directories (default: runs).")
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="Continue RUN_DIR from its last checkpoint with counters intact.")
    parser.add_argument("--quiet", action="store_true",
                        help="No live display, only the final summary line (the run directory still fills).")
    add_dataclass_flags(parser, TrainConfig, prefix="train.")
    add_dataclass_flags(parser, LearnerConfig, prefix="learner.", skip=("seed",))
    add_dataclass_flags(parser, DQNConfig, prefix="dqn.")


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """Preset (or the resumed run's config) with the command line's fields on top."""
    train_fields = overrides(args, "train.")
    if args.resume:
        base = TrainConfig.from_dict(read_json(Path(args.resume) / "config.json"))
    else:
        base = preset(args.preset, agent=train_fields.get("agent", "impala"))
    learner_fields = overrides(args, "learner.")
    seed = train_fields.get("seed", base.seed)
    learner = dataclasses.replace(base.learner, seed=seed, **learner_fields)
    dqn = dataclasses.replace(base.dqn, **overrides(args, "dqn."))
    return dataclasses.replace(base, learner=learner, dqn=dqn, **train_fields)


def run(args: argparse.Namespace) -> int:
    from vtrax.deploy.runtime.display import Display
    from vtrax.deploy.runtime.driver import FAILED_STOPS, Driver, TrainingError, install_signal_handlers

    if args.resume:
        problem = _not_resumable(Path(args.resume))
        if problem:
            print(f"vtrax train: cannot resume {args.resume}: {problem}", file=sys.stderr)
            return 2
    try:
        config = resolve_config(args)
    except (ValueError, TypeError) as error:
        print(f"vtrax train: bad configuration: {error}", file=sys.stderr)
        return 2
    if args.resume:
        run_dir = Path(args.resume)
        problem = _replay_not_resumable(run_dir, config)  # NOTE: before config.json is rewritten below
        if problem:
            print(f"vtrax train: cannot resume {args.resume}: {problem}", file=sys.stderr)
            return 2
    else:
        run_dir = _create_run_dir(args.logdir, config.env_id)
        if run_dir is None:
            return 2
    write_json_atomic(run_dir / "config.json", config.to_dict())
    display = Display(quiet=args.quiet)
    display.message(f"vtrax train: run directory {run_dir}")
    driver = Driver(config, run_dir, resume=bool(args.resume), start_time=START_TIME, display=display,
                    start_epoch=START_EPOCH)
    install_signal_handlers(driver)
    try:
        summary = driver.run()
    except TrainingError as error:
        print(f"vtrax train: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - one readable line; the traceback is in the log
        from vtrax.actors import EnvironmentSetupError

        if isinstance(error, EnvironmentSetupError):
            print(f"vtrax train: {error}", file=sys.stderr)
            return 2
        raise
    print(_summary_line(summary, run_dir), flush=True)  # NOTE: also with --quiet: the one line a script reads
    return 1 if summary["stopped_because"].startswith(FAILED_STOPS) else 0


def _create_run_dir(logdir: str, env_id: str) -> Path | None:
    """A new run directory under `logdir`, or None after one line saying why it cannot hold one."""
    if Path(logdir).exists() and not Path(logdir).is_dir():
        problem = "is a file, not a directory"
    else:
        try:
            return new_run_dir(logdir, env_id)
        except OSError as error:
            problem = f"cannot hold a run directory ({error.strerror})"
    print(f"vtrax train: --logdir {logdir} {problem}; pass a directory you can write to, e.g. --logdir runs",
          file=sys.stderr)
    return None


def _not_resumable(run_dir: Path) -> str | None:
    """Why `run_dir` cannot be resumed (one sentence with the fix), or None."""
    if not run_dir.is_dir():
        return "no such directory; pass a run directory written by `vtrax train` (e.g. runs/CartPole-v1-...)"
    if not (run_dir / "config.json").is_file():
        return "it has no config.json, so it is not a run directory written by `vtrax train`"
    try:
        read_json(run_dir / "config.json")
    except ValueError:
        return "its config.json is not valid JSON; restore it from a copy or start a new run"
    if not (run_dir / "checkpoints").is_dir():
        return "it has no checkpoints/ to resume from; pass a run directory written by `vtrax train`"
    from vtrax.deploy.runtime import manifest
    from vtrax.learner import CheckpointMismatchError, latest_checkpoint

    try:
        manifest.read(run_dir)
    except manifest.ManifestError as error:
        return str(error)

    try:
        latest_checkpoint(str(run_dir / "checkpoints"))
    except CheckpointMismatchError as error:  # a run written by an older vtrax (checkpoint layout v1)
        return str(error)
    return None


def _replay_not_resumable(run_dir: Path, config: TrainConfig) -> str | None:
    """Why RUN_DIR's replay checkpoint cannot be loaded into the table `config` builds, or None."""
    from vtrax.deploy.runtime.replay_checkpoints import resume_problem

    return resume_problem(run_dir, config)


def _summary_line(summary: dict, run_dir: Path) -> str:
    target = summary["seconds_to_target"]
    reached = f"target {summary['target_return']} reached at {target:.1f}s" if target is not None else "target not reached"
    mean = summary["episode_return_mean_last100"]
    returns = f"return {'n/a' if mean is None else f'{mean:.1f}'}"
    if summary.get("return_source") == "evaluator":
        actors = summary.get("actor_episode_return_mean_last100")
        returns = f"evaluator {returns} (acting actors {'n/a' if actors is None else f'{actors:.1f}'})"
    return (f"done ({summary['stopped_because']}): {summary['env_frames']:,} frames in {summary['wall_seconds']:.1f}s "
            f"({summary['frames_per_second']:,.0f} frames/s), {summary['learner_updates']:,} updates, "
            f"{returns}; {reached}; summary: {run_dir / 'summary.json'}")
