"""The load-balancer role refuses what HAProxy would reject with no message: a directory whose
admin socket path is longer than a Unix socket path may be (107 bytes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, write

PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def test_a_too_long_lb_dir_is_refused_by_name_before_anything_changes(tmp_path: Path) -> None:
    lb_dir = tmp_path / ("x" * 110)
    write(
        tmp_path / "inventory.yml",
        f"""\
        all:
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
          children:
            load_balancers:
              hosts:
                lb:
                  mlci_lb_dir: {lb_dir}
                  mlci_lb_port: 1
                  mlci_lb_install: false
        """,
    )
    proc = subprocess.run(
        [str(PLAYBOOK), "-i", str(tmp_path / "inventory.yml"), str(REPO / "ansible" / "deploy.yml"),
         "-e", "mlci_server_image=registry.invalid/m@sha256:" + "0" * 64],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    message = "mlci_lb_dir is too long for HAProxy's admin socket: a Unix socket path has at most 107 bytes"
    assert f"{message}, and {lb_dir}/admin.sock has" in proc.stdout
    assert not lb_dir.exists()
