"""The `vtrax` entry point: --version, --help listing, doctor on this machine."""

import subprocess
import sys

from vtrax.deploy import cli
from vtrax.deploy.commands import doctor


def _vtrax(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", *args], capture_output=True, text=True,
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


def test_help_and_doctor_import_no_heavy_library():
    code = ("import sys, contextlib, io\n"
            "from deploy import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    cli.build_parser(['doctor']).parse_args(['doctor'])\n"
            "    cli.build_parser(['--help'])\n"
            "print(sorted(m for m in ('jax', 'ray', 'reverb', 'tensorflow', 'learner') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_subcommand_flags_parse_only_for_the_named_subcommand():
    args = cli.build_parser(["train", "--seed", "3"]).parse_args(["train", "--seed", "3"])
    assert getattr(args, "train.seed") == 3
    args = cli.build_parser(["bench", "rl-ops", "--json"]).parse_args(["bench", "rl-ops", "--json"])
    assert args.target == "rl-ops" and args.json


def test_doctor_runs_and_reports_when_numpy_2_breaks_jax(tmp_path):
    """The planted problem of the foundation issue: numpy 2 over the pins breaks jax's import."""
    fake = tmp_path / "numpy"
    fake.mkdir()
    # A numpy 2 stand-in: the version doctor reads, and jax/ml_dtypes fail on import as they do with numpy 2.
    (fake / "__init__.py").write_text("__version__ = '2.1.3'\nraise ImportError('numpy.core.umath failed to import')\n")
    info = tmp_path / "numpy-2.1.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 2.1.3\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "doctor"], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout, result.stdout
    assert "[BAD] numpy" in result.stdout and "pip install numpy==1.26.4" in result.stdout, result.stdout
    assert "jax is installed but does not import" in result.stdout, result.stdout
    broken = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "train", "--help"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert broken.returncode == 2 and "run `vtrax doctor`" in broken.stderr, broken.stderr


def test_doctor_expect_platform_flags_a_missing_accelerator_with_the_fix():
    finding = doctor.check_jax_devices(["cpu:0"], None, expect_platform="gpu")
    assert not finding.ok and "[cuda12]" in finding.fix and "--gpus all" in finding.fix
    assert doctor.check_jax_devices(["gpu:0", "gpu:1"], None, expect_platform="gpu").ok
    assert doctor.check_jax_devices(["cpu:0"], None).ok


def test_doctor_skip_devices_starts_no_jax_backend():
    result = _vtrax("doctor", "--skip-devices", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "jax devices" not in result.stdout and "all good" in result.stdout
    on_cpu = _vtrax("doctor", "--expect-platform", "gpu", timeout=300)
    assert on_cpu.returncode == 1 and "not gpu" in on_cpu.stdout
