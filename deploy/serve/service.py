"""The gRPC server: the `Policy` service, the standard health service, bearer-token auth, TLS.

    client ──► [TokenAuthInterceptor] ──► PolicyServicer.Act ──► PolicyModel.act(follower.current, obs)
                                      ├─► PolicyServicer.GetStatus   (checkpoint version + run files)
                                      ├─► PolicyServicer.WatchMetrics (tails metrics.jsonl)
                                      └─► grpc.health.v1.Health      (SERVING once parameters are loaded)

Bad requests get INVALID_ARGUMENT with the reason and the server keeps serving.
Request size is checked twice: gRPC's own limit (`transport_limit_bytes`, answered
with RESOURCE_EXHAUSTED before the message is read) sits above `max_request_bytes`,
so every request in between is read and refused with INVALID_ARGUMENT naming its size.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from vtrax.deploy.serve import vtrax_serve_pb2 as pb
from vtrax.deploy.serve import vtrax_serve_pb2_grpc as pb_grpc
from vtrax.deploy.serve.policy import CheckpointFollower, PolicyModel
from vtrax.deploy.serve.run_status import MetricsTail, flatten_numbers, read_run_status, run_state
from vtrax.deploy.serve.source import PolicySource, ServeSetupError
from vtrax.deploy.serve.tensors import InvalidRequestError, check_observations, check_request_size, from_tensor, to_tensor

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Policy"].full_name  # 'vtrax.serve.v1.Policy'
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class ServeOptions:
    """How the server listens and what it accepts (`vtrax serve` flags)."""

    host: str = "127.0.0.1"
    """Interface to bind; anything but loopback needs a token (or allow_unauthenticated)."""
    port: int = 50051
    """TCP port; 0 picks a free one (the server reports which)."""
    token: str | None = None
    """Bearer token every request must carry as `authorization: Bearer <token>` (None: no auth)."""
    tls_cert: bytes | None = None
    """PEM certificate chain; with tls_key, the port speaks TLS."""
    tls_key: bytes | None = None
    """PEM private key of tls_cert."""
    max_batch_size: int = 1024
    """Largest observation batch one Act may carry."""
    max_request_bytes: int = 4 * 1024 * 1024
    """Largest request served; larger ones (up to transport_limit_bytes) get INVALID_ARGUMENT."""
    max_workers: int = 8
    """Threads answering RPCs; at most half of them may hold WatchMetrics streams."""
    poll_interval_s: float = 2.0
    """Seconds between looks for newer checkpoints and new metrics lines."""
    follow: bool = True
    """Serve newer checkpoints of a live run as they appear."""
    allow_unauthenticated: bool = False
    """Permit a non-loopback host without a token."""

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ServeSetupError("--tls-cert and --tls-key go together; pass both PEM files or neither")
        if self.token is not None and not self.token.strip():
            raise ServeSetupError("the bearer token is empty; put a long random string in the --token-file")
        if self.host not in LOOPBACK_HOSTS and self.token is None and not self.allow_unauthenticated:
            raise ServeSetupError(f"binding {self.host} without a token would serve the policy to anyone who can "
                                  "reach this machine; add --token-file (and --tls-cert/--tls-key), or pass "
                                  "--allow-unauthenticated")
        for name in ("max_batch_size", "max_request_bytes", "max_workers"):
            if getattr(self, name) < 1:
                raise ServeSetupError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_workers < 2:
            raise ServeSetupError(f"--workers must be >= 2 (one for Act, one for a metrics stream), "
                                  f"got {self.max_workers}")
        if not 0 <= self.port <= 65535:
            raise ServeSetupError(f"--port must be in 0..65535, got {self.port}")

    @property
    def transport_limit_bytes(self) -> int:
        return max(4 * self.max_request_bytes, self.max_request_bytes + (1 << 20))


class PolicyServicer:
    """Implements `vtrax.serve.v1.Policy` over a model, its checkpoint follower and the run's files."""

    def __init__(self, model: PolicyModel, follower: CheckpointFollower, source: PolicySource,
                 options: ServeOptions, stopping: threading.Event):
        self._model, self._follower, self._source, self._options = model, follower, source, options
        self._stopping = stopping
        self._started = time.monotonic()
        self._served = 0
        self._lock = threading.Lock()
        self._watchers = threading.BoundedSemaphore(max(options.max_workers // 2, 1))

    @property
    def requests_served(self) -> int:
        return self._served

    def Act(self, request: pb.ActRequest, context: grpc.ServicerContext) -> pb.ActResponse:
        spec = self._model.spec
        try:
            check_request_size(request.ByteSize(), self._options.max_request_bytes)
            if not request.HasField("observations"):
                raise InvalidRequestError("the request has no observations; set ActRequest.observations")
            observations = from_tensor(request.observations, name="observations")
            check_observations(observations, env_id=spec.env_id, observation_shape=spec.observation_shape,
                               observation_dtype=spec.observation_dtype, max_batch_size=self._model.max_batch_size)
        except InvalidRequestError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        loaded = self._follower.current
        seed = request.seed or secrets.randbits(63)
        output = self._model.act(loaded, observations, sample=request.sample, seed=seed)
        with self._lock:
            self._served += 1
        return pb.ActResponse(actions=to_tensor(output.actions), logits=to_tensor(output.logits),
                              value=to_tensor(output.value), checkpoint_step=loaded.step)

    def GetStatus(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusResponse:
        del request, context
        loaded, spec = self._follower.current, self._model.spec
        run = read_run_status(self._source.run_dir)
        response = pb.StatusResponse(
            source=str(self._source.path), env_id=spec.env_id, network=self._model.description["kind"],
            observation_shape=list(spec.observation_shape), observation_dtype=spec.observation_dtype.name,
            num_actions=spec.num_actions, checkpoint_step=loaded.step, checkpoint_path=loaded.path,
            checkpoint_age_s=max(time.time() - loaded.written_unix_s, 0.0), following=self._follower.following,
            run_state=run["run_state"], env_frames=run["env_frames"], learner_updates=run["learner_updates"],
            wall_seconds=run["wall_seconds"], stopped_because=run["stopped_because"],
            seconds_since_report=run["seconds_since_report"], requests_served=self.requests_served,
            server_uptime_s=time.monotonic() - self._started, max_batch_size=self._model.max_batch_size)
        if run["episode_return_mean_last100"] is not None:
            response.episode_return_mean_last100 = run["episode_return_mean_last100"]
        return response

    def WatchMetrics(self, request: pb.WatchMetricsRequest, context: grpc.ServicerContext):
        run_dir = self._source.run_dir
        if run_dir is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"serving checkpoint {self._source.path} outside a run directory, so there are no "
                          "metrics; serve the run directory to watch its metrics")
        if not self._watchers.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{self._options.max_workers // 2} metric streams are open, the most this server "
                          "allows; close one or start the server with more --workers")
        try:
            tail = MetricsTail(run_dir / "metrics.jsonl", from_start=request.from_start)
            while context.is_active() and not self._stopping.is_set():
                finished = run_state(run_dir) == "finished"  # NOTE: read before the lines, so none is missed
                for sequence, report in tail.read_new():
                    yield _snapshot(sequence, report)
                if finished:
                    return
                self._stopping.wait(min(self._options.poll_interval_s, 0.5))
        finally:
            self._watchers.release()


def _snapshot(sequence: int, report: dict[str, Any]) -> pb.MetricSnapshot:
    values = flatten_numbers(report)
    return pb.MetricSnapshot(sequence=sequence, wall_seconds=values.get("wall_seconds", 0.0),
                             env_frames=int(values.get("env_frames", 0)),
                             learner_updates=int(values.get("learner_updates", 0)), values=values)


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call whose metadata lacks `authorization: Bearer <token>`."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails):
        handler = continuation(handler_call_details)
        given = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        if handler is None or hmac.compare_digest(str(given).encode(), self._expected):
            return handler
        return _refusal(handler)


def _join(host: str, port: int) -> str:
    """'host:port', with IPv6 hosts in brackets ('[::1]:50051')."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    message = "missing or wrong bearer token; send metadata 'authorization: Bearer <token>' (PolicyClient(token=...))"

    def deny(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)


class PolicyServer:
    """A started gRPC server for one policy source. Use `stop()` (or a `with` block) to end it.

    Args:
      model: the loaded network.
      follower: holds the served parameters (started here when following).
      source: the run or checkpoint served.
      options: listening and limits.
    """

    def __init__(self, model: PolicyModel, follower: CheckpointFollower, source: PolicySource,
                 options: ServeOptions):
        self.options, self.source, self.follower, self.model = options, source, follower, model
        self._stopping = threading.Event()
        interceptors = [TokenAuthInterceptor(options.token)] if options.token else []
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="vtrax-serve"),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", options.transport_limit_bytes),
                     ("grpc.so_reuseport", 0)])
        self.servicer = PolicyServicer(model, follower, source, options, self._stopping)
        pb_grpc.add_PolicyServicer_to_server(self.servicer, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        address = _join(options.host, options.port)
        try:
            if options.tls_cert is not None:
                credentials = grpc.ssl_server_credentials([(options.tls_key, options.tls_cert)])
                self.port = self._server.add_secure_port(address, credentials)
            else:
                self.port = self._server.add_insecure_port(address)
        except RuntimeError:  # grpc >= 1.x raises where older versions returned 0
            self.port = 0
        if self.port == 0:
            raise ServeSetupError(f"cannot listen on {address} (in use, or not an address of this machine); "
                                  "pick another --port (0 picks a free one) or --host")

    def start(self) -> "PolicyServer":
        self._server.start()
        if self.options.follow:
            self.follower.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self

    @property
    def address(self) -> str:
        return _join(self.options.host, self.port)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the server stops (True) or `timeout_s` passes (False)."""
        return self._server.wait_for_termination(timeout_s) is False

    def stop(self, grace_s: float = 5.0) -> None:
        """Report NOT_SERVING, end metric streams, finish in-flight calls within `grace_s`, stop."""
        self.health.enter_graceful_shutdown()
        self._stopping.set()
        self.follower.stop()
        self._server.stop(grace_s).wait()

    def __enter__(self) -> "PolicyServer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop(grace_s=1.0)


def build_server(path: str, options: ServeOptions, *, env_id: str | None = None,
                 wait_for_checkpoint_s: float = 0.0) -> PolicyServer:
    """Resolve `path`, load its newest checkpoint and bind the port (call `.start()` to serve).

    Args:
      path: RUN_DIR, RUN_DIR/checkpoints or one checkpoint folder.
      options: listening and limits.
      env_id: the environment, when it cannot be read from the run's config.json.
      wait_for_checkpoint_s: how long to wait for a live run's first checkpoint.

    Raises:
      ServeSetupError: with the cause and the fix (bad path, no checkpoint,
        unknown environment, network mismatch, port in use).
    """
    from vtrax.actors import EnvironmentSetupError, env_spec
    from vtrax.deploy.serve.policy import load_newest, no_checkpoint_error
    from vtrax.deploy.serve.source import checkpoint_meta, resolve_source
    from vtrax.learner import latest_checkpoint

    source = resolve_source(path, env_id=env_id)
    deadline = time.monotonic() + wait_for_checkpoint_s
    checkpoint = source.pinned_checkpoint or latest_checkpoint(str(source.checkpoints_dir))
    while checkpoint is None and time.monotonic() < deadline:
        time.sleep(min(options.poll_interval_s, 1.0))
        checkpoint = latest_checkpoint(str(source.checkpoints_dir))
    if checkpoint is None:
        raise no_checkpoint_error(source)
    try:
        spec = env_spec(source.env_id)
    except EnvironmentSetupError as error:
        raise ServeSetupError(f"cannot build {source.env_id} to learn its observation shape: {error}") from None
    model = PolicyModel(checkpoint_meta(checkpoint).get("network", {}), spec, options.max_batch_size)
    follower = CheckpointFollower(model, source, load_newest(model, source), options.poll_interval_s)
    return PolicyServer(model, follower, source, options)
