"""Field tables of the Kubernetes protobuf messages that kedge decodes (read by `protobuf.py`).

Facts from k8s.io/api `<group>/<version>/generated.proto` and k8s.io/apimachinery
`pkg/apis/meta/v1/generated.proto` (their main branches of July 2026, which hold every field of
Kubernetes 1.37, numbers never change): field numbers and types from the .proto files; JSON names and
zero-value rules from the Go struct tags in `types.go`, because the wanted output is what Go's
encoding/json writes for the decoded object. Proto and JSON names differ in two fields
(IngressClassParametersReference 1 `aPIGroup`/`apiGroup`, BoundObjectReference 4 `uID`/`uid`); the tables
hold the JSON name.

Covered: every kind of the GA group versions in API_VERSIONS with all the messages they reach, plus
meta/v1 DeleteOptions, which clients send in any group version. A field that a newer Kubernetes adds is
missing until it is added here; the decoder rejects it by number rather than dropping it.

Grammar: `package <p>` starts a section, then one entry per message (continuation lines indented):
    <Message>: <number> <jsonName> <type><flags>, ...
type:  bool int32 int64 string bytes -- scalars
       time microtime quantity intorstring fieldsv1 rawextension strings -- messages with a JSON form of
       their own: meta/v1 Time, MicroTime, FieldsV1, resource.Quantity, intstr.IntOrString,
       runtime.RawExtension, and the []string wrappers like authentication/v1 ExtraValue
       <Message> of the same package, or <package>.<Message>
       suffix `[]`: repeated; `map[<type>]`: a map with string keys (entries {1 key, 2 value})
flags: !  the zero value is kept (Go pointer field, or a json tag without omitempty)
       ^  inline: the sub-message's fields belong to the parent (Go embedded struct); its name is `-`
       ~  absent when zero (json omitzero: ObjectMeta.creationTimestamp)
"""

from typing import NamedTuple

SCALARS = frozenset({"bool", "int32", "int64", "string", "bytes"})
CODECS = frozenset({"time", "microtime", "quantity", "intorstring", "fieldsv1", "rawextension", "strings"})

SINGLE = "single"
REPEATED = "repeated"
MAP = "map"


class Field(NamedTuple):
    number: int
    name: str  # the JSON name; "" for an inline field
    type: str  # a scalar, a codec, or a qualified message name like "core.v1.PodSpec"
    label: str  # SINGLE, REPEATED or MAP
    keep_zero: bool
    inline: bool
    omit_zero: bool


# The group version that each proto package serves.
API_VERSIONS = {
    "core.v1": "v1",
    "apps.v1": "apps/v1",
    "batch.v1": "batch/v1",
    "autoscaling.v1": "autoscaling/v1",
    "autoscaling.v2": "autoscaling/v2",
    "coordination.v1": "coordination.k8s.io/v1",
    "rbac.v1": "rbac.authorization.k8s.io/v1",
    "scheduling.v1": "scheduling.k8s.io/v1",
    "policy.v1": "policy/v1",
    "networking.v1": "networking.k8s.io/v1",
    "authentication.v1": "authentication.k8s.io/v1",
    "authorization.v1": "authorization.k8s.io/v1",
    "certificates.v1": "certificates.k8s.io/v1",
    "events.v1": "events.k8s.io/v1",
    "discovery.v1": "discovery.k8s.io/v1",
    "storage.v1": "storage.k8s.io/v1",
    "node.v1": "node.k8s.io/v1",
}

# The kinds each package's group version accepts in a body; a kind's message has the kind's name.
_KINDS = {
    "core.v1": "Binding ComponentStatus ConfigMap Endpoints Event LimitRange Namespace Node"
    " PersistentVolume PersistentVolumeClaim Pod PodTemplate ReplicationController ResourceQuota Secret"
    " Service ServiceAccount",
    "apps.v1": "ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet",
    "batch.v1": "CronJob Job",
    "autoscaling.v1": "HorizontalPodAutoscaler Scale",
    "autoscaling.v2": "HorizontalPodAutoscaler",
    "coordination.v1": "Lease",
    "rbac.v1": "ClusterRole ClusterRoleBinding Role RoleBinding",
    "scheduling.v1": "PriorityClass",
    "policy.v1": "Eviction PodDisruptionBudget",
    "networking.v1": "IPAddress Ingress IngressClass NetworkPolicy ServiceCIDR",
    "authentication.v1": "SelfSubjectReview TokenRequest TokenReview",
    "authorization.v1": "LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview"
    " SubjectAccessReview",
    "certificates.v1": "CertificateSigningRequest ClusterTrustBundle PodCertificateRequest",
    "events.v1": "Event",
    "discovery.v1": "EndpointSlice",
    "storage.v1": "CSIDriver CSINode CSIStorageCapacity StorageClass VolumeAttachment VolumeAttributesClass",
    "node.v1": "RuntimeClass",
}

# meta/v1 DeleteOptions is registered in every group version (and meta.k8s.io/v1).
DELETE_OPTIONS = "meta.v1.DeleteOptions"

_TABLES = """

package meta.v1
Condition: 1 type string!, 2 status string!, 3 observedGeneration int64, 4 lastTransitionTime time,
    5 reason string!, 6 message string!
DeleteOptions: 1 gracePeriodSeconds int64!, 2 preconditions Preconditions, 3 orphanDependents bool!,
    4 propagationPolicy string!, 5 dryRun string[],
    6 ignoreStoreReadErrorWithClusterBreakingPotential bool!
FieldSelectorRequirement: 1 key string!, 2 operator string!, 3 values string[]
LabelSelector: 1 matchLabels map[string], 2 matchExpressions LabelSelectorRequirement[]
LabelSelectorRequirement: 1 key string!, 2 operator string!, 3 values string[]
ManagedFieldsEntry: 1 manager string, 2 operation string, 3 apiVersion string, 4 time time,
    6 fieldsType string, 7 fieldsV1 fieldsv1, 8 subresource string
ObjectMeta: 1 name string, 2 generateName string, 3 namespace string, 4 selfLink string, 5 uid string,
    6 resourceVersion string, 7 generation int64, 8 creationTimestamp time~, 9 deletionTimestamp time,
    10 deletionGracePeriodSeconds int64!, 11 labels map[string], 12 annotations map[string],
    13 ownerReferences OwnerReference[], 14 finalizers string[], 17 managedFields ManagedFieldsEntry[]
OwnerReference: 1 kind string!, 3 name string!, 4 uid string!, 5 apiVersion string!,
    6 controller bool!, 7 blockOwnerDeletion bool!
Preconditions: 1 uid string!, 2 resourceVersion string!

package core.v1
AWSElasticBlockStoreVolumeSource: 1 volumeID string!, 2 fsType string, 3 partition int32,
    4 readOnly bool
Affinity: 1 nodeAffinity NodeAffinity, 2 podAffinity PodAffinity, 3 podAntiAffinity PodAntiAffinity
AppArmorProfile: 1 type string!, 2 localhostProfile string!
AttachedVolume: 1 name string!, 2 devicePath string!
AzureDiskVolumeSource: 1 diskName string!, 2 diskURI string!, 3 cachingMode string!, 4 fsType string!,
    5 readOnly bool!, 6 kind string!
AzureFilePersistentVolumeSource: 1 secretName string!, 2 shareName string!, 3 readOnly bool,
    4 secretNamespace string!
AzureFileVolumeSource: 1 secretName string!, 2 shareName string!, 3 readOnly bool
Binding: 1 metadata meta.v1.ObjectMeta, 2 target ObjectReference
CSIPersistentVolumeSource: 1 driver string!, 2 volumeHandle string!, 3 readOnly bool, 4 fsType string,
    5 volumeAttributes map[string], 6 controllerPublishSecretRef SecretReference,
    7 nodeStageSecretRef SecretReference, 8 nodePublishSecretRef SecretReference,
    9 controllerExpandSecretRef SecretReference, 10 nodeExpandSecretRef SecretReference
CSIVolumeSource: 1 driver string!, 2 readOnly bool!, 3 fsType string!, 4 volumeAttributes map[string],
    5 nodePublishSecretRef LocalObjectReference
Capabilities: 1 add string[], 2 drop string[]
CephFSPersistentVolumeSource: 1 monitors string[], 2 path string, 3 user string, 4 secretFile string,
    5 secretRef SecretReference, 6 readOnly bool
CephFSVolumeSource: 1 monitors string[], 2 path string, 3 user string, 4 secretFile string,
    5 secretRef LocalObjectReference, 6 readOnly bool
CinderPersistentVolumeSource: 1 volumeID string!, 2 fsType string, 3 readOnly bool,
    4 secretRef SecretReference
CinderVolumeSource: 1 volumeID string!, 2 fsType string, 3 readOnly bool,
    4 secretRef LocalObjectReference
ClientIPConfig: 1 timeoutSeconds int32!
ClusterTrustBundleProjection: 1 name string!, 2 signerName string!,
    3 labelSelector meta.v1.LabelSelector, 4 path string!, 5 optional bool!, 6 user int64!
ComponentCondition: 1 type string!, 2 status string!, 3 message string, 4 error string
ComponentStatus: 1 metadata meta.v1.ObjectMeta, 2 conditions ComponentCondition[]
ConfigMap: 1 metadata meta.v1.ObjectMeta, 2 data map[string], 3 binaryData map[bytes],
    4 immutable bool!
ConfigMapEnvSource: 1 - LocalObjectReference^, 2 optional bool!
ConfigMapKeySelector: 1 - LocalObjectReference^, 2 key string!, 3 optional bool!
ConfigMapNodeConfigSource: 1 namespace string!, 2 name string!, 3 uid string,
    4 resourceVersion string, 5 kubeletConfigKey string!
ConfigMapProjection: 1 - LocalObjectReference^, 2 items KeyToPath[], 4 optional bool!
ConfigMapVolumeSource: 1 - LocalObjectReference^, 2 items KeyToPath[], 3 defaultMode int32!,
    4 optional bool!, 5 defaultUser int64!
Container: 1 name string!, 2 image string, 3 command string[], 4 args string[], 5 workingDir string,
    6 ports ContainerPort[], 7 env EnvVar[], 8 resources ResourceRequirements,
    9 volumeMounts VolumeMount[], 10 livenessProbe Probe, 11 readinessProbe Probe,
    12 lifecycle Lifecycle, 13 terminationMessagePath string, 14 imagePullPolicy string,
    15 securityContext SecurityContext, 16 stdin bool, 17 stdinOnce bool, 18 tty bool,
    19 envFrom EnvFromSource[], 20 terminationMessagePolicy string, 21 volumeDevices VolumeDevice[],
    22 startupProbe Probe, 23 resizePolicy ContainerResizePolicy[], 24 restartPolicy string!,
    25 restartPolicyRules ContainerRestartRule[]
ContainerExtendedResourceRequest: 1 containerName string!, 2 resourceName string!,
    3 requestName string!
ContainerImage: 1 names string[], 2 sizeBytes int64
ContainerPort: 1 name string, 2 hostPort int32, 3 containerPort int32!, 4 protocol string,
    5 hostIP string
ContainerResizePolicy: 1 resourceName string!, 2 restartPolicy string!
ContainerRestartRule: 1 action string, 2 exitCodes ContainerRestartRuleOnExitCodes
ContainerRestartRuleOnExitCodes: 1 operator string, 2 values int32[]
ContainerState: 1 waiting ContainerStateWaiting, 2 running ContainerStateRunning,
    3 terminated ContainerStateTerminated
ContainerStateRunning: 1 startedAt time
ContainerStateTerminated: 1 exitCode int32!, 2 signal int32, 3 reason string, 4 message string,
    5 startedAt time, 6 finishedAt time, 7 containerID string
ContainerStateWaiting: 1 reason string, 2 message string
ContainerStatus: 1 name string!, 2 state ContainerState, 3 lastState ContainerState, 4 ready bool!,
    5 restartCount int32!, 6 image string!, 7 imageID string!, 8 containerID string, 9 started bool!,
    10 allocatedResources map[quantity], 11 resources ResourceRequirements,
    12 volumeMounts VolumeMountStatus[], 13 user ContainerUser,
    14 allocatedResourcesStatus ResourceStatus[], 15 stopSignal string!
ContainerUser: 1 linux LinuxContainerUser
DaemonEndpoint: 1 Port int32!
DownwardAPIProjection: 1 items DownwardAPIVolumeFile[]
DownwardAPIVolumeFile: 1 path string!, 2 fieldRef ObjectFieldSelector,
    3 resourceFieldRef ResourceFieldSelector, 4 mode int32!, 5 user int64!
DownwardAPIVolumeSource: 1 items DownwardAPIVolumeFile[], 2 defaultMode int32!, 3 defaultUser int64!
EmptyDirVolumeSource: 1 medium string, 2 sizeLimit quantity, 3 mode int32!
EndpointAddress: 1 ip string!, 2 targetRef ObjectReference, 3 hostname string, 4 nodeName string!
EndpointPort: 1 name string, 2 port int32!, 3 protocol string, 4 appProtocol string!
EndpointSubset: 1 addresses EndpointAddress[], 2 notReadyAddresses EndpointAddress[],
    3 ports EndpointPort[]
Endpoints: 1 metadata meta.v1.ObjectMeta, 2 subsets EndpointSubset[]
EnvFromSource: 1 prefix string, 2 configMapRef ConfigMapEnvSource, 3 secretRef SecretEnvSource
EnvVar: 1 name string!, 2 value string, 3 valueFrom EnvVarSource
EnvVarSource: 1 fieldRef ObjectFieldSelector, 2 resourceFieldRef ResourceFieldSelector,
    3 configMapKeyRef ConfigMapKeySelector, 4 secretKeyRef SecretKeySelector,
    5 fileKeyRef FileKeySelector
EphemeralContainer: 1 - EphemeralContainerCommon^, 2 targetContainerName string
EphemeralContainerCommon: 1 name string!, 2 image string, 3 command string[], 4 args string[],
    5 workingDir string, 6 ports ContainerPort[], 7 env EnvVar[], 8 resources ResourceRequirements,
    9 volumeMounts VolumeMount[], 10 livenessProbe Probe, 11 readinessProbe Probe,
    12 lifecycle Lifecycle, 13 terminationMessagePath string, 14 imagePullPolicy string,
    15 securityContext SecurityContext, 16 stdin bool, 17 stdinOnce bool, 18 tty bool,
    19 envFrom EnvFromSource[], 20 terminationMessagePolicy string, 21 volumeDevices VolumeDevice[],
    22 startupProbe Probe, 23 resizePolicy ContainerResizePolicy[], 24 restartPolicy string!,
    25 restartPolicyRules ContainerRestartRule[]
EphemeralVolumeSource: 1 volumeClaimTemplate PersistentVolumeClaimTemplate
Event: 1 metadata meta.v1.ObjectMeta, 2 involvedObject ObjectReference, 3 reason string,
    4 message string, 5 source EventSource, 6 firstTimestamp time, 7 lastTimestamp time,
    8 count int32, 9 type string, 10 eventTime microtime, 11 series EventSeries, 12 action string,
    13 related ObjectReference, 14 reportingComponent string!, 15 reportingInstance string!
EventSeries: 1 count int32, 2 lastObservedTime microtime
EventSource: 1 component string, 2 host string
EvictionResponder: 1 name string!, 2 priority int32!
ExecAction: 1 command string[]
FCVolumeSource: 1 targetWWNs string[], 2 lun int32!, 3 fsType string, 4 readOnly bool,
    5 wwids string[]
FileKeySelector: 1 volumeName string!, 2 path string!, 3 key string!, 4 optional bool!
FlexPersistentVolumeSource: 1 driver string!, 2 fsType string, 3 secretRef SecretReference,
    4 readOnly bool, 5 options map[string]
FlexVolumeSource: 1 driver string!, 2 fsType string, 3 secretRef LocalObjectReference,
    4 readOnly bool, 5 options map[string]
FlockerVolumeSource: 1 datasetName string, 2 datasetUUID string
GCEPersistentDiskVolumeSource: 1 pdName string!, 2 fsType string, 3 partition int32, 4 readOnly bool
GRPCAction: 1 port int32!, 2 service string!, 3 mode string!
GitRepoVolumeSource: 1 repository string!, 2 revision string, 3 directory string
GlusterfsPersistentVolumeSource: 1 endpoints string!, 2 path string!, 3 readOnly bool,
    4 endpointsNamespace string!
GlusterfsVolumeSource: 1 endpoints string!, 2 path string!, 3 readOnly bool
HTTPGetAction: 1 path string, 2 port intorstring, 3 host string, 4 scheme string,
    5 httpHeaders HTTPHeader[], 6 protocol string!
HTTPHeader: 1 name string!, 2 value string!
HostAlias: 1 ip string!, 2 hostnames string[]
HostIP: 1 ip string!
HostPathVolumeSource: 1 path string!, 2 type string!
ISCSIPersistentVolumeSource: 1 targetPortal string!, 2 iqn string!, 3 lun int32!,
    4 iscsiInterface string, 5 fsType string, 6 readOnly bool, 7 portals string[],
    8 chapAuthDiscovery bool, 10 secretRef SecretReference, 11 chapAuthSession bool,
    12 initiatorName string!
ISCSIVolumeSource: 1 targetPortal string!, 2 iqn string!, 3 lun int32!, 4 iscsiInterface string,
    5 fsType string, 6 readOnly bool, 7 portals string[], 8 chapAuthDiscovery bool,
    10 secretRef LocalObjectReference, 11 chapAuthSession bool, 12 initiatorName string!
ImageVolumeSource: 1 reference string, 2 pullPolicy string
ImageVolumeStatus: 1 imageRef string
KeyToPath: 1 key string!, 2 path string!, 3 mode int32!, 4 user int64!
Lifecycle: 1 postStart LifecycleHandler, 2 preStop LifecycleHandler, 3 stopSignal string!
LifecycleHandler: 1 exec ExecAction, 2 httpGet HTTPGetAction, 3 tcpSocket TCPSocketAction,
    4 sleep SleepAction
LimitRange: 1 metadata meta.v1.ObjectMeta, 2 spec LimitRangeSpec
LimitRangeItem: 1 type string!, 2 max map[quantity], 3 min map[quantity], 4 default map[quantity],
    5 defaultRequest map[quantity], 6 maxLimitRequestRatio map[quantity]
LimitRangeSpec: 1 limits LimitRangeItem[]
LinuxContainerUser: 1 uid int64!, 2 gid int64!, 3 supplementalGroups int64[]
LoadBalancerIngress: 1 ip string, 2 hostname string, 3 ipMode string!, 4 ports PortStatus[]
LoadBalancerStatus: 1 ingress LoadBalancerIngress[]
LocalObjectReference: 1 name string
LocalVolumeSource: 1 path string!, 2 fsType string!
ModifyVolumeStatus: 1 targetVolumeAttributesClassName string, 2 status string!
NFSVolumeSource: 1 server string!, 2 path string!, 3 readOnly bool
Namespace: 1 metadata meta.v1.ObjectMeta, 2 spec NamespaceSpec, 3 status NamespaceStatus
NamespaceCondition: 1 type string!, 2 status string!, 4 lastTransitionTime time, 5 reason string,
    6 message string
NamespaceSpec: 1 finalizers string[]
NamespaceStatus: 1 phase string, 2 conditions NamespaceCondition[]
Node: 1 metadata meta.v1.ObjectMeta, 2 spec NodeSpec, 3 status NodeStatus
NodeAddress: 1 type string!, 2 address string!
NodeAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector,
    2 preferredDuringSchedulingIgnoredDuringExecution PreferredSchedulingTerm[]
NodeAllocatableMappedResources: 1 name string!, 2 quantity quantity
NodeAllocatableOverheadResources: 1 name string!, 2 perPod quantity, 3 perContainer quantity
NodeAllocatableResourceClaimStatus: 1 resourceClaimName string!, 2 containers string[],
    4 mapping NodeAllocatableMappedResources[], 5 overhead NodeAllocatableOverheadResources[]
NodeCondition: 1 type string!, 2 status string!, 3 lastHeartbeatTime time, 4 lastTransitionTime time,
    5 reason string, 6 message string
NodeConfigSource: 2 configMap ConfigMapNodeConfigSource
NodeConfigStatus: 1 assigned NodeConfigSource, 2 active NodeConfigSource,
    3 lastKnownGood NodeConfigSource, 4 error string
NodeDaemonEndpoints: 1 kubeletEndpoint DaemonEndpoint
NodeFeatures: 1 supplementalGroupsPolicy bool!
NodePodPreemptionPolicy: 1 disableResizePreemption string[]
NodeRuntimeHandler: 1 name string!, 2 features NodeRuntimeHandlerFeatures
NodeRuntimeHandlerFeatures: 1 recursiveReadOnlyMounts bool!, 2 userNamespaces bool!
NodeSelector: 1 nodeSelectorTerms NodeSelectorTerm[]
NodeSelectorRequirement: 1 key string!, 2 operator string!, 3 values string[]
NodeSelectorTerm: 1 matchExpressions NodeSelectorRequirement[],
    2 matchFields NodeSelectorRequirement[]
NodeSpec: 1 podCIDR string, 2 externalID string, 3 providerID string, 4 unschedulable bool,
    5 taints Taint[], 6 configSource NodeConfigSource, 7 podCIDRs string[],
    8 podPreemptionPolicy NodePodPreemptionPolicy
NodeStatus: 1 capacity map[quantity], 2 allocatable map[quantity], 3 phase string,
    4 conditions NodeCondition[], 5 addresses NodeAddress[], 6 daemonEndpoints NodeDaemonEndpoints,
    7 nodeInfo NodeSystemInfo, 8 images ContainerImage[], 9 volumesInUse string[],
    10 volumesAttached AttachedVolume[], 11 config NodeConfigStatus,
    12 runtimeHandlers NodeRuntimeHandler[], 13 features NodeFeatures, 14 declaredFeatures string[]
NodeSwapStatus: 1 capacity int64!
NodeSystemInfo: 1 machineID string!, 2 systemUUID string!, 3 bootID string!, 4 kernelVersion string!,
    5 osImage string!, 6 containerRuntimeVersion string!, 7 kubeletVersion string!,
    8 kubeProxyVersion string!, 9 operatingSystem string!, 10 architecture string!,
    11 swap NodeSwapStatus
ObjectFieldSelector: 1 apiVersion string, 2 fieldPath string!
ObjectReference: 1 kind string, 2 namespace string, 3 name string, 4 uid string, 5 apiVersion string,
    6 resourceVersion string, 7 fieldPath string
PersistentVolume: 1 metadata meta.v1.ObjectMeta, 2 spec PersistentVolumeSpec,
    3 status PersistentVolumeStatus
PersistentVolumeClaim: 1 metadata meta.v1.ObjectMeta, 2 spec PersistentVolumeClaimSpec,
    3 status PersistentVolumeClaimStatus
PersistentVolumeClaimCondition: 1 type string!, 2 status string!, 3 lastProbeTime time,
    4 lastTransitionTime time, 5 reason string, 6 message string
PersistentVolumeClaimSpec: 1 accessModes string[], 2 resources VolumeResourceRequirements,
    3 volumeName string, 4 selector meta.v1.LabelSelector, 5 storageClassName string!,
    6 volumeMode string!, 7 dataSource TypedLocalObjectReference,
    8 dataSourceRef TypedObjectReference, 9 volumeAttributesClassName string!
PersistentVolumeClaimStatus: 1 phase string, 2 accessModes string[], 3 capacity map[quantity],
    4 conditions PersistentVolumeClaimCondition[], 5 allocatedResources map[quantity],
    7 allocatedResourceStatuses map[string], 8 currentVolumeAttributesClassName string!,
    9 modifyVolumeStatus ModifyVolumeStatus, 10 healthStatus VolumeHealthStatus
PersistentVolumeClaimTemplate: 1 metadata meta.v1.ObjectMeta, 2 spec PersistentVolumeClaimSpec
PersistentVolumeClaimVolumeSource: 1 claimName string!, 2 readOnly bool
PersistentVolumeSource: 1 gcePersistentDisk GCEPersistentDiskVolumeSource,
    2 awsElasticBlockStore AWSElasticBlockStoreVolumeSource, 3 hostPath HostPathVolumeSource,
    4 glusterfs GlusterfsPersistentVolumeSource, 5 nfs NFSVolumeSource,
    6 rbd RBDPersistentVolumeSource, 7 iscsi ISCSIPersistentVolumeSource,
    8 cinder CinderPersistentVolumeSource, 9 cephfs CephFSPersistentVolumeSource,
    10 fc FCVolumeSource, 11 flocker FlockerVolumeSource, 12 flexVolume FlexPersistentVolumeSource,
    13 azureFile AzureFilePersistentVolumeSource, 14 vsphereVolume VsphereVirtualDiskVolumeSource,
    15 quobyte QuobyteVolumeSource, 16 azureDisk AzureDiskVolumeSource,
    17 photonPersistentDisk PhotonPersistentDiskVolumeSource, 18 portworxVolume PortworxVolumeSource,
    19 scaleIO ScaleIOPersistentVolumeSource, 20 local LocalVolumeSource,
    21 storageos StorageOSPersistentVolumeSource, 22 csi CSIPersistentVolumeSource
PersistentVolumeSpec: 1 capacity map[quantity], 2 - PersistentVolumeSource^, 3 accessModes string[],
    4 claimRef ObjectReference, 5 persistentVolumeReclaimPolicy string, 6 storageClassName string,
    7 mountOptions string[], 8 volumeMode string!, 9 nodeAffinity VolumeNodeAffinity,
    10 volumeAttributesClassName string!
PersistentVolumeStatus: 1 phase string, 2 message string, 3 reason string,
    4 lastPhaseTransitionTime time
PhotonPersistentDiskVolumeSource: 1 pdID string!, 2 fsType string
Pod: 1 metadata meta.v1.ObjectMeta, 2 spec PodSpec, 3 status PodStatus
PodAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution PodAffinityTerm[],
    2 preferredDuringSchedulingIgnoredDuringExecution WeightedPodAffinityTerm[]
PodAffinityTerm: 1 labelSelector meta.v1.LabelSelector, 2 namespaces string[], 3 topologyKey string!,
    4 namespaceSelector meta.v1.LabelSelector, 5 matchLabelKeys string[], 6 mismatchLabelKeys string[]
PodAntiAffinity: 1 requiredDuringSchedulingIgnoredDuringExecution PodAffinityTerm[],
    2 preferredDuringSchedulingIgnoredDuringExecution WeightedPodAffinityTerm[]
PodCertificateProjection: 1 signerName string, 2 keyType string, 3 maxExpirationSeconds int32!,
    4 credentialBundlePath string, 5 keyPath string, 6 certificateChainPath string,
    7 userAnnotations map[string], 8 user int64!
PodCondition: 1 type string!, 2 status string!, 3 lastProbeTime time, 4 lastTransitionTime time,
    5 reason string, 6 message string, 7 observedGeneration int64
PodDNSConfig: 1 nameservers string[], 2 searches string[], 3 options PodDNSConfigOption[]
PodDNSConfigOption: 1 name string, 2 value string!
PodExtendedResourceClaimStatus: 1 requestMappings ContainerExtendedResourceRequest[],
    2 resourceClaimName string!
PodIP: 1 ip string!
PodOS: 1 name string!
PodReadinessGate: 1 conditionType string!
PodResourceClaim: 1 name string!, 3 resourceClaimName string!, 4 resourceClaimTemplateName string!
PodResourceClaimStatus: 1 name string!, 2 resourceClaimName string!
PodSchedulingGate: 1 name string!
PodSchedulingGroup: 1 podGroupName string!
PodSecurityContext: 1 seLinuxOptions SELinuxOptions, 2 runAsUser int64!, 3 runAsNonRoot bool!,
    4 supplementalGroups int64[], 5 fsGroup int64!, 6 runAsGroup int64!, 7 sysctls Sysctl[],
    8 windowsOptions WindowsSecurityContextOptions, 9 fsGroupChangePolicy string!,
    10 seccompProfile SeccompProfile, 11 appArmorProfile AppArmorProfile,
    12 supplementalGroupsPolicy string!, 13 seLinuxChangePolicy string!
PodSpec: 1 volumes Volume[], 2 containers Container[], 3 restartPolicy string,
    4 terminationGracePeriodSeconds int64!, 5 activeDeadlineSeconds int64!, 6 dnsPolicy string,
    7 nodeSelector map[string], 8 serviceAccountName string, 9 serviceAccount string,
    10 nodeName string, 11 hostNetwork bool, 12 hostPID bool, 13 hostIPC bool,
    14 securityContext PodSecurityContext, 15 imagePullSecrets LocalObjectReference[],
    16 hostname string, 17 subdomain string, 18 affinity Affinity, 19 schedulerName string,
    20 initContainers Container[], 21 automountServiceAccountToken bool!, 22 tolerations Toleration[],
    23 hostAliases HostAlias[], 24 priorityClassName string, 25 priority int32!,
    26 dnsConfig PodDNSConfig, 27 shareProcessNamespace bool!, 28 readinessGates PodReadinessGate[],
    29 runtimeClassName string!, 30 enableServiceLinks bool!, 31 preemptionPolicy string!,
    32 overhead map[quantity], 33 topologySpreadConstraints TopologySpreadConstraint[],
    34 ephemeralContainers EphemeralContainer[], 35 setHostnameAsFQDN bool!, 36 os PodOS,
    37 hostUsers bool!, 38 schedulingGates PodSchedulingGate[], 39 resourceClaims PodResourceClaim[],
    40 resources ResourceRequirements, 41 hostnameOverride string!,
    43 schedulingGroup PodSchedulingGroup, 44 evictionResponders EvictionResponder[]
PodStatus: 1 phase string, 2 conditions PodCondition[], 3 message string, 4 reason string,
    5 hostIP string, 6 podIP string, 7 startTime time, 8 containerStatuses ContainerStatus[],
    9 qosClass string, 10 initContainerStatuses ContainerStatus[], 11 nominatedNodeName string,
    12 podIPs PodIP[], 13 ephemeralContainerStatuses ContainerStatus[], 14 resize string,
    15 resourceClaimStatuses PodResourceClaimStatus[], 16 hostIPs HostIP[],
    17 observedGeneration int64, 18 extendedResourceClaimStatus PodExtendedResourceClaimStatus,
    19 allocatedResources map[quantity], 20 resources ResourceRequirements,
    21 nodeAllocatableResourceClaimStatuses NodeAllocatableResourceClaimStatus[],
    22 volumeHealth PodVolumeHealth[]
PodTemplate: 1 metadata meta.v1.ObjectMeta, 2 template PodTemplateSpec
PodTemplateSpec: 1 metadata meta.v1.ObjectMeta, 2 spec PodSpec
PodVolumeHealth: 1 name string!, 2 healthConditions VolumeHealthCondition[], 3 lastTransitionTime time
PortStatus: 1 port int32!, 2 protocol string!, 3 error string!
PortworxVolumeSource: 1 volumeID string!, 2 fsType string, 3 readOnly bool
PreferredSchedulingTerm: 1 weight int32!, 2 preference NodeSelectorTerm
Probe: 1 - ProbeHandler^, 2 initialDelaySeconds int32, 3 timeoutSeconds int32, 4 periodSeconds int32,
    5 successThreshold int32, 6 failureThreshold int32, 7 terminationGracePeriodSeconds int64!
ProbeHandler: 1 exec ExecAction, 2 httpGet HTTPGetAction, 3 tcpSocket TCPSocketAction,
    4 grpc GRPCAction
ProjectedVolumeSource: 1 sources VolumeProjection[], 2 defaultMode int32!, 3 defaultUser int64!
QuobyteVolumeSource: 1 registry string!, 2 volume string!, 3 readOnly bool, 4 user string,
    5 group string, 6 tenant string
RBDPersistentVolumeSource: 1 monitors string[], 2 image string!, 3 fsType string, 4 pool string,
    5 user string, 6 keyring string, 7 secretRef SecretReference, 8 readOnly bool
RBDVolumeSource: 1 monitors string[], 2 image string!, 3 fsType string, 4 pool string, 5 user string,
    6 keyring string, 7 secretRef LocalObjectReference, 8 readOnly bool
ReplicationController: 1 metadata meta.v1.ObjectMeta, 2 spec ReplicationControllerSpec,
    3 status ReplicationControllerStatus
ReplicationControllerCondition: 1 type string!, 2 status string!, 3 lastTransitionTime time,
    4 reason string, 5 message string
ReplicationControllerSpec: 1 replicas int32!, 2 selector map[string], 3 template PodTemplateSpec,
    4 minReadySeconds int32
ReplicationControllerStatus: 1 replicas int32!, 2 fullyLabeledReplicas int32,
    3 observedGeneration int64, 4 readyReplicas int32, 5 availableReplicas int32,
    6 conditions ReplicationControllerCondition[]
ResourceClaim: 1 name string!, 2 request string
ResourceFieldSelector: 1 containerName string, 2 resource string!, 3 divisor quantity
ResourceHealth: 1 resourceID string!, 2 health string, 6 message string!
ResourceQuota: 1 metadata meta.v1.ObjectMeta, 2 spec ResourceQuotaSpec, 3 status ResourceQuotaStatus
ResourceQuotaSpec: 1 hard map[quantity], 2 scopes string[], 3 scopeSelector ScopeSelector
ResourceQuotaStatus: 1 hard map[quantity], 2 used map[quantity]
ResourceRequirements: 1 limits map[quantity], 2 requests map[quantity], 3 claims ResourceClaim[]
ResourceStatus: 1 name string!, 2 resources ResourceHealth[]
SELinuxOptions: 1 user string, 2 role string, 3 type string, 4 level string
ScaleIOPersistentVolumeSource: 1 gateway string!, 2 system string!, 3 secretRef SecretReference,
    4 sslEnabled bool, 5 protectionDomain string, 6 storagePool string, 7 storageMode string,
    8 volumeName string, 9 fsType string, 10 readOnly bool
ScaleIOVolumeSource: 1 gateway string!, 2 system string!, 3 secretRef LocalObjectReference,
    4 sslEnabled bool, 5 protectionDomain string, 6 storagePool string, 7 storageMode string,
    8 volumeName string, 9 fsType string, 10 readOnly bool
ScopeSelector: 1 matchExpressions ScopedResourceSelectorRequirement[]
ScopedResourceSelectorRequirement: 1 scopeName string!, 2 operator string!, 3 values string[]
SeccompProfile: 1 type string!, 2 localhostProfile string!
Secret: 1 metadata meta.v1.ObjectMeta, 2 data map[bytes], 3 type string, 4 stringData map[string],
    5 immutable bool!
SecretEnvSource: 1 - LocalObjectReference^, 2 optional bool!
SecretKeySelector: 1 - LocalObjectReference^, 2 key string!, 3 optional bool!
SecretProjection: 1 - LocalObjectReference^, 2 items KeyToPath[], 4 optional bool!
SecretReference: 1 name string, 2 namespace string
SecretVolumeSource: 1 secretName string, 2 items KeyToPath[], 3 defaultMode int32!, 4 optional bool!,
    5 defaultUser int64!
SecurityContext: 1 capabilities Capabilities, 2 privileged bool!, 3 seLinuxOptions SELinuxOptions,
    4 runAsUser int64!, 5 runAsNonRoot bool!, 6 readOnlyRootFilesystem bool!,
    7 allowPrivilegeEscalation bool!, 8 runAsGroup int64!, 9 procMount string!,
    10 windowsOptions WindowsSecurityContextOptions, 11 seccompProfile SeccompProfile,
    12 appArmorProfile AppArmorProfile
Service: 1 metadata meta.v1.ObjectMeta, 2 spec ServiceSpec, 3 status ServiceStatus
ServiceAccount: 1 metadata meta.v1.ObjectMeta, 2 secrets ObjectReference[],
    3 imagePullSecrets LocalObjectReference[], 4 automountServiceAccountToken bool!
ServiceAccountTokenProjection: 1 audience string, 2 expirationSeconds int64!, 3 path string!,
    4 user int64!
ServicePort: 1 name string, 2 protocol string, 3 port int32!, 4 targetPort intorstring,
    5 nodePort int32, 6 appProtocol string!
ServiceSpec: 1 ports ServicePort[], 2 selector map[string], 3 clusterIP string, 4 type string,
    5 externalIPs string[], 7 sessionAffinity string, 8 loadBalancerIP string,
    9 loadBalancerSourceRanges string[], 10 externalName string, 11 externalTrafficPolicy string,
    12 healthCheckNodePort int32, 13 publishNotReadyAddresses bool,
    14 sessionAffinityConfig SessionAffinityConfig, 17 ipFamilyPolicy string!, 18 clusterIPs string[],
    19 ipFamilies string[], 20 allocateLoadBalancerNodePorts bool!, 21 loadBalancerClass string!,
    22 internalTrafficPolicy string!, 23 trafficDistribution string!
ServiceStatus: 1 loadBalancer LoadBalancerStatus, 2 conditions meta.v1.Condition[]
SessionAffinityConfig: 1 clientIP ClientIPConfig
SleepAction: 1 seconds int64!
StorageOSPersistentVolumeSource: 1 volumeName string, 2 volumeNamespace string, 3 fsType string,
    4 readOnly bool, 5 secretRef ObjectReference
StorageOSVolumeSource: 1 volumeName string, 2 volumeNamespace string, 3 fsType string,
    4 readOnly bool, 5 secretRef LocalObjectReference
Sysctl: 1 name string!, 2 value string!
TCPSocketAction: 1 port intorstring, 2 host string
Taint: 1 key string!, 2 value string, 3 effect string!, 4 timeAdded time
Toleration: 1 key string, 2 operator string, 3 value string, 4 effect string,
    5 tolerationSeconds int64!
TopologySelectorLabelRequirement: 1 key string!, 2 values string[]
TopologySelectorTerm: 1 matchLabelExpressions TopologySelectorLabelRequirement[]
TopologySpreadConstraint: 1 maxSkew int32!, 2 topologyKey string!, 3 whenUnsatisfiable string!,
    4 labelSelector meta.v1.LabelSelector, 5 minDomains int32!, 6 nodeAffinityPolicy string!,
    7 nodeTaintsPolicy string!, 8 matchLabelKeys string[]
TypedLocalObjectReference: 1 apiGroup string!, 2 kind string!, 3 name string!
TypedObjectReference: 1 apiGroup string!, 2 kind string!, 3 name string!, 4 namespace string!
Volume: 1 name string!, 2 - VolumeSource^
VolumeDevice: 1 name string!, 2 devicePath string!
VolumeHealthCondition: 1 status string!, 2 reason string!, 3 message string
VolumeHealthStatus: 1 healthConditions VolumeHealthCondition[], 2 lastTransitionTime time
VolumeMount: 1 name string!, 2 readOnly bool, 3 mountPath string!, 4 subPath string,
    5 mountPropagation string!, 6 subPathExpr string, 7 recursiveReadOnly string!,
    8 bindMountOptions string[]
VolumeMountStatus: 1 name string!, 2 mountPath string!, 3 readOnly bool, 4 recursiveReadOnly string!,
    5 volumeStatus VolumeStatus
VolumeNodeAffinity: 1 required NodeSelector
VolumeProjection: 1 secret SecretProjection, 2 downwardAPI DownwardAPIProjection,
    3 configMap ConfigMapProjection, 4 serviceAccountToken ServiceAccountTokenProjection,
    5 clusterTrustBundle ClusterTrustBundleProjection, 6 podCertificate PodCertificateProjection
VolumeResourceRequirements: 1 limits map[quantity], 2 requests map[quantity]
VolumeSource: 1 hostPath HostPathVolumeSource, 2 emptyDir EmptyDirVolumeSource,
    3 gcePersistentDisk GCEPersistentDiskVolumeSource,
    4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource, 5 gitRepo GitRepoVolumeSource,
    6 secret SecretVolumeSource, 7 nfs NFSVolumeSource, 8 iscsi ISCSIVolumeSource,
    9 glusterfs GlusterfsVolumeSource, 10 persistentVolumeClaim PersistentVolumeClaimVolumeSource,
    11 rbd RBDVolumeSource, 12 flexVolume FlexVolumeSource, 13 cinder CinderVolumeSource,
    14 cephfs CephFSVolumeSource, 15 flocker FlockerVolumeSource,
    16 downwardAPI DownwardAPIVolumeSource, 17 fc FCVolumeSource, 18 azureFile AzureFileVolumeSource,
    19 configMap ConfigMapVolumeSource, 20 vsphereVolume VsphereVirtualDiskVolumeSource,
    21 quobyte QuobyteVolumeSource, 22 azureDisk AzureDiskVolumeSource,
    23 photonPersistentDisk PhotonPersistentDiskVolumeSource, 24 portworxVolume PortworxVolumeSource,
    25 scaleIO ScaleIOVolumeSource, 26 projected ProjectedVolumeSource,
    27 storageos StorageOSVolumeSource, 28 csi CSIVolumeSource, 29 ephemeral EphemeralVolumeSource,
    30 image ImageVolumeSource
VolumeStatus: 1 image ImageVolumeStatus
VsphereVirtualDiskVolumeSource: 1 volumePath string!, 2 fsType string, 3 storagePolicyName string,
    4 storagePolicyID string
WeightedPodAffinityTerm: 1 weight int32!, 2 podAffinityTerm PodAffinityTerm
WindowsSecurityContextOptions: 1 gmsaCredentialSpecName string!, 2 gmsaCredentialSpec string!,
    3 runAsUserName string!, 4 hostProcess bool!

package apps.v1
ControllerRevision: 1 metadata meta.v1.ObjectMeta, 2 data rawextension, 3 revision int64!
DaemonSet: 1 metadata meta.v1.ObjectMeta, 2 spec DaemonSetSpec, 3 status DaemonSetStatus
DaemonSetCondition: 1 type string!, 2 status string!, 3 lastTransitionTime time, 4 reason string,
    5 message string
DaemonSetSpec: 1 selector meta.v1.LabelSelector, 2 template core.v1.PodTemplateSpec,
    3 updateStrategy DaemonSetUpdateStrategy, 4 minReadySeconds int32, 6 revisionHistoryLimit int32!
DaemonSetStatus: 1 currentNumberScheduled int32!, 2 numberMisscheduled int32!,
    3 desiredNumberScheduled int32!, 4 numberReady int32!, 5 observedGeneration int64,
    6 updatedNumberScheduled int32, 7 numberAvailable int32, 8 numberUnavailable int32,
    9 collisionCount int32!, 10 conditions DaemonSetCondition[]
DaemonSetUpdateStrategy: 1 type string, 2 rollingUpdate RollingUpdateDaemonSet
Deployment: 1 metadata meta.v1.ObjectMeta, 2 spec DeploymentSpec, 3 status DeploymentStatus
DeploymentCondition: 1 type string!, 2 status string!, 4 reason string, 5 message string,
    6 lastUpdateTime time, 7 lastTransitionTime time
DeploymentSpec: 1 replicas int32!, 2 selector meta.v1.LabelSelector,
    3 template core.v1.PodTemplateSpec, 4 strategy DeploymentStrategy, 5 minReadySeconds int32,
    6 revisionHistoryLimit int32!, 7 paused bool, 9 progressDeadlineSeconds int32!
DeploymentStatus: 1 observedGeneration int64, 2 replicas int32, 3 updatedReplicas int32,
    4 availableReplicas int32, 5 unavailableReplicas int32, 6 conditions DeploymentCondition[],
    7 readyReplicas int32, 8 collisionCount int32!, 9 terminatingReplicas int32!
DeploymentStrategy: 1 type string, 2 rollingUpdate RollingUpdateDeployment
ReplicaSet: 1 metadata meta.v1.ObjectMeta, 2 spec ReplicaSetSpec, 3 status ReplicaSetStatus
ReplicaSetCondition: 1 type string!, 2 status string!, 3 lastTransitionTime time, 4 reason string,
    5 message string
ReplicaSetSpec: 1 replicas int32!, 2 selector meta.v1.LabelSelector,
    3 template core.v1.PodTemplateSpec, 4 minReadySeconds int32
ReplicaSetStatus: 1 replicas int32!, 2 fullyLabeledReplicas int32, 3 observedGeneration int64,
    4 readyReplicas int32, 5 availableReplicas int32, 6 conditions ReplicaSetCondition[],
    7 terminatingReplicas int32!
RollingUpdateDaemonSet: 1 maxUnavailable intorstring, 2 maxSurge intorstring
RollingUpdateDeployment: 1 maxUnavailable intorstring, 2 maxSurge intorstring
RollingUpdateStatefulSetStrategy: 1 partition int32!, 2 maxUnavailable intorstring
StatefulSet: 1 metadata meta.v1.ObjectMeta, 2 spec StatefulSetSpec, 3 status StatefulSetStatus
StatefulSetCondition: 1 type string!, 2 status string!, 3 lastTransitionTime time, 4 reason string,
    5 message string
StatefulSetOrdinals: 1 start int32!
StatefulSetPersistentVolumeClaimRetentionPolicy: 1 whenDeleted string, 2 whenScaled string
StatefulSetSpec: 1 replicas int32!, 2 selector meta.v1.LabelSelector,
    3 template core.v1.PodTemplateSpec, 4 volumeClaimTemplates core.v1.PersistentVolumeClaim[],
    5 serviceName string!, 6 podManagementPolicy string, 7 updateStrategy StatefulSetUpdateStrategy,
    8 revisionHistoryLimit int32!, 9 minReadySeconds int32,
    10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy,
    11 ordinals StatefulSetOrdinals
StatefulSetStatus: 1 observedGeneration int64, 2 replicas int32!, 3 readyReplicas int32,
    4 currentReplicas int32, 5 updatedReplicas int32, 6 currentRevision string,
    7 updateRevision string, 9 collisionCount int32!, 10 conditions StatefulSetCondition[],
    11 availableReplicas int32!
StatefulSetUpdateStrategy: 1 type string, 2 rollingUpdate RollingUpdateStatefulSetStrategy

package batch.v1
CronJob: 1 metadata meta.v1.ObjectMeta, 2 spec CronJobSpec, 3 status CronJobStatus
CronJobSpec: 1 schedule string!, 2 startingDeadlineSeconds int64!, 3 concurrencyPolicy string,
    4 suspend bool!, 5 jobTemplate JobTemplateSpec, 6 successfulJobsHistoryLimit int32!,
    7 failedJobsHistoryLimit int32!, 8 timeZone string!
CronJobStatus: 1 active core.v1.ObjectReference[], 4 lastScheduleTime time, 5 lastSuccessfulTime time
Job: 1 metadata meta.v1.ObjectMeta, 2 spec JobSpec, 3 status JobStatus
JobCondition: 1 type string!, 2 status string!, 3 lastProbeTime time, 4 lastTransitionTime time,
    5 reason string, 6 message string
JobSchedulingConfiguration: 1 schedulingPolicy scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy,
    2 schedulingConstraints scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints,
    3 disruptionMode scheduling.v1alpha3.WorkloadPodGroupDisruptionMode,
    4 resourceClaims scheduling.v1alpha3.WorkloadPodGroupResourceClaim[]
JobSpec: 1 parallelism int32!, 2 completions int32!, 3 activeDeadlineSeconds int64!,
    4 selector meta.v1.LabelSelector, 5 manualSelector bool!, 6 template core.v1.PodTemplateSpec,
    7 backoffLimit int32!, 8 ttlSecondsAfterFinished int32!, 9 completionMode string!,
    10 suspend bool!, 11 podFailurePolicy PodFailurePolicy, 12 backoffLimitPerIndex int32!,
    13 maxFailedIndexes int32!, 14 podReplacementPolicy string!, 15 managedBy string!,
    16 successPolicy SuccessPolicy, 17 scheduling JobSchedulingConfiguration
JobStatus: 1 conditions JobCondition[], 2 startTime time, 3 completionTime time, 4 active int32,
    5 succeeded int32, 6 failed int32, 7 completedIndexes string,
    8 uncountedTerminatedPods UncountedTerminatedPods, 9 ready int32!, 10 failedIndexes string!,
    11 terminating int32!
JobTemplateSpec: 1 metadata meta.v1.ObjectMeta, 2 spec JobSpec
PodFailurePolicy: 1 rules PodFailurePolicyRule[]
PodFailurePolicyOnExitCodesRequirement: 1 containerName string!, 2 operator string!, 3 values int32[]
PodFailurePolicyOnPodConditionsPattern: 1 type string!, 2 status string!
PodFailurePolicyRule: 1 action string!, 2 onExitCodes PodFailurePolicyOnExitCodesRequirement,
    3 onPodConditions PodFailurePolicyOnPodConditionsPattern[]
SuccessPolicy: 1 rules SuccessPolicyRule[]
SuccessPolicyRule: 1 succeededIndexes string!, 2 succeededCount int32!
UncountedTerminatedPods: 1 succeeded string[], 2 failed string[]

package autoscaling.v1
CrossVersionObjectReference: 1 kind string!, 2 name string!, 3 apiVersion string
HorizontalPodAutoscaler: 1 metadata meta.v1.ObjectMeta, 2 spec HorizontalPodAutoscalerSpec,
    3 status HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerSpec: 1 scaleTargetRef CrossVersionObjectReference, 2 minReplicas int32!,
    3 maxReplicas int32!, 4 targetCPUUtilizationPercentage int32!
HorizontalPodAutoscalerStatus: 1 observedGeneration int64!, 2 lastScaleTime time,
    3 currentReplicas int32!, 4 desiredReplicas int32!, 5 currentCPUUtilizationPercentage int32!
Scale: 1 metadata meta.v1.ObjectMeta, 2 spec ScaleSpec, 3 status ScaleStatus
ScaleSpec: 1 replicas int32
ScaleStatus: 1 replicas int32!, 2 selector string

package autoscaling.v2
ContainerResourceMetricSource: 1 name string!, 2 target MetricTarget, 3 container string!
ContainerResourceMetricStatus: 1 name string!, 2 current MetricValueStatus, 3 container string!
CrossVersionObjectReference: 1 kind string!, 2 name string!, 3 apiVersion string
ExternalMetricSource: 1 metric MetricIdentifier, 2 target MetricTarget
ExternalMetricStatus: 1 metric MetricIdentifier, 2 current MetricValueStatus
HPAScalingPolicy: 1 type string!, 2 value int32!, 3 periodSeconds int32!
HPAScalingRules: 1 selectPolicy string!, 2 policies HPAScalingPolicy[],
    3 stabilizationWindowSeconds int32!, 4 tolerance quantity
HorizontalPodAutoscaler: 1 metadata meta.v1.ObjectMeta, 2 spec HorizontalPodAutoscalerSpec,
    3 status HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerBehavior: 1 scaleUp HPAScalingRules, 2 scaleDown HPAScalingRules
HorizontalPodAutoscalerCondition: 1 type string!, 2 status string!, 3 lastTransitionTime time,
    4 reason string, 5 message string, 6 observedGeneration int64!
HorizontalPodAutoscalerSpec: 1 scaleTargetRef CrossVersionObjectReference, 2 minReplicas int32!,
    3 maxReplicas int32!, 4 metrics MetricSpec[], 5 behavior HorizontalPodAutoscalerBehavior
HorizontalPodAutoscalerStatus: 1 observedGeneration int64!, 2 lastScaleTime time,
    3 currentReplicas int32, 4 desiredReplicas int32!, 5 currentMetrics MetricStatus[],
    6 conditions HorizontalPodAutoscalerCondition[]
MetricIdentifier: 1 name string!, 2 selector meta.v1.LabelSelector
MetricSpec: 1 type string!, 2 object ObjectMetricSource, 3 pods PodsMetricSource,
    4 resource ResourceMetricSource, 5 external ExternalMetricSource,
    7 containerResource ContainerResourceMetricSource
MetricStatus: 1 type string!, 2 object ObjectMetricStatus, 3 pods PodsMetricStatus,
    4 resource ResourceMetricStatus, 5 external ExternalMetricStatus,
    7 containerResource ContainerResourceMetricStatus
MetricTarget: 1 type string!, 2 value quantity, 3 averageValue quantity, 4 averageUtilization int32!
MetricValueStatus: 1 value quantity, 2 averageValue quantity, 3 averageUtilization int32!
ObjectMetricSource: 1 describedObject CrossVersionObjectReference, 2 target MetricTarget,
    3 metric MetricIdentifier
ObjectMetricStatus: 1 metric MetricIdentifier, 2 current MetricValueStatus,
    3 describedObject CrossVersionObjectReference
PodsMetricSource: 1 metric MetricIdentifier, 2 target MetricTarget
PodsMetricStatus: 1 metric MetricIdentifier, 2 current MetricValueStatus
ResourceMetricSource: 1 name string!, 2 target MetricTarget
ResourceMetricStatus: 1 name string!, 2 current MetricValueStatus

package coordination.v1
Lease: 1 metadata meta.v1.ObjectMeta, 2 spec LeaseSpec
LeaseSpec: 1 holderIdentity string!, 2 leaseDurationSeconds int32!, 3 acquireTime microtime,
    4 renewTime microtime, 5 leaseTransitions int32!, 6 strategy string!, 7 preferredHolder string!

package rbac.v1
AggregationRule: 1 clusterRoleSelectors meta.v1.LabelSelector[]
ClusterRole: 1 metadata meta.v1.ObjectMeta, 2 rules PolicyRule[], 3 aggregationRule AggregationRule
ClusterRoleBinding: 1 metadata meta.v1.ObjectMeta, 2 subjects Subject[], 3 roleRef RoleRef
PolicyRule: 1 verbs string[], 2 apiGroups string[], 3 resources string[], 4 resourceNames string[],
    5 nonResourceURLs string[]
Role: 1 metadata meta.v1.ObjectMeta, 2 rules PolicyRule[]
RoleBinding: 1 metadata meta.v1.ObjectMeta, 2 subjects Subject[], 3 roleRef RoleRef
RoleRef: 1 apiGroup string!, 2 kind string!, 3 name string!
Subject: 1 kind string!, 2 apiGroup string, 3 name string!, 4 namespace string

package scheduling.v1
PriorityClass: 1 metadata meta.v1.ObjectMeta, 2 value int32!, 3 globalDefault bool,
    4 description string, 5 preemptionPolicy string!

package policy.v1
Eviction: 1 metadata meta.v1.ObjectMeta, 2 deleteOptions meta.v1.DeleteOptions
PodDisruptionBudget: 1 metadata meta.v1.ObjectMeta, 2 spec PodDisruptionBudgetSpec,
    3 status PodDisruptionBudgetStatus
PodDisruptionBudgetSpec: 1 minAvailable intorstring, 2 selector meta.v1.LabelSelector,
    3 maxUnavailable intorstring, 4 unhealthyPodEvictionPolicy string!
PodDisruptionBudgetStatus: 1 observedGeneration int64, 2 disruptedPods map[time],
    3 disruptionsAllowed int32!, 4 currentHealthy int32!, 5 desiredHealthy int32!,
    6 expectedPods int32!, 7 conditions meta.v1.Condition[]

package networking.v1
HTTPIngressPath: 1 path string, 2 backend IngressBackend, 3 pathType string!
HTTPIngressRuleValue: 1 paths HTTPIngressPath[]
IPAddress: 1 metadata meta.v1.ObjectMeta, 2 spec IPAddressSpec
IPAddressSpec: 1 parentRef ParentReference
IPBlock: 1 cidr string!, 2 except string[]
Ingress: 1 metadata meta.v1.ObjectMeta, 2 spec IngressSpec, 3 status IngressStatus
IngressBackend: 3 resource core.v1.TypedLocalObjectReference, 4 service IngressServiceBackend
IngressClass: 1 metadata meta.v1.ObjectMeta, 2 spec IngressClassSpec
IngressClassParametersReference: 1 apiGroup string!, 2 kind string!, 3 name string!, 4 scope string!,
    5 namespace string!
IngressClassSpec: 1 controller string, 2 parameters IngressClassParametersReference
IngressLoadBalancerIngress: 1 ip string, 2 hostname string, 4 ports IngressPortStatus[]
IngressLoadBalancerStatus: 1 ingress IngressLoadBalancerIngress[]
IngressPortStatus: 1 port int32!, 2 protocol string!, 3 error string!
IngressRule: 1 host string, 2 - IngressRuleValue^
IngressRuleValue: 1 http HTTPIngressRuleValue
IngressServiceBackend: 1 name string!, 2 port ServiceBackendPort
IngressSpec: 1 defaultBackend IngressBackend, 2 tls IngressTLS[], 3 rules IngressRule[],
    4 ingressClassName string!
IngressStatus: 1 loadBalancer IngressLoadBalancerStatus
IngressTLS: 1 hosts string[], 2 secretName string
NetworkPolicy: 1 metadata meta.v1.ObjectMeta, 2 spec NetworkPolicySpec
NetworkPolicyEgressRule: 1 ports NetworkPolicyPort[], 2 to NetworkPolicyPeer[]
NetworkPolicyIngressRule: 1 ports NetworkPolicyPort[], 2 from NetworkPolicyPeer[]
NetworkPolicyPeer: 1 podSelector meta.v1.LabelSelector, 2 namespaceSelector meta.v1.LabelSelector,
    3 ipBlock IPBlock
NetworkPolicyPort: 1 protocol string!, 2 port intorstring, 3 endPort int32!
NetworkPolicySpec: 1 podSelector meta.v1.LabelSelector, 2 ingress NetworkPolicyIngressRule[],
    3 egress NetworkPolicyEgressRule[], 4 policyTypes string[]
ParentReference: 1 group string, 2 resource string, 3 namespace string, 4 name string
ServiceBackendPort: 1 name string, 2 number int32
ServiceCIDR: 1 metadata meta.v1.ObjectMeta, 2 spec ServiceCIDRSpec, 3 status ServiceCIDRStatus
ServiceCIDRSpec: 1 cidrs string[]
ServiceCIDRStatus: 1 conditions meta.v1.Condition[]

package authentication.v1
BoundObjectReference: 1 kind string, 2 apiVersion string, 3 name string, 4 uid string
SelfSubjectReview: 1 metadata meta.v1.ObjectMeta, 2 status SelfSubjectReviewStatus
SelfSubjectReviewStatus: 1 userInfo UserInfo
TokenRequest: 1 metadata meta.v1.ObjectMeta, 2 spec TokenRequestSpec, 3 status TokenRequestStatus
TokenRequestSpec: 1 audiences string[], 3 boundObjectRef BoundObjectReference,
    4 expirationSeconds int64!, 5 attestations map[strings]
TokenRequestStatus: 1 token string!, 2 expirationTimestamp time
TokenReview: 1 metadata meta.v1.ObjectMeta, 2 spec TokenReviewSpec, 3 status TokenReviewStatus
TokenReviewSpec: 1 token string, 2 audiences string[]
TokenReviewStatus: 1 authenticated bool, 2 user UserInfo, 3 error string, 4 audiences string[]
UserInfo: 1 username string, 2 uid string, 3 groups string[], 4 extra map[strings]

package authorization.v1
FieldSelectorAttributes: 1 rawSelector string, 2 requirements meta.v1.FieldSelectorRequirement[]
LabelSelectorAttributes: 1 rawSelector string, 2 requirements meta.v1.LabelSelectorRequirement[]
LocalSubjectAccessReview: 1 metadata meta.v1.ObjectMeta, 2 spec SubjectAccessReviewSpec,
    3 status SubjectAccessReviewStatus
NonResourceAttributes: 1 path string, 2 verb string
NonResourceRule: 1 verbs string[], 2 nonResourceURLs string[]
ResourceAttributes: 1 namespace string, 2 verb string, 3 group string, 4 version string,
    5 resource string, 6 subresource string, 7 name string, 8 fieldSelector FieldSelectorAttributes,
    9 labelSelector LabelSelectorAttributes
ResourceRule: 1 verbs string[], 2 apiGroups string[], 3 resources string[], 4 resourceNames string[]
SelfSubjectAccessReview: 1 metadata meta.v1.ObjectMeta, 2 spec SelfSubjectAccessReviewSpec,
    3 status SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes,
    2 nonResourceAttributes NonResourceAttributes
SelfSubjectRulesReview: 1 metadata meta.v1.ObjectMeta, 2 spec SelfSubjectRulesReviewSpec,
    3 status SubjectRulesReviewStatus
SelfSubjectRulesReviewSpec: 1 namespace string
SubjectAccessReview: 1 metadata meta.v1.ObjectMeta, 2 spec SubjectAccessReviewSpec,
    3 status SubjectAccessReviewStatus
SubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes,
    2 nonResourceAttributes NonResourceAttributes, 3 user string, 4 groups string[],
    5 extra map[strings], 6 uid string
SubjectAccessReviewStatus: 1 allowed bool!, 2 reason string, 3 evaluationError string, 4 denied bool
SubjectRulesReviewStatus: 1 resourceRules ResourceRule[], 2 nonResourceRules NonResourceRule[],
    3 incomplete bool!, 4 evaluationError string

package certificates.v1
CertificateSigningRequest: 1 metadata meta.v1.ObjectMeta, 2 spec CertificateSigningRequestSpec,
    3 status CertificateSigningRequestStatus
CertificateSigningRequestCondition: 1 type string!, 2 reason string, 3 message string,
    4 lastUpdateTime time, 5 lastTransitionTime time, 6 status string!
CertificateSigningRequestSpec: 1 request bytes!, 2 username string, 3 uid string, 4 groups string[],
    5 usages string[], 6 extra map[strings], 7 signerName string!, 8 expirationSeconds int32!
CertificateSigningRequestStatus: 1 conditions CertificateSigningRequestCondition[],
    2 certificate bytes
ClusterTrustBundle: 1 metadata meta.v1.ObjectMeta, 2 spec ClusterTrustBundleSpec
ClusterTrustBundleSpec: 1 signerName string, 2 trustBundle string!
PodCertificateRequest: 1 metadata meta.v1.ObjectMeta, 2 spec PodCertificateRequestSpec,
    3 status PodCertificateRequestStatus
PodCertificateRequestSpec: 1 signerName string!, 2 podName string!, 3 podUID string!,
    4 serviceAccountName string!, 5 serviceAccountUID string!, 6 nodeName string!, 7 nodeUID string!,
    8 maxExpirationSeconds int32!, 11 unverifiedUserAnnotations map[string],
    12 stubPKCS10Request bytes!
PodCertificateRequestStatus: 1 conditions meta.v1.Condition[], 2 certificateChain string,
    4 notBefore time, 5 beginRefreshAt time, 6 notAfter time

package events.v1
Event: 1 metadata meta.v1.ObjectMeta, 2 eventTime microtime, 3 series EventSeries,
    4 reportingController string, 5 reportingInstance string, 6 action string, 7 reason string,
    8 regarding core.v1.ObjectReference, 9 related core.v1.ObjectReference, 10 note string,
    11 type string, 12 deprecatedSource core.v1.EventSource, 13 deprecatedFirstTimestamp time,
    14 deprecatedLastTimestamp time, 15 deprecatedCount int32
EventSeries: 1 count int32!, 2 lastObservedTime microtime

package discovery.v1
Endpoint: 1 addresses string[], 2 conditions EndpointConditions, 3 hostname string!,
    4 targetRef core.v1.ObjectReference, 5 deprecatedTopology map[string], 6 nodeName string!,
    7 zone string!, 8 hints EndpointHints
EndpointConditions: 1 ready bool!, 2 serving bool!, 3 terminating bool!
EndpointHints: 1 forZones ForZone[], 2 forNodes ForNode[]
EndpointPort: 1 name string!, 2 protocol string!, 3 port int32!, 4 appProtocol string!
EndpointSlice: 1 metadata meta.v1.ObjectMeta, 2 endpoints Endpoint[], 3 ports EndpointPort[],
    4 addressType string!
ForNode: 1 name string!
ForZone: 1 name string!

package storage.v1
CSIDriver: 1 metadata meta.v1.ObjectMeta, 2 spec CSIDriverSpec
CSIDriverSpec: 1 attachRequired bool!, 2 podInfoOnMount bool!, 3 volumeLifecycleModes string[],
    4 storageCapacity bool!, 5 fsGroupPolicy string!, 6 tokenRequests TokenRequest[],
    7 requiresRepublish bool!, 8 seLinuxMount bool!, 9 nodeAllocatableUpdatePeriodSeconds int64!,
    10 serviceAccountTokenInSecrets bool!, 11 preventPodSchedulingIfMissing bool!
CSINode: 1 metadata meta.v1.ObjectMeta, 2 spec CSINodeSpec, 3 status CSINodeStatus
CSINodeDriver: 1 name string!, 2 nodeID string!, 3 topologyKeys string[],
    4 allocatable VolumeNodeResources
CSINodeSpec: 1 drivers CSINodeDriver[]
CSINodeStatus: 1 storageHealth StorageHealth[]
CSIStorageCapacity: 1 metadata meta.v1.ObjectMeta, 2 nodeTopology meta.v1.LabelSelector,
    3 storageClassName string!, 4 capacity quantity, 5 maximumVolumeSize quantity
StorageClass: 1 metadata meta.v1.ObjectMeta, 2 provisioner string!, 3 parameters map[string],
    4 reclaimPolicy string!, 5 mountOptions string[], 6 allowVolumeExpansion bool!,
    7 volumeBindingMode string!, 8 allowedTopologies core.v1.TopologySelectorTerm[]
StorageHealth: 1 name string!, 2 healthConditions StorageHealthCondition[]
StorageHealthCondition: 1 status string!, 2 reason string!, 3 message string, 4 accessMode string!,
    5 volumeMode string!, 6 lastTransitionTime time
TokenRequest: 1 audience string!, 2 expirationSeconds int64!
VolumeAttachment: 1 metadata meta.v1.ObjectMeta, 2 spec VolumeAttachmentSpec,
    3 status VolumeAttachmentStatus
VolumeAttachmentSource: 1 persistentVolumeName string!,
    2 inlineVolumeSpec core.v1.PersistentVolumeSpec
VolumeAttachmentSpec: 1 attacher string!, 2 source VolumeAttachmentSource, 3 nodeName string!
VolumeAttachmentStatus: 1 attached bool!, 2 attachmentMetadata map[string], 3 attachError VolumeError,
    4 detachError VolumeError
VolumeAttributesClass: 1 metadata meta.v1.ObjectMeta, 2 driverName string!, 3 parameters map[string]
VolumeError: 1 time time, 2 message string, 3 errorCode int32!
VolumeNodeResources: 1 count int32!

package node.v1
Overhead: 1 podFixed map[quantity]
RuntimeClass: 1 metadata meta.v1.ObjectMeta, 2 handler string!, 3 overhead Overhead,
    4 scheduling Scheduling
Scheduling: 1 nodeSelector map[string], 2 tolerations core.v1.Toleration[]

package scheduling.v1alpha3
TopologyConstraint: 1 key string!
WorkloadPodGroupAllDisruptionMode:
WorkloadPodGroupBasicSchedulingPolicy:
WorkloadPodGroupDisruptionMode: 1 single WorkloadPodGroupSingleDisruptionMode,
    2 all WorkloadPodGroupAllDisruptionMode
WorkloadPodGroupGangSchedulingPolicy: 1 minCount int32!
WorkloadPodGroupResourceClaim: 1 name string!, 2 resourceClaimName string!,
    3 resourceClaimTemplateName string!
WorkloadPodGroupSchedulingConstraints: 1 topology TopologyConstraint[]
WorkloadPodGroupSchedulingPolicy: 1 basic WorkloadPodGroupBasicSchedulingPolicy,
    2 gang WorkloadPodGroupGangSchedulingPolicy
WorkloadPodGroupSingleDisruptionMode:"""


def _parse_field(spec: str, package: str) -> Field:
    number, name, type_ = spec.split()
    flags = type_[len(type_.rstrip("!^~")) :]
    type_ = type_.rstrip("!^~")
    label = SINGLE
    if type_.endswith("[]"):
        label, type_ = REPEATED, type_[:-2]
    elif type_.startswith("map[") and type_.endswith("]"):
        label, type_ = MAP, type_[4:-1]
    if type_ not in SCALARS and type_ not in CODECS and "." not in type_:
        type_ = "%s.%s" % (package, type_)
    inline = "^" in flags
    return Field(int(number), "" if inline else name, type_, label, "!" in flags, inline, "~" in flags)


def _parse(text: str) -> dict[str, dict[int, Field]]:
    entries: list[tuple[str, str]] = []
    package = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("package "):
            package = line.split()[1]
        elif line[0] == " ":
            entries[-1] = (entries[-1][0], entries[-1][1] + " " + line.strip())
        else:
            entries.append((package, line))
    messages: dict[str, dict[int, Field]] = {}
    for package, entry in entries:
        name, _, body = entry.partition(":")
        fields = [_parse_field(spec, package) for spec in body.split(",") if spec.strip()]
        messages["%s.%s" % (package, name)] = {f.number: f for f in fields}
    for message, fields in messages.items():
        for f in fields.values():
            if f.type not in SCALARS and f.type not in CODECS and f.type not in messages:
                raise ValueError(
                    "protobuf table %s field %d names unknown type %s" % (message, f.number, f.type)
                )
    return messages


MESSAGES = _parse(_TABLES)

# (apiVersion, kind) -> message name
KINDS = {
    (API_VERSIONS[package], kind): "%s.%s" % (package, kind)
    for package, kinds in _KINDS.items()
    for kind in kinds.split()
}
