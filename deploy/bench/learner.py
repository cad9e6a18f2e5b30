"""`vtrax bench learner`: learner updates/s and frames/s on synthetic batches.

Runs the real update (`learner.make_update`: IMPALA loss, optimiser, pmap or
jit) on a fixed random batch in the replay format, handed over as host numpy
arrays every call as the replay dataset does, so the host->device copy is
included; the metrics are fetched every update as the `Learner` loop does.
No Ray and no Reverb: this runs on any machine with JAX (the GPU machines too).

frames/s = updates/s x batch_size x unroll_length.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from vtrax.deploy.bench import tools as benchtools

PRESETS = {
    # preset: (network kind, num_actions, observation shape, observation dtype, default calls, warmup)
    "cartpole": ("mlp", 2, (4,), "float32", 300, 20),
    "atari": ("impala_deep", 6, (84, 84, 4), "uint8", 5, 2),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cartpole",
                        help="Learner config and network: CartPole MLP or IMPALA deep ResNet on Atari frames.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    parser.add_argument("--calls", type=int, default=None, help="Timed updates (default: 300 cartpole, 5 atari).")
    parser.add_argument("--warmup", type=int, default=None, help="Untimed updates first (compilation).")
    parser.add_argument("--num-devices", type=int, default=None, help="Local devices to use (default: all).")
    parser.add_argument("--batch-size", type=int, default=None, help="Override the preset's batch_size.")
    parser.add_argument("--unroll-length", type=int, default=None, help="Override the preset's unroll_length.")
    parser.add_argument("--use-lstm", action="store_true", help="Atari preset: add the LSTM core.")
    parser.add_argument("--shared-torso", action="store_true",
                        help="CartPole preset: one MLP torso with two heads instead of separate policy/value MLPs.")
    parser.add_argument("--hidden-sizes", default="64,64", metavar="SIZES",
                        help="CartPole preset: MLP layer widths, comma-separated (default 64,64).")
    parser.add_argument("--force-pmap", action="store_true",
                        help="Use jax.pmap even on one device (to measure its overhead against jax.jit).")
    parser.add_argument("--cpu-affinity", default=None, metavar="CPUS",
                        help="Pin this process to these CPU cores first, e.g. '0' or '0,1' (Linux only).")


def run(args: argparse.Namespace) -> int:
    if args.cpu_affinity is not None:
        _pin(args.cpu_affinity)  # before jax starts its thread pools
    import jax

    from vtrax import learner

    kind, num_actions, obs_shape, obs_dtype, calls, warmup = PRESETS[args.preset]
    overrides = {key: value for key, value in (("batch_size", args.batch_size),
                                               ("unroll_length", args.unroll_length)) if value is not None}
    config = (learner.cartpole_config if args.preset == "cartpole" else learner.atari_config)(**overrides)
    hidden_sizes = _sizes(args.hidden_sizes)
    network = learner.make_network(kind, num_actions, use_lstm=args.use_lstm, shared_torso=args.shared_torso,
                                   hidden_sizes=hidden_sizes)
    num_devices = args.num_devices or jax.local_device_count()
    batch = learner.synthetic_batch(config, network, obs_shape, num_devices=num_devices,
                                    observation_dtype=np.dtype(obs_dtype), core_size=256)
    example = np.swapaxes(batch["observation"][0, :, :1], 0, 1)
    state = learner.replicate(learner.init_state(config, network, example, jax.random.PRNGKey(0)), num_devices)
    update = learner.make_update(config, network, num_devices=num_devices, force_pmap=args.force_pmap)
    holder = [state]

    def one_update():
        holder[0], metrics = update(holder[0], batch)
        return metrics

    seconds = benchtools.median_seconds(one_update, calls=args.calls or calls, warmup=args.warmup or warmup,
                                        block=jax.device_get)
    frames = learner.frames_per_update(config)
    devices = [str(device) for device in jax.local_devices()[:num_devices]]
    result = {
        "preset": args.preset,
        "updates_per_second": 1.0 / seconds,
        "frames_per_second": frames / seconds,
        "seconds_per_update": seconds,
        "devices": devices,
        "batch_size": config.batch_size,
        "unroll_length": config.unroll_length,
        "mode": "pmap" if num_devices > 1 or args.force_pmap else "jit",
        "network": network.description,
        "jax_version": jax.__version__,
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "machine": benchtools.machine_description(),
    }
    table = benchtools.format_table(
        ["preset", "network", "devices", "batch x T", "mode", "ms/update", "updates/s", "frames/s"],
        [[args.preset, _network_name(network.description), ", ".join(devices),
          f"{config.batch_size} x {config.unroll_length}", result["mode"], seconds * 1e3,
          result["updates_per_second"], result["frames_per_second"]]])
    benchtools.print_result(result, as_json=args.json, table=table)
    return 0


def _pin(cpus: str) -> None:
    try:
        cores = {int(core) for core in cpus.split(",")}
    except ValueError:
        raise SystemExit(f"--cpu-affinity takes comma-separated core numbers such as '0' or '0,1', got {cpus!r}")
    if not hasattr(os, "sched_setaffinity"):
        raise SystemExit("--cpu-affinity needs Linux (os.sched_setaffinity); drop the flag on this system")
    os.sched_setaffinity(0, cores)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(size) for size in text.split(","))
    except ValueError:
        raise SystemExit(f"--hidden-sizes takes comma-separated layer widths such as '64,64', got {text!r}")
    if not sizes or min(sizes) < 1:
        raise SystemExit(f"--hidden-sizes needs positive widths, got {text!r}")
    return sizes


def _network_name(description: dict) -> str:
    if description["kind"] != "mlp":
        return description["kind"] + ("+lstm" if description["use_lstm"] else "")
    layout = "shared" if description["shared_torso"] else "separate"
    return f"mlp {'x'.join(map(str, description['hidden_sizes']))} {layout}"
