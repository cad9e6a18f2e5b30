"""Starting a server on a taken port fails fast with an error naming the port and the fix."""

import pytest
from replay_testlib import SHARED_TABLES

from vtrax import replay


def test_in_process_server_refuses_a_taken_port(replay_server):
    # gRPC binds with SO_REUSEPORT, so without this check a second server would share the port silently.
    with pytest.raises(OSError, match=rf"replay server port {replay_server.port} is already in use"):
        replay.start_server(SHARED_TABLES[:1], port=replay_server.port, checkpoint_period_s=None)


def test_server_process_on_a_taken_port_reports_the_log_and_the_fix(replay_server):
    with pytest.raises(replay.ReplayServerError) as error:
        replay.ReplayServerProcess(tables=SHARED_TABLES[:1], port=replay_server.port, checkpoint_period_s=0)
    message = str(error.value)
    assert f"exited with code 1 before accepting connections at localhost:{replay_server.port}" in message
    assert f"replay server port {replay_server.port} is already in use" in message
    assert "then start it again" in message
