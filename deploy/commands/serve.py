"""`vtrax serve RUN_DIR|CHECKPOINT`: serve a checkpoint's policy and the run's status over gRPC.

Prints one line `vtrax serve: listening on HOST:PORT ...` once the port is bound and
the parameters are loaded (the line a script can wait for), then serves until
Ctrl-C or SIGTERM, which stop it gracefully.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

TOKEN_ENV = "VTRAX_SERVE_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN_DIR|CHECKPOINT",
                        help="A run directory from `vtrax train` (newest checkpoint, followed while the run goes "
                             "on) or one RUN_DIR/checkpoints/ckpt_* folder (served as is).")
    parser.add_argument("--port", type=int, default=50051, help="TCP port (default 50051; 0 picks a free one).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="Interface to bind (default 127.0.0.1). Any other needs --token-file.")
    parser.add_argument("--env", dest="env_id", default=None, metavar="ENV_ID",
                        help="Environment id, for a checkpoint outside its run directory.")
    parser.add_argument("--token-file", default=None, metavar="PATH",
                        help=f"File holding a bearer token every request must carry (or set ${TOKEN_ENV}).")
    parser.add_argument("--tls-cert", default=None, metavar="PEM", help="TLS certificate chain (with --tls-key).")
    parser.add_argument("--tls-key", default=None, metavar="PEM", help="TLS private key (with --tls-cert).")
    parser.add_argument("--max-batch-size", type=int, default=1024, help="Largest Act batch (default 1024).")
    parser.add_argument("--max-request-bytes", type=int, default=4 * 1024 * 1024,
                        help="Largest request accepted, in bytes (default 4 MiB).")
    parser.add_argument("--workers", type=int, default=8, help="RPC threads (default 8).")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="Seconds between looks for new checkpoints and metrics (default 2).")
    parser.add_argument("--no-follow", action="store_true", help="Keep serving the checkpoint loaded at start.")
    parser.add_argument("--wait-for-checkpoint-s", type=float, default=0.0,
                        help="Wait this long for a live run's first checkpoint (default: fail at once).")
    parser.add_argument("--allow-unauthenticated", action="store_true",
                        help="Permit a non-loopback --host without a token.")


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read the {what} {path} ({error.strerror}); check the path") from None


def _token(args: argparse.Namespace) -> str | None:
    raw = _read(args.token_file, "--token-file")
    if raw is not None:
        return raw.decode().strip()
    return os.environ.get(TOKEN_ENV) or None


def run(args: argparse.Namespace) -> int:
    from vtrax.deploy.serve.service import ServeOptions, ServeSetupError, build_server

    try:
        options = ServeOptions(host=args.host, port=args.port, token=_token(args),
                               tls_cert=_read(args.tls_cert, "--tls-cert"), tls_key=_read(args.tls_key, "--tls-key"),
                               max_batch_size=args.max_batch_size, max_request_bytes=args.max_request_bytes,
                               max_workers=args.workers, poll_interval_s=args.poll_seconds,
                               follow=not args.no_follow, allow_unauthenticated=args.allow_unauthenticated)
        server = build_server(args.source, options, env_id=args.env_id,
                              wait_for_checkpoint_s=args.wait_for_checkpoint_s)
    except (ServeSetupError, ValueError) as error:
        print(f"vtrax serve: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    if options.host not in ("127.0.0.1", "localhost", "::1", "[::1]") and options.tls_cert is None:
        print("vtrax serve: warning: no TLS, so requests (and the token) cross the network in clear text; "
              "add --tls-cert/--tls-key", file=sys.stderr)
    loaded, spec = server.follower.current, server.model.spec
    following = "following new checkpoints" if server.source.can_follow and options.follow else "pinned"
    print(f"vtrax serve: listening on {server.address} ({'TLS' if options.tls_cert else 'plaintext'}"
          f"{', token required' if options.token else ''}): {spec.env_id} checkpoint step {loaded.step} "
          f"from {server.source.path} ({following})", flush=True)
    stop.wait()
    server.stop(grace_s=5.0)
    print(f"vtrax serve: stopped after {server.servicer.requests_served} Act requests", flush=True)
    return 0
