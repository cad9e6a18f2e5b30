"""The Reverb server in this process: start it, checkpoint it periodically, stop it cleanly.

Checkpoints are directories `<checkpoint_dir>/<UTC timestamp>/` written by
Reverb's default checkpointer; on start the newest complete one is loaded, so
the tables come back with their items and rate-limiter counts. Reverb (0.14)
deletes the previous checkpoint after writing a new one, so the directory holds
one checkpoint at a time; the one before it is kept beside it as hard links
(checkpoint_files.py), and a newest checkpoint that fails to load is set aside
and that one loaded instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Sequence

import reverb

from vtrax.replay.checkpoint_files import (checkpoint_problem, keep_previous, newest_checkpoint, previous_checkpoint,
                                           record_sizes, set_aside_unreadable)
from vtrax.replay.server_info import info
from vtrax.replay.table_config import DEFAULT_CHECKPOINT_PERIOD_S, TableConfig
from vtrax.replay.tables import build_table

log = logging.getLogger(__name__)


class ReplayServer:
    """Handle of a running in-process Reverb server (see `start_server`)."""

    def __init__(self, server: reverb.Server, *, host: str, checkpoint_dir: str | None,
                 checkpoint_period_s: float | None, restored_from: str | None = None,
                 unreadable: Sequence[str] = ()):
        self._server = server
        self._host = host
        self._checkpoint_dir = checkpoint_dir
        self.restored_from = restored_from
        """The checkpoint directory the tables were loaded from at start, or None (they started empty)."""
        self.unreadable = list(unreadable)
        """Checkpoints that failed to load at start, each as `"<where it was set aside>: <why>"`."""
        self.restored_counts: dict[str, dict[str, int]] = {}
        """`{table: {"current_size", "num_inserts"}}` right after start (what the checkpoint held); {} without
        checkpoints."""
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._stopped = False
        self._thread = None
        if checkpoint_dir and checkpoint_period_s:
            self._thread = threading.Thread(target=self._checkpoint_loop, args=(float(checkpoint_period_s),),
                                            name="replay-checkpoints", daemon=True)
            self._thread.start()

    @property
    def port(self) -> int:
        """TCP port the server listens on (all interfaces)."""
        return self._server.port

    @property
    def address(self) -> str:
        """`host:port` for clients (adders, datasets, `replay.info`)."""
        return f"{self._host}:{self.port}"

    @property
    def checkpoint_dir(self) -> str | None:
        return self._checkpoint_dir

    def checkpoint(self) -> str:
        """Write a checkpoint now and return its directory.

        Raises:
          ValueError: if the server was started without `checkpoint_dir`.
        """
        if not self._checkpoint_dir:
            raise ValueError("this replay server was started without checkpoint_dir, so a checkpoint could "
                             "never be loaded again; pass checkpoint_dir=... to replay.start_server")
        with self._lock:
            try:
                keep_previous(self._checkpoint_dir)
            except OSError as error:  # NOTE: the new checkpoint matters more than the spare
                log.warning("could not keep the previous replay checkpoint beside %s: %s", self._checkpoint_dir, error)
            path = reverb.Client(f"localhost:{self.port}").checkpoint()
            record_sizes(path)
        log.info("replay checkpoint written to %s", path)
        return path

    def stop(self, *, final_checkpoint: bool = True) -> str | None:
        """Stop the periodic checkpoints, write a final checkpoint (if configured) and stop serving.

        Returns:
          The final checkpoint's directory, or None when there was none.
        """
        if self._stopped:
            return None
        self._stopped = True
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
        path = None
        if final_checkpoint and self._checkpoint_dir:
            try:
                path = self.checkpoint()
            except Exception as error:  # noqa: BLE001 - still stop the server, then report
                log.error("final replay checkpoint to %s failed: %s", self._checkpoint_dir, error)
        self._server.stop()
        log.info("replay server on port %d stopped", self.port)
        return path

    def wait(self) -> None:
        """Block until another thread calls `stop`."""
        self._stop_event.wait()

    def __enter__(self) -> "ReplayServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _checkpoint_loop(self, period_s: float) -> None:
        while not self._stop_event.wait(period_s):
            try:
                self.checkpoint()
            except Exception as error:  # noqa: BLE001 - keep serving; the next period retries
                log.error("periodic replay checkpoint to %s failed (retrying in %.0fs): %s",
                          self._checkpoint_dir, period_s, error)


def start_server(tables: Sequence[reverb.Table | TableConfig], port: int | None = None,
                 checkpoint_dir: str | None = None,
                 checkpoint_period_s: float | None = DEFAULT_CHECKPOINT_PERIOD_S, *,
                 host: str = "localhost") -> ReplayServer:
    """Start a Reverb server in this process.

    Args:
      tables: `reverb.Table`s (e.g. from `replay.make_tables`) or `TableConfig`s.
      port: TCP port; None picks a free one (read it back from `.port`).
      checkpoint_dir: where checkpoints go; the newest one there is loaded on
        start. None: no checkpoints.
      checkpoint_period_s: seconds between periodic checkpoints (None or 0: only
        explicit and final ones).
      host: the host name written into `.address` (the server listens on all
        interfaces); use the node's IP on a cluster.

    Returns:
      A `ReplayServer`; call `.stop()` (final checkpoint) when done.

    Raises:
      ValueError: on no tables or duplicate table names.
      OSError: if `port` is already in use.
    """
    if not tables:
        raise ValueError("start_server needs at least one table; build them with replay.make_tables(...)")
    if port is not None:
        _check_port_free(int(port))
    built = [build_table(t) if isinstance(t, TableConfig) else t for t in tables]
    restored_from, unreadable = None, []
    if checkpoint_dir:
        checkpoint_dir = os.path.abspath(checkpoint_dir)
        os.makedirs(checkpoint_dir, exist_ok=True)
        server, restored_from, unreadable = _start_restoring(tables, built, port, checkpoint_dir)
    else:
        server = reverb.Server(built, port=port)
    handle = ReplayServer(server, host=host, checkpoint_dir=checkpoint_dir,
                          checkpoint_period_s=checkpoint_period_s, restored_from=restored_from,
                          unreadable=unreadable)
    if checkpoint_dir:
        handle.restored_counts = _table_counts(f"localhost:{handle.port}")
    log.info("replay server listening at %s (tables: %s; checkpoints: %s; restored from: %s)", handle.address,
             ", ".join(t.name for t in built), checkpoint_dir or "off", restored_from or "nothing")
    return handle


def _start_restoring(tables, built, port, checkpoint_dir: str):
    """A server loaded from the newest readable checkpoint; returns (server, its checkpoint, set-aside notes).

    A checkpoint that fails to load (a truncated or corrupt file) is moved to
    `<checkpoint_dir>.unreadable/` and the next one tried: another complete one
    in the folder, then the kept previous one, then none (empty tables).
    """
    unreadable: list[str] = []
    while True:
        newest = newest_checkpoint(checkpoint_dir)
        fallback = None if newest else previous_checkpoint(checkpoint_dir)
        loading = newest or fallback
        # NOTE: Reverb loads a checkpoint missing a file, or with one cut at a record boundary, silently.
        problem = checkpoint_problem(loading) if loading else None
        if problem is None:
            checkpointer = reverb.checkpointers.DefaultCheckpointer(checkpoint_dir, fallback_checkpoint_path=fallback)
            try:
                return reverb.Server(built, port=port, checkpointer=checkpointer), loading, unreadable
            except Exception as error:  # noqa: BLE001 - Reverb raises by status: RuntimeError, ValueError, ...
                if loading is None or not _is_unreadable(error):
                    raise
                problem = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            built = [build_table(t) if isinstance(t, TableConfig) else t for t in tables]  # fresh for the retry
        moved = set_aside_unreadable(loading, checkpoint_dir)
        unreadable.append(f"{moved}: {problem}")
        log.error("replay checkpoint %s could not be loaded (%s); moved it to %s", loading, problem, moved)


def _table_counts(address: str) -> dict[str, dict[str, int]]:
    """`{table: {"current_size", "num_inserts"}}` of a server (right after start: what its checkpoint held)."""
    return {name: {"current_size": table["current_size"], "num_inserts": table["num_inserts"]}
            for name, table in info(address).items()}


def _is_unreadable(error: Exception) -> bool:
    """Whether Reverb failed to load a checkpoint because its files are bad (DATA_LOSS and the like: a
    RuntimeError), not because it does not fit the tables (INVALID_ARGUMENT: a ValueError, the caller's fix)."""
    return isinstance(error, RuntimeError)


def _check_port_free(port: int) -> None:
    """Refuse a port that is taken: gRPC binds with SO_REUSEPORT, so a second server would share it silently."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # NOTE: SO_REUSEADDR as gRPC sets it: TIME_WAIT leftovers of a stopped server do
        # not count, a socket still listening on the port does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as error:
            raise OSError(error.errno, f"replay server port {port} is already in use ({error.strerror}); stop "
                                       f"the process using it, pick another port, or pass port=None for a "
                                       f"free one") from None
