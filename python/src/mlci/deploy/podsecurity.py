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
# The annotation AppArmor used before the field (still honoured by kubelets): runtime/default or localhost/<profile>.
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
POD_LISTS = ("initContainers", "containers", "ephemeralContainers", "volumes")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HOOKS = ("postStart", "preStop")
CONTAINER_MAPS = ("securityContext", "lifecycle", *PROBES)


def shape_problems(template: Any, where: str) -> list[str]:
    """A pod template whose parts are not the kinds Kubernetes takes (a patch can make
    `containers` a string): reported as such, so that the checks below can read every field."""
    at = where or "spec"
    if not isinstance(template, dict):
        return [f"{at}: expected a mapping (a pod template), got {type(template).__name__}"]
    bad = []
    for key in ("metadata", "spec"):
        if template.get(key) is not None and not isinstance(template[key], dict):
            bad.append(f"{where}.{key}: expected a mapping")
    annotations = (template.get("metadata") or {}).get("annotations") if not bad else None
    if annotations is not None and not isinstance(annotations, dict):
        bad.append(f"{where}.metadata.annotations: expected a mapping")
    pod = template.get("spec") if not bad else None
    if not isinstance(pod, dict):
        return bad
    for key in POD_LISTS:
        items = pod.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            bad.append(f"{where}.spec.{key}: expected a list of mappings, got {_kind(items)}")
            continue
        for item in items if key != "volumes" else ():
            for part in CONTAINER_MAPS:
                if item.get(part) is not None and not isinstance(item[part], dict):
                    bad.append(f"{where}.spec.{key}[{item.get('name', '?')}].{part}: expected a mapping")
            ports = item.get("ports")
            if ports is not None and not (isinstance(ports, list) and all(isinstance(x, dict) for x in ports)):
                bad.append(f"{where}.spec.{key}[{item.get('name', '?')}].ports: expected a list of mappings")
    if (
        isinstance(pod, dict)
        and pod.get("securityContext") is not None
        and not isinstance(pod["securityContext"], dict)
    ):
        bad.append(f"{where}.spec.securityContext: expected a mapping")
    return bad


def _kind(value: Any) -> str:
    return "a list with other items" if isinstance(value, list) else type(value).__name__


def _containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(key) or []:
            out.append((f"{key}[{c.get('name', '?')}]", c))
    return out


def restricted_violations(pod: dict[str, Any], annotations: dict[str, Any] | None = None) -> list[str]:
    """Every rule of the `restricted` profile the pod spec (and its template's annotations)
    breaks, as `field: why`. Any field of an unexpected kind counts as broken."""
    try:
        return _violations(pod, annotations or {})
    except (AttributeError, TypeError, KeyError) as err:
        return [f"spec: a field is not of the kind Kubernetes takes ({type(err).__name__}: {err})"]


def _violations(pod: dict[str, Any], annotations: dict[str, Any]) -> list[str]:
    bad: list[str] = []
    for key, value in annotations.items():
        if str(key).startswith(APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            bad.append(f"metadata.annotations[{key}]: {value!r}; AppArmor must be runtime/default or localhost/*")
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
        bad += _hosts(where, c)
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


def _hosts(where: str, container: dict[str, Any]) -> list[str]:
    """Probe and lifecycle handlers may not name a host: the kubelet would connect anywhere."""
    handlers = [(p, container.get(p)) for p in PROBES]
    handlers += [(f"lifecycle.{h}", (container.get("lifecycle") or {}).get(h)) for h in HOOKS]
    bad = []
    for name, handler in handlers:
        for kind in ("httpGet", "tcpSocket"):
            if ((handler or {}).get(kind) or {}).get("host"):
                bad.append(f"{where}.{name}.{kind}.host: must be unset or empty")
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
