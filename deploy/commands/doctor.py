"""`vtrax doctor`: check the installation, one line per component, one fix per problem.

Each check is a pure function of what it observed (versions, import errors), so
the rules can be tested without breaking a real install; `run` gathers the
observations from this interpreter.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from importlib import metadata

INSTALL_FIX = "reinstall with the pins: `make install` (or `pip install -c constraints.txt -e '.[dev]'`)"

# (import name, distribution name, required version prefix or None).
COMPONENTS: tuple[tuple[str, str, str | None], ...] = (
    ("numpy", "numpy", "1.26"),
    ("jax", "jax", "0.4.34"),
    ("jaxlib", "jaxlib", "0.4.34"),
    ("optax", "optax", "0.2.5"),
    ("orbax.checkpoint", "orbax-checkpoint", "0.11.5"),
    ("ray", "ray", "2.60"),
    ("tensorflow", "tensorflow-cpu", "2.15"),
    ("reverb", "dm-reverb", "0.14.0"),
    ("gymnasium", "gymnasium", "1.4"),
    ("ale_py", "ale-py", None),
    ("grpc", "grpcio", None),
    ("google.protobuf", "protobuf", "4.25"),
)


@dataclass(frozen=True)
class Finding:
    """One line of the report: a component, what was seen, and a fix if broken."""

    component: str
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.fix is None


def check_python(version_info: tuple[int, int, int]) -> Finding:
    shown = ".".join(map(str, version_info[:3]))
    if (3, 10) <= tuple(version_info[:2]) < (3, 12):
        return Finding("python", shown)
    return Finding("python", shown, "dm-reverb 0.14.0 ships wheels for Python 3.10-3.11 only: "
                   "create the venv with python3.11 (`python3.11 -m venv .venv`)")


def check_component(component: str, version: str | None, import_error: str | None,
                    required_prefix: str | None) -> Finding:
    """Judge one package from its installed version and the error importing it raised."""
    if version is None:
        return Finding(component, "not installed", f"{component} is missing: {INSTALL_FIX}")
    if component == "numpy" and int(version.split(".")[0]) >= 2:
        return Finding(component, f"{version} (numpy 2 over the pins)",
                       "TensorFlow 2.15 and Reverb need numpy 1.x: `pip install numpy==1.26.4`")
    if required_prefix and not version.startswith(required_prefix):
        return Finding(component, f"{version}, expected {required_prefix}.*",
                       f"{component} {version} is not the verified version: {INSTALL_FIX}")
    if import_error:
        return Finding(component, f"{version}, import failed: {import_error}",
                       f"{component} is installed but does not import: {INSTALL_FIX}")
    return Finding(component, f"{version}, imports")


def check_roms(rom_path: str | None, error: str | None) -> Finding:
    if rom_path:
        return Finding("atari roms", f"found ({rom_path})")
    return Finding("atari roms", f"not found ({error or 'no pong ROM'})",
                   "ale-py >= 0.9 ships the ROMs: `pip install -c constraints.txt ale-py`")


ACCELERATOR_FIX = {
    "gpu": "install JAX's CUDA 12 build (`pip install -c constraints.txt '.[cuda12]'`, or the docker/Dockerfile.gpu "
           "image) and give the process the GPUs (`docker run --gpus all`; `nvidia-smi` must list them)",
    "tpu": "use the TPU build (docker/Dockerfile.gpu with --build-arg ACCELERATOR=tpu) on a TPU VM, run with "
           "--privileged --net=host, and make sure no other process holds the TPU",
    "cpu": "set JAX_PLATFORMS=cpu, or drop --expect-platform",
}


def check_jax_devices(devices: list[str] | None, error: str | None, expect_platform: str | None = None) -> Finding:
    """Devices as 'platform:id'; with `expect_platform`, any other platform is a problem."""
    if not devices:
        return Finding("jax devices", f"none ({error})", f"JAX sees no device: {INSTALL_FIX}")
    shown = ", ".join(devices)
    platforms = sorted({device.split(":")[0] for device in devices})
    if expect_platform and expect_platform not in platforms:
        return Finding("jax devices", f"{shown} (expected {expect_platform})",
                       f"JAX sees only {'/'.join(platforms)}, not {expect_platform}: "
                       f"{ACCELERATOR_FIX[expect_platform]}")
    return Finding("jax devices", shown)


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 - any import failure is the finding
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:160]
    return None


def _observe_roms() -> tuple[str | None, str | None]:
    try:
        from ale_py import roms

        return str(roms.get_rom_path("pong")), None
    except Exception as error:  # noqa: BLE001
        return None, str(error)[:120]


def _observe_devices() -> tuple[list[str] | None, str | None]:
    # NOTE: a probe, not a user: on a GPU it must not take JAX's default 75 % of the memory.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices()], None
    except Exception as error:  # noqa: BLE001
        return None, str(error)[:120]


def diagnose(*, probe_devices: bool = True, expect_platform: str | None = None) -> list[Finding]:
    """Observe this interpreter and return every finding, broken or not.

    Args:
      probe_devices: start JAX's backends to list its devices (a GPU context, or
        the TPU, which only one process may hold).
      expect_platform: 'cpu', 'gpu' or 'tpu': a problem unless JAX has such devices.
    """
    findings = [check_python(sys.version_info[:3])]
    for module, distribution, prefix in COMPONENTS:
        version = _installed_version(distribution)
        error = _import_error(module) if version else None
        findings.append(check_component(distribution, version, error, prefix))
    if probe_devices:
        findings.append(check_jax_devices(*_observe_devices(), expect_platform=expect_platform))
    findings.append(check_roms(*_observe_roms()))
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-devices", action="store_true",
                        help="Do not start JAX's backends (for a container HEALTHCHECK next to a running learner: "
                             "takes no GPU memory and does not open the TPU).")
    parser.add_argument("--expect-platform", choices=sorted(ACCELERATOR_FIX), default=None,
                        help="Fail unless JAX has devices of this platform (e.g. gpu on a learner node).")


def run(args: argparse.Namespace) -> int:
    if args.skip_devices and args.expect_platform:
        print("vtrax doctor: --expect-platform needs the device probe; drop --skip-devices", file=sys.stderr)
        return 2
    findings = diagnose(probe_devices=not args.skip_devices, expect_platform=args.expect_platform)
    width = max(len(f.component) for f in findings)
    for finding in findings:
        mark = "ok " if finding.ok else "BAD"
        print(f"[{mark}] {finding.component.ljust(width)}  {finding.detail}")
    problems = [f for f in findings if not f.ok]
    for finding in problems:
        print(f"fix: {finding.fix}")
    print("vtrax doctor: all good" if not problems else f"vtrax doctor: {len(problems)} problem(s)")
    return 1 if problems else 0
