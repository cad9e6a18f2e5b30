"""`SequenceAdder`: the actor side. Vector steps in, overlapping unroll items out.

One `append` per vector step writes the whole `[num_envs, ...]` slab; every
`unroll_length` steps an item of the last `unroll_length + 1` steps is created
(layout: replay/tables.py). With unroll_length T:

    append #   1 ... T+1 ........ 2T+1 ....... 3T+1
    items          item 0 [0, T]  item 1 [T, 2T]  item 2 [2T, 3T]

Step T belongs to items 0 and 1: it is item 0's bootstrap step and item 1's
first step; no other step is written twice and none is skipped. Episodes end
inside items (discount 0), never between them, so nothing is cut at an episode
boundary.

Each item is flushed before `append` returns. A full queue therefore blocks
`append` (backpressure) until the learner samples; an unreachable server is
retried with growing waits (Reverb's writer reconnects and re-sends the items it
has not had confirmed), logged once per outage, and reported with the number of
unconfirmed items if it lasts longer than `retry_timeout_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Mapping

import numpy as np
import reverb

from vtrax.replay.connection import server_answers, wait_for_server
from vtrax.replay.specs import FieldSpec, check_step_spec
from vtrax.replay.tables import item_signature, signature_of

log = logging.getLogger(__name__)

_WAIT_SLICE_MS = 500      # flush waits in slices this long, so close() can interrupt it
_FIRST_PROBE_S = 1.0      # first reachability probe while a flush waits ...
_MAX_PROBE_S = 30.0       # ... then at doubling intervals up to this


class ReplayConnectionError(ConnectionError):
    """The replay server stayed unreachable longer than allowed; the message counts what was not written."""


class AdderClosedError(RuntimeError):
    """`append` was interrupted by `close()` from another thread while it waited for the server."""


class SequenceAdder:
    """Writes `[num_envs]`-slab steps to a Reverb table as items of `unroll_length + 1` steps.

    Args:
      address: `host:port` of the replay server.
      table: table name; its signature must be `item_signature(step_spec, num_envs, unroll_length)`.
      step_spec: `{field: FieldSpec}` of one env's step, e.g. `replay.impala_step_spec(...)`.
      num_envs: environments per vector step (axis 0 of every appended array).
      unroll_length: T; an item holds T + 1 steps and a new one starts every T steps.
      item_length: steps per item instead of T + 1 (1: every step is an item, e.g. n-step transitions).
      period_steps: a new item every this many steps instead of every T.
      max_in_flight_items: `append` returns once at most this many items wait for the
        server's confirmation (0: every item is confirmed before `append` returns).
        Items of one step each (n-step transitions) are too small to pay a round trip each.
      priority: priority of new items (prioritised tables; the learner updates it).
      connect_timeout_s: how long the constructor waits for the server to come up.
      retry_timeout_s: how long an outage may last before `append` raises
        `ReplayConnectionError`.
    """

    def __init__(self, address: str, table: str, step_spec: Mapping[str, FieldSpec], num_envs: int,
                 unroll_length: int, *, item_length: int | None = None, period_steps: int | None = None,
                 max_in_flight_items: int = 0, priority: float = 1.0, connect_timeout_s: float = 300.0,
                 retry_timeout_s: float = 600.0):
        if int(num_envs) < 1 or int(unroll_length) < 1:
            raise ValueError(f"num_envs and unroll_length must be >= 1, got num_envs={num_envs}, "
                             f"unroll_length={unroll_length}")
        self._address, self._table = address, table
        self._spec = check_step_spec(step_spec)
        self._num_envs, self._unroll_length = int(num_envs), int(unroll_length)
        self._item_length = int(item_length) if item_length else self._unroll_length + 1
        self._period_steps = int(period_steps) if period_steps else self._unroll_length
        self._max_in_flight_items = int(max_in_flight_items)
        self._priority = float(priority)
        self._retry_timeout_s = float(retry_timeout_s)
        self._expected = {name: ((self._num_envs, *spec.shape), np.dtype(spec.dtype))
                          for name, spec in self._spec.items()}
        self._client = reverb.Client(address)
        infos = wait_for_server(self._client, address, timeout_s=connect_timeout_s, who="adder")
        self._check_table(infos)
        self._writer = self._client.trajectory_writer(num_keep_alive_refs=self._item_length,
                                                      validate_items=False)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._closed = False
        self._steps = 0
        self._items_created = 0
        self._items_confirmed = 0
        self._flush_s = 0.0
        self._outage_s = 0.0
        self._outages = 0

    @property
    def num_envs(self) -> int:
        return self._num_envs

    @property
    def unroll_length(self) -> int:
        return self._unroll_length

    def append(self, step: Mapping[str, np.ndarray]) -> None:
        """Write one vector step; creates (and flushes) an item every `unroll_length` steps.

        Args:
          step: `{field: array [num_envs, *field_shape]}` with exactly the fields
            of `step_spec` and their dtypes.

        Raises:
          ValueError: a field is missing, unexpected, or has the wrong shape or
            dtype (nothing is written).
          ReplayConnectionError: the server stayed unreachable for `retry_timeout_s`.
          AdderClosedError: `close()` was called while this call waited.
        """
        slab = self._validate(step)
        with self._lock:
            if self._closed:
                raise AdderClosedError(f"append() on a closed SequenceAdder (table {self._table!r}); "
                                       "create a new adder")
            self._writer.append(slab)
            self._steps += 1
            if self._steps >= self._item_length and (self._steps - self._item_length) % self._period_steps == 0:
                length = self._item_length
                trajectory = {name: self._writer.history[name][-length:] for name in self._spec}
                self._writer.create_item(self._table, self._priority, trajectory)
                self._items_created += 1
                self._flush(self._max_in_flight_items)

    def flush(self) -> None:
        """Block until every created item is confirmed by the server."""
        with self._lock:
            if not self._closed:
                self._flush()

    def close(self) -> None:
        """Flush what the server accepts, then release the writer. Safe to call from another thread.

        Steps after the last item (fewer than `unroll_length`) cannot form an item
        and are not written; their count is logged.
        """
        self._closing.set()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._writer.flush(timeout_ms=1000)
                self._items_confirmed = self._items_created
            except reverb.DeadlineExceededError:
                log.error("replay adder for table %r at %s closed while %d item(s) were not confirmed by the "
                          "server (queue full or server unreachable); they may be lost", self._table,
                          self._address, self._items_created - self._items_confirmed)
            self._writer.close()
        leftover = ((self._steps - self._item_length) % self._period_steps if self._steps >= self._item_length
                    else self._steps)
        if leftover:
            log.info("replay adder for table %r closed: the last %d step(s) did not fill an item of %d steps "
                     "and were not written", self._table, leftover, self._item_length)

    def stats(self) -> dict[str, float]:
        """Counters for logs and dashboards.

        flush_s is the time `append` spent waiting for the server to confirm
        items: round trips, backpressure (queue full) and outages.
        """
        return {"steps_appended": self._steps, "env_steps_appended": self._steps * self._num_envs,
                "items_created": self._items_created, "items_confirmed": self._items_confirmed,
                "flush_s": self._flush_s, "outage_s": self._outage_s, "outages": self._outages}

    def __enter__(self) -> "SequenceAdder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _validate(self, step: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = sorted(set(self._expected) - set(step))
        extra = sorted(set(step) - set(self._expected))
        if missing or extra:
            raise ValueError(f"step for table {self._table!r} is missing fields {missing} and has unexpected "
                             f"fields {extra}; it must have exactly {sorted(self._expected)}")
        slab = {}
        for name, (shape, dtype) in self._expected.items():
            value = np.asarray(step[name])
            if value.shape != shape:
                raise ValueError(f"step[{name!r}] has shape {value.shape} but table {self._table!r} expects "
                                 f"{shape} = (num_envs={self._num_envs}, *{tuple(shape[1:])}); pass one "
                                 f"row per environment")
            if value.dtype != dtype:
                raise ValueError(f"step[{name!r}] has dtype {value.dtype} but table {self._table!r} expects "
                                 f"{dtype}; convert it with np.asarray(x, np.{dtype.name})")
            slab[name] = value
        return slab

    def _check_table(self, infos) -> None:
        if self._table not in infos:
            raise ValueError(f"replay server at {self._address} has no table {self._table!r} (it has "
                             f"{sorted(infos)}); start it with that table or write to one of these")
        actual = signature_of(infos[self._table].signature or {})
        expected = signature_of(item_signature(self._spec, self._num_envs, self._item_length - 1))
        for name in sorted(set(actual) | set(expected)):
            if actual.get(name) != expected.get(name):
                raise ValueError(
                    f"table {self._table!r} at {self._address} stores {name!r} as {_describe(actual.get(name))} "
                    f"but this adder writes {_describe(expected.get(name))} ([item_length, num_envs, ...] "
                    f"with item_length={self._item_length}, num_envs={self._num_envs}); start the server "
                    f"with the actor's step spec, num_envs and unroll_length")

    def _flush(self, in_flight_items: int = 0) -> None:
        """Wait until the server confirms every item; tells backpressure (server up, table full) from an outage.

        Reverb's writer reconnects and re-sends unconfirmed items by itself; this
        loop waits in short slices (so `close()` can interrupt it), probes the
        server at growing intervals while it waits, and logs an outage once.
        """
        start = time.monotonic()
        outage_start, probe_interval_s, next_probe = None, _FIRST_PROBE_S, start + _FIRST_PROBE_S
        while True:
            try:
                self._writer.flush(block_until_num_items=in_flight_items, timeout_ms=_WAIT_SLICE_MS)
                break
            except reverb.DeadlineExceededError:
                pass
            if self._closing.is_set():
                raise AdderClosedError(
                    f"close() interrupted append() while {self._items_created - self._items_confirmed} item(s) "
                    f"waited for table {self._table!r} at {self._address} (queue full or server down)")
            now = time.monotonic()
            if now < next_probe:
                continue
            if server_answers(self._client):
                # NOTE: backpressure: the rate limiter holds the insert until the learner samples.
                if outage_start is not None:
                    self._end_outage(outage_start)
                outage_start, probe_interval_s = None, _FIRST_PROBE_S
            elif outage_start is None:
                outage_start = now
                self._outages += 1
                log.warning("replay server at %s unreachable; %d item(s) wait to be written; retrying with "
                            "backoff for up to %.0fs", self._address,
                            self._items_created - self._items_confirmed, self._retry_timeout_s)
            elif now - outage_start > self._retry_timeout_s:
                pending = self._items_created - self._items_confirmed
                raise ReplayConnectionError(
                    f"replay server at {self._address} unreachable for {now - outage_start:.0f}s; {pending} "
                    f"item(s) ({pending * self._unroll_length * self._num_envs} env steps) were not confirmed; "
                    f"restart the server (vtrax replay-server) or raise retry_timeout_s")
            else:
                probe_interval_s = min(2 * probe_interval_s, _MAX_PROBE_S)
            next_probe = time.monotonic() + probe_interval_s
        if outage_start is not None:
            self._end_outage(outage_start)
        self._flush_s += time.monotonic() - start
        self._items_confirmed = max(self._items_confirmed, self._items_created - in_flight_items)

    def _end_outage(self, outage_start: float) -> None:
        seconds = time.monotonic() - outage_start
        self._outage_s += seconds
        log.warning("replay server at %s reachable again after %.1fs; resuming writes", self._address, seconds)


def _describe(shape_dtype) -> str:
    if shape_dtype is None:
        return "nothing"
    shape, dtype = shape_dtype
    return f"{dtype.name}{list(shape)}"
