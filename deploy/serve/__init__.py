"""vtrax serve: a trained (or live) policy and its run's status over gRPC.

The client side (`PolicyClient`, the tensor codec, the generated messages) needs
only grpc and numpy; the server side loads JAX when a server is built.
"""

from deploy.serve.client import ActResult, PolicyClient
from deploy.serve.source import PolicySource, ServeSetupError, resolve_source
from deploy.serve.tensors import InvalidRequestError, check_observations, from_tensor, to_tensor

_LAZY = {
    "ActOutput": "deploy.serve.policy", "CheckpointFollower": "deploy.serve.policy",
    "LoadedParams": "deploy.serve.policy", "PolicyModel": "deploy.serve.policy",
    "padded_batch_size": "deploy.serve.policy", "PolicyServer": "deploy.serve.service",
    "PolicyServicer": "deploy.serve.service", "ServeOptions": "deploy.serve.service",
    "SERVICE_NAME": "deploy.serve.service", "TokenAuthInterceptor": "deploy.serve.service",
    "build_server": "deploy.serve.service", "write_initial_run": "deploy.serve.initial_run",
    "MetricsTail": "deploy.serve.run_status", "read_run_status": "deploy.serve.run_status",
    "run_state": "deploy.serve.run_status",
}

__all__ = ["ActResult", "InvalidRequestError", "PolicyClient", "PolicySource", "ServeSetupError",
           "check_observations", "from_tensor", "resolve_source", "to_tensor", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'deploy.serve' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
