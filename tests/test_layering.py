"""The numerical core imports no reverb, ray or tensorflow (README.md, "The parts": layering)."""

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("reverb", "ray", "tensorflow")
CORE_MODULES = ["vtrax.nets", "vtrax.rl_ops", "vtrax.learner.update", "vtrax.learner.dqn_update",
                "vtrax.learner.dqn_core"]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_distributed_stack(module):
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    leaked = json.loads(result.stdout.strip().splitlines()[-1])
    assert leaked == [], f"importing {module} pulled in {leaked}; move that import out of the core"
