"""Entry point of the replay server's own process: `python -m replay.server_main ...`.

Serves until SIGTERM or SIGINT, then writes a final checkpoint (when a
checkpoint directory is set) and exits 0. Once the server accepts connections
it logs `replay server listening at HOST:PORT` and, if asked, writes a JSON
ready file `{"address", "port", "pid", "restored_from", "unreadable", "tables"}`
(written to a temporary name and renamed, so readers never see half a file):
the checkpoint the tables were loaded from (or null), the checkpoints that
failed to load and were set aside, and each table's `{"current_size",
"num_inserts"}` right after loading it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Sequence

from vtrax.replay.server import start_server
from vtrax.replay.table_config import DEFAULT_CHECKPOINT_PERIOD_S, TableConfig

log = logging.getLogger(__name__)


def serve(tables: Sequence[TableConfig], *, port: int | None = None, checkpoint_dir: str | None = None,
          checkpoint_period_s: float | None = DEFAULT_CHECKPOINT_PERIOD_S, host: str = "localhost",
          ready_file: str | None = None, parent_pid: int | None = None) -> int:
    """Run a replay server in this process until SIGTERM/SIGINT; returns the exit code (0).

    With `parent_pid`, the server also stops (with its final checkpoint) once
    that process is gone, so a crashed driver leaves no orphan server behind.
    Must be called from the main thread (it installs the signal handlers).
    """
    stop = threading.Event()
    received: list[int] = []

    def handle(signum, frame):  # noqa: ARG001 - signal handler signature
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = start_server(tables, port=port, checkpoint_dir=checkpoint_dir,
                              checkpoint_period_s=checkpoint_period_s, host=host)
        log.info("replay server process %d serving; SIGTERM or SIGINT stops it%s", os.getpid(),
                 " after a final checkpoint" if server.checkpoint_dir else "")
        if ready_file:
            _write_ready_file(ready_file, {"address": server.address, "port": server.port, "pid": os.getpid(),
                                           "restored_from": server.restored_from,
                                           "unreadable": server.unreadable,
                                           "tables": server.restored_counts})
        # NOTE: a timed wait keeps the main thread returning to the interpreter, so
        # the Python signal handler above runs promptly.
        while not stop.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("parent process %d is gone", parent_pid)
                break
        name = f"{signal.Signals(received[0]).name} received" if received else "parent process gone"
        log.info("%s: writing the final checkpoint and stopping", name)
        path = server.stop(final_checkpoint=True)
        log.info("replay server stopped (%s); final checkpoint: %s", name, path or "none (no checkpoint dir)")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_ready_file(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m replay.server_main", description=__doc__)
    parser.add_argument("--tables-json", required=True,
                        help="JSON list of TableConfig.to_json() dicts")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: a free one)")
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoint directory (default: none)")
    parser.add_argument("--checkpoint-period-s", type=float, default=DEFAULT_CHECKPOINT_PERIOD_S,
                        help="seconds between periodic checkpoints (0: only the final one)")
    parser.add_argument("--host", default="localhost", help="host name written into the address")
    parser.add_argument("--ready-file", default=None, help="write {address, port, pid} JSON here when ready")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s replay-server %(levelname)s %(message)s")
    tables = [TableConfig.from_json(data) for data in json.loads(args.tables_json)]
    return serve(tables, port=args.port, checkpoint_dir=args.checkpoint_dir,
                 checkpoint_period_s=args.checkpoint_period_s or None, host=args.host,
                 ready_file=args.ready_file, parent_pid=args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
