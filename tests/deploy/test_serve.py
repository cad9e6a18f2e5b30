"""vtrax serve in-process: Act against the network itself, bad input, status, following, metrics, health."""

import json
import threading

import grpc
import jax
import numpy as np
import pytest

from vtrax.deploy.config import TrainConfig
from vtrax.deploy.serve import (PolicyClient, ServeOptions, ServeSetupError, build_server, padded_batch_size,
                                resolve_source, write_initial_run)
from vtrax.deploy.serve import vtrax_serve_pb2 as pb
from vtrax.learner import load_params, make_network, save_checkpoint

OBS_DIM = 4  # CartPole


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "run"
    write_initial_run(path, seed=3, step=7)
    return path


@pytest.fixture(scope="module")
def server(run_dir):
    options = ServeOptions(port=0, max_batch_size=64, max_request_bytes=4096, poll_interval_s=0.2, follow=False)
    with build_server(str(run_dir), options).start() as started:
        yield started


@pytest.fixture()
def client(server):
    with PolicyClient(server.address, timeout_s=30) as connected:
        connected.wait_until_serving(timeout_s=30)
        yield connected


def _reference(checkpoint_dir, observations):
    network = make_network("mlp", 2, hidden_sizes=(64, 64))
    logits, value = network.apply(load_params(str(checkpoint_dir)), observations[None])
    return np.asarray(logits[0]), np.asarray(value[0])


def _observations(batch_size, seed=0):
    return np.random.default_rng(seed).normal(size=(batch_size, OBS_DIM)).astype(np.float32)


@pytest.mark.parametrize("batch_size", [1, 3, 8, 17])
def test_act_answers_what_the_network_computes(client, run_dir, batch_size):
    observations = _observations(batch_size, seed=batch_size)
    result = client.act(observations)
    logits, value = _reference(run_dir / "checkpoints", observations)
    assert result.actions.shape == (batch_size,) and result.actions.dtype == np.int32
    assert result.logits.shape == (batch_size, 2) and result.value.shape == (batch_size,)
    np.testing.assert_allclose(result.logits, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.value, value, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(result.actions, np.argmax(logits, axis=-1))
    assert result.checkpoint_step == 7


def test_padding_rows_do_not_change_answers(client):
    observations = _observations(5, seed=11)
    together = client.act(observations)
    alone = [client.act(observations[i:i + 1]) for i in range(5)]
    np.testing.assert_allclose(together.logits, np.concatenate([a.logits for a in alone]), rtol=1e-5, atol=1e-6)


def test_padded_batch_sizes_are_powers_of_two_capped():
    assert [padded_batch_size(b, 64) for b in (1, 2, 3, 5, 33, 64)] == [1, 2, 4, 8, 64, 64]
    assert padded_batch_size(90, 100) == 100


def test_sampled_actions_follow_the_seed_and_the_softmax(client):
    observations = np.repeat(_observations(1, seed=5), 64, axis=0)
    first = client.act(observations, sample=True, seed=42)
    again = client.act(observations, sample=True, seed=42)
    np.testing.assert_array_equal(first.actions, again.actions)
    draws = np.concatenate([client.act(observations, sample=True, seed=s).actions for s in range(1, 9)])
    probability = jax.nn.softmax(first.logits[0])[1]
    assert abs(draws.mean() - probability) < 0.15  # 512 draws: std of the mean <= 0.023


def _tensor(array, **overrides):
    message = pb.Tensor(shape=list(array.shape), dtype=array.dtype.name, data=array.tobytes())
    for key, value in overrides.items():
        if key == "shape":
            del message.shape[:]
            message.shape.extend(value)
        else:
            setattr(message, key, value)
    return message


BAD_REQUESTS = {
    "wrong shape": (pb.ActRequest(observations=_tensor(np.zeros((2, 5), np.float32))), "shape [B, 4]"),
    "wrong rank": (pb.ActRequest(observations=_tensor(np.zeros((4,), np.float32))), "got [4]"),
    "wrong dtype": (pb.ActRequest(observations=_tensor(np.zeros((2, 4), np.float64))), "must be float32"),
    "empty batch": (pb.ActRequest(observations=_tensor(np.zeros((0, 4), np.float32))), "batch is empty"),
    "oversized": (pb.ActRequest(observations=_tensor(np.zeros((300, 4), np.float32))), "--max-request-bytes"),
    "too many rows": (pb.ActRequest(observations=_tensor(np.zeros((65, 4), np.float32))), "--max-batch-size 64"),
    "bytes do not match shape": (pb.ActRequest(observations=_tensor(np.zeros((2, 4), np.float32), shape=[3, 4])),
                                 "needs 48"),
    "unknown dtype": (pb.ActRequest(observations=_tensor(np.zeros((2, 4), np.float32), dtype="float31")),
                      "not a supported numpy dtype"),
    "negative size": (pb.ActRequest(observations=_tensor(np.zeros((0, 4), np.float32), shape=[-1, 4])),
                      "not a valid array shape"),
    "no observations": (pb.ActRequest(sample=True), "no observations"),
    "nan": (pb.ActRequest(observations=_tensor(np.array([[0, np.nan, 0, 0]], np.float32))), "must be finite"),
    "inf": (pb.ActRequest(observations=_tensor(np.array([[0, 0, -np.inf, 0]], np.float32))), "NaN or inf"),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_input_is_invalid_argument_and_the_server_keeps_serving(client, name):
    request, phrase = BAD_REQUESTS[name]
    with pytest.raises(grpc.RpcError) as caught:
        client.act_raw(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert phrase in caught.value.details()
    assert client.act(_observations(2)).actions.shape == (2,)


def test_beyond_the_transport_limit_grpc_refuses_before_reading(client, server):
    too_big = np.zeros((server.options.transport_limit_bytes // 16 + 1, OBS_DIM), np.float32)
    with pytest.raises(grpc.RpcError) as caught:
        client.act(too_big)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.act(_observations(1)).actions.shape == (1,)


def test_status_reports_the_checkpoint_version_and_the_run(client, run_dir):
    status = client.status()
    assert status["checkpoint_step"] == 7
    assert status["checkpoint_path"].endswith("ckpt_000000000007")
    assert status["env_id"] == "CartPole-v1" and status["network"] == "mlp"
    assert status["observation_shape"] == [4] and status["observation_dtype"] == "float32"
    assert status["num_actions"] == 2 and status["max_batch_size"] == 64
    assert status["run_state"] == "finished" and "not trained" in status["stopped_because"]
    assert status["following"] is False and status["requests_served"] >= 0
    assert status["source"] == str(run_dir)


def test_health_is_serving_for_the_server_and_the_policy_service(client):
    assert client.health() == "SERVING"
    assert client.health("vtrax.serve.v1.Policy") == "SERVING"


def test_watch_metrics_streams_reports_and_ends_with_the_run(tmp_path):
    run_dir = tmp_path / "run"
    write_initial_run(run_dir, step=1)
    (run_dir / "summary.json").unlink()  # a live run: no summary yet
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({"env_frames": 100 * i, "wall_seconds": float(i), "learner_updates": i,
                                           "loss": {"pg": 0.5}}) + "\n" for i in range(3)))
    (run_dir / "progress.json").write_text(json.dumps({"env_frames": 200, "learner_updates": 2}))
    options = ServeOptions(port=0, poll_interval_s=0.1)
    with build_server(str(run_dir), options).start() as server, PolicyClient(server.address) as client:
        newest_first = client.watch_metrics(from_start=False, timeout_s=60)
        assert next(newest_first)["sequence"] == 2
        newest_first.close()
        stream = client.watch_metrics(from_start=True, timeout_s=60)
        seen = [next(stream) for _ in range(3)]

        def finish_run():
            with open(metrics, "a") as file:
                file.write(json.dumps({"env_frames": 300, "wall_seconds": 3.0, "learner_updates": 3}) + "\n")
            (run_dir / "summary.json").write_text(json.dumps({"stopped_because": "max_seconds"}))

        threading.Thread(target=finish_run).start()
        seen += list(stream)  # ends by itself once summary.json is there
    assert [s["sequence"] for s in seen] == [0, 1, 2, 3]
    assert [s["env_frames"] for s in seen] == [0, 100, 200, 300]
    assert seen[1]["values"]["loss/pg"] == 0.5 and seen[3]["learner_updates"] == 3


def test_watch_metrics_of_a_bare_checkpoint_is_failed_precondition(run_dir):
    checkpoint = next((run_dir / "checkpoints").iterdir())
    outside = checkpoint.parent.parent.parent / "copied-ckpt"
    if not outside.exists():
        import shutil

        shutil.copytree(checkpoint, outside)
    options = ServeOptions(port=0)
    with build_server(str(outside), options, env_id="CartPole-v1").start() as server:
        with PolicyClient(server.address) as client:
            with pytest.raises(grpc.RpcError) as caught:
                list(client.watch_metrics(timeout_s=30))
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert client.status()["run_state"] == "checkpoint_only"
            assert client.act(_observations(1)).checkpoint_step == 7


def test_a_live_run_is_followed_to_its_newest_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    write_initial_run(run_dir, seed=0, step=1)
    options = ServeOptions(port=0, poll_interval_s=0.1)
    server = build_server(str(run_dir), options).start()
    try:
        with PolicyClient(server.address) as client:
            assert client.act(_observations(2)).checkpoint_step == 1
            newer = write_initial_run(tmp_path / "other", TrainConfig(), seed=9, step=50)
            state_dir = run_dir / "checkpoints"
            _copy_checkpoint(newer, state_dir)
            status = _wait_for(lambda: client.status(), lambda s: s["checkpoint_step"] == 50)
            assert status["following"] is True
            observations = _observations(4, seed=2)
            result = client.act(observations)
            logits, _ = _reference(newer, observations)
            assert result.checkpoint_step == 50
            np.testing.assert_allclose(result.logits, logits, rtol=1e-5, atol=1e-5)
    finally:
        server.stop(grace_s=1)


def test_a_pinned_checkpoint_is_not_followed(tmp_path):
    run_dir = tmp_path / "run"
    first = write_initial_run(run_dir, seed=0, step=1)
    server = build_server(first, ServeOptions(port=0, poll_interval_s=0.1)).start()
    try:
        _copy_checkpoint(write_initial_run(tmp_path / "other", seed=9, step=50), run_dir / "checkpoints")
        assert server.follower.poll() is False
        with PolicyClient(server.address) as client:
            status = client.status()
            assert status["following"] is False and status["checkpoint_step"] == 1
            assert status["run_state"] == "finished"  # the pinned checkpoint still knows its run
    finally:
        server.stop(grace_s=1)


def _copy_checkpoint(checkpoint, directory):
    import shutil

    shutil.copytree(checkpoint, directory / f".copy-{checkpoint.rsplit('/', 1)[-1]}")
    (directory / f".copy-{checkpoint.rsplit('/', 1)[-1]}").rename(directory / checkpoint.rsplit("/", 1)[-1])


def _wait_for(read, done, attempts=200):
    import time

    for _ in range(attempts):
        value = read()
        if done(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition never held; last value {value}")


def test_a_checkpoint_for_another_network_is_not_swapped_in(tmp_path):
    run_dir = tmp_path / "run"
    write_initial_run(run_dir, step=1)
    server = build_server(str(run_dir), ServeOptions(port=0, follow=False))
    try:
        wide = make_network("mlp", 2, hidden_sizes=(8,))
        from vtrax.learner import LearnerConfig, init_state

        state = init_state(LearnerConfig(), wide, np.zeros((1, 1, 4), np.float32), jax.random.PRNGKey(0))
        save_checkpoint(str(run_dir / "checkpoints"), state._replace(step=np.int32(99)), {}, LearnerConfig(),
                        wide.description, keep=5)
        assert server.follower.poll() is False
        assert server.follower.current.step == 1
    finally:
        server.stop(grace_s=0)


def test_sources_resolve_or_say_what_to_pass(tmp_path, run_dir):
    checkpoint = next((run_dir / "checkpoints").iterdir())
    assert resolve_source(run_dir).can_follow and resolve_source(run_dir).env_id == "CartPole-v1"
    assert resolve_source(run_dir / "checkpoints").run_dir == run_dir
    pinned = resolve_source(checkpoint)
    assert not pinned.can_follow and pinned.run_dir == run_dir and pinned.env_id == "CartPole-v1"
    with pytest.raises(ServeSetupError, match="does not exist"):
        resolve_source(tmp_path / "nope")
    with pytest.raises(ServeSetupError, match="neither a run directory"):
        resolve_source(tmp_path)


def test_a_run_without_checkpoints_says_when_one_comes(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    with pytest.raises(ServeSetupError, match="no checkpoint under .* yet"):
        build_server(str(tmp_path), ServeOptions(port=0))


def test_bench_measures_concurrent_clients_and_counts_every_request(server):
    import argparse

    from vtrax.deploy.bench import serve as bench_serve

    args = argparse.Namespace(clients=3, requests=30, warmup=1, max_seconds=120.0, batch_size=2)
    result = bench_serve._measure(server.address, _observations(2), args)
    assert result["requests"] == 30 and result["errors"] == 0 and not result["stopped_by_max_seconds"]
    assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
    assert result["observations_per_second"] == pytest.approx(2 * result["requests_per_second"])
    with pytest.raises(SystemExit, match="warm-up requests failed.*INVALID_ARGUMENT"):
        bench_serve._measure(server.address, _observations(2).astype(np.float64), args)


def test_metric_streams_are_capped_so_act_keeps_threads(tmp_path):
    run_dir = tmp_path / "run"
    write_initial_run(run_dir, step=1)
    (run_dir / "summary.json").unlink()  # live: streams stay open
    (run_dir / "metrics.jsonl").write_text(json.dumps({"env_frames": 1}) + "\n")
    options = ServeOptions(port=0, max_workers=2, poll_interval_s=0.1)  # 2 threads: at most 1 stream
    with build_server(str(run_dir), options).start() as server, PolicyClient(server.address) as client:
        first = client.watch_metrics(from_start=True, timeout_s=60)
        assert next(first)["env_frames"] == 1
        with pytest.raises(grpc.RpcError) as caught:
            list(client.watch_metrics(timeout_s=60))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "--workers" in caught.value.details()
        assert client.act(_observations(1)).checkpoint_step == 1
        first.close()


@pytest.mark.parametrize("kind, options", [("mlp", dict(hidden_sizes=(8,), lstm_size=4)),
                                           ("impala_shallow", dict(lstm_size=4, prev_action_reward=True))])
def test_recurrent_lstm_checkpoints_are_refused_naming_what_serves(kind, options):
    from vtrax.deploy.serve.policy import network_from_description

    description = make_network(kind, 2, use_lstm=True, **options).description
    with pytest.raises(ServeSetupError, match="serve a run trained without --use-lstm, or play this one with"):
        network_from_description(json.loads(json.dumps(description)))
