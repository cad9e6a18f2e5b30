"""Reaching the replay server: waiting for one not up yet (backoff, one log line), probing one."""

from __future__ import annotations

import logging
import time

import reverb

log = logging.getLogger(__name__)


def wait_for_server(client: reverb.Client, address: str, *, timeout_s: float, who: str,
                    stop_requested=lambda: False) -> dict:
    """`client.server_info()` once the server answers, retrying with growing waits.

    Logs one warning when the first attempt fails and one line when it connects.

    Args:
      client: a `reverb.Client` for `address`.
      address: `host:port`, for the messages.
      timeout_s: give up after this many seconds.
      who: what is waiting ("adder", "dataset"), for the messages.
      stop_requested: returns True to give up early (e.g. a dataset being closed).

    Returns:
      `{table name: reverb TableInfo}`.

    Raises:
      ConnectionError: if the server did not answer within `timeout_s`.
    """
    start = time.monotonic()
    wait_s, last_error, warned = 1, None, False
    while True:
        try:
            infos = client.server_info(timeout=wait_s)
            if warned:
                log.warning("replay %s connected to %s after %.1fs", who, address, time.monotonic() - start)
            return infos
        except Exception as error:  # noqa: BLE001 - gRPC reports unreachable servers in several ways
            last_error = error
        elapsed = time.monotonic() - start
        if elapsed >= timeout_s or stop_requested():
            raise ConnectionError(
                f"replay {who} could not reach the replay server at {address} within {elapsed:.0f}s "
                f"(last error: {_first_line(last_error)}); start it (`vtrax replay-server --port "
                f"{address.rsplit(':', 1)[-1]}`) or fix the address") from None
        if not warned:
            warned = True
            log.warning("replay %s: server at %s not reachable yet (%s); retrying with backoff for up to %.0fs",
                        who, address, _first_line(last_error), timeout_s)
        time.sleep(min(0.2 * wait_s, max(0.0, timeout_s - elapsed)))
        wait_s = min(2 * wait_s, 10)


def server_answers(client: reverb.Client) -> bool:
    """Whether the server answers `server_info` within a second right now."""
    try:
        client.server_info(timeout=1)
        return True
    except Exception:  # noqa: BLE001 - any failure here means "not answering right now"
        return False


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() if error else ""
    return text.splitlines()[0] if text else type(error).__name__
