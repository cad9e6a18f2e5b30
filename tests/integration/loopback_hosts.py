"""Machines for `ray up` on one box: one sshd per loopback address, each in its own namespaces.

    network namespace (only `lo` up: nothing in it is reachable from outside the box)
    ├── laptop       runs `ray up/exec/job/down`: holds the ssh key and the Ray token
    ├── 127.0.0.1    head:   sshd in its own PID + mount namespace
    └── 127.0.0.2    worker: the same

Every machine sees /root through an overlay of its own (the host's /root stays untouched and
readable, so the venv's interpreter is there; what a machine writes, e.g. ~/.ray or
~/ray_bootstrap_key.pem, stays its own; the host's ~/.ray and ~/.ssh are hidden) and a /tmp of
its own. A PID namespace per node keeps `ray stop` (in every node's start commands) to that
node's processes, as on separate machines; the network namespace keeps the fixed ports of the
cluster files (6379, 8076, 8080, 8265) apart from any other Ray on this box. Everything is
written under one work directory in /var/tmp, removed afterwards: /root/.ssh is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PACKAGES = {"openssh-server": SSHD, "rsync": Path("/usr/bin/rsync")}  # `ray up` syncs files with rsync
SSH_KEY = "/root/.ssh/vtrax-loopback"  # deploy/cluster-loopback.yaml: ssh_private_key
LAPTOP_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unavailable(RuntimeError):
    """This box cannot host the loopback machines (not root, no apt); the message says why."""


def ensure_packages(timeout_s: float = 300) -> None:
    """Install Debian's openssh-server and rsync where missing; the package's own sshd is not left running.

    Raises:
      Unavailable: not root, or apt-get cannot install them.
    """
    missing = [name for name, path in PACKAGES.items() if not path.exists()]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(f"{' and '.join(missing)} missing and cannot be installed here (needs root and "
                          f"apt-get: `apt-get install -y {' '.join(missing)}`)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    before = _sshd_pids()
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:  # no package lists yet (a fresh CI image)
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=timeout_s)
        result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0 or not all(path.exists() for path in PACKAGES.values()):
        raise Unavailable(f"`{' '.join(install)}` failed: {result.stderr.strip()[-500:]}")
    for pid in _sshd_pids() - before:  # NOTE: where no policy-rc.d stops it, the package starts sshd on :22
        os.kill(pid, signal.SIGTERM)


def _sshd_pids() -> set[int]:
    import psutil

    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "sshd"}


class LoopbackHosts:
    """The laptop and the cluster's machines; `laptop(argv)` runs a command the way a user would."""

    def __init__(self, venv_bin: Path, node_ips: tuple[str, ...] = ("127.0.0.1", "127.0.0.2")):
        self.root = Path(tempfile.mkdtemp(prefix="vtrax-loopback-", dir="/var/tmp"))
        self.venv_bin = venv_bin
        self.node_ips = node_ips
        self._laptop: subprocess.Popen | None = None
        self._nodes: dict[str, subprocess.Popen] = {}

    def _machine(self, name: str, then: str) -> str:
        """Shell lines giving machine `name` its own /root and /tmp, then `then`.

        NOTE: a checkout or venv that lives under /tmp (CI clones there) stays visible: it is
        bind-mounted aside before the private /tmp covers it, then back to its own path.
        """
        folder = self.root / name
        for sub in ("upper", "work", "tmp"):
            (folder / sub).mkdir(parents=True)
        keep = sorted({str(path) for path in (REPO, self.venv_bin.parent) if str(path).startswith("/tmp/")})
        aside = "".join(f" && mkdir -p {folder}/keep{index} && mount --bind {path} {folder}/keep{index}"
                        for index, path in enumerate(keep))
        back = "".join(f" && mkdir -p {path} && mount --bind {folder}/keep{index} {path}"
                       for index, path in enumerate(keep))
        return (f"mount -t overlay overlay -o lowerdir=/root,upperdir={folder}/upper,workdir={folder}/work /root"
                f" && rm -rf /root/.ray /root/.ssh && mkdir -m 700 /root/.ssh{aside} && mount --bind {folder}/tmp /tmp"
                f"{back} && {then}")

    def start(self) -> None:
        ensure_packages()
        keygen = f"ssh-keygen -q -t ed25519 -N '' -C vtrax-loopback -f {SSH_KEY} && cp {SSH_KEY}.pub {self.root}/key.pub"
        self._laptop = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
                                         self._machine("laptop", f"ip link set lo up && {keygen} && exec sleep infinity")])
        wait_for(lambda: (self.root / "key.pub").exists() and self.listening() is not None, 20, "the laptop")
        for ip in self.node_ips:
            self._nodes[ip] = self._start_node(ip)
        for ip in self.node_ips:
            wait_for(lambda ip=ip: self.ssh(ip, "true", check=False).returncode == 0, 20, f"sshd on {ip}")

    def _start_node(self, ip: str) -> subprocess.Popen:
        folder = self.root / ip
        config = folder / "sshd_config"
        setup = (f"cp {self.root}/key.pub /root/.ssh/authorized_keys"
                 f" && echo 'export PATH={self.venv_bin}:$PATH' >> /root/.bashrc"  # vtrax is installed here
                 f" && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/host_key"
                 f" && mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec {SSHD} -D -e -f {config}")
        script = self._machine(ip, setup)
        config.write_text("\n".join([
            "Port 22", f"ListenAddress {ip}", "HostKey /root/.ssh/host_key", "PidFile none",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))
        log = open(folder / "sshd.log", "w")
        return subprocess.Popen(["nsenter", f"--net={self._ns('net')}", "unshare", "--pid", "--fork", "--kill-child",
                                 "--mount-proc", "--mount", "--propagation", "private", "sh", "-c", script],
                                stdout=log, stderr=subprocess.STDOUT)

    def _ns(self, kind: str) -> str:
        return f"/proc/{self._laptop.pid}/ns/{kind}"

    def laptop_env(self, **extra: str) -> dict[str, str]:
        return {"HOME": "/root", "PATH": f"{self.venv_bin}:{LAPTOP_PATH}", "LANG": "C.UTF-8",
                "RAY_USAGE_STATS_ENABLED": "0", **extra}

    def laptop(self, argv: list[str], *, timeout: float = 60, env: dict[str, str] | None = None,
               background: bool = False):
        """Run `argv` on the laptop, from the repository root; `background`: in a session of its own."""
        wrapped = ["nsenter", f"--net={self._ns('net')}", f"--mount={self._ns('mnt')}", f"--wd={REPO}", *argv]
        kwargs = dict(env=env or self.laptop_env(), text=True)
        if background:
            return subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, **kwargs)
        return subprocess.run(wrapped, capture_output=True, timeout=timeout, **kwargs)

    def ssh(self, ip: str, command: str, *, check: bool = True, timeout: float = 60):
        argv = ["ssh", "-i", SSH_KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", f"root@{ip}", command]
        result = self.laptop(argv, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"ssh {ip} {command!r}: {result.stdout}{result.stderr}")
        return result

    def listening(self) -> list[str] | None:
        """Every listening TCP socket in the namespace, as address:port; None before it is up."""
        result = subprocess.run(["nsenter", f"--net={self._ns('net')}", "ss", "-Hltnp"], capture_output=True,
                                text=True, timeout=30)
        if result.returncode != 0:
            return None
        return [line.split()[3] for line in result.stdout.splitlines()]

    def node_processes(self, ip: str) -> list[str]:
        """Command lines of every process on node `ip` but its sshd and the namespace's own shell."""
        import psutil

        try:
            found = psutil.Process(self._nodes[ip].pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        lines = []
        for process in found:
            with contextlib.suppress(psutil.NoSuchProcess):
                lines.append(" ".join(process.cmdline()))
        return [line for line in lines if line and not line.startswith(("sshd", "/usr/sbin/sshd", "sh -c mount"))]

    def read(self, ip: str, path: str) -> str:
        """A file of node `ip` (its own /root, or the shared file system)."""
        return self.ssh(ip, f"cat {path}").stdout

    def stop(self) -> None:
        for process in [*self._nodes.values(), self._laptop]:
            if process is not None and process.poll() is None:
                process.kill()  # NOTE: --kill-child: the node's whole PID namespace goes with it
                process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout_s: float, what: str):
    """Poll `predicate` until it returns something true (returned); AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            if value := predicate():
                return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
