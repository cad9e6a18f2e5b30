"""Every `ray up` file passes Ray's own config validation and names commands that exist.

Ray's `ray up` runs `prepare_config` (defaults, node types, Docker checks) then
`validate_config` (the JSON schema and node-type rules) before it contacts a cloud;
these tests run exactly those two. `ray start` lines are parsed by Ray's own CLI, and
every `vtrax ...` command (in the command lists and in the usage lines of the file's
header) by vtrax's own parser.
"""

import copy
import re
import shlex
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.scripts.scripts import start as ray_start

from vtrax.deploy import cli

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_FILES = sorted((ROOT / "deploy").glob("cluster*.yaml"))
COMMAND_LISTS = ("initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands",
                 "head_start_ray_commands", "worker_start_ray_commands")
CPU_IMAGE, GPU_IMAGE = "vtrax/vtrax-cpu:0.1.0", "vtrax/vtrax-gpu:0.1.0"


def _load(path):
    return yaml.safe_load(path.read_text())


def _usage_commands(path):
    """The `$ ray exec <this file> '<command>'` lines of the header comment: (file, command)."""
    pattern = re.compile(r"^#\s+\$ ray exec (\S+) '(.+)'$")
    return [match.groups() for line in path.read_text().splitlines() if (match := pattern.match(line))]


def _shell_commands(config):
    """Every simple command of every command list, split at ';' and '&&'."""
    for key in COMMAND_LISTS:
        for line in config.get(key) or []:
            for part in re.split(r";|&&", line):
                if part.strip():
                    yield key, _without_env_assignments(shlex.split(part.strip()))


def _without_env_assignments(argv):
    """`RAY_AUTH_MODE=token ray start ...` -> `ray start ...`."""
    while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", argv[0]):
        argv = argv[1:]
    return argv


def _start_lines(path):
    """The `ray start` flags of the head and the worker: ({flag: value}, {flag: value})."""
    starts = {"head_start_ray_commands": [], "worker_start_ray_commands": []}
    for key, argv in _shell_commands(_load(path)):
        if argv[:2] == ["ray", "start"]:
            starts[key].append(ray_start.make_context("ray start", argv[2:]).params)
    (head,), (worker,) = starts["head_start_ray_commands"], starts["worker_start_ray_commands"]
    return head, worker


def test_there_is_a_cloud_file_and_a_local_file():
    providers = {_load(path)["provider"]["type"] for path in CLUSTER_FILES}
    assert {"aws", "local"} <= providers, [path.name for path in CLUSTER_FILES]


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda path: path.name)
def test_ray_accepts_the_file(path):
    prepared = prepare_config(copy.deepcopy(_load(path)))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_aws_layout_is_cpu_head_autoscaled_actors_and_a_gpu_learner():
    config = prepare_config(copy.deepcopy(_load(ROOT / "deploy" / "cluster.yaml")))
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}, "the head keeps its CPUs for the driver and Reverb"
    workers = {name: spec for name, spec in types.items() if name != config["head_node_type"]}
    gpu = [spec for spec in workers.values() if spec["resources"].get("GPU", 0) >= 1]
    cpu = [spec for spec in workers.values() if not spec["resources"].get("GPU")]
    assert len(gpu) == 1 and gpu[0]["docker"]["worker_image"] == GPU_IMAGE
    assert len(cpu) == 1 and cpu[0]["max_workers"] > cpu[0].get("min_workers", 0), "actor nodes must autoscale"
    assert config["docker"]["head_image"] == CPU_IMAGE and config["docker"]["worker_image"] == CPU_IMAGE


def test_local_file_runs_the_cpu_head_and_gpu_workers():
    config = _load(ROOT / "deploy" / "cluster-local.yaml")
    assert config["docker"]["head_image"] == CPU_IMAGE and config["docker"]["worker_image"] == GPU_IMAGE
    assert config["provider"]["head_ip"] not in config["provider"]["worker_ips"]


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda path: path.name)
def test_ray_start_lines_parse_with_rays_cli(path):
    head, worker = _start_lines(path)
    assert head["head"] and head["port"] == 6379 and head["num_cpus"] == 0
    assert head["autoscaling_config"] == "~/ray_bootstrap_config.yaml"
    assert head["dashboard_host"] == "127.0.0.1", "the dashboard runs jobs: reach it through `ray dashboard`"
    assert not worker["head"] and worker["address"] == "$RAY_HEAD_IP:6379"
    assert head["metrics_export_port"] == 8080 and head["object_manager_port"] == 8076


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda path: path.name)
def test_every_node_requires_the_token_the_file_mounts(path):
    config = _load(path)
    assert config["file_mounts"] == {"~/.ray/auth_token": "~/.ray/auth_token"}
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        (start,) = [line for line in config[key] if "ray start" in line]
        assert "RAY_AUTH_MODE=token ray start" in start or "RAY_AUTH_MODE=token RAY_" in start, start


def test_the_loopback_file_starts_ray_as_the_local_file_does():
    """What tests/integration/test_cluster_up.py proves of cluster-loopback.yaml holds for cluster-local.yaml.

    The differences: node addresses on loopback, and the worker's ports that Ray binds on every
    address moved one up (both nodes share one machine there).
    """
    local, loopback = (_start_lines(ROOT / "deploy" / name) for name in ("cluster-local.yaml", "cluster-loopback.yaml"))
    moved = {"node_ip_address", "object_manager_port", "metrics_export_port", "dashboard_agent_listen_port"}
    assert loopback[0] == {**local[0], "node_ip_address": "127.0.0.1"}
    assert {k: v for k, v in loopback[1].items() if k not in moved} == {k: v for k, v in local[1].items() if k not in moved}
    assert (loopback[1]["object_manager_port"], loopback[1]["metrics_export_port"]) == (8077, 8081)
    assert (local[1]["object_manager_port"], local[1]["metrics_export_port"]) == (8076, 8080)
    local_config, loopback_config = (_load(ROOT / "deploy" / name) for name in ("cluster-local.yaml", "cluster-loopback.yaml"))
    assert [line.split("ray start")[0] for line in loopback_config["head_start_ray_commands"]] == \
        [line.split("ray start")[0] for line in local_config["head_start_ray_commands"]]


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda path: path.name)
def test_every_vtrax_command_exists_and_parses(path):
    config = _load(path)
    commands = [argv for _, argv in _shell_commands(config) if argv[0] == "vtrax"]
    usage = _usage_commands(path)
    assert usage, f"{path.name} has no '#   $ ray exec {path.relative_to(ROOT)} ...' usage lines"
    for file, command in usage:
        assert file == str(path.relative_to(ROOT)), f"usage line names {file}, not {path.relative_to(ROOT)}"
        commands.append(shlex.split(command))
    parsed = []
    for argv in commands:
        assert argv[0] == "vtrax" and argv[1] in cli.COMMANDS, argv
        # argparse exits (fails the test) on an unknown flag
        parsed.append(cli.build_parser(argv[1:]).parse_args(argv[1:]))
    train = [args for args in parsed if args.command == "train"]
    assert train and all(getattr(args, "train.address") == "auto" for args in train)
    assert any(args.command == "status" for args in parsed)


@pytest.mark.parametrize("path", [path for path in CLUSTER_FILES if "docker" in _load(path)],
                         ids=lambda path: path.name)
def test_run_directories_are_mounted_from_a_host_folder_the_node_creates(path):
    config = _load(path)
    mounts = [option.split()[1] for option in config["docker"]["run_options"] if option.startswith("-v ")]
    host, container = mounts[0].split(":")
    assert container == "/home/vtrax/runs"
    assert f"mkdir -p {host}" in config["initialization_commands"]
    for _, command in _usage_commands(path):
        if command.startswith("vtrax train"):
            assert f"--logdir {container}" in command


def test_the_images_are_the_ones_the_readme_builds():
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert f"docker build -f docker/Dockerfile     -t {CPU_IMAGE} ." in readme
    assert f"docker build -f docker/Dockerfile.gpu -t {GPU_IMAGE} ." in readme
