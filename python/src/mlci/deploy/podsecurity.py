"""Pod Security Standards, `restricted` profile (which includes `baseline`), checked on a
rendered pod template before anything reaches a cluster, plus mlci's own rules (read-only root
filesystem, image by digest). The rules and field paths follow
https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version latest).
"""

from __future__ import annotations

import re
from typing import Any

DIGEST_IMAGE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
# baseline: only these capabilities may be added; restricted narrows it to NET_BIND_SERVICE.
RESTRICTED_ADD = {"NET_BIND_SERVICE"}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_OK = {"RuntimeDefault", "Localhost"}
APPARMOR_OK = {"RuntimeDefault", "Localhost"}


def _containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(key) or []:
            out.append((f"{key}[{c.get('name', '?')}]", c))
    return out


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every rule of the `restricted` profile the pod spec breaks, as `field: why`."""
    bad: list[str] = []
    psc = pod.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            bad.append(f"spec.{key}: must be unset or false")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        bad.append("spec.securityContext.windowsOptions.hostProcess: must be unset or false")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if kinds - RESTRICTED_VOLUMES:
            bad.append(f"spec.volumes[{volume.get('name')}]: type {', '.join(sorted(kinds))} is not allowed")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            bad.append(f"spec.securityContext.sysctls: {sysctl.get('name')} is not a safe sysctl")
    bad += _selinux("spec.securityContext", psc)
    if (psc.get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in APPARMOR_OK:
        bad.append("spec.securityContext.appArmorProfile.type: must be RuntimeDefault or Localhost")
    if psc.get("runAsUser") == 0:
        bad.append("spec.securityContext.runAsUser: must not be 0")
    pod_nonroot = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_OK:
        bad.append("spec.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost")
    for where, c in _containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            bad.append(f"{where}.securityContext.privileged: must be unset or false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            bad.append(f"{where}.securityContext.windowsOptions.hostProcess: must be unset or false")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            bad.append(f"{where}.ports: hostPort must be unset or 0")
        if sc.get("procMount", "Default") != "Default":
            bad.append(f"{where}.securityContext.procMount: must be Default")
        bad += _selinux(f"{where}.securityContext", sc)
        if (sc.get("appArmorProfile") or {}).get("type", "RuntimeDefault") not in APPARMOR_OK:
            bad.append(f"{where}.securityContext.appArmorProfile.type: must be RuntimeDefault or Localhost")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{where}.securityContext.allowPrivilegeEscalation: must be false")
        nonroot = sc.get("runAsNonRoot", pod_nonroot)
        if nonroot is not True:
            bad.append(f"{where}.securityContext.runAsNonRoot: must be true (here or on the pod)")
        if sc.get("runAsUser") == 0:
            bad.append(f"{where}.securityContext.runAsUser: must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_OK:
            bad.append(f"{where}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            bad.append(f"{where}.securityContext.capabilities.drop: must include ALL")
        added = set(caps.get("add") or []) - RESTRICTED_ADD
        if added:
            bad.append(f"{where}.securityContext.capabilities.add: {', '.join(sorted(added))} not allowed")
    return bad


def _selinux(where: str, sc: dict[str, Any]) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    bad = []
    if options.get("type", "") not in SELINUX_TYPES:
        bad.append(f"{where}.seLinuxOptions.type: {options['type']} is not allowed")
    for key in ("user", "role"):
        if options.get(key):
            bad.append(f"{where}.seLinuxOptions.{key}: must be unset")
    return bad


def mlci_violations(pod: dict[str, Any]) -> list[str]:
    """mlci's defaults on top of `restricted`: read-only root filesystem, images by digest."""
    bad: list[str] = []
    for where, c in _containers(pod):
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            bad.append(f"{where}.securityContext.readOnlyRootFilesystem: must be true")
        if not DIGEST_IMAGE.match(str(c.get("image", ""))):
            bad.append(f"{where}.image: {c.get('image')!r} is not pinned by digest (repository@sha256:<64 hex>)")
    return bad
