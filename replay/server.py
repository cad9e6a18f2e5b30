"""The Reverb server in this process: start it, checkpoint it periodically, stop it cleanly.

Checkpoints are directories `<checkpoint_dir>/<UTC timestamp>/` written by
Reverb's default checkpointer; on start the newest complete one is loaded, so
the tables come back with their items and rate-limiter counts. Reverb (0.14)
deletes the previous checkpoint after writing a new one, so the directory holds
one checkpoint at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Sequence

import reverb

from vtrax.replay.checkpoint_files import newest_checkpoint
from vtrax.replay.table_config import DEFAULT_CHECKPOINT_PERIOD_S, TableConfig
from vtrax.replay.tables import build_table

log = logging.getLogger(__name__)


class ReplayServer:
    """Handle of a running in-process Reverb server (see `start_server`)."""

    def __init__(self, server: reverb.Server, *, host: str, checkpoint_dir: str | None,
                 checkpoint_period_s: float | None, restored_from: str | None = None):
        self._server = server
        self._host = host
        self._checkpoint_dir = checkpoint_dir
        self.restored_from = restored_from
        """The checkpoint directory the tables were loaded from at start, or None (they started empty)."""
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
            path = reverb.Client(f"localhost:{self.port}").checkpoint()
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
    checkpointer = restored_from = None
    if checkpoint_dir:
        checkpoint_dir = os.path.abspath(checkpoint_dir)
        os.makedirs(checkpoint_dir, exist_ok=True)
        checkpointer = reverb.checkpointers.DefaultCheckpointer(checkpoint_dir)
        restored_from = newest_checkpoint(checkpoint_dir)  # NOTE: before the server starts writing new ones
    server = reverb.Server(built, port=port, checkpointer=checkpointer)
    handle = ReplayServer(server, host=host, checkpoint_dir=checkpoint_dir,
                          checkpoint_period_s=checkpoint_period_s, restored_from=restored_from)
    log.info("replay server listening at %s (tables: %s; checkpoints: %s; restored from: %s)", handle.address,
             ", ".join(t.name for t in built), checkpoint_dir or "off", restored_from or "nothing")
    return handle


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
