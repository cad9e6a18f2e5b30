"""vtrax serve's access control: loopback by default, bearer token, TLS."""

import datetime
import ipaddress

import grpc
import numpy as np
import pytest

from vtrax.deploy.serve import PolicyClient, ServeOptions, ServeSetupError, build_server, write_initial_run

TOKEN = "s3cret-token-for-tests"
OBSERVATIONS = np.zeros((2, 4), np.float32)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("secure") / "run"
    write_initial_run(path, step=3)
    return path


def _self_signed_certificate():
    """A PEM (certificate, key) for localhost / 127.0.0.1, made with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def token_server(run_dir):
    with build_server(str(run_dir), ServeOptions(port=0, token=TOKEN, follow=False)).start() as server:
        yield server


def _code(call):
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x"])
def test_every_call_without_the_right_token_is_unauthenticated(token_server, token):
    with PolicyClient(token_server.address, token=token, timeout_s=20) as client:
        calls = [lambda: client.act(OBSERVATIONS), client.status, lambda: list(client.watch_metrics(timeout_s=20)),
                 client.health]
        for call in calls:
            code, details = _code(call)
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert "bearer token" in details


def test_the_right_token_is_served(token_server):
    with PolicyClient(token_server.address, token=TOKEN, timeout_s=20) as client:
        client.wait_until_serving(timeout_s=20)
        assert client.act(OBSERVATIONS).checkpoint_step == 3
        assert client.status()["checkpoint_step"] == 3


def test_tls_with_token_serves_a_client_that_trusts_the_certificate(run_dir):
    certificate, key = _self_signed_certificate()
    options = ServeOptions(port=0, token=TOKEN, tls_cert=certificate, tls_key=key, follow=False)
    with build_server(str(run_dir), options).start() as server:
        address = f"localhost:{server.port}"
        with PolicyClient(address, token=TOKEN, root_certificates=certificate, timeout_s=20) as client:
            client.wait_until_serving(timeout_s=20)
            assert client.act(OBSERVATIONS).actions.shape == (2,)
        with PolicyClient(address, token=TOKEN, timeout_s=5) as plaintext:
            code, _ = _code(lambda: plaintext.act(OBSERVATIONS))
            assert code == grpc.StatusCode.UNAVAILABLE


def test_a_public_host_needs_a_token_or_an_explicit_opt_out():
    with pytest.raises(ServeSetupError, match="without a token"):
        ServeOptions(host="0.0.0.0")
    assert ServeOptions(host="0.0.0.0", token=TOKEN).host == "0.0.0.0"
    assert ServeOptions(host="0.0.0.0", allow_unauthenticated=True).token is None
    assert ServeOptions().host == "127.0.0.1"  # loopback unless told otherwise


@pytest.mark.parametrize("options, phrase", [
    (dict(tls_cert=b"cert"), "go together"),
    (dict(token="  "), "token is empty"),
    (dict(max_batch_size=0), "--max-batch-size must be >= 1"),
    (dict(max_workers=1), "--workers must be >= 2"),
    (dict(port=70000), "--port must be in"),
])
def test_bad_options_say_what_to_change(options, phrase):
    with pytest.raises(ServeSetupError, match=phrase):
        ServeOptions(**options)


def test_a_port_in_use_is_reported(run_dir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServeSetupError, match="cannot listen on 127.0.0.1"):
            build_server(str(run_dir), ServeOptions(port=taken.getsockname()[1]))
