"""`PolicyClient`: the Python client of `vtrax serve` (numpy in, numpy out).

    with PolicyClient("127.0.0.1:50051") as client:
        client.wait_until_serving(timeout_s=30)
        result = client.act(observations)          # observations [B, *obs_shape]
        result.actions, result.logits, result.value, result.checkpoint_step
        client.status()["checkpoint_step"]
        for snapshot in client.watch_metrics(): ...

Imports only grpc, numpy and the generated messages (no JAX), so it is cheap to use
from any process. Errors from the server arrive as `grpc.RpcError` with the
server's status code and message (`error.code()`, `error.details()`).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vtrax.deploy.serve import vtrax_serve_pb2 as pb
from vtrax.deploy.serve import vtrax_serve_pb2_grpc as pb_grpc
from vtrax.deploy.serve.tensors import from_tensor, to_tensor


class ActResult(NamedTuple):
    """actions [B] int32 (MultiDiscrete: [B, D] int32; Box: [B, D] float32), logits [B, P] float32 (the policy
    output: logits, or a Gaussian's concat(mean, log_std)), value [B] float32, and the parameters' step."""

    actions: np.ndarray
    logits: np.ndarray
    value: np.ndarray
    checkpoint_step: int


class PolicyClient:
    """A channel to one `vtrax serve` server.

    Args:
      address: 'host:port'.
      token: bearer token, when the server was started with one.
      root_certificates: PEM bytes of the CA (or self-signed certificate) to
        trust; setting it makes the channel use TLS.
      tls_server_name: the name the certificate was issued for, when it differs
        from the host in `address`.
      timeout_s: deadline of each unary call.
      max_message_bytes: the largest message this client sends or accepts.
    """

    def __init__(self, address: str, *, token: str | None = None, root_certificates: bytes | None = None,
                 tls_server_name: str | None = None, timeout_s: float = 30.0,
                 max_message_bytes: int = 64 * 1024 * 1024):
        options = [("grpc.max_send_message_length", max_message_bytes),
                   ("grpc.max_receive_message_length", max_message_bytes)]
        if tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout_s = timeout_s
        self._stub = pb_grpc.PolicyStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def act(self, observations: np.ndarray, *, sample: bool = False, seed: int = 0) -> ActResult:
        """Actions for a batch `observations` [B, *obs_shape] in the environment's dtype.

        Args:
          observations: the batch (sent as is: no casting, so dtype errors surface).
          sample: sample from softmax(logits) instead of taking the argmax.
          seed: sampling seed (0: the server draws one).
        """
        request = pb.ActRequest(observations=to_tensor(np.asarray(observations)), sample=sample, seed=seed)
        response = self._stub.Act(request, timeout=self._timeout_s, metadata=self._metadata)
        return ActResult(from_tensor(response.actions, name="actions"), from_tensor(response.logits, name="logits"),
                         from_tensor(response.value, name="value"), response.checkpoint_step)

    def act_raw(self, request: pb.ActRequest) -> pb.ActResponse:
        """Send a hand-built request (for tests and other languages' parity checks)."""
        return self._stub.Act(request, timeout=self._timeout_s, metadata=self._metadata)

    def status(self) -> dict[str, Any]:
        """GetStatus as a dict with every field, e.g. {'checkpoint_step': 731, 'run_state': 'running', ...}."""
        response = self._stub.GetStatus(pb.StatusRequest(), timeout=self._timeout_s, metadata=self._metadata)
        status: dict[str, Any] = {}
        for field in response.DESCRIPTOR.fields:
            value = getattr(response, field.name)
            status[field.name] = list(value) if field.label == field.LABEL_REPEATED else value
        if not response.HasField("episode_return_mean_last100"):
            status["episode_return_mean_last100"] = None
        return status

    def watch_metrics(self, *, from_start: bool = False, timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """The run's reports as they are written: {'sequence', 'wall_seconds', 'env_frames', ..., 'values'}.

        Ends when the run has finished and every report was sent, or after
        `timeout_s` (DEADLINE_EXCEEDED); `.close()` the iterator to end it early.
        """
        stream = self._stub.WatchMetrics(pb.WatchMetricsRequest(from_start=from_start), timeout=timeout_s,
                                         metadata=self._metadata)
        try:
            for snapshot in stream:
                yield {"sequence": snapshot.sequence, "wall_seconds": snapshot.wall_seconds,
                       "env_frames": snapshot.env_frames, "learner_updates": snapshot.learner_updates,
                       "values": dict(snapshot.values)}
        finally:
            stream.cancel()  # a closed or dropped iterator ends the server's stream too

    def health(self, service: str = "") -> str:
        """The health service's answer: 'SERVING', 'NOT_SERVING', ... ('' = the whole server)."""
        response = self._health.Check(health_pb2.HealthCheckRequest(service=service), timeout=self._timeout_s,
                                      metadata=self._metadata)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(self, timeout_s: float = 30.0) -> None:
        """Block until the channel connects and health says SERVING.

        Raises:
          TimeoutError: not serving after `timeout_s`, with the last error seen.
        """
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            raise TimeoutError(f"no vtrax serve answered within {timeout_s}s; is it running, on this address, "
                               "and with the same TLS setting?") from None
        status = self.health()
        if status != "SERVING":
            raise TimeoutError(f"the server answers but reports {status}")

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "PolicyClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
