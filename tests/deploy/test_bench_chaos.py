"""`vtrax bench chaos`: the fault list is checked before any run starts. (The kills themselves are exercised by
tests/integration/test_train.py; the bench's figures are in BENCHMARKS.md.)"""

import subprocess
import sys

from vtrax.deploy.bench import chaos


def test_unknown_faults_are_refused_in_one_line_before_anything_starts():
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "bench", "chaos", "--faults", "actor,disk"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("vtrax bench chaos: unknown faults ['disk']; choose from actor, learner, replay, "
                                    "driver, node")


def test_the_fault_schedule_is_seeded_and_kills_each_fault_repeats_times():
    first = chaos.fault_schedule(list(chaos.FAULTS), 2, seed=3, wait_range_s=(5.0, 15.0))
    assert first == chaos.fault_schedule(list(chaos.FAULTS), 2, seed=3, wait_range_s=(5.0, 15.0))
    assert first != chaos.fault_schedule(list(chaos.FAULTS), 2, seed=4, wait_range_s=(5.0, 15.0))
    assert sorted(fault for fault, _ in first) == sorted(list(chaos.FAULTS) * 2)
    assert all(5.0 <= wait_s <= 15.0 for _, wait_s in first)


def test_replay_items_lost_is_the_queue_only_for_a_table_that_is_not_checkpointed():
    queue = {"replay_queue_size": 900, "replay_items_restored": None, "replay_items_lost": 0}
    assert chaos.replay_items_lost("replay", queue, {**queue, "replay_queue_size": 10}) == 900
    assert chaos.replay_items_lost("actor", queue, queue) == 0
    table = {"replay_queue_size": 900, "replay_items_restored": 0, "replay_items_lost": 5}
    assert chaos.replay_items_lost("replay", table, {**table, "replay_items_lost": 45}) == 40
    assert chaos.replay_items_lost("driver", table, {"replay_items_restored": 850, "replay_items_lost": 0}) == 50
