"""A real SSH target on this machine: Debian's sshd on a free loopback port, with a host key
and a client key made for the session, so Ansible's SSH connection path is exercised."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ports import free_port

CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_ed25519
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
"""


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int
    user: str
    key: Path  # client private key
    known_hosts: Path


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def ssh_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshTarget]:
    folder = tmp_path_factory.mktemp("sshd")
    folder.chmod(0o700)
    _keygen(folder / "host_ed25519")
    _keygen(folder / "client_ed25519")
    shutil.copy(folder / "client_ed25519.pub", folder / "authorized_keys")
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(CONFIG.format(port=port, dir=folder), encoding="utf-8")
    host_pub = (folder / "host_ed25519.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n", encoding="utf-8")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    log = folder / "sshd.log"
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
    target = SshTarget("127.0.0.1", port, "root", folder / "client_ed25519", known)
    try:
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(
                [
                    "ssh",
                    "-p",
                    str(port),
                    "-i",
                    str(target.key),
                    "-o",
                    f"UserKnownHostsFile={known}",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=2",
                    "root@127.0.0.1",
                    "true",
                ],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"sshd did not accept the test key: {log.read_text()[-1500:]} {probe.stderr[-500:]!r}"
                )
            time.sleep(0.2)
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=10)
