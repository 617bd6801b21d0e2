"""The load-balancer role refuses what HAProxy would reject with no message: a directory whose
admin socket path is longer than a Unix socket path may be (107 bytes)."""

from __future__ import annotations

from pathlib import Path

from services.ansible_local import deploy_playbook, lb_inventory


def test_a_too_long_lb_dir_is_refused_by_name_before_anything_changes(tmp_path: Path) -> None:
    lb_dir = tmp_path / ("x" * 110)
    lb_inventory(tmp_path, {"mlci_lb_dir": str(lb_dir), "mlci_lb_port": 1})
    proc = deploy_playbook(tmp_path)
    assert proc.returncode != 0
    message = "mlci_lb_dir is too long for HAProxy's admin socket: a Unix socket path has at most 107 bytes"
    assert f"{message}, and {lb_dir}/admin.sock has" in proc.stdout
    assert not lb_dir.exists()
