"""The role workers' contract with the launchers, without Ray: a learner that cannot be built says why later.

Under Ray an exception raised in an actor's constructor kills the worker process with a SIGABRT dump
and reaches the driver late; `LearnerWorker` keeps the error and raises it from `start()` instead.
"""

import jax
import pytest

from vtrax.actors import env_spec
from vtrax.deploy.config import preset
from vtrax.deploy.runtime.workers import LearnerWorker
from vtrax.learner import cartpole_config


def test_a_learner_that_cannot_be_built_raises_from_start_and_reports_the_error(tmp_path):
    assert jax.local_device_count() == 4, "tests/conftest.py gives JAX four CPU devices"
    config = preset("cartpole")
    config = type(config)(**{**config.__dict__, "learner": cartpole_config(batch_size=30)})
    worker = LearnerWorker(config, env_spec("CartPole-v1"), "127.0.0.1:1", str(tmp_path), False)
    with pytest.raises(ValueError, match="batch_size 30 is not divisible by the learner's 4 devices"):
        worker.start()
    status = worker.status()
    assert status["error"].startswith("the learner could not be built: ValueError: batch_size 30")
    assert status["started"] and not status["running"]
    assert worker.stop_and_save() is None
    assert not list(tmp_path.iterdir()), "a learner that was never built wrote nothing"
