"""`vtrax bench replay`: Reverb write/sample throughput, ours vs a one-env-per-writer baseline.

Shapes: CartPole (observation float32[4], 2 actions) and Atari (uint8[84, 84, 4],
6 actions) unrolls of T = 20 steps from 16 envs per actor, with the IMPALA step
fields (action, reward, discount, behaviour logits, parameter version).

  write   ours:     `replay.SequenceAdder`, one append per vector step ([16, ...] slabs)
          baseline: plain `reverb.Client`, one `TrajectoryWriter` per env, one
                    append per env step, one item per env and unroll
          both flush every item, as an actor does.
  sample  ours:     `replay.ReplayDataset` (TF pipeline, per-env sequences, batch 64)
          client:   plain `reverb.Client.sample` of the same slab items, split into
                    per-env sequences and batches the same way (no prefetch thread)
  modes   in-process (server in this process) and across processes (server in its
          own process, `replay.ReplayServerProcess`; the headline numbers).

env steps/s counts new env steps (T per sequence; the bootstrap step is not
counted twice). MB/s counts the raw bytes of those env steps. Each figure is one
run of `--seconds`; the table uses a uniform sampler with FIFO eviction, so
writes never wait on the learner.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vtrax.deploy.bench import tools as benchtools

SHAPES = {
    # name: (observation shape, observation dtype, num_actions)
    "cartpole": ((4,), "float32", 2),
    "atari": ((84, 84, 4), "uint8", 6),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    parser.add_argument("--seconds", type=float, default=2.0, help="Seconds per measurement (default: 2).")
    parser.add_argument("--shapes", default="cartpole,atari", help="Comma-separated: cartpole, atari.")
    parser.add_argument("--num-envs", type=int, default=16, help="Envs per actor (default: 16).")
    parser.add_argument("--unroll-length", type=int, default=20, help="Unroll length T (default: 20).")
    parser.add_argument("--batch-size", type=int, default=64, help="Sequences per sampled batch (default: 64).")


def run(args: argparse.Namespace) -> int:
    from vtrax import replay

    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        raise SystemExit(f"unknown --shapes {unknown}; choose from {sorted(SHAPES)}")
    setup = _Setup(args, shapes)
    results = {}
    remote = replay.ReplayServerProcess(tables=setup.tables, checkpoint_period_s=0)
    try:
        with replay.start_server(setup.tables, checkpoint_period_s=None) as local:
            for shape in shapes:
                results[shape] = _measure_shape(setup, shape, local.address, remote.address)
    finally:
        remote.stop()
    results["config"] = {"num_envs": args.num_envs, "unroll_length": args.unroll_length,
                         "seconds_per_measurement": args.seconds, "sample_batch_size": args.batch_size,
                         "machine": benchtools.machine_description()}
    benchtools.print_result(results, as_json=args.json, table=_table(results, shapes, benchtools))
    return 0


class _Setup:
    """Specs, tables and synthetic slabs for every shape."""

    def __init__(self, args, shapes):
        from vtrax import replay

        self.args, self.num_envs, self.unroll = args, args.num_envs, args.unroll_length
        self.specs, self.slabs, self.tables = {}, {}, []
        rng = np.random.default_rng(0)
        for shape in shapes:
            obs_shape, obs_dtype, num_actions = SHAPES[shape]
            spec = replay.impala_step_spec(obs_shape, obs_dtype, num_actions)
            self.specs[shape] = spec
            # NOTE: random bytes are the worst case for Reverb's chunk compression.
            self.slabs[shape] = [_random_step(spec, self.num_envs, rng) for _ in range(4)]
            item_mb = replay.step_nbytes(spec) * self.num_envs * (self.unroll + 1) / 1e6
            max_items = max(8, int(512 / item_mb))  # keep each table under ~0.5 GB
            for suffix, num_envs, size in (("slab", self.num_envs, max_items),
                                           ("env", 1, max_items * self.num_envs)):
                self.tables.append(replay.TableConfig(kind="uniform", name=f"{shape}_{suffix}", step_spec=spec,
                                                      num_envs=num_envs, unroll_length=self.unroll,
                                                      max_size=size))

    def env_step_mb(self, shape) -> float:
        from vtrax import replay

        return replay.step_nbytes(self.specs[shape]) / 1e6


def _random_step(spec, num_envs, rng):
    step = {}
    for name, field in spec.items():
        shape = (num_envs, *field.shape)
        if np.issubdtype(field.dtype, np.integer):
            step[name] = rng.integers(0, 255 if field.dtype == np.uint8 else 6, size=shape).astype(field.dtype)
        else:
            step[name] = rng.standard_normal(shape).astype(field.dtype)
    return step


def _measure_shape(setup: _Setup, shape: str, local: str, remote: str) -> dict:
    """All figures of one shape; keys without a suffix are across processes, `*_in_process` in-process."""
    seconds, mb = setup.args.seconds, setup.env_step_mb(shape)
    out = {}
    for mode, address in (("_in_process", local), ("", remote)):
        ours = _write_ours(setup, shape, address, seconds)
        base = _write_baseline(setup, shape, address, seconds)
        if mode:
            sample = _sample_ours(setup, shape, address, seconds)
        else:
            # NOTE: ours, client, client, ours (half the time each), so drift in the
            # server's state or the machine's load does not favour either.
            halves = [_sample_ours, _sample_client, _sample_client, _sample_ours]
            ours_a, client_a, client_b, ours_b = (run(setup, shape, address, seconds / 2) for run in halves)
            sample, client = _combine(ours_a, ours_b), _combine(client_a, client_b)
            out["client_sample_env_steps_per_s"] = client["env_steps"] / client["seconds"]
        for kind, result in (("write", ours), ("sample", sample)):
            out[f"{kind}_env_steps_per_s{mode}"] = result["env_steps"] / result["seconds"]
            out[f"{kind}_items_per_s{mode}"] = result["items"] / result["seconds"]
            out[f"{kind}_mb_per_s{mode}"] = out[f"{kind}_env_steps_per_s{mode}"] * mb
        out[f"baseline_write_env_steps_per_s{mode}"] = base["env_steps"] / base["seconds"]
        out[f"write_ratio_vs_baseline{mode}"] = (out[f"write_env_steps_per_s{mode}"]
                                                 / out[f"baseline_write_env_steps_per_s{mode}"])
        out[f"dataset_close_s{mode}"] = sample["close_s"]
    out["sample_ratio_vs_client"] = out["sample_env_steps_per_s"] / out["client_sample_env_steps_per_s"]
    return out


def _combine(first: dict, second: dict) -> dict:
    """Two measurements of the same thing as one (counts and seconds summed, worst close time)."""
    out = {key: first[key] + second[key] for key in ("seconds", "items", "env_steps")}
    out["close_s"] = max(first.get("close_s", 0.0), second.get("close_s", 0.0))
    return out


def _write_ours(setup: _Setup, shape: str, address: str, seconds: float) -> dict:
    from vtrax import replay

    slabs, unroll = setup.slabs[shape], setup.unroll
    adder = replay.SequenceAdder(address, f"{shape}_slab", setup.specs[shape], setup.num_envs, unroll)
    for t in range(unroll + 1):  # warm-up: connect, first chunk, first item
        adder.append(slabs[t % len(slabs)])
    items_before, steps = adder.stats()["items_confirmed"], 0
    start = time.perf_counter()
    while True:
        for _ in range(unroll):  # one item per unroll steps
            adder.append(slabs[steps % len(slabs)])
            steps += 1
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    items = adder.stats()["items_confirmed"] - items_before
    adder.close()
    return {"seconds": elapsed, "items": items, "env_steps": items * unroll * setup.num_envs}


def _write_baseline(setup: _Setup, shape: str, address: str, seconds: float) -> dict:
    """Plain reverb.Client: one TrajectoryWriter per env, one append per env step."""
    import reverb

    client, table, unroll = reverb.Client(address), f"{shape}_env", setup.unroll
    per_env = [[{name: value[e:e + 1] for name, value in slab.items()} for e in range(setup.num_envs)]
               for slab in setup.slabs[shape]]
    writers = [client.trajectory_writer(num_keep_alive_refs=unroll + 1) for _ in range(setup.num_envs)]

    def write_unroll(steps_done, first):
        for t in range(unroll + 1 if first else unroll):
            steps = per_env[(steps_done + t) % len(per_env)]
            for env, writer in enumerate(writers):
                writer.append(steps[env])
        for writer in writers:
            writer.create_item(table, 1.0, {name: writer.history[name][-(unroll + 1):] for name in steps[0]})
        for writer in writers:
            writer.flush()

    write_unroll(0, first=True)  # warm-up
    items, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        write_unroll(items * unroll, first=False)
        items += setup.num_envs
    elapsed = time.perf_counter() - start
    for writer in writers:
        writer.close()
    return {"seconds": elapsed, "items": items, "env_steps": items * unroll}


def _sample_ours(setup: _Setup, shape: str, address: str, seconds: float) -> dict:
    from vtrax import replay

    dataset = replay.ReplayDataset(address, f"{shape}_slab", setup.args.batch_size, prefetch=2)
    next(dataset)  # warm-up: connect, first stream
    batches, items_before = 0, dataset.counts["items"]
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(dataset)
        batches += 1
    elapsed = time.perf_counter() - start
    items = dataset.counts["items"] - items_before
    close_start = time.perf_counter()
    dataset.close()
    sequences = batches * setup.args.batch_size
    return {"seconds": elapsed, "items": items, "env_steps": sequences * setup.unroll,
            "close_s": time.perf_counter() - close_start}


def _sample_client(setup: _Setup, shape: str, address: str, seconds: float) -> dict:
    """Plain reverb.Client.sample of the same slab items, split into per-env sequences as ours does."""
    import reverb

    from vtrax import replay

    table = f"{shape}_slab"
    samples = reverb.Client(address).sample(table, num_samples=10**9, emit_timesteps=False,
                                            unpack_as_table_signature=True)
    next(samples)
    buffer, items, start = replay.SequenceBuffer(), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sample = next(samples)
        buffer.add(replay.split_slabs({name: value[None] for name, value in sample.data.items()}))
        while len(buffer) >= setup.args.batch_size:
            buffer.take(setup.args.batch_size)
        items += 1
    elapsed = time.perf_counter() - start
    samples.close()
    return {"seconds": elapsed, "items": items, "env_steps": items * setup.num_envs * setup.unroll}


def _table(results: dict, shapes: list[str], benchtools) -> str:
    rows = []
    for shape in shapes:
        r = results[shape]
        for mode, where in (("", "across"), ("_in_process", "in-process")):
            rows += [
                (shape, "write ours (slabs)", where, r[f"write_env_steps_per_s{mode}"],
                 r[f"write_items_per_s{mode}"], r[f"write_mb_per_s{mode}"],
                 f"{r[f'write_ratio_vs_baseline{mode}']:.1f}x baseline"),
                (shape, "write baseline (1 env/writer)", where, r[f"baseline_write_env_steps_per_s{mode}"],
                 "", "", ""),
                (shape, "sample ours (ReplayDataset)", where, r[f"sample_env_steps_per_s{mode}"],
                 r[f"sample_items_per_s{mode}"], r[f"sample_mb_per_s{mode}"],
                 (f"{r['sample_ratio_vs_client']:.1f}x Client.sample; " if not mode else "")
                 + f"close {r[f'dataset_close_s{mode}']:.2f}s"),
            ]
        rows.append((shape, "sample plain Client.sample", "across", r["client_sample_env_steps_per_s"], "", "", ""))
    config = results["config"]
    header = (f"vtrax bench replay: T={config['unroll_length']}, {config['num_envs']} envs per actor, "
              f"{config['seconds_per_measurement']}s per figure, {config['machine']}\n")
    return header + benchtools.format_table(
        ("shape", "what", "processes", "env steps/s", "items/s", "MB/s", "note"), rows)
