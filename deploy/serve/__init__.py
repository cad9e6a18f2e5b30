"""vtrax serve: a trained (or live) policy and its run's status over gRPC.

The client side (`PolicyClient`, the tensor codec, the generated messages) needs
only grpc and numpy; the server side loads JAX when a server is built.
"""

from vtrax.deploy.serve.client import ActResult, PolicyClient
from vtrax.deploy.serve.source import PolicySource, ServeSetupError, resolve_source
from vtrax.deploy.serve.tensors import InvalidRequestError, check_observations, from_tensor, to_tensor
from vtrax.replay.lazy_exports import lazy_exports

_LAZY = {
    "ActOutput": "vtrax.deploy.serve.policy", "CheckpointFollower": "vtrax.deploy.serve.policy",
    "LoadedParams": "vtrax.deploy.serve.policy", "PolicyModel": "vtrax.deploy.serve.policy",
    "padded_batch_size": "vtrax.deploy.serve.policy", "PolicyServer": "vtrax.deploy.serve.service",
    "PolicyServicer": "vtrax.deploy.serve.service", "ServeOptions": "vtrax.deploy.serve.service",
    "SERVICE_NAME": "vtrax.deploy.serve.service", "TokenAuthInterceptor": "vtrax.deploy.serve.service",
    "build_server": "vtrax.deploy.serve.service", "write_initial_run": "vtrax.deploy.serve.initial_run",
    "MetricsTail": "vtrax.deploy.serve.run_status", "read_run_status": "vtrax.deploy.serve.run_status",
    "run_state": "vtrax.deploy.serve.run_status",
}

__all__ = ["ActResult", "InvalidRequestError", "PolicyClient", "PolicySource", "ServeSetupError",
           "check_observations", "from_tensor", "resolve_source", "to_tensor", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
