"""Shared fixtures for the replay tests: one real Reverb server process for the session.

Each test that needs a server of its own (checkpoints, the CLI) starts one; all
others share `replay_server`, with one table per test so they cannot interfere.
"""

from __future__ import annotations

import pytest
from replay_testlib import SHARED_TABLES

from vtrax import replay


@pytest.fixture(scope="session")
def replay_server():
    server = replay.ReplayServerProcess(tables=SHARED_TABLES, checkpoint_period_s=0)
    try:
        yield server
    finally:
        server.kill()
