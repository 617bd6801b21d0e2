"""What the Ansible backend decides on (the recap, each host's failure message, the hosts that
switched) comes from mlci's callback as JSON lines, not from Ansible's screen output: the same
verdict whatever stdout callback or result format a workspace's ansible.cfg chooses. Real
`ansible-playbook` runs on local hosts, with a playbook folder of the test's own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlci import config
from mlci.deploy.ansible import AnsibleBackend
from mlci.errors import InfrastructureError

IMAGE = "127.0.0.1:5000/eventstest@sha256:" + "0" * 64
PLAYBOOK = """\
- name: Deploy
  hosts: model_servers
  gather_facts: false
  tasks:
    - name: Reach the host
      ansible.builtin.ping:
    - name: A failure the play ignores
      ansible.builtin.fail:
        msg: ignored on {{ inventory_hostname }}
      ignore_errors: true
    - name: Write the facts file
      ansible.builtin.debug:
        msg: switched
      changed_when: true
    - name: Gate
      ansible.builtin.fail:
        msg: "gate failed on {{ inventory_hostname }}: p99 812 ms"
      when: inventory_hostname == 'b'
"""
CONFIGS = {
    "default": None,
    "minimal": "[defaults]\nstdout_callback = minimal\n",
    "oneline": "[defaults]\nstdout_callback = oneline\n",
    "yaml-results": "[defaults]\ncallback_result_format = yaml\n",
}


def backend(root: Path, hosts: dict[str, dict[str, object]]) -> AnsibleBackend:
    playbooks = root / "playbooks"
    playbooks.mkdir()
    (playbooks / "deploy.yml").write_text(PLAYBOOK, encoding="utf-8")
    inventory = {
        "all": {"vars": {"ansible_python_interpreter": sys.executable}, "children": {"model_servers": {"hosts": hosts}}}
    }
    (root / "inventory.yml").write_text(json.dumps(inventory), encoding="utf-8")
    (root / ".mlci.yml").write_text(
        "version: 1\nmodel: {name: eventstest, task: classification, target: y}\n"
        "deploy:\n  - {name: site, type: ansible, environment: staging, strategy: blue-green,\n"
        "     inventory: inventory.yml}\n",
        encoding="utf-8",
    )
    loaded = config.load(root / ".mlci.yml")
    target = loaded.config.deploy[0]
    return AnsibleBackend(loaded.config, target, root, root / "reports" / "deploy")


@pytest.mark.parametrize("cfg", list(CONFIGS), ids=list(CONFIGS))
def test_the_verdict_does_not_depend_on_the_screen_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg: str
) -> None:
    if CONFIGS[cfg]:
        (tmp_path / "ansible.cfg").write_text(CONFIGS[cfg], encoding="utf-8")  # the workspace's own
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLCI_ANSIBLE_DIR", str(tmp_path / "playbooks"))
    local = {"ansible_connection": "local"}
    outcome = backend(tmp_path, {"a": local, "b": local}).deploy(IMAGE, {}, [])
    assert not outcome.passed
    assert outcome.message == "b: gate failed on b: p99 812 ms"  # the ignored failure is not it
    assert outcome.switched == ["a"]  # b failed after its facts changed: not counted as switched
    assert (outcome.hosts["a"].failed, outcome.hosts["b"].failed) == (0, 1)
    assert outcome.hosts["a"].changed == 1
    transcript = (tmp_path / "reports" / "deploy" / "deploy-site.log").read_text()
    assert "gate failed on b" in transcript  # the human output is still the transcript
    assert not list((tmp_path / "reports" / "deploy").glob(".*events*"))  # read, then removed


def test_an_unreachable_host_is_infrastructure_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ansible.cfg").write_text(CONFIGS["oneline"], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLCI_ANSIBLE_DIR", str(tmp_path / "playbooks"))
    gone = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1}
    with pytest.raises(InfrastructureError, match=r"^hosts c: .*(refused|port 1)"):
        backend(tmp_path, {"a": {"ansible_connection": "local"}, "c": gone}).deploy(IMAGE, {}, [])
