"""What the driver keeps to supervise roles: restarts of the learner, and stalls of the run.

    report period:   1     2     3     4 ...
    env frames:     +++   +++   ---   --- ... no growth for stall_timeout_s ─► "stalled: ..."
    learner pid:    101   101   ???   207     a new pid: the learner was restarted (and restored)

Pure bookkeeping: the driver feeds in what each report saw; nothing here calls a role.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class LearnerBook:
    """The learner's process across restarts: a new pid means Ray restarted it."""

    pid: int | None = None
    restarts: int = 0
    down_since: float | None = None
    last_status: dict | None = None

    def update(self, status: dict | None, now: float) -> str | None:
        """Record one status answer (None: the call failed); returns a console message when something changed."""
        if status is None:
            if self.down_since is None:
                self.down_since = now
                return "the learner does not answer; waiting for Ray to restart it"
            return None
        message = None
        if self.pid is not None and status.get("pid") != self.pid:
            self.restarts += 1
            restored = status.get("restored_from") or "no checkpoint (it starts from scratch)"
            message = f"the learner was restarted (pid {self.pid} -> {status.get('pid')}), restored from {restored}"
        if status.get("pid") != self.pid and status.get("unreadable_checkpoints"):
            skipped = "; ".join(status["unreadable_checkpoints"])
            message = ((message + ". ") if message else "") + (
                f"Skipped unreadable (partial or corrupt) checkpoints: {skipped}; restored the newest readable one, "
                f"{status.get('restored_from')}")
        self.pid, self.down_since, self.last_status = status.get("pid"), None, status
        return message

    def down_for(self, now: float) -> float:
        return 0.0 if self.down_since is None else now - self.down_since


@dataclasses.dataclass
class Watchdog:
    """Notices when env frames or learner updates stop growing for `stall_timeout_s` (0: never)."""

    stall_timeout_s: float
    frames: int = 0
    updates: int = 0
    frames_since: float | None = None
    updates_since: float | None = None

    def observe(self, now: float, frames: int, updates: int) -> str | None:
        """Returns why the run stalled, or None while it makes progress."""
        if self.frames_since is None or frames > self.frames:
            self.frames, self.frames_since = frames, now
        if self.updates_since is None or updates > self.updates:
            self.updates, self.updates_since = updates, now
        if not self.stall_timeout_s:
            return None
        if now - self.frames_since >= self.stall_timeout_s:
            return (f"stalled: no env frames for {now - self.frames_since:.0f} s (the actors or the replay server "
                    "stopped)")
        if now - self.updates_since >= self.stall_timeout_s:
            return f"stalled: no learner updates for {now - self.updates_since:.0f} s (the learner stopped)"
        return None
