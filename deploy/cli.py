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
    "train": ("vtrax.deploy.commands.train", "Train an agent (local by default, --address auto on a Ray cluster)."),
    "eval": ("vtrax.deploy.commands.evaluate", "Evaluate the latest checkpoint of a run directory."),
    "replay-server": ("vtrax.deploy.commands.replay_server", "Run a Reverb replay server as its own process."),
    "bench": ("vtrax.deploy.cli", "Run a benchmark: rl-ops, nets, replay, learner, e2e, serve, chaos, learning."),
    "doctor": ("vtrax.deploy.commands.doctor", "Check the installation and print a one-line fix for each problem."),
    "serve": ("vtrax.deploy.commands.serve", "Serve a run's policy and status over gRPC (Act, GetStatus, WatchMetrics, health)."),
    "plot": ("vtrax.deploy.commands.plot", "Draw learning curves of run directories to a PNG (median, min-max)."),
    "status": ("vtrax.deploy.commands.status", "Show the running job's frames, updates, return, replay and actors (from Ray)."),
}

# bench target -> module with add_arguments(parser) / run(args).
BENCH_TARGETS: dict[str, tuple[str, str]] = {
    "rl-ops": ("vtrax.deploy.bench.rl_ops", "V-trace and TD(lambda) microbenchmarks."),
    "nets": ("vtrax.deploy.bench.nets", "IMPALA deep net and MLP forward / forward+backward."),
    "replay": ("vtrax.deploy.bench.replay", "Reverb write/sample throughput vs a one-env-per-writer baseline."),
    "learner": ("vtrax.deploy.bench.learner", "Learner updates/s and frames/s on synthetic batches."),
    "priorities": ("vtrax.deploy.bench.priorities", "DQN learner updates/s with and without priority write-back."),
    "e2e": ("vtrax.deploy.bench.e2e", "End-to-end CartPole: seconds/frames to target, frames/s, peak PSS."),
    "serve": ("vtrax.deploy.bench.serve", "vtrax serve under N concurrent local clients: throughput, p50/p99 latency."),
    "chaos": ("vtrax.deploy.bench.chaos", "SIGKILL actor, learner, Reverb and driver of a run; time the recovery."),
    "learning": ("vtrax.deploy.bench.learning", "Learning curves over seeds run one after another: PNG + JSON summary."),
}


def _version() -> str:
    try:
        return metadata.version("vtrax")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run `pip install -e .`)"


def _available(table: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Entries whose module exists, so --help never lists a command that cannot run."""
    return {name: entry for name, entry in table.items() if importlib.util.find_spec(entry[0]) is not None}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with flags only for the subcommand (and bench target) named in `argv`.

    Only that subcommand's module is imported: `vtrax --help` and `vtrax doctor`
    import no jax, ray or reverb, so the doctor still runs when those are broken.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="vtrax",
        description="vtrax: distributed actor-learner RL training (Ray actors, Reverb replay, pmapped JAX learner).",
    )
    parser.add_argument("--version", action="version", version=f"vtrax {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    chosen = _first_word_in(argv, COMMANDS)
    for name, (module_name, help_text) in _available(COMMANDS).items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        if name != chosen:
            continue
        if name == "bench":
            _add_bench_targets(sub_parser, argv[argv.index(name) + 1:])
        else:
            _load(name, module_name).add_arguments(sub_parser)
    return parser


def _first_word_in(argv: list[str], table: dict[str, tuple[str, str]]) -> str | None:
    return next((word for word in argv if word in table), None)


def _add_bench_targets(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", title="targets", required=True)
    chosen = _first_word_in(argv, BENCH_TARGETS)
    for name, (module_name, help_text) in _available(BENCH_TARGETS).items():
        target_parser = targets.add_parser(name, help=help_text, description=help_text)
        target_parser.set_defaults(_module=module_name)
        if name == chosen:
            _load(f"bench {name}", module_name).add_arguments(target_parser)


class CommandUnavailable(SystemExit):
    """A subcommand whose module (or a library it needs) fails to import."""


def _load(name: str, module_name: str):
    try:
        return importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - one readable line instead of a traceback
        first = str(error).splitlines()[0] if str(error) else ""
        print(f"vtrax {name}: cannot load ({type(error).__name__}: {first}); run `vtrax doctor` to see what "
              "is broken and how to fix it", file=sys.stderr)
        raise CommandUnavailable(2) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
