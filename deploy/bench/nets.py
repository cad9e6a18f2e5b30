"""`vtrax bench nets`: jitted forward and forward+backward of the agent networks.

Measures, on the machine's default JAX device, the median wall time of
- the IMPALA deep network (feed-forward, or with `--use-lstm` its LSTM unroll)
  on uint8 Atari frames [T=20, B=32, 84, 84, 4] (640 frames), and
- the MLP policy-value network on float observations [T=20, B=256, 4].

"forward+backward" is `jax.grad` of a scalar loss of the logits and values
with respect to all parameters. Prints a table, or one JSON object with `--json`.

Each function is compiled ahead of time (compilation is not timed), run
`--warmup` times, then timed for up to `--calls` calls or until `--max-seconds`
have been spent on that measurement (at least one timed call; a warmup call
slower than `--max-seconds` is kept as that call). On a 2-core CPU one
forward+backward of the deep net on 640 frames took ~40 s (machine shared), so the default
budget gives it a single timed call and keeps the default run near a minute;
raise `--max-seconds` for steadier CPU figures. On a GPU every measurement gets
all `--calls` calls.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from vtrax.deploy.bench.tools import format_table, machine_description, print_result

DEFAULT_CALLS = 20
DEFAULT_MAX_SECONDS = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS,
                        help=f"Most timed calls per measurement; the median is reported (default {DEFAULT_CALLS}).")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help="Stop timing a measurement after this many seconds, keeping at least one call "
                             f"(default {DEFAULT_MAX_SECONDS:g}; the deep net's forward+backward took ~40 s "
                             "per call on a shared 2-core CPU).")
    parser.add_argument("--warmup", type=int, default=1, help="Untimed calls after compilation (default 1).")
    parser.add_argument("--use-lstm", action="store_true",
                        help="Benchmark the IMPALA deep network with its LSTM core (unroll over T with resets).")
    parser.add_argument("--networks", nargs="+", choices=("impala_deep", "mlp"), default=("impala_deep", "mlp"),
                        help="Which networks to run (default: both).")


def _cases(use_lstm: bool):
    """key -> (name, T, B, observation shape, observation dtype, transformed function) for each network."""
    import jax.numpy as jnp

    from vtrax import nets

    def impala(observation, should_reset):
        net = nets.ImpalaNet(6, torso="deep", use_lstm=use_lstm)
        if not use_lstm:
            return net(observation)
        outputs, _ = net.unroll(observation, should_reset, net.initial_state(observation.shape[1]))
        return outputs

    def mlp(observation, should_reset):
        del should_reset
        return nets.PolicyValueMLP(2)(observation)

    return {
        "impala_deep": ("impala_deep_lstm" if use_lstm else "impala_deep", 20, 32, (84, 84, 4), jnp.uint8, impala),
        "mlp": ("mlp", 20, 256, (4,), jnp.float32, mlp),
    }


def _median_seconds(fn, *, calls: int, warmup: int, max_seconds: float) -> tuple[float, int]:
    """(median seconds, number of timed calls) of `fn()`, which must block until its result is ready.

    Timing stops after `calls` calls or once `max_seconds` were spent (at least one call). `fn` is already
    compiled, so a warmup call slower than `max_seconds` is dominated by compute: it is kept as the sample
    instead of paying for another equally slow call.
    """

    def timed() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    samples: list[float] = []
    for _ in range(warmup):
        elapsed = timed()
        if elapsed > max_seconds:
            samples.append(elapsed)
            break
    spent = sum(samples)
    while len(samples) < calls and (not samples or spent < max_seconds):
        samples.append(timed())
        spent += samples[-1]
    return statistics.median(samples), len(samples)


def _measure(name, unroll_length, batch_size, observation_shape, dtype, fn, *, calls, warmup, max_seconds):
    import jax
    import jax.numpy as jnp

    from vtrax import nets

    rng = np.random.default_rng(0)
    shape = (unroll_length, batch_size) + observation_shape
    if jnp.issubdtype(dtype, jnp.integer):
        observation = jnp.asarray(rng.integers(0, 256, size=shape, dtype=np.uint8))
    else:
        observation = jnp.asarray(rng.standard_normal(shape, dtype=np.float32))
    should_reset = jnp.asarray(rng.random((unroll_length, batch_size)) < 0.01)
    net = nets.without_apply_rng(nets.transform(fn))
    params = jax.jit(net.init)(jax.random.PRNGKey(0), observation, should_reset)

    def loss(params, observation, should_reset):
        logits, value = net.apply(params, observation, should_reset)
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1)) + jnp.mean(jnp.square(value))

    frames = unroll_length * batch_size
    timings = {}
    for label, fn_to_time in (("forward", net.apply), ("forward_backward", jax.grad(loss))):
        # NOTE: compiled ahead of time so that neither compilation nor an extra run is spent in warmup.
        compiled = jax.jit(fn_to_time).lower(params, observation, should_reset).compile()
        seconds, timed_calls = _median_seconds(
            lambda compiled=compiled: jax.block_until_ready(compiled(params, observation, should_reset)),
            calls=calls, warmup=warmup, max_seconds=max_seconds)
        timings[f"{label}_median_ms"] = 1e3 * seconds
        timings[f"{label}_frames_per_s"] = frames / seconds
        timings[f"{label}_calls"] = timed_calls
    num_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))
    return {"network": name, "unroll_length": unroll_length, "batch_size": batch_size, "frames": frames,
            "observation": f"{jnp.dtype(dtype).name}{list(observation_shape)}", "num_params": num_params, **timings}


def run(args: argparse.Namespace) -> int:
    if args.calls < 1 or args.warmup < 0 or args.max_seconds <= 0:
        raise SystemExit(f"vtrax bench nets: need --calls >= 1, --warmup >= 0 and --max-seconds > 0; got "
                         f"{args.calls}, {args.warmup} and {args.max_seconds}.")
    import jax

    cases = _cases(args.use_lstm)
    results = [_measure(*cases[key], calls=args.calls, warmup=args.warmup, max_seconds=args.max_seconds)
               for key in args.networks]
    device = jax.devices()[0]
    result = {"benchmark": "nets", "device": f"{device.platform}:{device.device_kind}", "jax": jax.__version__,
              "machine": machine_description(), "max_calls": args.calls, "max_seconds": args.max_seconds,
              "results": results}
    headers = ["network", "[T, B]", "frames", "params", "fwd ms", "fwd frames/s", "calls", "fwd+bwd ms",
               "fwd+bwd frames/s", "calls"]
    rows = [[r["network"], f"[{r['unroll_length']}, {r['batch_size']}]", r["frames"], r["num_params"],
             r["forward_median_ms"], r["forward_frames_per_s"], r["forward_calls"], r["forward_backward_median_ms"],
             r["forward_backward_frames_per_s"], r["forward_backward_calls"]] for r in results]
    table = (f"nets benchmark on {result['device']} (jax {result['jax']}; {result['machine']}); medians over "
             f"'calls' timed calls (at most {args.calls}, about {args.max_seconds:g} s each)\n"
             + format_table(headers, rows))
    print_result(result, as_json=args.json, table=table)
    return 0
