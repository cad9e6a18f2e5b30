"""`vtrax serve` as a command: the listening line, a token file, graceful SIGTERM, one-line errors."""

import re
import signal
import subprocess
import sys

import grpc
import numpy as np
import pytest

from vtrax.deploy.serve import PolicyClient, write_initial_run


def _serve(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "vtrax.deploy.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _listening_address(process):
    line = process.stdout.readline()
    match = re.search(r"listening on (\S+) ", line)
    assert match, f"no listening line: {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
    return match.group(1), line


def test_serve_answers_act_with_a_token_file_and_stops_on_sigterm(tmp_path):
    run_dir = tmp_path / "run"
    write_initial_run(run_dir, step=12)
    token_file = tmp_path / "token"
    token_file.write_text("cli-token\n")
    process = _serve(str(run_dir), "--port", "0", "--token-file", str(token_file))
    try:
        address, line = _listening_address(process)
        assert address.startswith("127.0.0.1:")
        assert "CartPole-v1 checkpoint step 12" in line and "token required" in line
        with PolicyClient(address, token="cli-token") as client:
            client.wait_until_serving(timeout_s=30)
            result = client.act(np.zeros((3, 4), np.float32))
            assert result.actions.shape == (3,) and result.checkpoint_step == 12
        with PolicyClient(address) as anonymous:
            with pytest.raises(grpc.RpcError) as caught:
                anonymous.act(np.zeros((1, 4), np.float32))
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stopped after 1 Act requests" in out
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("args, phrase", [
    (["{tmp}/missing"], "does not exist"),
    (["{tmp}", "--host", "0.0.0.0"], "without a token"),
    (["{tmp}", "--token-file", "{tmp}/no-such-token"], "cannot read the --token-file"),
])
def test_setup_errors_are_one_line_and_exit_2(tmp_path, args, phrase):
    process = _serve(*[arg.format(tmp=tmp_path) for arg in args])
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.startswith("vtrax serve: ") and phrase in err and err.count("\n") == 1
    assert out == ""

