"""An in-process `ParameterSource`: the learner (or a test, or eval) sets, actors take."""

from __future__ import annotations

import threading
from typing import Any


class LocalParameterSource:
    """Thread-safe (version, params) box for actors running in the learner's process."""

    def __init__(self):
        self._latest: tuple[int, Any] | None = None
        self._taken_version = -1
        self._ready = threading.Condition()

    def publish(self, version: int, params: Any) -> None:
        with self._ready:
            self._latest = (version, params)
            self._ready.notify_all()

    def latest(self) -> tuple[int, Any] | None:
        latest = self._latest
        if latest is None or latest[0] <= self._taken_version:
            return None
        self._taken_version = latest[0]
        return latest

    def wait_first(self, timeout_s: float) -> tuple[int, Any]:
        with self._ready:
            if not self._ready.wait_for(lambda: self._latest is not None, timeout=timeout_s):
                raise TimeoutError(f"no parameters were published within {timeout_s:.0f} s; "
                                   "publish(version, params) before starting actors")
        self._taken_version = self._latest[0]
        return self._latest
