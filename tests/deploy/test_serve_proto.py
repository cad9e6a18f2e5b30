"""The committed generated modules are exactly what protoc makes of deploy/serve/vtrax_serve.proto."""

import subprocess
import sys
from pathlib import Path

import pytest

from vtrax.deploy.serve import vtrax_serve_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
PROTO = "deploy/serve/vtrax_serve.proto"
GENERATED = ("vtrax_serve_pb2.py", "vtrax_serve_pb2.pyi", "vtrax_serve_pb2_grpc.py")


def test_generated_modules_match_the_proto(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the [dev] extra, pinned in constraints.txt) "
                                             "regenerates the modules; run `make install`")
    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", "vtrax/deploy/serve=deploy/serve", f"--python_out={tmp_path}",
               f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", PROTO]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in GENERATED:
        fresh = (tmp_path / "vtrax" / "deploy" / "serve" / name).read_text()
        committed = (ROOT / "deploy" / "serve" / name).read_text()
        assert fresh == committed, (f"deploy/serve/{name} is stale; regenerate with the command at the top of "
                                    f"{PROTO}")


def test_the_service_has_the_three_rpcs_with_their_streaming_kinds():
    service = pb.DESCRIPTOR.services_by_name["Policy"]
    assert service.full_name == "vtrax.serve.v1.Policy"
    methods = {method.name: method for method in service.methods}
    assert sorted(methods) == ["Act", "GetStatus", "WatchMetrics"]
    assert methods["Act"].input_type.name == "ActRequest" and methods["Act"].output_type.name == "ActResponse"
    assert methods["GetStatus"].output_type.name == "StatusResponse"
    assert methods["WatchMetrics"].output_type.name == "MetricSnapshot"
    from vtrax.deploy.serve import vtrax_serve_pb2_grpc

    assert "unary_stream(\n                '/vtrax.serve.v1.Policy/WatchMetrics'" in Path(
        vtrax_serve_pb2_grpc.__file__).read_text()
