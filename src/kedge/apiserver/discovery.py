"""Discovery documents: /version, /api, /apis, /api/v1, /apis/<group>[/<version>].

kubectl 1.37 asks /api and /apis for aggregated discovery first
(`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`, answered with that same
Content-Type) and falls back to the legacy APIVersions / APIGroupList / APIResourceList documents.
All functions here are pure: they build the documents from a Registry.
"""

import platform
from typing import Any

from kedge.apiserver.errors import ApiError
from kedge.apiserver.registry import SUBRESOURCES, Registry, ResourceInfo

#: The Kubernetes version kedge speaks. kubectl warns when its minor version is more than one away from
#: the server's, so this tracks the kubectl kedge is tested with (1.37).
KUBE_MAJOR = "1"
KUBE_MINOR = "37"
GIT_VERSION = "v%s.%s.0+kedge" % (KUBE_MAJOR, KUBE_MINOR)

#: Content-Type of an aggregated discovery response.
AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i686": "386",
}


def version_info() -> dict[str, str]:
    """The /version document (k8s.io/apimachinery/pkg/version.Info)."""
    machine = platform.machine().lower()
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": str(int(KUBE_MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        # No Go here: report the interpreter in the same slots, so `kubectl version -o yaml` is honest.
        "goVersion": "python%s" % platform.python_version(),
        "compiler": platform.python_implementation().lower(),
        "platform": "%s/%s" % (platform.system().lower(), _GO_ARCH.get(machine, machine)),
    }


def api_versions(server_address: str = "") -> dict[str, Any]:
    """/api: the legacy core group's versions (APIVersions)."""
    addresses = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}] if server_address else []
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": addresses}


def api_group_list(reg: Registry) -> dict[str, Any]:
    """/apis: every named group with its versions (APIGroupList); the core group is not listed."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in reg.groups() if name],
    }


def api_group(reg: Registry, group: str) -> dict[str, Any]:
    """/apis/<group> (APIGroup)."""
    for name, versions in reg.groups():
        if name == group and group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
    raise _not_found()


def api_resource_list(reg: Registry, group: str, version: str) -> dict[str, Any]:
    """/api/v1 and /apis/<group>/<version> (APIResourceList), subresources listed as `pods/status`."""
    infos = _served(reg, group, version)
    resources: list[dict[str, Any]] = []
    for info in infos:
        entry: dict[str, Any] = {
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": list(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        entry["storageVersionHash"] = info.storage_version_hash
        resources.append(entry)
        for name in sorted(info.subresources):
            sub_group, sub_version, sub_kind = info.subresource_kind(name)
            sub: dict[str, Any] = {
                "name": "%s/%s" % (info.plural, name),
                "singularName": "",
                "namespaced": info.namespaced,
            }
            if (sub_group, sub_version) != (info.group, info.version):
                sub["group"] = sub_group
                sub["version"] = sub_version
            sub["kind"] = sub_kind
            sub["verbs"] = list(SUBRESOURCES[name].verbs)
            resources.append(sub)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": infos[0].api_version,
        "resources": resources,
    }


def aggregated(reg: Registry, *, core: bool) -> dict[str, Any]:
    """Aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList): /api when core, else /apis."""
    by_version: dict[tuple[str, str], list[ResourceInfo]] = {}
    for info in reg.resources():
        by_version.setdefault((info.group, info.version), []).append(info)
    items = []
    for group, versions in reg.groups():
        if bool(group) == core:
            continue
        item: dict[str, Any] = {"metadata": {"name": group} if group else {}, "versions": []}
        for version in versions:
            item["versions"].append(
                {
                    "version": version,
                    "resources": [
                        _resource_discovery(info)
                        for info in sorted(by_version[(group, version)], key=lambda i: i.plural)
                    ],
                    "freshness": "Current",
                }
            )
        items.append(item)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _resource_discovery(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = []
        for name in sorted(info.subresources):
            group, version, kind = info.subresource_kind(name)
            entry["subresources"].append(
                {
                    "subresource": name,
                    "responseKind": {"group": group, "version": version, "kind": kind},
                    "verbs": list(SUBRESOURCES[name].verbs),
                }
            )
    return entry


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _served(reg: Registry, group: str, version: str) -> list[ResourceInfo]:
    infos = sorted(
        (i for i in reg.resources() if i.group == group and i.version == version), key=lambda i: i.plural
    )
    if not infos:
        raise _not_found()
    return infos


def _not_found() -> ApiError:
    # kube-apiserver's answer for an unknown path under /api or /apis.
    return ApiError(404, "NotFound", "the server could not find the requested resource")
