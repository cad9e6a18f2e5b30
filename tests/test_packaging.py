"""The built wheel holds one package, `vtrax/`, and its metadata: nothing else lands in site-packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("learner", "actors", "replay", "nets", "rl_ops", "deploy")


def test_the_wheel_contains_only_vtrax_and_its_dist_info(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--no-index", "--quiet", "-w", str(tmp_path),
                             str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("vtrax-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = sorted({name.split("/")[0] for name in names})
    assert tops == ["vtrax", next(top for top in tops if top.endswith(".dist-info"))], tops
    for package in PACKAGES:  # every source folder (and subpackage) arrives, with its data files
        for init in (ROOT / package).rglob("__init__.py"):
            assert f"vtrax/{init.relative_to(ROOT).as_posix()}" in names, f"{init} is missing from the wheel"
    for data in ("deploy/serve/vtrax_serve.proto", "deploy/monitoring/grafana/dashboards/vtrax.json"):
        assert f"vtrax/{data}" in names
    assert not any("__pycache__" in name or name.startswith("vtrax/tests") for name in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "vtrax = vtrax.deploy.cli:main" in entry_points
