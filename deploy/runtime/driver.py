"""`vtrax train`'s driver: start Reverb, the learner and the actors, report, stop cleanly.

    driver ──► ReplayServerProcess (own OS process, on this/head node)
       ├────► LearnerWorker (Ray actor; GPUs on clusters) ── ReplayDataset ◄─ Reverb
       └────► ActorWorker × N (Ray actors, 1 CPU each) ── SequenceAdder ─► Reverb
                    ▲ params: learner ray.put()s each version, actors pull the newest ref

The driver polls every `report_period_s`: it aggregates actor stats (restarts are
detected by a changed pid), learner metrics and replay info into one `RunReport`
(deploy/runtime/report.py) that the console, metrics.jsonl, TensorBoard, Ray's
metrics, `vtrax status` and summary.json render. Whatever ends the
run (limits, target, Ctrl-C/SIGTERM, an error), `finally` stops the actors, saves
the learner's final checkpoint, stops Reverb and Ray, and writes summary.json.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from vtrax.deploy.config import TrainConfig, resolved_num_actors
from vtrax.deploy.runtime.display import Display
from vtrax.deploy.runtime.names import LEARNER_PREFIX, STATUS_NAMESPACE, TABLE
from vtrax.deploy.runtime.report import RunReport, summary_fields
from vtrax.deploy.runtime.ray_address import AddressError, check_reachable, use_local_token
from vtrax.deploy.runtime.run_dir import RunWriter, read_json, write_json_atomic

log = logging.getLogger(__name__)




class TrainingError(RuntimeError):
    """A run that cannot start or continue; the message names the cause and the fix."""


def check_address(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast, in one sentence, when a host:port Ray address does not answer."""
    try:
        check_reachable(address, timeout_s=timeout_s,
                        fix="start one with `ray start --head` or `ray up`, or drop --address to train on this machine")
    except AddressError as error:
        raise TrainingError(str(error)) from None


ACTOR_STAGES = ("env", "inference", "adder", "params")  # actors.Actor.seconds


def _actor_counters(stats: dict[str, Any]) -> dict[str, float]:
    counters = {"env_frames": stats["env_frames"], "env_errors": stats["env_errors"], "unrolls": stats["unrolls"]}
    counters.update({f"seconds_{stage}": stats["seconds"].get(stage, 0.0) for stage in ACTOR_STAGES})
    return counters


class _ActorBook:
    """Per-actor counters across restarts: a changed pid means Ray restarted it."""

    def __init__(self):
        self.pid: int | None = None
        self.restarts = 0
        self.version = 0
        self.dead = False
        self.failed_polls = 0
        self._before_restarts: dict[str, float] = collections.Counter()
        self._last: dict[str, float] = collections.Counter()

    def update(self, stats: dict[str, Any]) -> None:
        if self.pid is not None and stats["pid"] != self.pid:
            self.restarts += 1
            self._before_restarts.update(self._last)
        self.pid = stats["pid"]
        self._last = collections.Counter(_actor_counters(stats))
        self.version = stats["param_version"]

    def total(self, name: str) -> float:
        return self._before_restarts[name] + self._last[name]

    @property
    def frames(self) -> int:
        return int(self.total("env_frames"))

    @property
    def errors(self) -> int:
        return int(self.total("env_errors"))


class Driver:
    """Owns the processes of one run and its counters; `run()` returns the summary."""

    def __init__(self, config: TrainConfig, run_dir: Path, *, resume: bool, start_time: float, display: Display,
                 start_epoch: float | None = None):
        self.config, self.run_dir, self.resume = config, Path(run_dir), resume
        self.start_time, self.display = start_time, display
        self.start_epoch = start_epoch if start_epoch is not None else time.time()
        self.stop_event = threading.Event()
        self.stopped_because = "unknown"
        progress = read_json(self.run_dir / "progress.json") if resume and (self.run_dir / "progress.json").exists() else {}
        self.frames_offset = int(progress.get("env_frames", 0))
        self.wall_offset = float(progress.get("wall_seconds", 0.0))
        self.episodes = int(progress.get("episodes", 0))
        self.returns = collections.deque(progress.get("last_returns", []), maxlen=100)
        self.lengths = collections.deque(progress.get("last_lengths", []), maxlen=100)
        self._actor_totals: dict[str, float] = {}
        self.best_mean = progress.get("best_episode_return_mean_last100")
        self.seconds_to_target = progress.get("seconds_to_target")
        self.frames_to_target = progress.get("frames_to_target")
        self.books: list[_ActorBook] = []
        self.last_report = RunReport(env_id=config.env_id, env_frames=self.frames_offset,
                                     learner_updates=int(progress.get("learner_updates", 0)))
        self._replay = self._learner = None
        self.spec = None  # the environment's EnvSpec, known once start() has looked it up
        self.replay_address: str | None = None
        self.learner_name: str | None = None
        self.loop_start: float | None = None
        self.loop_end: float | None = None
        self._actors: list[Any] = []

    # ---- start-up -------------------------------------------------------------------------
    def start(self) -> None:
        """Reverb's process and Ray start side by side; actors start while the learner compiles."""
        import ray

        from vtrax.actors.environments import env_spec

        check_address(self.config.address)
        self.spec = env_spec(self.config.env_id)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-start") as pool:
            replay_start = None
            if not self.config.address:  # NOTE: Reverb's start (TF import) overlaps Ray's in a thread
                replay_start = pool.submit(self._start_replay, "127.0.0.1")
            self._init_ray(ray)
            if threading.current_thread() is threading.main_thread():
                install_signal_handlers(self)  # NOTE: ray.init replaced our SIGTERM handler with sys.exit
            if replay_start is None:
                self._start_replay(_node_ip())
            else:
                replay_start.result()
        self.display.message(f"ray and replay up ({time.monotonic() - self.start_time:.1f}s)")
        self._start_learner(ray)
        self._start_actors(ray)
        self._wait_learner(ray)
        self.display.message(f"{len(self._actors)} actors x {self.config.num_envs_per_actor} envs started "
                             f"({time.monotonic() - self.start_time:.1f}s); training")

    def _init_ray(self, ray) -> None:
        kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": True,
                                  "namespace": STATUS_NAMESPACE}
        if self.config.address:
            kwargs["address"] = self.config.address
            use_local_token(self.config.address)
        else:
            kwargs["num_cpus"] = max(resolved_num_actors(self.config) + 1, 2)
            kwargs["include_dashboard"] = self.config.dashboard
            if self.config.metrics_export_port:
                kwargs["_metrics_export_port"] = self.config.metrics_export_port
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError) as error:
            raise TrainingError(f"cannot join the Ray cluster at {self.config.address!r} ({error}); "
                                "start it with `ray up`/`ray start --head`, or drop --address") from None

    def _start_replay(self, host: str) -> None:
        from vtrax import replay

        from vtrax.deploy.runtime.workers import step_spec

        self._replay = replay.ReplayServerProcess(
            kind="queue", table=TABLE, step_spec=step_spec(self.spec, self.config),
            num_envs=self.config.num_envs_per_actor, unroll_length=self.config.unroll_length,
            max_size=self.config.max_queue_size,
            checkpoint_dir=None, host=host)
        self.replay_address = self._replay.address

    def _start_learner(self, ray) -> None:
        from vtrax.deploy.runtime.workers import LearnerWorker

        # NOTE: a name unique to this run: actors look the learner up by it instead of
        # taking its handle as a constructor argument, which Ray cannot restore when it
        # restarts an actor (ray-project/ray#53727).
        self.learner_name = f"{LEARNER_PREFIX}{uuid.uuid4().hex[:12]}"
        options = {"num_cpus": 1, "num_gpus": self.config.learner_num_gpus, "max_concurrency": 8,
                   "name": self.learner_name, "namespace": STATUS_NAMESPACE}
        remote = ray.remote(**options)(LearnerWorker)
        self._learner = remote.remote(self.config, self.spec, self.replay_address, str(self.run_dir), self.resume)

    def _wait_learner(self, ray) -> None:
        try:
            ray.get(self._learner.start.remote(), timeout=600)
        except ray.exceptions.RayActorError as error:
            raise TrainingError(f"the learner failed to start: {_cause(error)}") from None

    def _start_actors(self, ray) -> None:
        from vtrax.deploy.runtime.workers import ActorWorker

        remote = ray.remote(num_cpus=1, max_restarts=self.config.actor_max_restarts, max_concurrency=4,
                            runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}})(ActorWorker)
        self._actors = [remote.remote(index, self.config, self.spec, self.replay_address, self.learner_name)
                        for index in range(self._num_actors(ray))]
        self.books = [_ActorBook() for _ in self._actors]

    def _num_actors(self, ray) -> int:
        """The configured count; with --address and none configured, one per cluster CPU beyond the learner's."""
        if self.config.num_actors or not self.config.address:
            return resolved_num_actors(self.config)
        spare = int(ray.cluster_resources().get("CPU", 0)) - 1
        if spare < 1:
            raise TrainingError(f"the Ray cluster has no CPU for actors beyond the learner's ("
                                f"{ray.cluster_resources().get('CPU', 0):g} CPUs now); pass --num-actors N, "
                                "and an autoscaling cluster adds nodes for them")
        return spare

    # ---- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        writer = RunWriter(self.run_dir)
        try:
            self.start()
            self._loop(writer)
        except KeyboardInterrupt:
            self.stopped_because = "interrupted"
        except TrainingError:
            self.stopped_because = "error"
            raise
        finally:
            checkpoint = self.shutdown()
            writer.close()
            summary = self.summary(checkpoint)
            write_json_atomic(self.run_dir / "summary.json", summary)
        return summary

    def _loop(self, writer: RunWriter) -> None:
        from vtrax.deploy.monitoring.ray_metrics import RayMetrics

        metrics = RayMetrics()
        self.loop_start = time.monotonic()
        previous = (self.loop_start, self.frames_offset, 0)
        while not self.stop_event.wait(self.config.report_period_s):
            report = self._report(previous)
            previous = (time.monotonic(), report.env_frames, report.learner_updates)
            writer.write(report.to_dict())
            metrics.record(report)
            self._learner.publish_report.remote(dataclasses.replace(report, learner_metrics={}).to_dict())
            self.display.show(report)
            write_json_atomic(self.run_dir / "progress.json", self._progress(report))
            reason = self._should_stop(report)
            if reason:
                self.stopped_because = reason
                break
        self.loop_end = time.monotonic()

    def _report(self, previous: tuple[float, int, int]) -> RunReport:
        import ray

        learner = ray.get(self._learner.status.remote(), timeout=60)
        self._poll_actors(ray)
        now = time.monotonic()
        frames = self.frames_offset + sum(book.frames for book in self.books)
        mean_last100 = sum(self.returns) / len(self.returns) if self.returns else None
        if mean_last100 is not None and len(self.returns) == 100:
            self.best_mean = max(self.best_mean or mean_last100, mean_last100)
            if self._reached_target(mean_last100) and self.seconds_to_target is None:
                self.seconds_to_target = self.wall_offset + now - self.start_time
                self.frames_to_target = frames
        seconds = max(now - previous[0], 1e-9)
        metrics = learner["metrics"]
        info = learner["replay"]
        step_s, wait_s = metrics.get("learner_step_s", 0.0), metrics.get("learner_wait_s", 0.0)
        self.last_report = RunReport(
            env_id=self.config.env_id, wall_seconds=self.wall_offset + now - self.start_time,
            env_frames=frames, frames_per_second=(frames - previous[1]) / seconds,
            learner_updates=learner["updates"], updates_per_second=(learner["updates"] - previous[2]) / seconds,
            episode_return_mean_last100=mean_last100, best_episode_return_mean_last100=self.best_mean,
            episodes=self.episodes, num_actors=sum(not book.dead for book in self.books),
            actor_restarts=sum(book.restarts for book in self.books),
            env_errors=sum(book.errors for book in self.books),
            policy_lag=metrics.get("policy_lag_mean"), param_version=learner["version"],
            replay_queue_size=info.get("current_size"), replay_inserts=info.get("num_inserts"),
            replay_samples=info.get("num_samples"), learner_step_s=step_s, learner_wait_s=wait_s,
            learner_wait_fraction=wait_s / (step_s + wait_s) if step_s + wait_s > 0 else 0.0,
            grad_norm=metrics.get("grad_norm"),
            episode_length_mean_last100=sum(self.lengths) / len(self.lengths) if self.lengths else None,
            actor_ms_per_step=self._actor_ms_per_step(),
            loss={key[:-5] if key.endswith("_loss") else key: value for key, value in metrics.items()
                  if key.endswith("_loss")},
            learner_metrics=metrics, learner_error=learner["error"],
        )
        return self.last_report

    def _actor_ms_per_step(self) -> dict[str, float]:
        """Milliseconds per vector step in each actor stage, over the last report period, mean over actors."""
        names = ["unrolls", *(f"seconds_{stage}" for stage in ACTOR_STAGES)]
        totals = {name: sum(book.total(name) for book in self.books) for name in names}
        delta = {name: totals[name] - self._actor_totals.get(name, 0.0) for name in names}
        self._actor_totals = totals
        steps = delta["unrolls"] * self.config.unroll_length
        if steps <= 0:
            return {}
        return {stage: 1000.0 * delta[f"seconds_{stage}"] / steps for stage in ACTOR_STAGES}

    def _poll_actors(self, ray) -> None:
        pending = {actor.stats.remote(): index for index, actor in enumerate(self._actors)
                   if not self.books[index].dead}
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=10)
        for ref in ready:
            index = pending[ref]
            try:
                stats = ray.get(ref)
            except ray.exceptions.RayActorError:
                # NOTE: a restarting actor fails calls for a while; only a long silence is death.
                self.books[index].failed_polls += 1
                self.books[index].dead = self.books[index].failed_polls * self.config.report_period_s > 120
                continue
            self.books[index].failed_polls = 0
            self.books[index].update(stats)
            for episode_return, episode_length in stats["episodes"]:
                self.returns.append(episode_return)
                self.lengths.append(episode_length)
                self.episodes += 1

    def _reached_target(self, mean_last100: float) -> bool:
        return self.config.target_return is not None and mean_last100 >= self.config.target_return

    def _should_stop(self, report: RunReport) -> str | None:
        config = self.config
        if report.learner_error:
            self.display.message(f"learner failed:\n{report.learner_error}")
            return "learner error"
        if config.max_env_frames and report.env_frames >= config.max_env_frames:
            return "max_env_frames"
        if config.max_seconds and time.monotonic() - self.start_time >= config.max_seconds:
            return "max_seconds"
        if config.stop_at_target and self.seconds_to_target is not None:
            return "target_return"
        if self.books and all(book.dead for book in self.books):
            return "all actors died"
        return None

    def _progress(self, report: RunReport) -> dict[str, Any]:
        return {"env_frames": report.env_frames, "wall_seconds": report.wall_seconds,
                "episodes": self.episodes, "last_returns": list(self.returns), "last_lengths": list(self.lengths),
                "best_episode_return_mean_last100": self.best_mean, "learner_updates": report.learner_updates,
                "seconds_to_target": self.seconds_to_target, "frames_to_target": self.frames_to_target,
                "actor_pids": [book.pid for book in self.books], "actor_restarts": report.actor_restarts,
                "param_version": report.param_version, "actor_param_versions": [book.version for book in self.books]}

    # ---- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> str | None:
        """Stop actors, then save the learner, then Reverb and Ray. Never raises."""
        import ray

        checkpoint = None
        if ray.is_initialized():
            stops = [actor.stop.remote() for actor in self._actors]
            ray.wait(stops, num_returns=len(stops), timeout=20)
            if self._learner is not None:
                try:
                    checkpoint = ray.get(self._learner.stop_and_save.remote(), timeout=120)
                except Exception as error:  # noqa: BLE001 - report, keep shutting down
                    self.display.message(f"final checkpoint failed: {_cause(error)}")
            for handle in [*self._actors, self._learner]:
                if handle is not None:
                    ray.kill(handle, no_restart=True)
        if self._replay is not None:
            self._replay.stop()
        if ray.is_initialized():
            ray.shutdown()
        return checkpoint

    def summary(self, checkpoint: str | None) -> dict[str, Any]:
        now = time.monotonic()
        loop_start = self.loop_start if self.loop_start is not None else now
        session_seconds = (self.loop_end or now) - loop_start
        frames = self.last_report.env_frames
        return {
            **summary_fields(self.last_report), "wall_seconds": self.wall_offset + now - self.start_time,
            "frames_per_second": (frames - self.frames_offset) / session_seconds if session_seconds > 0 else 0.0,
            "startup_seconds": loop_start - self.start_time,
            "best_episode_return_mean_last100": self.best_mean, "episodes": self.episodes,
            "target_return": self.config.target_return, "seconds_to_target": self.seconds_to_target,
            "frames_to_target": self.frames_to_target, "stopped_because": self.stopped_because,
            "final_checkpoint": checkpoint, "resumed": self.resume, "start_epoch": self.start_epoch,
        }


def install_signal_handlers(driver: Driver) -> None:
    """Ctrl-C / SIGTERM end the loop; the driver's `finally` does the clean shutdown."""

    def handle(signum, _frame):
        driver.stopped_because = signal.Signals(signum).name
        driver.stop_event.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _node_ip() -> str:
    import ray

    return ray.util.get_node_ip_address()


def _cause(error: Exception) -> str:
    text = str(error)
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line]
    return (errors[-1] if errors else (lines[-1] if lines else repr(error))).strip()
