"""`vtrax replay-server`: run a Reverb replay server as its own process.

Logs `replay server listening at HOST:PORT`, serves until SIGTERM or SIGINT,
then writes a final checkpoint (with --checkpoint-dir) and exits 0. On start,
the newest checkpoint in --checkpoint-dir is loaded, so the tables come back
with their items. Reverb is imported inside `run`, so `vtrax --help` stays fast.

Presets:
  impala       FIFO queue (on-policy V-trace): a full queue blocks the actors.
  uniform      uniform sampling, FIFO eviction (off-policy TD agents).
  prioritized  prioritised sampling (priority ** --priority-exponent), FIFO eviction.
"""

from __future__ import annotations

import argparse
import logging
import socket

PRESETS = {"impala": "queue", "uniform": "uniform", "prioritized": "prioritized"}
DEFAULT_MAX_SIZE = {"impala": 64, "uniform": 10_000, "prioritized": 10_000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, help="TCP port to serve on (default: a free one).")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="Checkpoint directory; the newest checkpoint there is loaded on start (default: none).")
    parser.add_argument("--checkpoint-period-s", type=float, default=300.0,
                        help="Seconds between periodic checkpoints; 0 = only the final one (default: 300).")
    parser.add_argument("--table-preset", choices=sorted(PRESETS), default="impala",
                        help="Table kind: impala (FIFO queue), uniform or prioritized (default: impala).")
    parser.add_argument("--table", default="impala", help="Table name the actors and learner use (default: impala).")
    parser.add_argument("--observation-shape", default="4",
                        help="Per-env observation shape, comma separated (default: 4, CartPole; Atari: 84,84,4).")
    parser.add_argument("--observation-dtype", default="float32", help="Observation dtype (default: float32).")
    parser.add_argument("--num-actions", type=int, default=2, help="Number of discrete actions (default: 2).")
    parser.add_argument("--num-envs", type=int, default=16, help="Envs per actor, i.e. per item (default: 16).")
    parser.add_argument("--unroll-length", type=int, default=20,
                        help="Steps per unroll T; items hold T+1 (default: 20).")
    parser.add_argument("--max-size", type=int, default=None,
                        help="Items the table holds (default: 64 for impala, 10000 otherwise).")
    parser.add_argument("--min-size-to-sample", type=int, default=1, help="Off-policy: items before sampling starts.")
    parser.add_argument("--samples-per-insert", type=float, default=None,
                        help="Off-policy: keep this samples/insert ratio (default: no ratio, MinSize only).")
    parser.add_argument("--priority-exponent", type=float, default=0.6, help="Prioritized: priority exponent.")
    parser.add_argument("--host", default=socket.gethostname(),
                        help="Host name written into the logged address (default: this machine's name).")


def run(args: argparse.Namespace) -> int:
    from vtrax import replay

    logging.basicConfig(level=logging.INFO, format="%(asctime)s replay-server %(levelname)s %(message)s")
    try:
        shape = tuple(int(d) for d in args.observation_shape.split(",") if d.strip())
    except ValueError:
        raise SystemExit(f"--observation-shape must be comma-separated integers like 84,84,4, "
                         f"got {args.observation_shape!r}") from None
    step_spec = replay.impala_step_spec(shape, args.observation_dtype, args.num_actions)
    max_size = args.max_size or DEFAULT_MAX_SIZE[args.table_preset]
    table = replay.TableConfig(
        kind=PRESETS[args.table_preset], name=args.table, step_spec=step_spec, num_envs=args.num_envs,
        unroll_length=args.unroll_length, max_size=max_size, min_size_to_sample=args.min_size_to_sample,
        samples_per_insert=args.samples_per_insert, priority_exponent=args.priority_exponent)
    return replay.serve([table], port=args.port, checkpoint_dir=args.checkpoint_dir,
                        checkpoint_period_s=args.checkpoint_period_s or None, host=args.host)
