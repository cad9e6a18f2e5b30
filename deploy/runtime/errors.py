"""The error a run reports to the user, shared by the driver and both launchers."""

from __future__ import annotations


ROLE_DIED = object()
"""What a launcher's `actor_stats` gives for an actor whose call failed (dead, or restarting)."""


class TrainingError(RuntimeError):
    """A run that cannot start or continue; the message names the cause and the fix."""


class StartupTimeout(Exception):
    """--max-seconds ran out before every role was up: the run stops as asked, having trained nothing."""


def cause(error: BaseException) -> str:
    """The one line of a (possibly remote, multi-line) error that names what went wrong."""
    text = str(error)
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line]
    return (errors[-1] if errors else (lines[-1] if lines else repr(error))).strip()
