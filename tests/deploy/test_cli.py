"""The `vtrax` entry point: --version, --help listing, doctor on this machine."""

import subprocess
import sys

from deploy import cli, doctor


def _vtrax(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_version_prints_package_version():
    result = _vtrax("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("vtrax 0.")


def test_help_lists_every_available_subcommand_with_one_line():
    result = _vtrax("--help")
    assert result.returncode == 0
    for name in cli._available(cli.COMMANDS):
        assert name in result.stdout


def test_no_subcommand_prints_help_and_fails():
    result = _vtrax()
    assert result.returncode == 2
    assert "commands" in result.stdout


def test_doctor_passes_on_this_machine():
    result = _vtrax("doctor", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for component in ("python", "jax", "dm-reverb", "tensorflow-cpu", "ray", "gymnasium", "ale-py", "grpcio"):
        assert component in result.stdout
    assert "all good" in result.stdout


def test_doctor_flags_numpy_2_with_a_fix():
    finding = doctor.check_component("numpy", "2.1.3", None, "1.26")
    assert not finding.ok
    assert "numpy==1.26.4" in finding.fix


def test_doctor_flags_wrong_python():
    finding = doctor.check_python((3, 12, 1))
    assert not finding.ok and "3.11" in finding.fix


def test_doctor_flags_missing_and_unimportable_packages():
    assert "missing" in doctor.check_component("dm-reverb", None, None, "0.14.0").fix
    broken = doctor.check_component("dm-reverb", "0.14.0", "ImportError: libtensorflow", "0.14.0")
    assert not broken.ok and "does not import" in broken.fix
    assert not doctor.check_component("jax", "0.4.30", None, "0.4.34").ok
    assert doctor.check_component("jax", "0.4.34", None, "0.4.34").ok


def test_doctor_flags_missing_roms():
    assert not doctor.check_roms(None, "no such file").ok
