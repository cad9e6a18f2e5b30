"""`vtrax bench learner`: learner updates/s and frames/s on synthetic batches.

Runs the real update (`learner.make_update`: IMPALA loss, optimiser, pmap or
jit) on a fixed random batch in the replay format, handed over as host numpy
arrays every call as the replay dataset does, so the host->device copy is
included; the metrics are fetched every update as the `Learner` loop does.
No Ray and no Reverb: this runs on any machine with JAX (the GPU machines too).

frames/s = updates/s x batch_size x unroll_length (IMPALA). `--agent dqn|r2d2` times
those agents' learner cores (`deploy/agents/`, their CartPole presets) on random
batches in their replay tables' formats: transitions/s = updates/s x batch_size
(DQN, n-step transitions) or x batch_size x trace_length (R2D2, the learnt steps
of each sequence). The priorities each update returns are fetched with the metrics.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np

from vtrax.deploy.bench import tools as benchtools

AGENTS = ("impala", "dqn", "r2d2")
PRESETS = {
    # preset: (network kind, num_actions, observation shape, observation dtype, default calls, warmup)
    "cartpole": ("mlp", 2, (4,), "float32", 300, 20),
    "atari": ("impala_deep", 6, (84, 84, 4), "uint8", 5, 2),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cartpole",
                        help="Learner config and network: CartPole MLP or IMPALA deep ResNet on Atari frames.")
    parser.add_argument("--agent", choices=AGENTS, default="impala",
                        help="Whose learner: impala (V-trace), or dqn / r2d2 with their CartPole presets.")
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
    if args.agent != "impala":
        return _run_q_agent(args)
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


def _run_q_agent(args: argparse.Namespace) -> int:
    """`--agent dqn|r2d2`: the agent's learner core, compiled as in training, on one random batch."""
    import jax

    from vtrax import learner
    from vtrax.deploy.agents import get_agent
    from vtrax.deploy.config import AGENT_PRESETS

    if args.preset != "cartpole":
        raise SystemExit(f"--agent {args.agent} has a CartPole preset only; drop --preset or pass --preset cartpole")
    config = AGENT_PRESETS[(args.agent, "cartpole")]()
    overrides = {key: value for key, value in (("batch_size", args.batch_size),) if value is not None}
    config = dataclasses.replace(config, learner=dataclasses.replace(config.learner, **overrides))
    agent, spec = get_agent(args.agent), _cartpole_spec()
    network = agent.make_network(config, spec)
    num_devices = args.num_devices or jax.local_device_count()
    core = agent.make_learner_core(config, network, num_devices)
    table = agent.replay_table(config, spec)
    batch = _random_q_batch(table.step_spec, table.sequence_length, config.learner.batch_size, num_devices,
                            spec.num_actions)
    core.check_batch(batch, num_devices)
    example = np.swapaxes(batch["observation"][0, :, :1], 0, 1)  # [1, B/D, ...]
    holder = [learner.replicate(core.init(jax.random.PRNGKey(0), example), num_devices)]

    def one_update():
        holder[0], metrics, priorities = core.update(holder[0], batch)
        return metrics, priorities

    calls, warmup = args.calls or 300, args.warmup or 20
    seconds = benchtools.median_seconds(one_update, calls=calls, warmup=warmup, block=jax.device_get)
    devices = [str(device) for device in jax.local_devices()[:num_devices]]
    result = {
        "agent": args.agent,
        "updates_per_second": 1.0 / seconds,
        "transitions_per_second": core.frames_per_update / seconds,
        "seconds_per_update": seconds,
        "devices": devices,
        "batch_size": config.learner.batch_size,
        "steps_per_item": table.sequence_length,
        "network": network.description,
        "jax_version": jax.__version__,
        "machine": benchtools.machine_description(),
    }
    table_text = benchtools.format_table(
        ["agent", "network", "devices", "batch x steps", "ms/update", "updates/s", "transitions/s"],
        [[args.agent, network.description["kind"] + ("+lstm" if network.is_recurrent else ""), ", ".join(devices),
          f"{config.learner.batch_size} x {table.sequence_length}", seconds * 1e3, result["updates_per_second"],
          result["transitions_per_second"]]])
    benchtools.print_result(result, as_json=args.json, table=table_text)
    return 0


def _cartpole_spec():
    """CartPole-v1's spaces, written out (no gymnasium needed on a GPU machine)."""
    from vtrax.actors.environments import EnvSpec

    return EnvSpec("CartPole-v1", (4,), np.dtype(np.float32), 2)


def _random_q_batch(step_spec, steps: int, batch_size: int, num_devices: int, num_actions: int) -> dict:
    """A batch `[D, B/D, steps, ...]` of the table's fields (random values of each field's dtype; valid and
    discount mostly true/1), plus `info/probability` and `info/key` `[D, B/D]` as the dataset gives them."""
    rng = np.random.default_rng(0)
    lead = (num_devices, batch_size // num_devices, steps)
    batch = {}
    for name, field in step_spec.items():
        shape, dtype = lead + tuple(field.shape), np.dtype(field.dtype)
        if dtype == np.bool_:
            batch[name] = rng.random(shape) > 0.02
        elif name in ("action", "prev_action"):
            batch[name] = rng.integers(0, num_actions, size=shape).astype(dtype)
        elif name == "discount":
            batch[name] = (rng.random(shape) > 0.02).astype(dtype)
        elif np.issubdtype(dtype, np.integer):
            batch[name] = np.zeros(shape, dtype)
        else:
            batch[name] = rng.standard_normal(shape).astype(dtype)
    batch["info/probability"] = np.full(lead[:2], 1.0 / 1000, np.float32) * rng.uniform(0.5, 2.0, lead[:2])
    batch["info/key"] = np.arange(int(np.prod(lead[:2])), dtype=np.uint64).reshape(lead[:2])
    return batch


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
