"""`vtrax bench chaos`: the fault list is checked before any run starts. (The kills themselves are exercised by
tests/integration/test_train.py; the bench's figures are in BENCHMARKS.md.)"""

import subprocess
import sys

from vtrax.deploy.bench import chaos


def test_unknown_faults_are_refused_in_one_line_before_anything_starts():
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "bench", "chaos", "--faults", "actor,disk"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "vtrax bench chaos: unknown faults ['disk']; choose from actor, learner, replay, driver"


def test_the_fault_schedule_is_seeded_and_kills_each_fault_repeats_times():
    first = chaos.fault_schedule(list(chaos.FAULTS), 2, seed=3, wait_range_s=(5.0, 15.0))
    assert first == chaos.fault_schedule(list(chaos.FAULTS), 2, seed=3, wait_range_s=(5.0, 15.0))
    assert first != chaos.fault_schedule(list(chaos.FAULTS), 2, seed=4, wait_range_s=(5.0, 15.0))
    assert sorted(fault for fault, _ in first) == sorted(list(chaos.FAULTS) * 2)
    assert all(5.0 <= wait_s <= 15.0 for _, wait_s in first)
