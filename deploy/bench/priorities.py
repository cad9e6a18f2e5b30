"""`vtrax bench priorities`: what writing priorities back costs the DQN learner (Ape-X).

Fills an in-process Reverb prioritised table with random CartPole-shaped n-step
transitions (slabs of `--num-envs`), then runs the real `Learner` loop with the
DQN preset's core twice on the same table: once handing each update's keys and
|TD error| to a `replay.PriorityWriter` (the training path), once writing
nothing. No actors insert meanwhile, so the table has no rate limiter here.
Reports updates/s of both and the slowdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from vtrax.deploy.bench import tools as benchtools


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates", type=int, default=1500, help="Timed updates per mode (default 1500).")
    parser.add_argument("--items", type=int, default=500, help="Items in the table (default 500).")
    parser.add_argument("--num-envs", type=int, default=16, help="Transitions per item (default 16).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")


def _fill(address: str, table: str, items: int, num_envs: int) -> None:
    from vtrax import replay

    rng = np.random.default_rng(0)
    adder = replay.NStepAdder(address, table, (4,), np.float32, num_envs, n_step=3, discount=0.99)
    for _ in range(items + 3):
        adder.append({"observation": rng.standard_normal((num_envs, 4)).astype(np.float32),
                      "action": rng.integers(0, 2, num_envs).astype(np.int32),
                      "reward": np.ones(num_envs, np.float32), "discount": np.ones(num_envs, np.float32),
                      "valid": np.ones(num_envs, bool), "param_version": np.zeros(num_envs, np.int32)})
    adder.close()


def _cartpole_spec():  # built on demand: the module loads no gymnasium
    from vtrax.actors import EnvSpec

    return EnvSpec("CartPole-v1", (4,), np.dtype(np.float32), 2)


def _updates_per_second(config, address: str, table: str, updates: int, write: bool) -> float:
    from vtrax import learner, replay
    from vtrax.deploy.agents import get_agent

    agent = get_agent("dqn")
    network = agent.make_network(config, _cartpole_spec())
    dataset = replay.ReplayDataset(address, table, config.learner.batch_size, prefetch=4)
    writer = replay.PriorityWriter(dataset.update_priorities) if write else None
    loop = learner.Learner(config.learner, network, dataset, lambda version, params: None,
                           core=agent.make_learner_core(config, network, 1),
                           priorities_callback=writer.submit if writer else None)
    loop.run(max_updates=100)  # compile and warm up
    start = time.perf_counter()
    loop.run(max_updates=updates)
    seconds = time.perf_counter() - start
    if writer is not None:
        writer.close()
    dataset.close()
    return updates / seconds


def run(args: argparse.Namespace) -> int:
    from vtrax import replay
    from vtrax.deploy.agents import get_agent
    from vtrax.deploy.config import preset

    config = preset("cartpole", agent="dqn")
    config = dataclasses.replace(config, num_envs_per_actor=args.num_envs,
                                 dqn=dataclasses.replace(config.dqn, min_replay_size=1))
    spec = _cartpole_spec()
    # NOTE: no rate limiter: nothing inserts while the learner runs.
    table = dataclasses.replace(get_agent("dqn").replay_table(config, spec), samples_per_insert=None,
                                max_size=args.items + 10)
    server = replay.start_server([table], host="127.0.0.1", checkpoint_period_s=None)
    try:
        _fill(server.address, table.name, args.items, args.num_envs)
        rates = {"off": [], "on": []}
        for mode in ("off", "on", "off", "on"):  # alternated, so drift in machine load hits both
            rates[mode].append(_updates_per_second(config, server.address, table.name, args.updates, mode == "on"))
    finally:
        server.stop(final_checkpoint=False)
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    result = {"updates_per_second_without_priorities": off, "updates_per_second_with_priorities": on,
              "slowdown": 1.0 - on / off, "runs": rates, "batch_size": config.learner.batch_size,
              "num_envs": args.num_envs, "machine": benchtools.machine_description()}
    table_text = benchtools.format_table(["priorities", "updates/s"], [["off", off], ["on", on]])
    benchtools.print_result(result, as_json=args.json, table=f"{table_text}\nslowdown {result['slowdown']:.1%}")
    return 0
