"""Small shared helpers for `vtrax bench ...`: median timing, tables, machine info."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Any, Callable, Sequence


def median_seconds(fn: Callable[[], Any], *, calls: int = 50, warmup: int = 3,
                   block: Callable[[Any], Any] | None = None) -> float:
    """Median wall seconds of `fn()` over `calls` calls after `warmup` calls.

    `block` is applied to each result before the clock stops (e.g.
    `jax.block_until_ready`), so asynchronous dispatch is not mistaken for speed.
    """
    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls}")
    block = block or (lambda result: result)
    for _ in range(warmup):
        block(fn())
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        block(fn())
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def machine_description() -> str:
    """One line naming the CPU count, OS and Python, for benchmark records."""
    return f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}, Python {platform.python_version()}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_result(result: dict, *, as_json: bool, table: str) -> None:
    """Print exactly one JSON object (`--json`) or a human-readable table."""
    print(json.dumps(result, sort_keys=True) if as_json else table, flush=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)
