"""Patch metadata of the built-in Kubernetes types: how strategic merge patch and server-side apply merge.

Kubernetes keeps this metadata in Go struct tags and OpenAPI extensions of its API types:

- strategic merge patch (SMP) reads ``patchStrategy`` (``merge``, ``replace``, ``retainKeys``) and
  ``patchMergeKey``: lists with the ``merge`` strategy merge element by element (by the merge key, or as a set
  of primitives), other lists are replaced;
- server-side apply (SSA, structured-merge-diff) reads ``+listType`` (``atomic``, ``set``, ``map``),
  ``+listMapKey`` (possibly several keys, with defaults) and ``+mapType``/``+structType=atomic``.

The two disagree on purpose in places (``Container.ports`` merges by ``containerPort`` in SMP but is keyed by
``containerPort`` and ``protocol`` in SSA; ``Pod.status.hostIPs`` merges in SMP but is atomic in SSA), so each
field records both. The table below was transcribed from the Go types of Kubernetes 1.37 (k8s.io/api,
k8s.io/apimachinery meta/v1, k8s.io/apiextensions-apiserver); it lists only the fields whose behaviour
differs from the defaults, and the struct fields leading to them. Everything not listed merges like
JSON: maps recursively (granular), lists replaced (SMP) or atomic (SSA).

Custom resources have no SMP metadata: kube-apiserver refuses strategic merge patch for them with 415, see
`require_strategic_meta`. For SSA their metadata comes from the CRD's structural schema, see
`meta_from_openapi_schema`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kedge.apiserver.errors import ApiError

__all__ = [
    "APPLY_PATCH",
    "CUSTOM_RESOURCE_PATCH_TYPES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "OBJECT_META",
    "PATCH_TYPES",
    "PLAIN",
    "STRATEGIC_MERGE_PATCH",
    "FieldMeta",
    "PatchMeta",
    "field_meta",
    "meta_for",
    "meta_from_openapi_schema",
    "require_strategic_meta",
    "unsupported_patch_type",
]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# The Content-Types kube-apiserver accepts for PATCH, in the order its 415 message lists them.
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_RESOURCE_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """How one field merges.

    strategy: SMP patch strategy without ``retainKeys``: ``"merge"``, ``"replace"`` or ``""`` (the default:
      maps merge, lists are replaced).
    retain_keys: the SMP ``retainKeys`` strategy (kubectl then sends ``$retainKeys``; the server honours the
      directive wherever it appears, this flag documents the field).
    merge_key: SMP ``patchMergeKey`` of a list of maps.
    list_type: SSA list type, ``"atomic"`` (the default), ``"set"`` or ``"map"``.
    list_keys: SSA keys of a ``map`` list; key_defaults: values of keys an element may omit.
    atomic: SSA ``mapType``/``structType=atomic``: the map is replaced and owned as a whole.
    type: metadata of the struct this field holds or, for a list, of each element.
    """

    strategy: str = ""
    retain_keys: bool = False
    merge_key: str = ""
    list_type: str = "atomic"
    list_keys: tuple[str, ...] = ()
    key_defaults: tuple[tuple[str, Any], ...] = ()
    atomic: bool = False
    type: "PatchMeta | None" = None

    @property
    def item(self) -> "FieldMeta":
        """Metadata of each element of this list field."""
        return self.type.as_value if self.type is not None else PLAIN

    def child(self, name: str) -> "FieldMeta":
        """Metadata of the field `name` of the map this field holds."""
        return self.type.field(name) if self.type is not None else PLAIN


PLAIN = FieldMeta()


class PatchMeta:
    """Metadata of one struct type: its fields that do not merge like plain JSON."""

    __slots__ = ("as_value", "atomic", "fields", "name")

    def __init__(self, name: str, fields: Mapping[str, FieldMeta], *, atomic: bool = False) -> None:
        self.name = name
        self.fields = dict(fields)
        self.atomic = atomic
        # The position of a value of this type, e.g. a list element or the object itself.
        self.as_value = FieldMeta(atomic=atomic, type=self)

    def field(self, name: str) -> FieldMeta:
        return self.fields.get(name, PLAIN)

    def __repr__(self) -> str:
        return "PatchMeta(%s)" % self.name


# -- the notation of the table ------------------------------------------------------------------------


def _struct(name: str, *, atomic: bool = False, **fields: FieldMeta) -> PatchMeta:
    return PatchMeta(name, fields, atomic=atomic)


def _nested(meta: PatchMeta) -> FieldMeta:
    """A struct field whose own fields carry metadata."""
    return FieldMeta(type=meta)


def _merge_keyed(
    key: str,
    *,
    ssa_keys: tuple[str, ...] = (),
    item: PatchMeta | None = None,
    defaults: Mapping[str, Any] | None = None,
    retain_keys: bool = False,
) -> FieldMeta:
    """A list of maps merged by `key` in SMP and keyed by `ssa_keys` (default: `key`) in SSA."""
    return FieldMeta(
        strategy="merge",
        retain_keys=retain_keys,
        merge_key=key,
        list_type="map",
        list_keys=ssa_keys or (key,),
        key_defaults=tuple((defaults or {}).items()),
        type=item,
    )


def _merge_keyed_atomic(key: str) -> FieldMeta:
    """Merged by `key` in SMP but atomic in SSA."""
    return FieldMeta(strategy="merge", merge_key=key)


def _keyed(*keys: str, item: PatchMeta | None = None) -> FieldMeta:
    """Keyed in SSA only; SMP replaces it."""
    return FieldMeta(list_type="map", list_keys=keys, type=item)


def _merge_set() -> FieldMeta:
    """A list of primitives: a union in SMP, a set in SSA."""
    return FieldMeta(strategy="merge", list_type="set")


def _set() -> FieldMeta:
    """A set in SSA only; SMP replaces it."""
    return FieldMeta(list_type="set")


def _atomic(strategy: str = "") -> FieldMeta:
    return FieldMeta(strategy=strategy, atomic=True)


_ATOMIC = _atomic()

# -- the table ----------------------------------------------------------------------------------------

_OWNER_REFERENCE = _struct("OwnerReference", atomic=True)
_OBJECT_META = _struct(
    "ObjectMeta", ownerReferences=_merge_keyed("uid", item=_OWNER_REFERENCE), finalizers=_merge_set()
)
_RBD_PERSISTENT_VOLUME_SOURCE = _struct("RBDPersistentVolumeSource", secretRef=_ATOMIC)
_ISCSI_PERSISTENT_VOLUME_SOURCE = _struct("ISCSIPersistentVolumeSource", secretRef=_ATOMIC)
_CINDER_PERSISTENT_VOLUME_SOURCE = _struct("CinderPersistentVolumeSource", secretRef=_ATOMIC)
_CEPH_FS_PERSISTENT_VOLUME_SOURCE = _struct("CephFSPersistentVolumeSource", secretRef=_ATOMIC)
_FLEX_PERSISTENT_VOLUME_SOURCE = _struct("FlexPersistentVolumeSource", secretRef=_ATOMIC)
_SCALE_IO_PERSISTENT_VOLUME_SOURCE = _struct("ScaleIOPersistentVolumeSource", secretRef=_ATOMIC)
_STORAGE_OS_PERSISTENT_VOLUME_SOURCE = _struct("StorageOSPersistentVolumeSource", secretRef=_ATOMIC)
_CSI_PERSISTENT_VOLUME_SOURCE = _struct(
    "CSIPersistentVolumeSource",
    controllerPublishSecretRef=_ATOMIC,
    nodeStageSecretRef=_ATOMIC,
    nodePublishSecretRef=_ATOMIC,
    controllerExpandSecretRef=_ATOMIC,
    nodeExpandSecretRef=_ATOMIC,
)
_VOLUME_NODE_AFFINITY = _struct("VolumeNodeAffinity", required=_ATOMIC)
_PERSISTENT_VOLUME_SPEC = _struct(
    "PersistentVolumeSpec",
    rbd=_nested(_RBD_PERSISTENT_VOLUME_SOURCE),
    iscsi=_nested(_ISCSI_PERSISTENT_VOLUME_SOURCE),
    cinder=_nested(_CINDER_PERSISTENT_VOLUME_SOURCE),
    cephfs=_nested(_CEPH_FS_PERSISTENT_VOLUME_SOURCE),
    flexVolume=_nested(_FLEX_PERSISTENT_VOLUME_SOURCE),
    scaleIO=_nested(_SCALE_IO_PERSISTENT_VOLUME_SOURCE),
    storageos=_nested(_STORAGE_OS_PERSISTENT_VOLUME_SOURCE),
    csi=_nested(_CSI_PERSISTENT_VOLUME_SOURCE),
    claimRef=_ATOMIC,
    nodeAffinity=_nested(_VOLUME_NODE_AFFINITY),
)
_PERSISTENT_VOLUME = _struct(
    "PersistentVolume", metadata=_nested(_OBJECT_META), spec=_nested(_PERSISTENT_VOLUME_SPEC)
)
_PERSISTENT_VOLUME_CLAIM_SPEC = _struct("PersistentVolumeClaimSpec", selector=_ATOMIC, dataSource=_ATOMIC)
_VOLUME_HEALTH_STATUS = _struct(
    "VolumeHealthStatus", healthConditions=_merge_keyed("status", ssa_keys=("status", "reason"))
)
_PERSISTENT_VOLUME_CLAIM_STATUS = _struct(
    "PersistentVolumeClaimStatus",
    conditions=_merge_keyed("type"),
    healthStatus=_nested(_VOLUME_HEALTH_STATUS),
)
_PERSISTENT_VOLUME_CLAIM = _struct(
    "PersistentVolumeClaim",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_PERSISTENT_VOLUME_CLAIM_SPEC),
    status=_nested(_PERSISTENT_VOLUME_CLAIM_STATUS),
)
_ISCSI_VOLUME_SOURCE = _struct("ISCSIVolumeSource", secretRef=_ATOMIC)
_RBD_VOLUME_SOURCE = _struct("RBDVolumeSource", secretRef=_ATOMIC)
_FLEX_VOLUME_SOURCE = _struct("FlexVolumeSource", secretRef=_ATOMIC)
_CINDER_VOLUME_SOURCE = _struct("CinderVolumeSource", secretRef=_ATOMIC)
_CEPH_FS_VOLUME_SOURCE = _struct("CephFSVolumeSource", secretRef=_ATOMIC)
_SCALE_IO_VOLUME_SOURCE = _struct("ScaleIOVolumeSource", secretRef=_ATOMIC)
_STORAGE_OS_VOLUME_SOURCE = _struct("StorageOSVolumeSource", secretRef=_ATOMIC)
_CSI_VOLUME_SOURCE = _struct("CSIVolumeSource", nodePublishSecretRef=_ATOMIC)
_PERSISTENT_VOLUME_CLAIM_TEMPLATE = _struct(
    "PersistentVolumeClaimTemplate",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_PERSISTENT_VOLUME_CLAIM_SPEC),
)
_EPHEMERAL_VOLUME_SOURCE = _struct(
    "EphemeralVolumeSource", volumeClaimTemplate=_nested(_PERSISTENT_VOLUME_CLAIM_TEMPLATE)
)
_VOLUME = _struct(
    "Volume",
    iscsi=_nested(_ISCSI_VOLUME_SOURCE),
    rbd=_nested(_RBD_VOLUME_SOURCE),
    flexVolume=_nested(_FLEX_VOLUME_SOURCE),
    cinder=_nested(_CINDER_VOLUME_SOURCE),
    cephfs=_nested(_CEPH_FS_VOLUME_SOURCE),
    scaleIO=_nested(_SCALE_IO_VOLUME_SOURCE),
    storageos=_nested(_STORAGE_OS_VOLUME_SOURCE),
    csi=_nested(_CSI_VOLUME_SOURCE),
    ephemeral=_nested(_EPHEMERAL_VOLUME_SOURCE),
)
_ENV_VAR_SOURCE = _struct(
    "EnvVarSource",
    fieldRef=_ATOMIC,
    resourceFieldRef=_ATOMIC,
    configMapKeyRef=_ATOMIC,
    secretKeyRef=_ATOMIC,
    fileKeyRef=_ATOMIC,
)
_ENV_VAR = _struct("EnvVar", valueFrom=_nested(_ENV_VAR_SOURCE))
_RESOURCE_REQUIREMENTS = _struct("ResourceRequirements", claims=_keyed("name"))
_VOLUME_MOUNT = _struct("VolumeMount", bindMountOptions=_set())
_CONTAINER = _struct(
    "Container",
    ports=_merge_keyed("containerPort", ssa_keys=("containerPort", "protocol"), defaults={"protocol": "TCP"}),
    env=_merge_keyed("name", item=_ENV_VAR),
    resources=_nested(_RESOURCE_REQUIREMENTS),
    volumeMounts=_merge_keyed("mountPath", item=_VOLUME_MOUNT),
    volumeDevices=_merge_keyed("devicePath"),
)
_EPHEMERAL_CONTAINER = _struct(
    "EphemeralContainer",
    ports=_merge_keyed("containerPort", ssa_keys=("containerPort", "protocol"), defaults={"protocol": "TCP"}),
    env=_merge_keyed("name", item=_ENV_VAR),
    resources=_nested(_RESOURCE_REQUIREMENTS),
    volumeMounts=_merge_keyed("mountPath", item=_VOLUME_MOUNT),
    volumeDevices=_merge_keyed("devicePath"),
)
_LOCAL_OBJECT_REFERENCE = _struct("LocalObjectReference", atomic=True)
_NODE_AFFINITY = _struct("NodeAffinity", requiredDuringSchedulingIgnoredDuringExecution=_ATOMIC)
_AFFINITY = _struct("Affinity", nodeAffinity=_nested(_NODE_AFFINITY))
_TOPOLOGY_SPREAD_CONSTRAINT = _struct("TopologySpreadConstraint", labelSelector=_ATOMIC)
_EVICTION_RESPONDER = _struct("EvictionResponder", atomic=True)
_POD_SPEC = _struct(
    "PodSpec",
    volumes=_merge_keyed("name", item=_VOLUME, retain_keys=True),
    initContainers=_merge_keyed("name", item=_CONTAINER),
    containers=_merge_keyed("name", item=_CONTAINER),
    ephemeralContainers=_merge_keyed("name", item=_EPHEMERAL_CONTAINER),
    nodeSelector=_ATOMIC,
    imagePullSecrets=_merge_keyed("name", item=_LOCAL_OBJECT_REFERENCE, defaults={"name": ""}),
    affinity=_nested(_AFFINITY),
    hostAliases=_merge_keyed("ip"),
    topologySpreadConstraints=_merge_keyed(
        "topologyKey", ssa_keys=("topologyKey", "whenUnsatisfiable"), item=_TOPOLOGY_SPREAD_CONSTRAINT
    ),
    schedulingGates=_merge_keyed("name"),
    resourceClaims=_merge_keyed("name", retain_keys=True),
    resources=_nested(_RESOURCE_REQUIREMENTS),
    evictionResponders=_merge_keyed("name", item=_EVICTION_RESPONDER),
)
_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS = _struct(
    "NodeAllocatableResourceClaimStatus",
    containers=_set(),
    mapping=_merge_keyed("name"),
    overhead=_merge_keyed("name"),
)
_POD_VOLUME_HEALTH = _struct(
    "PodVolumeHealth", healthConditions=_merge_keyed("status", ssa_keys=("status", "reason"))
)
_POD_STATUS = _struct(
    "PodStatus",
    conditions=_merge_keyed("type"),
    hostIPs=_merge_keyed_atomic("ip"),
    podIPs=_merge_keyed("ip"),
    resourceClaimStatuses=_merge_keyed("name", retain_keys=True),
    resources=_nested(_RESOURCE_REQUIREMENTS),
    nodeAllocatableResourceClaimStatuses=_merge_keyed(
        "resourceClaimName", item=_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS
    ),
    volumeHealth=_keyed("name", item=_POD_VOLUME_HEALTH),
)
_POD = _struct("Pod", metadata=_nested(_OBJECT_META), spec=_nested(_POD_SPEC), status=_nested(_POD_STATUS))
_POD_TEMPLATE_SPEC = _struct("PodTemplateSpec", metadata=_nested(_OBJECT_META), spec=_nested(_POD_SPEC))
_POD_TEMPLATE = _struct("PodTemplate", metadata=_nested(_OBJECT_META), template=_nested(_POD_TEMPLATE_SPEC))
_REPLICATION_CONTROLLER_SPEC = _struct(
    "ReplicationControllerSpec", selector=_ATOMIC, template=_nested(_POD_TEMPLATE_SPEC)
)
_REPLICATION_CONTROLLER_STATUS = _struct("ReplicationControllerStatus", conditions=_merge_keyed("type"))
_REPLICATION_CONTROLLER = _struct(
    "ReplicationController",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_REPLICATION_CONTROLLER_SPEC),
    status=_nested(_REPLICATION_CONTROLLER_STATUS),
)
_SERVICE_SPEC = _struct(
    "ServiceSpec",
    ports=_merge_keyed("port", ssa_keys=("port", "protocol"), defaults={"protocol": "TCP"}),
    selector=_ATOMIC,
)
_SERVICE_STATUS = _struct("ServiceStatus", conditions=_merge_keyed("type"))
_SERVICE = _struct(
    "Service", metadata=_nested(_OBJECT_META), spec=_nested(_SERVICE_SPEC), status=_nested(_SERVICE_STATUS)
)
_OBJECT_REFERENCE = _struct("ObjectReference", atomic=True)
_SERVICE_ACCOUNT = _struct(
    "ServiceAccount", metadata=_nested(_OBJECT_META), secrets=_merge_keyed("name", item=_OBJECT_REFERENCE)
)
_ENDPOINTS = _struct("Endpoints", metadata=_nested(_OBJECT_META))
_NODE_POD_PREEMPTION_POLICY = _struct("NodePodPreemptionPolicy", disableResizePreemption=_set())
_NODE_SPEC = _struct(
    "NodeSpec", podCIDRs=_merge_set(), podPreemptionPolicy=_nested(_NODE_POD_PREEMPTION_POLICY)
)
_NODE_STATUS = _struct("NodeStatus", conditions=_merge_keyed("type"), addresses=_merge_keyed("type"))
_NODE = _struct(
    "Node", metadata=_nested(_OBJECT_META), spec=_nested(_NODE_SPEC), status=_nested(_NODE_STATUS)
)
_NAMESPACE_STATUS = _struct("NamespaceStatus", conditions=_merge_keyed("type"))
_NAMESPACE = _struct("Namespace", metadata=_nested(_OBJECT_META), status=_nested(_NAMESPACE_STATUS))
_BINDING = _struct("Binding", metadata=_nested(_OBJECT_META), target=_ATOMIC)
_CORE_EVENT = _struct("Event", metadata=_nested(_OBJECT_META), involvedObject=_ATOMIC, related=_ATOMIC)
_LIMIT_RANGE = _struct("LimitRange", metadata=_nested(_OBJECT_META))
_RESOURCE_QUOTA_SPEC = _struct("ResourceQuotaSpec", scopeSelector=_ATOMIC)
_RESOURCE_QUOTA = _struct("ResourceQuota", metadata=_nested(_OBJECT_META), spec=_nested(_RESOURCE_QUOTA_SPEC))
_SECRET = _struct("Secret", metadata=_nested(_OBJECT_META))
_CONFIG_MAP = _struct("ConfigMap", metadata=_nested(_OBJECT_META))
_COMPONENT_STATUS = _struct(
    "ComponentStatus", metadata=_nested(_OBJECT_META), conditions=_merge_keyed("type")
)
_RANGE_ALLOCATION = _struct("RangeAllocation", metadata=_nested(_OBJECT_META))
_STATEFUL_SET_SPEC = _struct("StatefulSetSpec", selector=_ATOMIC, template=_nested(_POD_TEMPLATE_SPEC))
_STATEFUL_SET_STATUS = _struct("StatefulSetStatus", conditions=_merge_keyed("type"))
_STATEFUL_SET = _struct(
    "StatefulSet",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_STATEFUL_SET_SPEC),
    status=_nested(_STATEFUL_SET_STATUS),
)
_DEPLOYMENT_SPEC = _struct(
    "DeploymentSpec",
    selector=_ATOMIC,
    template=_nested(_POD_TEMPLATE_SPEC),
    strategy=FieldMeta(retain_keys=True),
)
_DEPLOYMENT_STATUS = _struct("DeploymentStatus", conditions=_merge_keyed("type"))
_DEPLOYMENT = _struct(
    "Deployment",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_DEPLOYMENT_SPEC),
    status=_nested(_DEPLOYMENT_STATUS),
)
_DAEMON_SET_SPEC = _struct("DaemonSetSpec", selector=_ATOMIC, template=_nested(_POD_TEMPLATE_SPEC))
_DAEMON_SET_STATUS = _struct("DaemonSetStatus", conditions=_merge_keyed("type"))
_DAEMON_SET = _struct(
    "DaemonSet",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_DAEMON_SET_SPEC),
    status=_nested(_DAEMON_SET_STATUS),
)
_REPLICA_SET_SPEC = _struct("ReplicaSetSpec", selector=_ATOMIC, template=_nested(_POD_TEMPLATE_SPEC))
_REPLICA_SET_STATUS = _struct("ReplicaSetStatus", conditions=_merge_keyed("type"))
_REPLICA_SET = _struct(
    "ReplicaSet",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_REPLICA_SET_SPEC),
    status=_nested(_REPLICA_SET_STATUS),
)
_CONTROLLER_REVISION = _struct("ControllerRevision", metadata=_nested(_OBJECT_META))
_JOB_SCHEDULING_CONFIGURATION = _struct("JobSchedulingConfiguration", resourceClaims=_merge_keyed("name"))
_JOB_SPEC = _struct(
    "JobSpec",
    selector=_ATOMIC,
    template=_nested(_POD_TEMPLATE_SPEC),
    scheduling=_nested(_JOB_SCHEDULING_CONFIGURATION),
)
_UNCOUNTED_TERMINATED_PODS = _struct("UncountedTerminatedPods", succeeded=_set(), failed=_set())
_JOB_STATUS = _struct(
    "JobStatus",
    conditions=_merge_keyed_atomic("type"),
    uncountedTerminatedPods=_nested(_UNCOUNTED_TERMINATED_PODS),
)
_JOB = _struct("Job", metadata=_nested(_OBJECT_META), spec=_nested(_JOB_SPEC), status=_nested(_JOB_STATUS))
_JOB_TEMPLATE_SPEC = _struct("JobTemplateSpec", metadata=_nested(_OBJECT_META), spec=_nested(_JOB_SPEC))
_CRON_JOB_SPEC = _struct("CronJobSpec", jobTemplate=_nested(_JOB_TEMPLATE_SPEC))
_CRON_JOB = _struct("CronJob", metadata=_nested(_OBJECT_META), spec=_nested(_CRON_JOB_SPEC))
_LEASE = _struct("Lease", metadata=_nested(_OBJECT_META))
_ENDPOINT_SLICE = _struct("EndpointSlice", metadata=_nested(_OBJECT_META))
_NETWORK_POLICY_SPEC = _struct("NetworkPolicySpec", podSelector=_ATOMIC)
_NETWORK_POLICY = _struct("NetworkPolicy", metadata=_nested(_OBJECT_META), spec=_nested(_NETWORK_POLICY_SPEC))
_INGRESS_SERVICE_BACKEND = _struct("IngressServiceBackend", port=_ATOMIC)
_INGRESS_BACKEND = _struct("IngressBackend", service=_nested(_INGRESS_SERVICE_BACKEND), resource=_ATOMIC)
_INGRESS_SPEC = _struct("IngressSpec", defaultBackend=_nested(_INGRESS_BACKEND))
_INGRESS = _struct("Ingress", metadata=_nested(_OBJECT_META), spec=_nested(_INGRESS_SPEC))
_INGRESS_CLASS = _struct("IngressClass", metadata=_nested(_OBJECT_META))
_IP_ADDRESS = _struct("IPAddress", metadata=_nested(_OBJECT_META))
_SERVICE_CIDR_STATUS = _struct("ServiceCIDRStatus", conditions=_merge_keyed("type"))
_SERVICE_CIDR = _struct("ServiceCIDR", metadata=_nested(_OBJECT_META), status=_nested(_SERVICE_CIDR_STATUS))
_POD_DISRUPTION_BUDGET_SPEC = _struct("PodDisruptionBudgetSpec", selector=_atomic(strategy="replace"))
_POD_DISRUPTION_BUDGET_STATUS = _struct("PodDisruptionBudgetStatus", conditions=_merge_keyed("type"))
_POD_DISRUPTION_BUDGET = _struct(
    "PodDisruptionBudget",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_POD_DISRUPTION_BUDGET_SPEC),
    status=_nested(_POD_DISRUPTION_BUDGET_STATUS),
)
_EVICTION = _struct("Eviction", metadata=_nested(_OBJECT_META))
_ROLE = _struct("Role", metadata=_nested(_OBJECT_META))
_ROLE_BINDING = _struct("RoleBinding", metadata=_nested(_OBJECT_META), roleRef=_ATOMIC)
_CLUSTER_ROLE = _struct("ClusterRole", metadata=_nested(_OBJECT_META))
_CLUSTER_ROLE_BINDING = _struct("ClusterRoleBinding", metadata=_nested(_OBJECT_META), roleRef=_ATOMIC)
_PRIORITY_CLASS = _struct("PriorityClass", metadata=_nested(_OBJECT_META))
_STORAGE_CLASS = _struct("StorageClass", metadata=_nested(_OBJECT_META))
_VOLUME_ATTACHMENT_SOURCE = _struct(
    "VolumeAttachmentSource", inlineVolumeSpec=_nested(_PERSISTENT_VOLUME_SPEC)
)
_VOLUME_ATTACHMENT_SPEC = _struct("VolumeAttachmentSpec", source=_nested(_VOLUME_ATTACHMENT_SOURCE))
_VOLUME_ATTACHMENT = _struct(
    "VolumeAttachment", metadata=_nested(_OBJECT_META), spec=_nested(_VOLUME_ATTACHMENT_SPEC)
)
_CSI_DRIVER_SPEC = _struct("CSIDriverSpec", volumeLifecycleModes=_set())
_CSI_DRIVER = _struct("CSIDriver", metadata=_nested(_OBJECT_META), spec=_nested(_CSI_DRIVER_SPEC))
_CSI_NODE_SPEC = _struct("CSINodeSpec", drivers=_merge_keyed("name"))
_CSI_NODE_STATUS = _struct("CSINodeStatus", storageHealth=_merge_keyed("name"))
_CSI_NODE = _struct(
    "CSINode", metadata=_nested(_OBJECT_META), spec=_nested(_CSI_NODE_SPEC), status=_nested(_CSI_NODE_STATUS)
)
_CSI_STORAGE_CAPACITY = _struct("CSIStorageCapacity", metadata=_nested(_OBJECT_META), nodeTopology=_ATOMIC)
_VOLUME_ATTRIBUTES_CLASS = _struct("VolumeAttributesClass", metadata=_nested(_OBJECT_META))
_EVENTS_EVENT = _struct("Event", metadata=_nested(_OBJECT_META), regarding=_ATOMIC, related=_ATOMIC)
_HORIZONTAL_POD_AUTOSCALER_STATUS = _struct("HorizontalPodAutoscalerStatus", conditions=_merge_keyed("type"))
_HORIZONTAL_POD_AUTOSCALER = _struct(
    "HorizontalPodAutoscaler",
    metadata=_nested(_OBJECT_META),
    status=_nested(_HORIZONTAL_POD_AUTOSCALER_STATUS),
)
_CERTIFICATE_SIGNING_REQUEST_STATUS = _struct("CertificateSigningRequestStatus", conditions=_keyed("type"))
_CERTIFICATE_SIGNING_REQUEST = _struct(
    "CertificateSigningRequest",
    metadata=_nested(_OBJECT_META),
    status=_nested(_CERTIFICATE_SIGNING_REQUEST_STATUS),
)
_CLUSTER_TRUST_BUNDLE = _struct("ClusterTrustBundle", metadata=_nested(_OBJECT_META))
_POD_CERTIFICATE_REQUEST_STATUS = _struct("PodCertificateRequestStatus", conditions=_merge_keyed("type"))
_POD_CERTIFICATE_REQUEST = _struct(
    "PodCertificateRequest", metadata=_nested(_OBJECT_META), status=_nested(_POD_CERTIFICATE_REQUEST_STATUS)
)
_VARIABLE = _struct("Variable", atomic=True)
_VALIDATING_ADMISSION_POLICY_SPEC = _struct(
    "ValidatingAdmissionPolicySpec",
    paramKind=_ATOMIC,
    matchConstraints=_ATOMIC,
    matchConditions=_merge_keyed("name"),
    variables=_merge_keyed("name", item=_VARIABLE),
)
_VALIDATING_ADMISSION_POLICY_STATUS = _struct("ValidatingAdmissionPolicyStatus", conditions=_keyed("type"))
_VALIDATING_ADMISSION_POLICY = _struct(
    "ValidatingAdmissionPolicy",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_VALIDATING_ADMISSION_POLICY_SPEC),
    status=_nested(_VALIDATING_ADMISSION_POLICY_STATUS),
)
_VALIDATING_ADMISSION_POLICY_BINDING_SPEC = _struct(
    "ValidatingAdmissionPolicyBindingSpec", paramRef=_ATOMIC, matchResources=_ATOMIC, validationActions=_set()
)
_VALIDATING_ADMISSION_POLICY_BINDING = _struct(
    "ValidatingAdmissionPolicyBinding",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_VALIDATING_ADMISSION_POLICY_BINDING_SPEC),
)
_VALIDATING_WEBHOOK = _struct(
    "ValidatingWebhook",
    namespaceSelector=_ATOMIC,
    objectSelector=_ATOMIC,
    matchConditions=_merge_keyed("name"),
)
_VALIDATING_WEBHOOK_CONFIGURATION = _struct(
    "ValidatingWebhookConfiguration",
    metadata=_nested(_OBJECT_META),
    webhooks=_merge_keyed("name", item=_VALIDATING_WEBHOOK),
)
_MUTATING_WEBHOOK = _struct(
    "MutatingWebhook", namespaceSelector=_ATOMIC, objectSelector=_ATOMIC, matchConditions=_merge_keyed("name")
)
_MUTATING_WEBHOOK_CONFIGURATION = _struct(
    "MutatingWebhookConfiguration",
    metadata=_nested(_OBJECT_META),
    webhooks=_merge_keyed("name", item=_MUTATING_WEBHOOK),
)
_MUTATING_ADMISSION_POLICY_SPEC = _struct(
    "MutatingAdmissionPolicySpec",
    paramKind=_ATOMIC,
    matchConstraints=_ATOMIC,
    matchConditions=_merge_keyed("name"),
)
_MUTATING_ADMISSION_POLICY = _struct(
    "MutatingAdmissionPolicy", metadata=_nested(_OBJECT_META), spec=_nested(_MUTATING_ADMISSION_POLICY_SPEC)
)
_MUTATING_ADMISSION_POLICY_BINDING_SPEC = _struct(
    "MutatingAdmissionPolicyBindingSpec", paramRef=_ATOMIC, matchResources=_ATOMIC
)
_MUTATING_ADMISSION_POLICY_BINDING = _struct(
    "MutatingAdmissionPolicyBinding",
    metadata=_nested(_OBJECT_META),
    spec=_nested(_MUTATING_ADMISSION_POLICY_BINDING_SPEC),
)
_SCHEDULING = _struct("Scheduling", nodeSelector=_ATOMIC)
_RUNTIME_CLASS = _struct("RuntimeClass", metadata=_nested(_OBJECT_META), scheduling=_nested(_SCHEDULING))
_FLOW_SCHEMA_STATUS = _struct("FlowSchemaStatus", conditions=_merge_keyed("type"))
_FLOW_SCHEMA = _struct("FlowSchema", metadata=_nested(_OBJECT_META), status=_nested(_FLOW_SCHEMA_STATUS))
_PRIORITY_LEVEL_CONFIGURATION_STATUS = _struct(
    "PriorityLevelConfigurationStatus", conditions=_merge_keyed("type")
)
_PRIORITY_LEVEL_CONFIGURATION = _struct(
    "PriorityLevelConfiguration",
    metadata=_nested(_OBJECT_META),
    status=_nested(_PRIORITY_LEVEL_CONFIGURATION_STATUS),
)
_CUSTOM_RESOURCE_DEFINITION_STATUS = _struct("CustomResourceDefinitionStatus", conditions=_keyed("type"))
_CUSTOM_RESOURCE_DEFINITION = _struct(
    "CustomResourceDefinition",
    metadata=_nested(_OBJECT_META),
    status=_nested(_CUSTOM_RESOURCE_DEFINITION_STATUS),
)

_KINDS = {
    ("", "PersistentVolume"): _PERSISTENT_VOLUME,
    ("", "PersistentVolumeClaim"): _PERSISTENT_VOLUME_CLAIM,
    ("", "Pod"): _POD,
    ("", "PodTemplate"): _POD_TEMPLATE,
    ("", "ReplicationController"): _REPLICATION_CONTROLLER,
    ("", "Service"): _SERVICE,
    ("", "ServiceAccount"): _SERVICE_ACCOUNT,
    ("", "Endpoints"): _ENDPOINTS,
    ("", "Node"): _NODE,
    ("", "Namespace"): _NAMESPACE,
    ("", "Binding"): _BINDING,
    ("", "Event"): _CORE_EVENT,
    ("", "LimitRange"): _LIMIT_RANGE,
    ("", "ResourceQuota"): _RESOURCE_QUOTA,
    ("", "Secret"): _SECRET,
    ("", "ConfigMap"): _CONFIG_MAP,
    ("", "ComponentStatus"): _COMPONENT_STATUS,
    ("", "RangeAllocation"): _RANGE_ALLOCATION,
    ("apps", "StatefulSet"): _STATEFUL_SET,
    ("apps", "Deployment"): _DEPLOYMENT,
    ("apps", "DaemonSet"): _DAEMON_SET,
    ("apps", "ReplicaSet"): _REPLICA_SET,
    ("apps", "ControllerRevision"): _CONTROLLER_REVISION,
    ("batch", "Job"): _JOB,
    ("batch", "CronJob"): _CRON_JOB,
    ("coordination.k8s.io", "Lease"): _LEASE,
    ("discovery.k8s.io", "EndpointSlice"): _ENDPOINT_SLICE,
    ("networking.k8s.io", "NetworkPolicy"): _NETWORK_POLICY,
    ("networking.k8s.io", "Ingress"): _INGRESS,
    ("networking.k8s.io", "IngressClass"): _INGRESS_CLASS,
    ("networking.k8s.io", "IPAddress"): _IP_ADDRESS,
    ("networking.k8s.io", "ServiceCIDR"): _SERVICE_CIDR,
    ("policy", "PodDisruptionBudget"): _POD_DISRUPTION_BUDGET,
    ("policy", "Eviction"): _EVICTION,
    ("rbac.authorization.k8s.io", "Role"): _ROLE,
    ("rbac.authorization.k8s.io", "RoleBinding"): _ROLE_BINDING,
    ("rbac.authorization.k8s.io", "ClusterRole"): _CLUSTER_ROLE,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _CLUSTER_ROLE_BINDING,
    ("scheduling.k8s.io", "PriorityClass"): _PRIORITY_CLASS,
    ("storage.k8s.io", "StorageClass"): _STORAGE_CLASS,
    ("storage.k8s.io", "VolumeAttachment"): _VOLUME_ATTACHMENT,
    ("storage.k8s.io", "CSIDriver"): _CSI_DRIVER,
    ("storage.k8s.io", "CSINode"): _CSI_NODE,
    ("storage.k8s.io", "CSIStorageCapacity"): _CSI_STORAGE_CAPACITY,
    ("storage.k8s.io", "VolumeAttributesClass"): _VOLUME_ATTRIBUTES_CLASS,
    ("events.k8s.io", "Event"): _EVENTS_EVENT,
    ("autoscaling", "HorizontalPodAutoscaler"): _HORIZONTAL_POD_AUTOSCALER,
    ("certificates.k8s.io", "CertificateSigningRequest"): _CERTIFICATE_SIGNING_REQUEST,
    ("certificates.k8s.io", "ClusterTrustBundle"): _CLUSTER_TRUST_BUNDLE,
    ("certificates.k8s.io", "PodCertificateRequest"): _POD_CERTIFICATE_REQUEST,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): _VALIDATING_ADMISSION_POLICY,
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ): _VALIDATING_ADMISSION_POLICY_BINDING,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _VALIDATING_WEBHOOK_CONFIGURATION,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _MUTATING_WEBHOOK_CONFIGURATION,
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"): _MUTATING_ADMISSION_POLICY,
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"): _MUTATING_ADMISSION_POLICY_BINDING,
    ("node.k8s.io", "RuntimeClass"): _RUNTIME_CLASS,
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): _FLOW_SCHEMA,
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): _PRIORITY_LEVEL_CONFIGURATION,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _CUSTOM_RESOURCE_DEFINITION,
}

# Objects whose type has no metadata of its own (custom resources): only their ObjectMeta is known.
OBJECT_META = _struct("Object", metadata=_nested(_OBJECT_META))


def meta_for(group: str, kind: str) -> PatchMeta | None:
    """Patch metadata of a built-in kind, or None for kinds kube-apiserver does not build in (custom
    resources)."""
    return _KINDS.get((group, kind))


def field_meta(meta: PatchMeta, path: str) -> FieldMeta:
    """The metadata at a dotted field path through maps and lists, e.g. ``spec.template.spec.containers.env``
    (list elements are passed through: ``containers.env`` is the ``env`` of each container)."""
    current = meta.as_value
    for name in path.split("."):
        current = current.child(name)
    return current


def unsupported_patch_type(accepted: tuple[str, ...]) -> ApiError:
    """The 415 kube-apiserver answers to a PATCH whose Content-Type the resource does not accept."""
    return ApiError.unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: %s"
        % ", ".join(accepted)
    )


def require_strategic_meta(group: str, kind: str) -> PatchMeta:
    """Metadata for a strategic merge patch; custom resources have none, and kube-apiserver does not even
    route the Content-Type for them: 415 listing the patch types custom resources accept."""
    meta = meta_for(group, kind)
    if meta is None:
        raise unsupported_patch_type(CUSTOM_RESOURCE_PATCH_TYPES)
    return meta


# -- custom resources ---------------------------------------------------------------------------------


def meta_from_openapi_schema(schema: Mapping[str, Any], name: str = "Object") -> PatchMeta:
    """SSA metadata from a CRD's structural OpenAPI v3 schema (``x-kubernetes-list-type``,
    ``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``, key defaults). ``metadata`` is ObjectMeta
    whatever the schema says, as in Kubernetes."""
    meta = _schema_struct(schema, name)
    fields = dict(meta.fields)
    fields["metadata"] = _nested(_OBJECT_META)
    return PatchMeta(name, fields, atomic=False)


def _schema_struct(schema: Mapping[str, Any], name: str) -> PatchMeta:
    fields: dict[str, FieldMeta] = {}
    for prop, sub in (schema.get("properties") or {}).items():
        fm = _schema_field(sub, "%s.%s" % (name, prop))
        if fm != PLAIN:
            fields[prop] = fm
    return PatchMeta(name, fields, atomic=schema.get("x-kubernetes-map-type") == "atomic")


def _schema_field(schema: Mapping[str, Any], name: str) -> FieldMeta:
    if schema.get("type") == "array":
        items = schema.get("items") or {}
        list_type = schema.get("x-kubernetes-list-type", "atomic")
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ()) if list_type == "map" else ()
        props = items.get("properties") or {}
        defaults = tuple((k, props[k]["default"]) for k in keys if "default" in props.get(k, {}))
        item = _schema_struct(items, name) if items.get("type") == "object" else None
        if item is not None and not item.fields and not item.atomic:
            item = None
        return FieldMeta(list_type=list_type, list_keys=keys, key_defaults=defaults, type=item)
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("x-kubernetes-map-type") == "atomic":
            return _ATOMIC
        values = schema.get("additionalProperties")
        # map[string]T: the metadata of T applies to every key, which PatchMeta cannot say; such maps
        # merge as plain granular maps.
        if isinstance(values, Mapping) and "properties" not in schema:
            return PLAIN
        sub = _schema_struct(schema, name)
        return _nested(sub) if sub.fields else PLAIN
    return PLAIN
