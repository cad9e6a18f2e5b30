"""`ray.init` for a vtrax run: a local head with the dashboard off starts no dashboard process at all.

Ray 2.x starts its API server (`dashboard.py --modules-to-load=UsageStatsHead
--disable-frontend`) even with `include_dashboard=False`, only to report usage
statistics (ray-project/ray#26042, #31465). On a 2-core machine it costs ~75 MiB
PSS (117 MiB RSS) and ~1.5 s of `ray.init`, and a vtrax run uses none of it:
Prometheus metrics come from each node's dashboard agent, `vtrax status` asks the
GCS.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator


def init_ray(**kwargs: Any) -> Any:
    """`ray.init(**kwargs)`, skipping Ray's API server when it starts a local head with `include_dashboard=False`.

    Returns:
      What `ray.init` returns.
    """
    import ray

    skip = kwargs.get("address") in (None, "local") and kwargs.get("include_dashboard") is False
    with _api_server_skipped() if skip else contextlib.nullcontext():
        return ray.init(**kwargs)


@contextlib.contextmanager
def _api_server_skipped() -> Iterator[None]:
    """While active, a head node Ray starts in this process leaves its API server out.

    NOTE: Ray already runs on without an API server when one fails to start (its
    webui_url is then ""); this leaves it in that state without starting the process.
    """
    from ray._private.node import Node

    original = Node.start_api_server

    def start_nothing(node: Node, **_: Any) -> None:
        node._webui_url = ""

    Node.start_api_server = start_nothing
    try:
        yield
    finally:
        Node.start_api_server = original
