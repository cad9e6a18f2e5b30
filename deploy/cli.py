"""The `vtrax` command line: one entry point, subcommands loaded lazily.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`; this file only maps names to modules so that `vtrax --help`
stays fast (no jax/ray/reverb import) and a broken optional dependency breaks
only the subcommand that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

# name -> (module, one-line help). Keep sorted by how often users need them.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("deploy.train_cmd", "Train an agent (local by default, --address auto on a Ray cluster)."),
    "eval": ("deploy.eval_cmd", "Evaluate the latest checkpoint of a run directory."),
    "replay-server": ("deploy.replay_server_cmd", "Run a Reverb replay server as its own process."),
    "bench": ("deploy.cli", "Run a benchmark: rl-ops, nets, replay, learner, e2e."),
    "doctor": ("deploy.doctor", "Check the installation and print a one-line fix for each problem."),
    "serve": ("deploy.serve_cmd", "Serve a run's policy and status over gRPC (Act, GetStatus, WatchMetrics, health)."),
    "status": ("deploy.status_cmd", "Show the running job's frames, updates, return, replay and actors (from Ray)."),
}

# bench target -> module with add_arguments(parser) / run(args).
BENCH_TARGETS: dict[str, tuple[str, str]] = {
    "rl-ops": ("deploy.bench_rl_ops", "V-trace and TD(lambda) microbenchmarks."),
    "nets": ("deploy.bench_nets", "IMPALA deep net and MLP forward / forward+backward."),
    "replay": ("deploy.bench_replay", "Reverb write/sample throughput vs a one-env-per-writer baseline."),
    "learner": ("deploy.bench_learner", "Learner updates/s and frames/s on synthetic batches."),
    "e2e": ("deploy.bench_e2e", "End-to-end CartPole: seconds/frames to target, frames/s, peak PSS."),
    "serve": ("deploy.bench_serve", "vtrax serve under N concurrent local clients: throughput, p50/p99 latency."),
}


def _version() -> str:
    try:
        return metadata.version("vtrax")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run `pip install -e .`)"


def _available(table: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Entries whose module exists, so --help never lists a command that cannot run."""
    return {name: entry for name, entry in table.items() if importlib.util.find_spec(entry[0]) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtrax",
        description="vtrax: distributed actor-learner RL training (Ray actors, Reverb replay, pmapped JAX learner).",
    )
    parser.add_argument("--version", action="version", version=f"vtrax {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_name, help_text) in _available(COMMANDS).items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        if name == "bench":
            _add_bench_targets(sub_parser)
        else:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def _add_bench_targets(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", title="targets", required=True)
    for name, (module_name, help_text) in _available(BENCH_TARGETS).items():
        target_parser = targets.add_parser(name, help=help_text, description=help_text)
        target_parser.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(target_parser)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
