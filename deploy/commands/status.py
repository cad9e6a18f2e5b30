"""`vtrax status [--address A]`: the running job's counters, read from the job itself.

`vtrax train`'s learner is a named Ray actor (`vtrax_learner_<run>` in namespace
`vtrax`, see deploy/runtime/names.py) that holds the driver's newest report; this command
joins the Ray cluster as a short-lived driver, asks that actor (the most recently
reporting one, when several runs share the cluster), prints, and leaves. Nothing is
read from logs or the run directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
from typing import Any

from vtrax.deploy.runtime.names import LEARNER_PREFIX, STATUS_NAMESPACE
from vtrax.deploy.runtime.ray_address import AddressError, check_reachable, use_local_token
from vtrax.deploy.runtime.report import RunReport

STATUS_TIMEOUT_S = 15.0


class NoRunError(RuntimeError):
    """No vtrax job can be found; the message says where we looked and what to do."""


class StuckClientError(NoRunError):
    """The cluster never let this client in; its connecting thread is still running."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", default=None, metavar="A",
                        help="Ray cluster address (default 'auto': the cluster on this machine or this head node).")
    parser.add_argument("--json", action="store_true", help="Print the report as one JSON object.")
    parser.add_argument("--timeout-s", type=float, default=60.0,
                        help="Give up when the cluster does not answer within this many seconds (default 60).")


def format_status(report: RunReport, cluster: str) -> list[str]:
    """Readable lines of one run report (missing values show as n/a)."""
    return [
        f"vtrax status  {report.env_id or '?'}  (Ray cluster {cluster})  t={_num(report.wall_seconds, 1)}s",
        f"  env frames    {_int(report.env_frames)}   {_num(report.frames_per_second, 0)} frames/s",
        f"  learner       {_int(report.learner_updates)} updates   {_num(report.updates_per_second, 1)} "
        f"updates/s   param version {_int(report.param_version)}",
        f"  return        {_num(report.episode_return_mean_last100, 2)} mean of last 100 episodes   "
        f"best {_num(report.best_episode_return_mean_last100, 2)}   episodes {_int(report.episodes)}",
        f"  replay        queue {_int(report.replay_queue_size)} items   inserts "
        f"{_int(report.replay_inserts)}   samples {_int(report.replay_samples)}",
        f"  actors        {_int(report.num_actors)} running   restarts {_int(report.actor_restarts)}   "
        f"env errors {_int(report.env_errors)}",
        f"  policy lag    {_num(report.policy_lag, 2)} versions   learner waits "
        f"{_num(100 * report.learner_wait_fraction, 0)}% of its time for data",
        "  loss          " + ("  ".join(f"{term} {_num(value, 4)}" for term, value in report.loss.items()) or "n/a"),
    ]


def _num(value: Any, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _int(value: Any) -> str:
    return "n/a" if value is None else f"{int(value):,}"


def fetch_report(address: str | None, timeout_s: float = STATUS_TIMEOUT_S) -> tuple[dict[str, Any], str]:
    """(newest report, cluster address) of the vtrax job on the Ray cluster at `address`.

    Raises:
      NoRunError: no cluster answers, or it runs no vtrax job, or the job's
        status actor does not answer within `timeout_s`.
    """
    try:  # NOTE: before the heavy imports, so a wrong address fails at once
        check_reachable(address, fix="is the run's cluster up?")
    except AddressError as error:
        raise NoRunError(str(error)) from None
    with _ray_warnings_silenced():
        return _ask_the_learners(address, timeout_s)


@contextlib.contextmanager
def _ray_warnings_silenced():
    """Ray's warnings (token auth in use, no SIGTERM handler off the main thread) would break the one-line promise.

    NOTE: Ray logs them before `ray.init` configures logging, so the `ray` logger's level is raised here,
    after `import ray` has set it up; errors still show, and the level is restored after `ray.shutdown`.
    """
    import ray  # noqa: F401 - importing Ray sets its logger's level

    ray_logger = logging.getLogger("ray")
    level = ray_logger.level
    ray_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        ray_logger.setLevel(level)


def _ask_the_learners(address: str | None, timeout_s: float) -> tuple[dict[str, Any], str]:
    import ray

    use_local_token(address)
    shown = address or "auto"
    try:
        ray.init(address=address or "auto", namespace=STATUS_NAMESPACE, logging_level=logging.ERROR,
                 log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as error:
        raise NoRunError(f"no Ray cluster found at {shown} ({str(error).splitlines()[0]}); start a run with "
                         "`vtrax train` (on a cluster: `vtrax train --address auto`) or pass --address HOST:PORT"
                         ) from None
    try:
        cluster = ray.get_runtime_context().gcs_address
        names = [name for name in ray.util.list_named_actors() if name.startswith(LEARNER_PREFIX)]
        if not names:
            raise NoRunError(f"the Ray cluster at {cluster} runs no vtrax job (no {LEARNER_PREFIX}* actor in "
                             f"namespace {STATUS_NAMESPACE!r}); start one with `vtrax train --address auto`")
        refs = [ray.get_actor(name, namespace=STATUS_NAMESPACE).report.remote() for name in names]
        try:
            reports = ray.get(refs, timeout=timeout_s)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as error:
            raise NoRunError(f"the vtrax job on {cluster} did not answer within {timeout_s:.0f}s "
                             f"({type(error).__name__}); it may be stopping: try again") from None
        return max(reports, key=lambda report: report.get("reported_at", 0.0)), cluster
    finally:
        ray.shutdown()


def _fetch_within(address: str | None, timeout_s: float) -> tuple[dict[str, Any], str]:
    """`fetch_report` in a thread, so a cluster that never answers cannot hang the command."""
    outcome: dict[str, Any] = {}

    def target():
        try:
            outcome["value"] = fetch_report(address, timeout_s=timeout_s)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise StuckClientError(f"the Ray cluster at {address or 'auto'} did not accept this client within {timeout_s:.0f}s; "
                         "if it uses token authentication, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run(args: argparse.Namespace) -> int:
    try:
        report, cluster = _fetch_within(args.address, args.timeout_s)
    except NoRunError as error:
        print(f"vtrax status: {error}", file=sys.stderr, flush=True)
        if isinstance(error, StuckClientError):
            os._exit(1)  # NOTE: a Ray client stuck connecting holds threads that would block a normal exit
        return 1
    if args.json:
        print(json.dumps({"cluster": cluster, "state": "running" if report else "starting", **report},
                         sort_keys=True, default=str))
    elif not report:
        print(f"vtrax status: a vtrax job is starting on {cluster}; no report yet (one comes every report period)")
    else:
        print("\n".join(format_status(RunReport.from_dict(report), cluster)))
    return 0
