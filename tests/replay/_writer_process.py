"""Writer process for the replay tests: `python _writer_process.py ADDRESS TABLE:ENVS:UNROLL:ITEMS ...`.

Writes `ITEMS * UNROLL + 1` deterministic vector steps (conftest.make_step) to each
table with a `replay.SequenceAdder`, one table after the other, then exits 0.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vtrax import replay  # noqa: E402
from replay_testlib import STEP_SPEC, make_step  # noqa: E402


def main(address: str, jobs: list[str]) -> int:
    for job in jobs:
        table, num_envs, unroll, items = job.split(":")
        num_envs, unroll, items = int(num_envs), int(unroll), int(items)
        with replay.SequenceAdder(address, table, STEP_SPEC, num_envs, unroll, connect_timeout_s=60) as adder:
            for t in range(items * unroll + 1):
                adder.append(make_step(t, num_envs))
            stats = adder.stats()
        assert stats["items_confirmed"] == items, stats
        print(f"wrote {items} items to {table}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
