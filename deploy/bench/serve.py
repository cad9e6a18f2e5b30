"""`vtrax bench serve`: `vtrax serve` under N concurrent clients on localhost.

The server runs as its own process (`vtrax serve SOURCE --port 0`), exactly as a
user starts it; the clients are N threads of this process, each with its own
channel (`PolicyClient`), sending Act requests of `--batch-size` CartPole (or the
source's) observations until `--requests` in total are answered or `--max-seconds`
pass. Each client first sends `--warmup` requests that are not counted (the
server compiles one program per padded batch size).

Reported: throughput (requests/s and observations/s over the measured phase),
p50/p99/max latency per request, and errors, which must be zero (exit status 1
otherwise). Without `--source` the server serves a fresh CartPole checkpoint of
untrained parameters (`deploy.serve.write_initial_run`): the same network and
work per request as a trained one.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vtrax.deploy.bench import tools as benchtools


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    parser.add_argument("--source", default=None, metavar="RUN_DIR|CHECKPOINT",
                        help="What to serve (default: a fresh untrained CartPole checkpoint in a temp dir).")
    parser.add_argument("--clients", type=int, default=8, help="Concurrent clients (default 8).")
    parser.add_argument("--requests", type=int, default=4000, help="Measured Act requests in total (default 4000).")
    parser.add_argument("--batch-size", type=int, default=1, help="Observations per request (default 1).")
    parser.add_argument("--warmup", type=int, default=10, help="Unmeasured requests per client first (default 10).")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="Stop the measured phase after this long even if requests remain (default 120).")
    parser.add_argument("--workers", type=int, default=0, help="Server RPC threads (default: clients + 2).")


def run(args: argparse.Namespace) -> int:
    if min(args.clients, args.requests, args.batch_size) < 1 or args.warmup < 0:
        raise SystemExit("--clients, --requests and --batch-size must be >= 1 and --warmup >= 0")
    with tempfile.TemporaryDirectory(prefix="vtrax-bench-serve-") as scratch:
        source = args.source or _initial_run(Path(scratch) / "run")
        server, address = _start_server(source, args.workers or args.clients + 2)
        try:
            spec = _observation_spec(address)
            observations = np.zeros((args.batch_size, *spec[0]), spec[1])
            result = _measure(address, observations, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result.update(machine=benchtools.machine_description(), clients=args.clients, batch_size=args.batch_size,
                  source="untrained CartPole checkpoint" if args.source is None else args.source)
    table = benchtools.format_table(
        ["clients", "batch", "requests", "errors", "requests/s", "obs/s", "p50 ms", "p99 ms", "max ms"],
        [[args.clients, args.batch_size, result["requests"], result["errors"], result["requests_per_second"],
          result["observations_per_second"], result["latency_p50_ms"], result["latency_p99_ms"],
          result["latency_max_ms"]]])
    benchtools.print_result(result, as_json=args.json, table=f"vtrax bench serve ({result['machine']})\n{table}")
    return 1 if result["errors"] else 0


def _initial_run(path: Path) -> str:
    from vtrax.deploy.serve import write_initial_run

    write_initial_run(path)
    return str(path)


def _start_server(source: str, workers: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "vtrax.deploy.cli", "serve", source, "--port", "0", "--workers", str(workers)]
    # NOTE: stderr to a file, not a pipe nobody reads: a chatty server would block on a full pipe.
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    line = server.stdout.readline()
    match = re.search(r"listening on (\S+) ", line)
    if not match:
        server.kill()
        server.wait()
        log.seek(0)
        raise SystemExit(f"vtrax serve did not start: {line}{log.read()}")
    return server, match.group(1)


def _observation_spec(address: str):
    from vtrax.deploy.serve import PolicyClient

    with PolicyClient(address) as client:
        client.wait_until_serving(timeout_s=60)
        status = client.status()
    return tuple(status["observation_shape"]), status["observation_dtype"]


def _measure(address: str, observations, args: argparse.Namespace) -> dict:
    import grpc

    from vtrax.deploy.serve import PolicyClient

    remaining = [args.requests]
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    errors = [0] * args.clients
    ready = threading.Barrier(args.clients + 1, timeout=300)
    deadline = [float("inf")]  # set once every client has warmed up
    warmup_errors: list[str] = []

    def client_loop(index: int) -> None:
        with PolicyClient(address, timeout_s=60) as client:
            try:
                for _ in range(args.warmup):
                    client.act(observations)
            except grpc.RpcError as error:
                warmup_errors.append(f"{error.code().name}: {error.details()}")
                ready.abort()
                return
            ready.wait()
            while time.perf_counter() < deadline[0]:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                try:
                    client.act(observations)
                except grpc.RpcError:
                    errors[index] += 1
                latencies[index].append(time.perf_counter() - start)

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        raise SystemExit(f"warm-up requests failed: {warmup_errors[:1]}") from None
    start = time.perf_counter()
    deadline[0] = start + args.max_seconds
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    samples = np.concatenate([np.asarray(l) for l in latencies]) * 1e3
    answered = int(samples.size)
    return {"requests": answered, "errors": int(sum(errors)), "seconds": seconds,
            "requests_per_second": answered / seconds, "observations_per_second": answered * args.batch_size / seconds,
            "latency_p50_ms": float(np.percentile(samples, 50)), "latency_p99_ms": float(np.percentile(samples, 99)),
            "latency_max_ms": float(samples.max()), "stopped_by_max_seconds": answered < args.requests}
