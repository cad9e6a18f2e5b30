"""Ray cluster addresses given on the command line: fail fast when unreachable, authenticate locally.

Shared by `vtrax train --address` and `vtrax status --address`.
"""

from __future__ import annotations

import os
import socket

import psutil


class AddressError(ValueError):
    """An --address that is malformed or where no Ray cluster answers; the message says which."""


def is_explicit(address: str | None) -> bool:
    """A host:port to check ourselves (not None, 'auto', 'local' or a ray:// client address)."""
    return bool(address) and address not in ("auto", "local") and not address.startswith("ray://")


def check_reachable(address: str | None, *, fix: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds, not minutes, when a host:port address does not answer.

    Raises:
      AddressError: `address` is not host:port, or nothing accepts a TCP connection
        there within `timeout_s` (the message ends with `fix`).
    """
    if not is_explicit(address):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise AddressError(f"--address {address!r} is not host:port (or 'auto'); pass e.g. 10.0.0.1:6379")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise AddressError(f"no Ray cluster answers at {address} ({error}); {fix}") from None


def use_local_token(address: str | None) -> None:
    """Send this machine's Ray token to a cluster on this machine, as Ray itself does for 'auto'.

    Clusters started on this machine (`ray start --head`, or the `ray.init()` of a local
    `vtrax train`) require Ray's auth token (~/.ray/auth_token); Ray offers it by itself
    only when the address is found automatically.
    NOTE: a token is never sent to another machine's address; for a remote cluster with token
    auth, set RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN) yourself.
    """
    if not is_explicit(address) or "RAY_AUTH_MODE" in os.environ:
        return
    if address.rpartition(":")[0].strip("[]") not in _local_addresses():
        return
    try:
        from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _local_addresses() -> set[str]:
    addresses = {"localhost", "127.0.0.1", "::1"}
    for interface in psutil.net_if_addrs().values():
        addresses.update(entry.address.split("%")[0] for entry in interface)
    return addresses
