"""`ReplayServerProcess`: the replay server in its own OS process, and its handle.

The handle imports neither Reverb nor TensorFlow, so a driver (the train
launcher) can start and stop the server without paying for them. The child runs
`python -m replay.server_main`; its stdout/stderr go to `log_path` (by default a
file in a fresh `vtrax-replay-*` temporary directory, kept after exit for
post-mortems). The child also stops, with its final checkpoint, when this
process disappears.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Mapping, Sequence

from vtrax.replay.checkpoint_files import keep_previous, record_sizes
from vtrax.replay.specs import FieldSpec
from vtrax.replay.table_config import DEFAULT_CHECKPOINT_PERIOD_S, TableConfig

log = logging.getLogger(__name__)

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ReplayServerError(RuntimeError):
    """The replay server process could not be started or stopped as asked."""


class ReplayServerProcess:
    """Starts a Reverb server in its own process and waits until it accepts connections.

    Either describe one table with the keyword arguments (kind, table, step_spec,
    num_envs, unroll_length, max_size and any other `TableConfig` field in
    `table_options`), or pass `tables=[TableConfig, ...]`.

    Example:
      server = ReplayServerProcess(kind="queue", table="impala", step_spec=spec,
                                   num_envs=16, unroll_length=20, max_size=64)
      try:
          ... replay.SequenceAdder(server.address, "impala", ...) ...
      finally:
          server.stop()   # SIGTERM: final checkpoint; SIGKILL after timeout_s
    """

    def __init__(self, kind: str | None = None, table: str | None = None,
                 step_spec: Mapping[str, FieldSpec] | None = None, num_envs: int | None = None,
                 unroll_length: int | None = None, max_size: int | None = None, *,
                 tables: Sequence[TableConfig] | None = None, port: int | None = None,
                 checkpoint_dir: str | None = None,
                 checkpoint_period_s: float | None = DEFAULT_CHECKPOINT_PERIOD_S, host: str = "localhost",
                 startup_timeout_s: float = 120.0, log_path: str | None = None, **table_options: Any):
        self.tables = _table_configs(kind, table, step_spec, num_envs, unroll_length, max_size, tables,
                                     table_options)
        self._host = host
        self._port = port
        self._workdir = tempfile.mkdtemp(prefix="vtrax-replay-")
        self.log_path = log_path or os.path.join(self._workdir, "server.log")
        self.checkpoint_dir = os.path.abspath(checkpoint_dir) if checkpoint_dir else None
        ready_file = os.path.join(self._workdir, "ready.json")
        command = [sys.executable, "-m", "vtrax.replay.server_main",
                   "--tables-json", json.dumps([t.to_json() for t in self.tables]),
                   "--host", host, "--ready-file", ready_file, "--parent-pid", str(os.getpid()),
                   "--checkpoint-period-s", str(checkpoint_period_s or 0)]
        if port is not None:
            command += ["--port", str(port)]
        if self.checkpoint_dir:
            command += ["--checkpoint-dir", self.checkpoint_dir]
        self._log_file = open(self.log_path, "ab")
        self._process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=_child_env())
        try:
            ready = self._wait_ready(ready_file, startup_timeout_s)
        except BaseException:
            self.kill()
            raise
        self._port = int(ready["port"])
        self.restored_from: str | None = ready.get("restored_from")
        """The checkpoint the tables were loaded from, or None (they started empty)."""
        self.restored_counts: dict[str, dict[str, int]] = ready.get("tables", {})
        """`{table: {"current_size", "num_inserts"}}` right after start (what the checkpoint held)."""
        self.unreadable: list[str] = ready.get("unreadable", [])
        """Checkpoints that failed to load and were set aside, each as `"<where it is now>: <why>"`."""
        log.info("replay server process %d listening at %s (log: %s)", self.pid, self.address, self.log_path)

    @property
    def address(self) -> str:
        """`host:port` for adders, datasets and `replay.info`."""
        return f"{self._host}:{self._port if self._port is not None else '?'}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """Exit code once the process ended (negative: killed by that signal), else None."""
        return self._process.poll()

    def is_alive(self) -> bool:
        return self._process.poll() is None

    def checkpoint(self) -> str:
        """Ask the server for a checkpoint now; returns its directory (imports Reverb)."""
        if not self.checkpoint_dir:
            raise ValueError("this replay server process has no checkpoint_dir; pass checkpoint_dir=... "
                             "to ReplayServerProcess")
        import reverb

        keep_previous(self.checkpoint_dir)  # NOTE: as the server's own periodic checkpoints do
        path = reverb.Client(f"localhost:{self._port}").checkpoint()
        record_sizes(path)
        return path

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (final checkpoint, exit 0), then SIGKILL if still alive after `timeout_s`.

        Returns:
          The process's exit code (0 after a clean stop, -9 if it had to be killed).
        """
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.error("replay server %d ignored SIGTERM for %.0fs; killing it (no final checkpoint); "
                          "log: %s", self.pid, timeout_s, self.log_path)
                self._process.kill()
                self._process.wait()
        self._log_file.close()
        return self._process.returncode

    def kill(self) -> int:
        """SIGKILL now (no final checkpoint); returns the exit code (-9)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._log_file.close()
        return self._process.returncode

    def log_tail(self, num_lines: int = 20) -> str:
        """The last lines of the server's log."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-num_lines:])

    def __enter__(self) -> "ReplayServerProcess":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_ready(self, ready_file: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if os.path.exists(ready_file):
                with open(ready_file) as f:
                    ready = json.load(f)
                os.remove(ready_file)
                return ready
            if self._process.poll() is not None:
                causes = "a port in use" + (f", a checkpoint in {self.checkpoint_dir} written for other tables"
                                            if self.checkpoint_dir else "")
                raise ReplayServerError(
                    f"the replay server process exited with code {self._process.returncode} before accepting "
                    f"connections at {self.address}; its log ({self.log_path}) ends with:\n{self.log_tail()}\n"
                    f"Fix the problem its last line names (e.g. {causes}), then start it again.")
            time.sleep(0.05)
        raise ReplayServerError(
            f"the replay server process (pid {self.pid}) did not accept connections at {self.address} within "
            f"{timeout_s:.0f}s; its log ({self.log_path}) ends with:\n{self.log_tail()}\nIf the machine is just "
            f"busy, pass a larger startup_timeout_s; check that `{sys.executable} -m replay.server_main --help` "
            f"runs in this environment.")


def _table_configs(kind, table, step_spec, num_envs, unroll_length, max_size, tables, options) -> list[TableConfig]:
    single = dict(kind=kind, name=table, step_spec=step_spec, num_envs=num_envs, unroll_length=unroll_length,
                  max_size=max_size)
    given = {key: value for key, value in single.items() if value is not None}
    if tables is not None:
        if given or options:
            raise ValueError(f"pass either tables=[TableConfig, ...] or one table's fields, not both "
                             f"(got tables and {sorted(given) + sorted(options)})")
        if not tables:
            raise ValueError("tables is empty; pass at least one replay.TableConfig")
        return list(tables)
    missing = sorted(key for key in single if key not in given)
    if missing:
        raise ValueError(f"ReplayServerProcess needs {missing} to describe its table (or tables=[...])")
    return [TableConfig(**given, **options)]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env
