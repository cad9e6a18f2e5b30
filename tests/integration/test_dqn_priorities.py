"""The DQN learner on a real prioritised Reverb table: importance weights from the table's probabilities, and
|TD error| written back as the sampled items' priorities.

Eight known transitions, one table item each (num_envs=1, so every key is one transition), inserted with known
priorities into a table with priority exponent alpha; the learner is pmapped over the 4 fake CPU devices of
tests/conftest.py, with the dataset, priority writer and callbacks wired as `LearnerWorker` wires them.
"""

import jax
import numpy as np
import pytest

from vtrax import replay, rl_ops
from vtrax.learner import Learner, LearnerConfig, make_network
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.dqn_core import dqn_core

TABLE, OBSERVATION_SIZE, NUM_ITEMS, NUM_DEVICES, BATCH_SIZE = "q", 3, 8, 4, 16
ALPHA, BETA = 0.5, 0.4
SPEC = replay.transition_step_spec((OBSERVATION_SIZE,), np.float32)
NETWORK = make_network("dueling_mlp", 2, hidden_sizes=(8,))


def _transitions() -> dict[str, np.ndarray]:
    """NUM_ITEMS transitions; feature 0 of the observation is the item's index, so a sample names its item."""
    rng = np.random.default_rng(0)
    observation = rng.standard_normal((NUM_ITEMS, OBSERVATION_SIZE)).astype(np.float32)
    observation[:, 0] = np.arange(NUM_ITEMS)
    return {"observation": observation, "action": (np.arange(NUM_ITEMS) % 2).astype(np.int32),
            "reward": (1.0 + np.arange(NUM_ITEMS)).astype(np.float32),
            "discount": np.where(np.arange(NUM_ITEMS) % 3 == 0, 0.0, 0.9).astype(np.float32),
            "next_observation": rng.standard_normal((NUM_ITEMS, OBSERVATION_SIZE)).astype(np.float32),
            "valid": np.ones(NUM_ITEMS, bool), "param_version": np.zeros(NUM_ITEMS, np.int32)}


@pytest.fixture
def table_with_priorities():
    """`(address, priorities)`: a fresh server whose table holds the transitions, item i with priorities[i]."""
    priorities = 0.5 * (1.0 + np.arange(NUM_ITEMS))
    config = replay.TableConfig(kind="prioritized", name=TABLE, step_spec=SPEC, num_envs=1, unroll_length=1,
                                item_length=1, max_size=100, priority_exponent=ALPHA)
    server = replay.start_server([config], host="127.0.0.1", checkpoint_period_s=None)
    try:
        transitions = _transitions()
        for index, priority in enumerate(priorities):
            with replay.SequenceAdder(server.address, TABLE, SPEC, 1, 1, item_length=1, period_steps=1,
                                      priority=priority) as adder:
                adder.append({name: values[index][None] for name, values in transitions.items()})
        yield server.address, priorities
    finally:
        server.stop(final_checkpoint=False)


def _items(batch) -> np.ndarray:
    """[D * B/D] item index of every sampled transition (observation feature 0), in the batch's key order."""
    return np.asarray(batch["observation"])[..., 0, 0].reshape(-1).astype(int)


def _td_errors(online, target, transitions) -> np.ndarray:
    """[NUM_ITEMS] double-Q TD errors of every transition (online selects, target evaluates)."""
    q = lambda params, observation: NETWORK.apply(params, observation[None])[0][0]  # noqa: E731 - [N, A]
    q_next = q(online, transitions["next_observation"])
    return np.asarray(jax.vmap(rl_ops.double_q_learning)(
        q(online, transitions["observation"]), transitions["action"], transitions["reward"],
        transitions["discount"], q(target, transitions["next_observation"]), q_next))


def _learner(address, *, write_priorities: bool):
    """(learner, dataset, batches the learner consumed, its PriorityWriter or None)."""
    config = LearnerConfig(batch_size=BATCH_SIZE, learning_rate=0.05, optimizer="adam", max_gradient_norm=None)
    dqn = DQNConfig(target_update_period_updates=1000, importance_sampling_exponent=BETA, priority_exponent=ALPHA)
    dataset = replay.ReplayDataset(address, TABLE, BATCH_SIZE, num_devices=NUM_DEVICES, prefetch=1)
    consumed = []

    def batches():
        for batch in dataset:
            consumed.append(batch)
            yield batch

    writer = replay.PriorityWriter(dataset.update_priorities) if write_priorities else None
    learner = Learner(config, NETWORK, batches(), lambda version, params: None, num_devices=NUM_DEVICES,
                      observation_example=np.zeros((1, 1, OBSERVATION_SIZE), np.float32),
                      core=dqn_core(config, dqn, NETWORK, num_devices=NUM_DEVICES),
                      priorities_callback=writer and writer.submit)
    return learner, dataset, consumed, writer


def _table_priorities(address) -> dict[int, float]:
    """key -> priority of every item, read back by sampling the table (each item's chance is >= 1/30)."""
    found: dict[int, float] = {}
    with replay.ReplayDataset(address, TABLE, batch_size=200, prefetch=1) as dataset:
        for _ in range(5):
            batch = next(dataset)
            found.update(zip(batch["info/key"][0].tolist(), batch["info/priority"][0].tolist()))
            if len(found) == NUM_ITEMS:
                return found
    raise AssertionError(f"only {len(found)} of {NUM_ITEMS} items sampled in 1000 draws")


def test_sampled_probabilities_and_the_learners_importance_weights_match_the_closed_form(table_with_priorities):
    address, priorities = table_with_priorities
    learner, dataset, consumed, _ = _learner(address, write_priorities=False)
    try:
        initial = learner.params()
        metrics = learner.step()
    finally:
        dataset.close()
    (batch,) = consumed
    items = _items(batch)
    probability = priorities**ALPHA / np.sum(priorities**ALPHA)  # [NUM_ITEMS]
    np.testing.assert_allclose(batch["info/priority"].reshape(-1), priorities[items])
    np.testing.assert_allclose(batch["info/probability"].reshape(-1), probability[items], rtol=1e-6)
    # (N P)^-beta normalised by the maximum over the whole batch (all devices: a pmax), N cancelling.
    raw = (NUM_ITEMS * probability[items]) ** -BETA
    weights = raw / raw.max()  # [B]
    np.testing.assert_allclose(metrics["importance_weight_mean"], weights.mean(), rtol=1e-5)
    # The weights multiply each transition's Huber loss (the target network is the initial one).
    td_error = _td_errors(initial, initial, _transitions())[items]
    huber = np.where(np.abs(td_error) <= 1.0, 0.5 * td_error**2, np.abs(td_error) - 0.5)
    np.testing.assert_allclose(metrics["total_loss"], np.mean(weights * huber), rtol=1e-5)
    assert len(set(items.tolist())) > 1  # a batch of one item would not tell the weights apart


def test_priorities_in_the_table_become_the_abs_td_errors_of_the_sampled_keys(table_with_priorities):
    address, priorities = table_with_priorities
    learner, dataset, consumed, writer = _learner(address, write_priorities=True)
    transitions = _transitions()
    expected: dict[int, float] = {}
    try:
        target = learner.params()
        for _ in range(3):
            td_error = _td_errors(learner.params(), target, transitions)  # the params this update starts from
            learner.step()
            batch = consumed[-1]
            # A later update of a key overrides an earlier one, as the writer applies them in order.
            expected.update(zip(batch["info/key"].reshape(-1).tolist(), np.abs(td_error[_items(batch)]).tolist()))
    finally:
        writer.close()  # flushes what is queued, in order
        dataset.close()
    assert writer.written == 3 and writer.failed == 0
    key_item = {key: item for batch in consumed
                for key, item in zip(batch["info/key"].reshape(-1).tolist(), _items(batch).tolist())}
    in_table = _table_priorities(address)
    for key, priority in in_table.items():
        if key in expected:
            assert priority == pytest.approx(expected[key], rel=1e-5), (key_item[key], priority, expected[key])
            assert priority != pytest.approx(priorities[key_item[key]], rel=1e-3)  # it did change
        else:  # never sampled by the learner: as inserted
            assert priority in priorities.tolist()
    assert len(expected) >= 4  # 48 draws of 8 items: most were learnt from
