"""`vtrax bench rl-ops`: median µs per call of jitted, vmapped V-trace and TD(λ).

Each op runs on one [T, B] batch of synthetic trajectories (episode ends
included), vmapped over B with `in_axes=1` and jitted, as the learner calls
it. Timing starts after compilation and warm-up calls, and every call is
waited on with `jax.block_until_ready`.
"""

from __future__ import annotations

import argparse

from vtrax.deploy.bench import tools as benchtools

DEFAULT_SHAPES = ((20, 256), (1000, 32))
OPS = ("vtrace_td_error_and_advantage", "td_lambda")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=50,
                        help="timed calls per case after warm-up (>= 50 for recorded figures)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per case after compiling")
    parser.add_argument("--shapes", default=",".join(f"{t}x{b}" for t, b in DEFAULT_SHAPES),
                        help="comma-separated TxB sizes, e.g. 20x256,1000x32")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _parse_shapes(text: str) -> list[tuple[int, int]]:
    shapes = []
    for item in text.split(","):
        try:
            unroll_length, batch_size = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--shapes: {item!r} is not TxB like 20x256; use e.g. --shapes 20x256,1000x32")
        if unroll_length < 1 or batch_size < 1:
            raise SystemExit(f"--shapes: sizes must be >= 1, got {item!r}")
        shapes.append((unroll_length, batch_size))
    return shapes


def _inputs(unroll_length: int, batch_size: int, seed: int = 0):
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.PRNGKey(seed), 5)
    shape = (unroll_length, batch_size)
    v_tm1 = jax.random.normal(keys[0], shape)
    v_t = jax.random.normal(keys[1], shape)
    r_t = jax.random.normal(keys[2], shape)
    # About one episode end per 50 steps, as in short-episode control tasks.
    discount_t = jnp.where(jax.random.uniform(keys[3], shape) < 0.02, 0.0, 0.99)
    rho_tm1 = jnp.exp(0.3 * jax.random.normal(keys[4], shape))
    return v_tm1, v_t, r_t, discount_t, rho_tm1


def _build(op: str):
    import jax

    from vtrax import rl_ops

    if op == "vtrace_td_error_and_advantage":
        batched = jax.vmap(
            lambda v_tm1, v_t, r_t, discount_t, rho_tm1: rl_ops.vtrace_td_error_and_advantage(
                v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0),
            in_axes=1, out_axes=1)
        return jax.jit(batched), lambda x: x
    batched = jax.vmap(
        lambda v_tm1, r_t, discount_t, v_t: rl_ops.td_lambda(v_tm1, r_t, discount_t, v_t, 0.95),
        in_axes=1, out_axes=1)
    return jax.jit(batched), lambda x: (x[0], x[2], x[3], x[1])


def run(args: argparse.Namespace) -> int:
    import jax

    if args.calls < 1:
        raise SystemExit(f"--calls must be >= 1, got {args.calls}")
    shapes = _parse_shapes(args.shapes)
    rows = []
    for op in OPS:
        fn, arrange = _build(op)
        for unroll_length, batch_size in shapes:
            inputs = arrange(_inputs(unroll_length, batch_size))
            seconds = benchtools.median_seconds(
                lambda: fn(*inputs), calls=args.calls, warmup=args.warmup,
                block=jax.block_until_ready)
            rows.append({"op": op, "T": unroll_length, "B": batch_size,
                         "median_us": seconds * 1e6,
                         "steps_per_s": unroll_length * batch_size / seconds})
    result = {
        "benchmark": "rl-ops",
        "machine": benchtools.machine_description(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()[:1]],
        "calls": args.calls,
        "warmup": args.warmup,
        "jit": True,
        "vmap_in_axes": 1,
        "results": rows,
    }
    table = "\n".join([
        f"rl-ops: jitted, vmapped over B (in_axes=1); median of {args.calls} calls after "
        f"{args.warmup} warm-up calls",
        f"machine: {result['machine']}; jax {jax.__version__} on {jax.default_backend()}",
        benchtools.format_table(
            ["op", "T", "B", "median µs/call", "steps/s"],
            [[r["op"], r["T"], r["B"], r["median_us"], r["steps_per_s"]] for r in rows]),
    ])
    benchtools.print_result(result, as_json=args.json, table=table)
    return 0
