"""OpenAPI v3 schemas of the built-in kinds, named as Kubernetes names them (io.k8s.api.core.v1.Pod, ...).

`DEFINITIONS` holds them with `$ref`s between them, the shape /openapi/v3 serves; `inline(name)` gives
a self-contained copy for validators and patchers (recursion, only in JSONSchemaProps, is cut to an
open object). Every described struct lists all of its fields; the parts users rarely write are open
objects (`x-kubernetes-preserve-unknown-fields`), so a valid object is never rejected. List fields carry
the patch strategy and merge key kubectl's strategic merge patch reads, and the list type for apply.
"""

from collections.abc import Mapping
from typing import Any

Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
COORDINATION = "io.k8s.api.coordination.v1."
AUTOSCALING = "io.k8s.api.autoscaling.v1."
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

#: Package prefix of the schema names of each built-in group.
GROUP_PREFIXES = {
    "": CORE,
    "apps": APPS,
    "coordination.k8s.io": COORDINATION,
    "autoscaling": AUTOSCALING,
    "apiextensions.k8s.io": APIEXT,
}

DEFINITIONS: dict[str, Schema] = {}


# -- building blocks -----------------------------------------------------------------------------------


def ref(name: str, description: str = "") -> Schema:
    target = {"$ref": REF_PREFIX + name}
    return {"description": description, "allOf": [target]} if description else target


def string(description: str = "", *, enum: tuple[str, ...] = (), fmt: str = "") -> Schema:
    s: Schema = {"type": "string"}
    if fmt:
        s["format"] = fmt
    if enum:
        s["enum"] = list(enum)
    if description:
        s["description"] = description
    return s


def integer(description: str = "", *, fmt: str = "int32") -> Schema:
    s: Schema = {"type": "integer", "format": fmt}
    if description:
        s["description"] = description
    return s


def int64(description: str = "") -> Schema:
    return integer(description, fmt="int64")


def boolean(description: str = "") -> Schema:
    s: Schema = {"type": "boolean"}
    if description:
        s["description"] = description
    return s


def string_map(description: str = "") -> Schema:
    s: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    if description:
        s["description"] = description
    return s


def time(description: str = "") -> Schema:
    return ref(META + "Time", description)


def quantities(description: str = "") -> Schema:
    s: Schema = {"type": "object", "additionalProperties": ref(QUANTITY)}
    if description:
        s["description"] = description
    return s


def array(
    items: Schema,
    description: str = "",
    *,
    merge_key: str = "",
    strategy: str = "",
    list_type: str = "atomic",
    map_keys: tuple[str, ...] = (),
) -> Schema:
    s: Schema = {"type": "array", "items": items}
    if description:
        s["description"] = description
    if strategy:
        s["x-kubernetes-patch-strategy"] = strategy
    if merge_key:
        s["x-kubernetes-patch-merge-key"] = merge_key
    s["x-kubernetes-list-type"] = list_type
    if map_keys:
        s["x-kubernetes-list-map-keys"] = list(map_keys)
    return s


def keyed(
    items: Schema, description: str, key: str, *, strategy: str = "merge", keys: tuple[str, ...] = ()
) -> Schema:
    """A list merged by `key` on strategic merge patch and treated as a map by server-side apply."""
    return array(
        items, description, merge_key=key, strategy=strategy, list_type="map", map_keys=keys or (key,)
    )


def strings(description: str = "", *, list_type: str = "atomic") -> Schema:
    return array({"type": "string"}, description, list_type=list_type)


def opaque(description: str) -> Schema:
    """A field this server does not describe further: any object is accepted and kept."""
    return {"description": description, "type": "object", "x-kubernetes-preserve-unknown-fields": True}


def anything(description: str = "") -> Schema:
    """Any JSON value (a schema of a schema, a default, an example)."""
    s: Schema = {"x-kubernetes-preserve-unknown-fields": True}
    if description:
        s["description"] = description
    return s


def struct(description: str, properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    s: Schema = {"description": description, "type": "object", "properties": dict(properties)}
    if required:
        s["required"] = list(required)
    return s


def define(name: str, schema: Schema) -> None:
    if name in DEFINITIONS:
        raise ValueError("schema %s defined twice" % name)
    DEFINITIONS[name] = schema


def kind(
    name: str,
    group: str,
    version: str,
    kind_name: str,
    description: str,
    properties: Mapping[str, Schema],
    required: tuple[str, ...] = (),
    metadata: str = "Standard object's metadata.",
) -> None:
    """Define a top-level kind: apiVersion, kind and metadata plus its own fields, tagged with its GVK."""
    props: dict[str, Schema] = {
        "apiVersion": string(
            "APIVersion defines the versioned schema of this representation of an object. Servers convert "
            "recognized schemas to the latest internal value and may reject unrecognized values."
        ),
        "kind": string(
            "Kind is a string value representing the REST resource this object represents. In CamelCase."
        ),
        "metadata": ref(META + "ObjectMeta", metadata),
    }
    props.update(properties)
    schema = struct(description, props, required)
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind_name, "version": version}]
    define(name, schema)


# -- apimachinery --------------------------------------------------------------------------------------

define(
    META + "Time",
    {"description": "An RFC 3339 date and time, in UTC.", "type": "string", "format": "date-time"},
)
define(
    META + "MicroTime",
    {
        "description": "An RFC 3339 date and time with microseconds, in UTC.",
        "type": "string",
        "format": "date-time",
    },
)
define(
    QUANTITY,
    {
        "description": "A fixed-point number with an optional SI or binary suffix, e.g. 100m, 1.5, 128Mi.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
)
define(
    INT_OR_STRING,
    {
        "description": "An integer or a string, e.g. a port number or name, or a percentage.",
        "format": "int-or-string",
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    },
)
define(
    META + "FieldsV1",
    {"description": "The set of fields a field manager owns, in fieldsV1 format.", "type": "object"},
)
define(
    META + "OwnerReference",
    struct(
        "Identifies an object that owns this one; the owner must be in the same namespace or cluster-scoped.",
        {
            "apiVersion": string("API version of the owner."),
            "kind": string("Kind of the owner."),
            "name": string("Name of the owner."),
            "uid": string("UID of the owner."),
            "controller": boolean("True if the owner is the managing controller; at most one owner may be."),
            "blockOwnerDeletion": boolean(
                "If true and the owner has the foregroundDeletion finalizer, the owner cannot be deleted "
                "from the key-value store until this reference is removed."
            ),
        },
        ("apiVersion", "kind", "name", "uid"),
    ),
)
DEFINITIONS[META + "OwnerReference"]["x-kubernetes-map-type"] = "atomic"
define(
    META + "ManagedFieldsEntry",
    struct(
        "Which fields a field manager set, with which operation and API version.",
        {
            "manager": string("Name of the workflow managing these fields."),
            "operation": string("Apply or Update: the operation that set the fields."),
            "apiVersion": string("Version of the resource the fields are described in."),
            "time": time("When the fields were last changed by this manager."),
            "fieldsType": string('Format of fieldsV1; the only value is "FieldsV1".'),
            "fieldsV1": ref(META + "FieldsV1", "The fields this manager owns."),
            "subresource": string("Subresource the fields were set through, empty for the main resource."),
        },
    ),
)
define(
    META + "ObjectMeta",
    struct(
        "Metadata that every persisted object has: name, namespace, labels, annotations, ownership and "
        "bookkeeping maintained by the server.",
        {
            "name": string(
                "Name, unique within a namespace (or the cluster, for cluster-scoped kinds). Immutable."
            ),
            "generateName": string(
                "Prefix the server completes with a random suffix to make a unique name, when name is empty."
            ),
            "namespace": string(
                "Namespace the object lives in; empty for cluster-scoped objects. Cannot be updated."
            ),
            "selfLink": string("Deprecated and always empty."),
            "uid": string("Unique id the server assigns on creation. Read-only."),
            "resourceVersion": string(
                "Opaque version of this object, changed on every write; used for optimistic concurrency "
                "and watch. Read-only."
            ),
            "generation": int64("Sequence number of changes to the desired state. Read-only."),
            "creationTimestamp": time("When the server created this object. Read-only."),
            "deletionTimestamp": time(
                "When this object will be deleted; set by the server when deletion is requested. Read-only."
            ),
            "deletionGracePeriodSeconds": int64("Seconds allowed for graceful termination. Read-only."),
            "labels": string_map("Key/value pairs for selecting and organizing objects."),
            "annotations": string_map(
                "Key/value pairs of unstructured information for tools; not queryable."
            ),
            "ownerReferences": keyed(
                ref(META + "OwnerReference"),
                "Objects this object depends on; it is garbage-collected when all owners are gone.",
                "uid",
            ),
            "finalizers": array(
                {"type": "string"},
                "Conditions that must be cleared before the object is removed from storage.",
                strategy="merge",
                list_type="set",
            ),
            "managedFields": array(
                ref(META + "ManagedFieldsEntry"),
                "Which field manager set which fields. Internal bookkeeping.",
            ),
        },
    ),
)
define(
    META + "ListMeta",
    struct(
        "Metadata of a list: its resourceVersion and the token to continue a paginated list.",
        {
            "selfLink": string("Deprecated and always empty."),
            "resourceVersion": string("Version of the collection; watch from it to receive later changes."),
            "continue": string("Token to request the next page, empty on the last page."),
            "remainingItemCount": int64("Number of items after this page, when the server knows it."),
        },
    ),
)
define(
    META + "LabelSelectorRequirement",
    struct(
        "A label key, an operator and values.",
        {
            "key": string("The label key the selector applies to."),
            "operator": string(
                "In, NotIn, Exists or DoesNotExist.", enum=("In", "NotIn", "Exists", "DoesNotExist")
            ),
            "values": strings("Values for In and NotIn; must be empty for Exists and DoesNotExist."),
        },
        ("key", "operator"),
    ),
)
define(
    META + "LabelSelector",
    struct(
        "Selects objects by labels; matchLabels and matchExpressions are ANDed. Empty matches all.",
        {
            "matchLabels": string_map("Labels that must all be present with these values."),
            "matchExpressions": array(
                ref(META + "LabelSelectorRequirement"), "Requirements that must all hold."
            ),
        },
    ),
)
DEFINITIONS[META + "LabelSelector"]["x-kubernetes-map-type"] = "atomic"
define(
    META + "Condition",
    struct(
        "One aspect of the current state of an object.",
        {
            "type": string("Type of condition in CamelCase, e.g. Ready."),
            "status": string("True, False or Unknown.", enum=("True", "False", "Unknown")),
            "observedGeneration": int64("metadata.generation the condition was set for."),
            "lastTransitionTime": time("When the status last changed."),
            "reason": string("Programmatic identifier of the reason for the last transition, in CamelCase."),
            "message": string("Human-readable detail about the transition."),
        },
        ("type", "status", "lastTransitionTime", "reason", "message"),
    ),
)
define(
    META + "StatusCause",
    struct(
        "One cause of an error.",
        {
            "reason": string("Machine-readable cause, e.g. FieldValueInvalid."),
            "message": string("Human-readable description of the cause."),
            "field": string("The field that caused the error, e.g. spec.containers[0].name."),
        },
    ),
)
define(
    META + "StatusDetails",
    struct(
        "Extra data about an error, set when the reason has one.",
        {
            "name": string("Name of the object the error is about."),
            "group": string("Group of the object the error is about."),
            "kind": string("Kind (or resource) of the object the error is about."),
            "uid": string("UID of the object the error is about."),
            "causes": array(ref(META + "StatusCause"), "The causes of the error."),
            "retryAfterSeconds": integer("Seconds to wait before retrying."),
        },
    ),
)
define(
    META + "Status",
    struct(
        "The result of an operation that does not return an object, e.g. an error or a deletion.",
        {
            "apiVersion": string("APIVersion of this representation."),
            "kind": string("Status"),
            "metadata": ref(META + "ListMeta", "Standard list metadata."),
            "status": string("Success or Failure."),
            "message": string("Human-readable description of the result."),
            "reason": string("Machine-readable reason, e.g. NotFound, AlreadyExists, Invalid."),
            "details": ref(META + "StatusDetails", "Extended data associated with the reason."),
            "code": integer("HTTP status code."),
        },
    ),
)
define(
    META + "Preconditions",
    struct(
        "Must be met before a deletion is carried out.",
        {"resourceVersion": string("The target resourceVersion."), "uid": string("The target UID.")},
    ),
)
define(
    META + "DeleteOptions",
    struct(
        "Options for a deletion.",
        {
            "apiVersion": string("APIVersion of this representation."),
            "kind": string("DeleteOptions"),
            "dryRun": strings("All: validate without persisting."),
            "gracePeriodSeconds": int64("Seconds before the object is deleted; 0 deletes immediately."),
            "preconditions": ref(META + "Preconditions", "Must be fulfilled before the deletion."),
            "orphanDependents": boolean("Deprecated: use propagationPolicy."),
            "propagationPolicy": string(
                "Orphan, Background or Foreground: whether and how dependents are garbage-collected."
            ),
            "ignoreStoreReadErrorWithClusterBreakingPotential": boolean(
                "Delete even if the object cannot be read from storage. Use with care."
            ),
        },
    ),
)
define(
    META + "Patch",
    {
        "description": "A patch: JSON patch, merge patch, strategic merge patch or apply configuration.",
        "type": "object",
    },
)


# -- core/v1: building blocks of pods -------------------------------------------------------------------

define(
    CORE + "ObjectReference",
    struct(
        "A reference to an object, with enough information to find it.",
        {
            "kind": string("Kind of the referent."),
            "namespace": string("Namespace of the referent."),
            "name": string("Name of the referent."),
            "uid": string("UID of the referent."),
            "apiVersion": string("API version of the referent."),
            "resourceVersion": string("Specific resourceVersion this reference is made to, if any."),
            "fieldPath": string(
                "A piece of the object rather than the whole, e.g. spec.containers{name} for one container."
            ),
        },
    ),
)
DEFINITIONS[CORE + "ObjectReference"]["x-kubernetes-map-type"] = "atomic"
define(
    CORE + "LocalObjectReference",
    struct("A reference to an object in the same namespace.", {"name": string("Name of the referent.")}),
)
DEFINITIONS[CORE + "LocalObjectReference"]["x-kubernetes-map-type"] = "atomic"


def _key_selector(what: str) -> Schema:
    s = struct(
        "Selects a key of a %s." % what,
        {
            "name": string("Name of the %s." % what),
            "key": string("The key to select."),
            "optional": boolean("Whether the %s or its key may be missing." % what),
        },
        ("key",),
    )
    s["x-kubernetes-map-type"] = "atomic"
    return s


define(CORE + "ConfigMapKeySelector", _key_selector("ConfigMap"))
define(CORE + "SecretKeySelector", _key_selector("Secret"))
define(
    CORE + "ObjectFieldSelector",
    struct(
        "Selects a field of the pod, e.g. metadata.name, metadata.namespace, status.podIP, spec.nodeName.",
        {
            "apiVersion": string('Version of the schema fieldPath is written in, default "v1".'),
            "fieldPath": string("Path of the field to select."),
        },
        ("fieldPath",),
    ),
)
define(
    CORE + "ResourceFieldSelector",
    struct(
        "Selects a container resource, e.g. limits.cpu or requests.memory.",
        {
            "containerName": string(
                "Container name; required for volumes, optional for environment variables."
            ),
            "resource": string("The resource to select."),
            "divisor": ref(QUANTITY, 'Output format of the value, default "1".'),
        },
        ("resource",),
    ),
)
define(
    CORE + "EnvVarSource",
    struct(
        "Where an environment variable's value comes from.",
        {
            "fieldRef": ref(CORE + "ObjectFieldSelector", "A field of the pod."),
            "resourceFieldRef": ref(CORE + "ResourceFieldSelector", "A resource of the container."),
            "configMapKeyRef": ref(
                CORE + "ConfigMapKeySelector", "A key of a ConfigMap in the pod's namespace."
            ),
            "secretKeyRef": ref(CORE + "SecretKeySelector", "A key of a Secret in the pod's namespace."),
            "fileKeyRef": opaque("A key of an env file in a volume."),
        },
    ),
)
define(
    CORE + "EnvVar",
    struct(
        "An environment variable of a container.",
        {
            "name": string("Name of the variable."),
            "value": string("Value; $(VAR) references to earlier variables are expanded."),
            "valueFrom": ref(CORE + "EnvVarSource", "Source of the value, when value is empty."),
        },
        ("name",),
    ),
)
define(
    CORE + "EnvFromSource",
    struct(
        "A set of environment variables taken from a ConfigMap or Secret.",
        {
            "prefix": string("Prefix to add to each variable name."),
            "configMapRef": struct(
                "The ConfigMap to take variables from.",
                {
                    "name": string("Name of the ConfigMap."),
                    "optional": boolean("Whether the ConfigMap may be missing."),
                },
            ),
            "secretRef": struct(
                "The Secret to take variables from.",
                {
                    "name": string("Name of the Secret."),
                    "optional": boolean("Whether the Secret may be missing."),
                },
            ),
        },
    ),
)
define(
    CORE + "ContainerPort",
    struct(
        "A network port a container listens on.",
        {
            "name": string("IANA_SVC_NAME for the port, unique in the pod; services can refer to it."),
            "hostPort": integer("Port to expose on the host; most containers do not need this."),
            "containerPort": integer("Port number on the pod's IP address, 0 < x < 65536."),
            "protocol": string("UDP, TCP or SCTP; defaults to TCP.", enum=("SCTP", "TCP", "UDP")),
            "hostIP": string("Host IP to bind the external port to."),
        },
        ("containerPort",),
    ),
)
define(
    CORE + "ResourceRequirements",
    struct(
        "Compute resources a container needs (requests) and may use at most (limits).",
        {
            "limits": quantities("Maximum amount of each resource, e.g. cpu: 500m, memory: 128Mi."),
            "requests": quantities("Minimum amount of each resource; defaults to limits when omitted."),
            "claims": keyed(
                struct(
                    "A resource claim used by the container.",
                    {
                        "name": string("Name of an entry in pod.spec.resourceClaims."),
                        "request": string("Request name."),
                    },
                    ("name",),
                ),
                "Dynamically allocated resources used by this container.",
                "name",
                strategy="",
            ),
        },
    ),
)
define(
    CORE + "VolumeMount",
    struct(
        "Mounts a volume into a container.",
        {
            "name": string("Name of a volume of the pod."),
            "readOnly": boolean("Mount read-only; defaults to false."),
            "recursiveReadOnly": string(
                "Disabled, IfPossible or Enabled: whether read-only applies to submounts."
            ),
            "mountPath": string("Path in the container to mount the volume at; must not contain ':'."),
            "subPath": string("Path within the volume to mount instead of its root."),
            "mountPropagation": string("None, HostToContainer or Bidirectional."),
            "subPathExpr": string("Like subPath, with $(VAR) expansion from the container's environment."),
            "bindMountOptions": strings("Extra bind mount options.", list_type="set"),
        },
        ("name", "mountPath"),
    ),
)
define(
    CORE + "VolumeDevice",
    struct(
        "Maps a raw block device into a container.",
        {
            "name": string("Name of a persistentVolumeClaim volume."),
            "devicePath": string("Path in the container."),
        },
        ("name", "devicePath"),
    ),
)
define(
    CORE + "ExecAction",
    struct(
        "Runs a command in the container; exit status 0 is success.",
        {"command": strings("Command line to run, not in a shell.")},
    ),
)
define(
    CORE + "HTTPHeader",
    struct(
        "An HTTP header.",
        {"name": string("Header name."), "value": string("Header value.")},
        ("name", "value"),
    ),
)
define(
    CORE + "HTTPGetAction",
    struct(
        "An HTTP GET request; a status from 200 to 399 is success.",
        {
            "path": string("Path to request."),
            "port": ref(INT_OR_STRING, "Port number or name."),
            "host": string("Host name to connect to; defaults to the pod IP."),
            "scheme": string("HTTP or HTTPS; defaults to HTTP.", enum=("HTTP", "HTTPS")),
            "httpHeaders": array(ref(CORE + "HTTPHeader"), "Headers to send."),
        },
        ("port",),
    ),
)
define(
    CORE + "TCPSocketAction",
    struct(
        "Opens a TCP connection; success if it connects.",
        {"port": ref(INT_OR_STRING, "Port number or name."), "host": string("Host; defaults to the pod IP.")},
        ("port",),
    ),
)
define(
    CORE + "GRPCAction",
    struct(
        "Calls the gRPC health checking protocol.",
        {
            "port": integer("Port number of the gRPC service."),
            "service": string("Service name passed to the health check."),
        },
        ("port",),
    ),
)
define(
    CORE + "Probe",
    struct(
        "A health check of a container: exactly one of exec, httpGet, tcpSocket or grpc, and its timing.",
        {
            "exec": ref(CORE + "ExecAction", "Run a command."),
            "httpGet": ref(CORE + "HTTPGetAction", "Make an HTTP GET request."),
            "tcpSocket": ref(CORE + "TCPSocketAction", "Open a TCP connection."),
            "grpc": ref(CORE + "GRPCAction", "Call a gRPC health check."),
            "initialDelaySeconds": integer("Seconds after the container started before the first probe."),
            "timeoutSeconds": integer("Seconds after which a probe times out; defaults to 1."),
            "periodSeconds": integer("How often to probe, in seconds; defaults to 10."),
            "successThreshold": integer(
                "Consecutive successes to count as healthy after a failure; defaults to 1."
            ),
            "failureThreshold": integer("Consecutive failures to count as unhealthy; defaults to 3."),
            "terminationGracePeriodSeconds": int64("Grace period when a failed probe kills the container."),
        },
    ),
)
define(
    CORE + "LifecycleHandler",
    struct(
        "An action run at a lifecycle event: exactly one of exec, httpGet, tcpSocket or sleep.",
        {
            "exec": ref(CORE + "ExecAction", "Run a command."),
            "httpGet": ref(CORE + "HTTPGetAction", "Make an HTTP GET request."),
            "tcpSocket": ref(CORE + "TCPSocketAction", "Deprecated; not run."),
            "sleep": struct("Sleep for a while.", {"seconds": int64("Seconds to sleep.")}, ("seconds",)),
        },
    ),
)
define(
    CORE + "Lifecycle",
    struct(
        "Actions the runtime takes on container lifecycle events.",
        {
            "postStart": ref(CORE + "LifecycleHandler", "Run right after the container is created."),
            "preStop": ref(CORE + "LifecycleHandler", "Run before the container is terminated."),
            "stopSignal": string("Signal to stop the container with, e.g. SIGTERM."),
        },
    ),
)
define(
    CORE + "SecurityContext",
    struct(
        "Security options of a container; they override the pod's securityContext.",
        {
            "capabilities": struct(
                "Linux capabilities to add and drop.",
                {"add": strings("Capabilities to add."), "drop": strings("Capabilities to drop.")},
            ),
            "privileged": boolean("Run as privileged: like root on the host."),
            "seLinuxOptions": opaque("SELinux context of the container."),
            "windowsOptions": opaque("Windows-specific settings."),
            "runAsUser": int64("UID to run the entrypoint as."),
            "runAsGroup": int64("GID to run the entrypoint as."),
            "runAsNonRoot": boolean("Refuse to start the container as UID 0."),
            "readOnlyRootFilesystem": boolean("Mount the root filesystem read-only."),
            "allowPrivilegeEscalation": boolean(
                "Whether a process can gain more privileges than its parent."
            ),
            "procMount": string("Default or Unmasked."),
            "seccompProfile": opaque("Seccomp profile of the container."),
            "appArmorProfile": opaque("AppArmor profile of the container."),
        },
    ),
)

_CONTAINER_FIELDS: dict[str, Schema] = {
    "name": string("Name of the container, a DNS label unique in the pod. Cannot be updated."),
    "image": string("Container image name, e.g. nginx:1.27 or registry.example.com/app@sha256:..."),
    "command": strings("Entrypoint array, not run in a shell; the image's ENTRYPOINT when empty."),
    "args": strings("Arguments to the entrypoint; the image's CMD when empty."),
    "workingDir": string("Working directory; the image's default when empty."),
    "ports": keyed(
        ref(CORE + "ContainerPort"),
        "Ports to expose from the container; informational, any port the process listens on is reachable.",
        "containerPort",
        keys=("containerPort", "protocol"),
    ),
    "envFrom": array(ref(CORE + "EnvFromSource"), "Sources of environment variables; env takes precedence."),
    "env": keyed(ref(CORE + "EnvVar"), "Environment variables to set in the container.", "name"),
    "resources": ref(CORE + "ResourceRequirements", "Compute resources required by this container."),
    "resizePolicy": array(opaque("How a resource is resized."), "Resize policy per resource."),
    "restartPolicy": string("Always makes an init container a sidecar that keeps running."),
    "restartPolicyRules": array(
        opaque("A rule deciding restarts by exit code."), "Per-exit-code restart rules."
    ),
    "volumeMounts": keyed(ref(CORE + "VolumeMount"), "Volumes to mount into the container.", "mountPath"),
    "volumeDevices": keyed(ref(CORE + "VolumeDevice"), "Block devices used by the container.", "devicePath"),
    "livenessProbe": ref(CORE + "Probe", "Restart the container when this probe fails."),
    "readinessProbe": ref(CORE + "Probe", "Remove the pod from service endpoints while this probe fails."),
    "startupProbe": ref(CORE + "Probe", "Hold other probes until this one succeeds once."),
    "lifecycle": ref(CORE + "Lifecycle", "Actions on container start and stop."),
    "terminationMessagePath": string(
        "File the termination message is read from; /dev/termination-log by default."
    ),
    "terminationMessagePolicy": string("File or FallbackToLogsOnError."),
    "imagePullPolicy": string(
        "Always, Never or IfNotPresent; Always for :latest, IfNotPresent otherwise.",
        enum=("Always", "IfNotPresent", "Never"),
    ),
    "securityContext": ref(CORE + "SecurityContext", "Security options of the container."),
    "stdin": boolean("Allocate a buffer for stdin; reads return EOF otherwise."),
    "stdinOnce": boolean("Close stdin after the first attach session."),
    "tty": boolean("Allocate a TTY; needs stdin."),
}
define(CORE + "Container", struct("A container to run in a pod.", _CONTAINER_FIELDS, ("name",)))
define(
    CORE + "EphemeralContainer",
    struct(
        "A temporary container added to a running pod for debugging.",
        {**_CONTAINER_FIELDS, "targetContainerName": string("Container whose namespaces this one shares.")},
        ("name",),
    ),
)


def _items_field() -> Schema:
    return array(
        struct(
            "Maps a key to a file path in the volume.",
            {
                "key": string("The key to project."),
                "path": string("Relative path of the file; must not contain '..'."),
                "mode": integer("Permission bits of the file, 0000 to 0777."),
                "user": int64("Owner UID of the file."),
            },
            ("key", "path"),
        ),
        "Keys to project, each to a path; all keys as files named after them when empty.",
    )


define(
    CORE + "HostPathVolumeSource",
    struct(
        "A file or directory on the host.",
        {
            "path": string("Path on the host; a symlink is followed."),
            "type": string(
                '"", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice.'
            ),
        },
        ("path",),
    ),
)
define(
    CORE + "EmptyDirVolumeSource",
    struct(
        "An empty directory that lives as long as the pod.",
        {
            "medium": string('Storage medium: "" for the node default, or Memory for tmpfs.'),
            "sizeLimit": ref(QUANTITY, "Maximum size of the directory."),
        },
    ),
)
define(
    CORE + "ConfigMapVolumeSource",
    struct(
        "Projects the keys of a ConfigMap as files.",
        {
            "name": string("Name of the ConfigMap."),
            "items": _items_field(),
            "defaultMode": integer("Permission bits of the files, 0000 to 0777; defaults to 0644."),
            "optional": boolean("Whether the ConfigMap may be missing."),
        },
    ),
)
define(
    CORE + "SecretVolumeSource",
    struct(
        "Projects the keys of a Secret as files.",
        {
            "secretName": string("Name of the Secret."),
            "items": _items_field(),
            "defaultMode": integer("Permission bits of the files, 0000 to 0777; defaults to 0644."),
            "optional": boolean("Whether the Secret may be missing."),
        },
    ),
)
define(
    CORE + "PersistentVolumeClaimVolumeSource",
    struct(
        "A PersistentVolumeClaim in the pod's namespace.",
        {"claimName": string("Name of the claim."), "readOnly": boolean("Mount read-only.")},
        ("claimName",),
    ),
)

_OTHER_VOLUME_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)
define(
    CORE + "Volume",
    struct(
        "A named volume of a pod: exactly one source.",
        {
            "name": string("Name of the volume, a DNS label unique in the pod."),
            "hostPath": ref(CORE + "HostPathVolumeSource", "A file or directory on the node."),
            "emptyDir": ref(
                CORE + "EmptyDirVolumeSource", "A temporary directory that shares the pod's lifetime."
            ),
            "configMap": ref(CORE + "ConfigMapVolumeSource", "A ConfigMap's keys as files."),
            "secret": ref(CORE + "SecretVolumeSource", "A Secret's keys as files."),
            "persistentVolumeClaim": ref(
                CORE + "PersistentVolumeClaimVolumeSource", "A PersistentVolumeClaim."
            ),
            **{source: opaque("The %s volume source." % source) for source in _OTHER_VOLUME_SOURCES},
        },
        ("name",),
    ),
)
define(
    CORE + "Toleration",
    struct(
        "Lets the pod be scheduled onto (or stay on) nodes with a matching taint.",
        {
            "key": string("Taint key; empty with operator Exists matches all taints."),
            "operator": string("Exists or Equal; defaults to Equal.", enum=("Equal", "Exists")),
            "value": string("Taint value for Equal."),
            "effect": string(
                "Taint effect to match; empty matches all.",
                enum=("NoExecute", "NoSchedule", "PreferNoSchedule"),
            ),
            "tolerationSeconds": int64(
                "For NoExecute: how long the pod stays bound after the taint appears."
            ),
        },
    ),
)
define(
    CORE + "NodeSelectorRequirement",
    struct(
        "A node label (or field) key, an operator and values.",
        {
            "key": string("The label key."),
            "operator": string(
                "In, NotIn, Exists, DoesNotExist, Gt or Lt.",
                enum=("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"),
            ),
            "values": strings("Values; one integer for Gt and Lt, empty for Exists and DoesNotExist."),
        },
        ("key", "operator"),
    ),
)
define(
    CORE + "NodeSelectorTerm",
    struct(
        "Requirements on a node that must all hold.",
        {
            "matchExpressions": array(ref(CORE + "NodeSelectorRequirement"), "Requirements on node labels."),
            "matchFields": array(ref(CORE + "NodeSelectorRequirement"), "Requirements on node fields."),
        },
    ),
)
DEFINITIONS[CORE + "NodeSelectorTerm"]["x-kubernetes-map-type"] = "atomic"
define(
    CORE + "PodAffinityTerm",
    struct(
        "Pods (matching labelSelector in namespaces) that this pod should (or should not) share a topology "
        "domain with.",
        {
            "labelSelector": ref(META + "LabelSelector", "The pods to match."),
            "namespaces": strings("Namespaces to look in; the pod's own when empty."),
            "topologyKey": string(
                "Node label whose value defines a topology domain, e.g. kubernetes.io/hostname."
            ),
            "namespaceSelector": ref(META + "LabelSelector", "Namespaces to look in, by label."),
            "matchLabelKeys": strings("Pod label keys whose values are added to labelSelector."),
            "mismatchLabelKeys": strings("Pod label keys whose values must differ."),
        },
        ("topologyKey",),
    ),
)


def _weighted(term: Schema, field_name: str, description: str) -> Schema:
    return struct(
        description,
        {
            "weight": integer("Weight from 1 to 100, added to the score of nodes that match."),
            field_name: term,
        },
        ("weight", field_name),
    )


_POD_AFFINITY_FIELDS = {
    "requiredDuringSchedulingIgnoredDuringExecution": array(
        ref(CORE + "PodAffinityTerm"), "Terms that must all hold for the pod to be scheduled."
    ),
    "preferredDuringSchedulingIgnoredDuringExecution": array(
        _weighted(
            ref(CORE + "PodAffinityTerm", "The pods to match."),
            "podAffinityTerm",
            "A weighted pod affinity term.",
        ),
        "Terms the scheduler prefers to satisfy.",
    ),
}
define(
    CORE + "Affinity",
    struct(
        "Scheduling constraints: node affinity, pod affinity and pod anti-affinity.",
        {
            "nodeAffinity": struct(
                "Nodes the pod should run on.",
                {
                    "requiredDuringSchedulingIgnoredDuringExecution": struct(
                        "Nodes that qualify: any of the terms must hold.",
                        {"nodeSelectorTerms": array(ref(CORE + "NodeSelectorTerm"), "The terms; ORed.")},
                        ("nodeSelectorTerms",),
                    ),
                    "preferredDuringSchedulingIgnoredDuringExecution": array(
                        _weighted(
                            ref(CORE + "NodeSelectorTerm", "The node selector term."),
                            "preference",
                            "A weighted node preference.",
                        ),
                        "Nodes the scheduler prefers.",
                    ),
                },
            ),
            "podAffinity": struct("Pods this pod should run near.", _POD_AFFINITY_FIELDS),
            "podAntiAffinity": struct("Pods this pod should not run near.", _POD_AFFINITY_FIELDS),
        },
    ),
)
define(
    CORE + "TopologySpreadConstraint",
    struct(
        "How to spread matching pods across topology domains.",
        {
            "maxSkew": integer("Maximum difference in the number of matching pods between domains."),
            "topologyKey": string("Node label whose value defines a topology domain."),
            "whenUnsatisfiable": string(
                "DoNotSchedule or ScheduleAnyway.", enum=("DoNotSchedule", "ScheduleAnyway")
            ),
            "labelSelector": ref(META + "LabelSelector", "The pods to count."),
            "minDomains": integer("Minimum number of eligible domains."),
            "nodeAffinityPolicy": string("Honor or Ignore the pod's node affinity when counting."),
            "nodeTaintsPolicy": string("Honor or Ignore node taints when counting."),
            "matchLabelKeys": strings("Pod label keys whose values are added to labelSelector."),
        },
        ("maxSkew", "topologyKey", "whenUnsatisfiable"),
    ),
)
define(
    CORE + "PodSpec",
    struct(
        "The desired state of a pod: its containers, volumes and how and where it runs.",
        {
            "volumes": keyed(
                ref(CORE + "Volume"),
                "Volumes the pod's containers can mount.",
                "name",
                strategy="merge,retainKeys",
            ),
            "initContainers": keyed(
                ref(CORE + "Container"),
                "Containers run in order before the app containers, each to completion; with restartPolicy "
                "Always they are sidecars that keep running.",
                "name",
            ),
            "containers": keyed(
                ref(CORE + "Container"), "The app containers; at least one. Cannot be updated.", "name"
            ),
            "ephemeralContainers": keyed(
                ref(CORE + "EphemeralContainer"), "Debugging containers added to the running pod.", "name"
            ),
            "restartPolicy": string(
                "Always, OnFailure or Never; defaults to Always.", enum=("Always", "Never", "OnFailure")
            ),
            "terminationGracePeriodSeconds": int64(
                "Seconds to wait after SIGTERM before killing; defaults to 30."
            ),
            "activeDeadlineSeconds": int64("Seconds the pod may be active before it is failed."),
            "dnsPolicy": string(
                "ClusterFirstWithHostNet, ClusterFirst, Default or None.",
                enum=("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
            ),
            "nodeSelector": string_map("Labels a node must have for the pod to be scheduled onto it."),
            "serviceAccountName": string("ServiceAccount the pod runs as."),
            "serviceAccount": string("Deprecated alias of serviceAccountName."),
            "automountServiceAccountToken": boolean("Whether to mount an API token into the pod."),
            "nodeName": string("Node the pod runs on; set by the scheduler, or by the user to bypass it."),
            "hostNetwork": boolean("Use the host's network namespace."),
            "hostPID": boolean("Use the host's PID namespace."),
            "hostIPC": boolean("Use the host's IPC namespace."),
            "shareProcessNamespace": boolean("Share one PID namespace between the pod's containers."),
            "securityContext": opaque("Pod-level security attributes and common container settings."),
            "imagePullSecrets": keyed(
                ref(CORE + "LocalObjectReference"), "Secrets with credentials to pull the images.", "name"
            ),
            "hostname": string("Hostname of the pod; defaults to the pod name."),
            "subdomain": string("Subdomain, for a fully qualified hostname <hostname>.<subdomain>.<ns>.svc."),
            "affinity": ref(CORE + "Affinity", "Scheduling constraints."),
            "schedulerName": string("Scheduler that places the pod; the default scheduler when empty."),
            "tolerations": array(ref(CORE + "Toleration"), "Taints the pod tolerates."),
            "hostAliases": keyed(
                struct(
                    "An /etc/hosts entry.",
                    {"ip": string("IP address."), "hostnames": strings("Host names for the address.")},
                    ("ip",),
                ),
                "Entries added to the pod's /etc/hosts.",
                "ip",
            ),
            "priorityClassName": string("PriorityClass of the pod."),
            "priority": integer("Priority value, resolved from priorityClassName."),
            "dnsConfig": opaque("DNS settings merged with those from dnsPolicy."),
            "readinessGates": array(
                struct(
                    "A condition the pod must have True to be ready.",
                    {"conditionType": string("A condition type in the pod's conditions.")},
                    ("conditionType",),
                ),
                "Extra conditions for pod readiness.",
            ),
            "runtimeClassName": string("RuntimeClass to run the pod with."),
            "enableServiceLinks": boolean("Inject service environment variables; defaults to true."),
            "preemptionPolicy": string("PreemptLowerPriority or Never."),
            "overhead": quantities("Resource overhead of running the pod, from its RuntimeClass."),
            "topologySpreadConstraints": keyed(
                ref(CORE + "TopologySpreadConstraint"),
                "How the pod's replicas spread across topology domains.",
                "topologyKey",
                keys=("topologyKey", "whenUnsatisfiable"),
            ),
            "setHostnameAsFQDN": boolean("Set the hostname to the fully qualified domain name."),
            "os": struct("Operating system of the pod.", {"name": string("linux or windows.")}, ("name",)),
            "hostUsers": boolean("Use the host's user namespace; false gives the pod its own."),
            "schedulingGates": keyed(
                struct("Blocks scheduling while present.", {"name": string("Name of the gate.")}, ("name",)),
                "Gates that keep the pod from being scheduled while any remains.",
                "name",
            ),
            "resourceClaims": keyed(
                opaque("A dynamically allocated resource claim."),
                "ResourceClaims the pod needs.",
                "name",
                strategy="merge,retainKeys",
            ),
            "resources": ref(CORE + "ResourceRequirements", "Pod-level resource requirements."),
            "hostnameOverride": string("Hostname to set in the pod instead of the pod name."),
            "schedulingGroup": opaque("The scheduling group the pod belongs to."),
            "evictionResponders": keyed(
                opaque("An eviction responder."), "Eviction responders of the pod.", "name"
            ),
        },
        ("containers",),
    ),
)


def _container_state() -> Schema:
    return struct(
        "State of a container: exactly one of waiting, running or terminated.",
        {
            "waiting": struct(
                "Not running yet.",
                {
                    "reason": string("Why, e.g. ContainerCreating, ImagePullBackOff, CrashLoopBackOff."),
                    "message": string("Details."),
                },
            ),
            "running": struct("Running.", {"startedAt": time("When the container last (re)started.")}),
            "terminated": struct(
                "Ran and exited.",
                {
                    "exitCode": integer("Exit status."),
                    "signal": integer("Signal that killed it."),
                    "reason": string("Why, e.g. Completed, Error, OOMKilled."),
                    "message": string("Details."),
                    "startedAt": time("When it started."),
                    "finishedAt": time("When it exited."),
                    "containerID": string("Container ID, <type>://<id>."),
                },
                ("exitCode",),
            ),
        },
    )


define(CORE + "ContainerState", _container_state())
define(
    CORE + "ContainerStatus",
    struct(
        "Status of a container of the pod, as the node reports it.",
        {
            "name": string("Name of the container."),
            "state": ref(CORE + "ContainerState", "Current state."),
            "lastState": ref(CORE + "ContainerState", "State of the previous run, if it restarted."),
            "ready": boolean("Whether the readiness probe passed (true when there is none)."),
            "restartCount": integer("Number of restarts."),
            "image": string("Image the container runs."),
            "imageID": string("ID of the image."),
            "containerID": string("Container ID, <type>://<id>."),
            "started": boolean("Whether the startup probe passed (true when there is none)."),
            "allocatedResources": quantities("Resources allocated to the container."),
            "resources": ref(CORE + "ResourceRequirements", "Resources configured on the running container."),
            "volumeMounts": keyed(
                opaque("Status of a volume mount."), "Status of the volume mounts.", "mountPath"
            ),
            "user": opaque("Identity of the container's first process."),
            "allocatedResourcesStatus": keyed(
                opaque("Health of an allocated resource."), "Health of resources.", "name"
            ),
            "stopSignal": string("Signal the container is stopped with."),
        },
        ("name", "ready", "restartCount", "image", "imageID"),
    ),
)
define(
    CORE + "PodCondition",
    struct(
        "One aspect of a pod's state.",
        {
            "type": string("PodScheduled, Initialized, ContainersReady, Ready, or a readiness gate's type."),
            "observedGeneration": int64("metadata.generation the condition was set for."),
            "status": string("True, False or Unknown.", enum=("False", "True", "Unknown")),
            "lastProbeTime": time("When the condition was last probed."),
            "lastTransitionTime": time("When the status last changed."),
            "reason": string("Reason for the last transition, in CamelCase."),
            "message": string("Details of the last transition."),
        },
        ("type", "status"),
    ),
)
_IP = struct("An IP address.", {"ip": string("The IP address.")}, ("ip",))
define(
    CORE + "PodStatus",
    struct(
        "The observed state of a pod, reported by the node running it.",
        {
            "observedGeneration": int64("metadata.generation this status was computed for."),
            "phase": string(
                "Pending, Running, Succeeded, Failed or Unknown.",
                enum=("Failed", "Pending", "Running", "Succeeded", "Unknown"),
            ),
            "conditions": keyed(ref(CORE + "PodCondition"), "The pod's conditions.", "type"),
            "message": string("Why the pod is in this state."),
            "reason": string("Brief CamelCase reason, e.g. Evicted."),
            "nominatedNodeName": string("Node the pod may run on once preemption there completes."),
            "hostIP": string("IP of the node the pod runs on."),
            "hostIPs": array(_IP, "IPs of the node the pod runs on.", strategy="merge", merge_key="ip"),
            "podIP": string("IP address of the pod."),
            "podIPs": keyed(_IP, "IP addresses of the pod, one per family; the first equals podIP.", "ip"),
            "startTime": time("When the node accepted the pod."),
            "initContainerStatuses": array(ref(CORE + "ContainerStatus"), "Status of the init containers."),
            "containerStatuses": array(ref(CORE + "ContainerStatus"), "Status of the app containers."),
            "qosClass": string(
                "Guaranteed, Burstable or BestEffort.", enum=("BestEffort", "Burstable", "Guaranteed")
            ),
            "ephemeralContainerStatuses": array(
                ref(CORE + "ContainerStatus"), "Status of the ephemeral containers."
            ),
            "resize": string("Deprecated resize status."),
            "resourceClaimStatuses": keyed(
                opaque("Status of a resource claim."),
                "Status of resource claims.",
                "name",
                strategy="merge,retainKeys",
            ),
            "extendedResourceClaimStatus": opaque("Status of the extended resource claim."),
            "allocatedResources": quantities("Resources allocated to the pod."),
            "resources": ref(
                CORE + "ResourceRequirements", "Pod-level resources configured on the running pod."
            ),
            "nodeAllocatableResourceClaimStatuses": keyed(
                opaque("Status of a node-allocatable resource claim."),
                "Status of node-allocatable resource claims.",
                "resourceClaimName",
            ),
            "volumeHealth": array(
                opaque("Health of a volume."),
                "Health of the pod's volumes.",
                list_type="map",
                map_keys=("name",),
            ),
        },
    ),
)
define(
    CORE + "PodTemplateSpec",
    struct(
        "The pods a workload creates.",
        {
            "metadata": ref(META + "ObjectMeta", "Metadata of the pods; labels must match the selector."),
            "spec": ref(CORE + "PodSpec", "Specification of the pods."),
        },
    ),
)


# -- core/v1 kinds -------------------------------------------------------------------------------------

kind(
    CORE + "Pod",
    "",
    "v1",
    "Pod",
    "A group of containers that run together on one node, sharing network and storage.",
    {
        "spec": ref(CORE + "PodSpec", "Desired state of the pod."),
        "status": ref(CORE + "PodStatus", "Most recently observed state of the pod. Read-only."),
    },
)
kind(
    CORE + "Binding",
    "",
    "v1",
    "Binding",
    "Binds a pod to a node; how schedulers assign pods.",
    {"target": ref(CORE + "ObjectReference", "The node to bind to.")},
    ("target",),
)
kind(
    CORE + "Namespace",
    "",
    "v1",
    "Namespace",
    "A scope for names; most kinds live in a namespace.",
    {
        "spec": struct(
            "Desired state of the namespace.",
            {"finalizers": strings("Must be empty before the namespace is removed from storage.")},
        ),
        "status": struct(
            "Observed state of the namespace.",
            {
                "phase": string("Active or Terminating.", enum=("Active", "Terminating")),
                "conditions": keyed(
                    struct(
                        "One aspect of the namespace's state.",
                        {
                            "type": string("Type of the condition."),
                            "status": string("True, False or Unknown."),
                            "lastTransitionTime": time("When the status last changed."),
                            "reason": string("Reason for the last transition."),
                            "message": string("Details of the last transition."),
                        },
                        ("type", "status"),
                    ),
                    "The namespace's conditions.",
                    "type",
                ),
            },
        ),
    },
)
define(
    CORE + "NodeCondition",
    struct(
        "One aspect of a node's state: Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.",
        {
            "type": string("Type of the condition."),
            "status": string("True, False or Unknown.", enum=("False", "True", "Unknown")),
            "lastHeartbeatTime": time("When the condition was last reported."),
            "lastTransitionTime": time("When the status last changed."),
            "reason": string("Reason for the last transition."),
            "message": string("Details of the last transition."),
        },
        ("type", "status"),
    ),
)
define(
    CORE + "NodeSystemInfo",
    struct(
        "Identity and software versions of a node.",
        {
            "machineID": string("Machine ID (/etc/machine-id)."),
            "systemUUID": string("System UUID."),
            "bootID": string("Boot ID."),
            "kernelVersion": string("Kernel version (uname -r)."),
            "osImage": string("OS image, from /etc/os-release."),
            "containerRuntimeVersion": string("Container runtime, <name>://<version>."),
            "kubeletVersion": string("Version of the node agent."),
            "kubeProxyVersion": string("Deprecated."),
            "operatingSystem": string("Operating system, e.g. linux."),
            "architecture": string("Architecture, e.g. amd64."),
            "swap": opaque("Swap memory of the node."),
        },
    ),
)
kind(
    CORE + "Node",
    "",
    "v1",
    "Node",
    "A machine pods run on; for kedge, an edge node.",
    {
        "spec": struct(
            "Desired state of the node.",
            {
                "podCIDR": string("IP range assigned to the node's pods."),
                "podCIDRs": array(
                    {"type": "string"},
                    "IP ranges assigned to the node's pods.",
                    strategy="merge",
                    list_type="set",
                ),
                "providerID": string("ID of the node assigned by the cloud provider."),
                "unschedulable": boolean("Keep new pods off this node (kubectl cordon)."),
                "taints": array(
                    struct(
                        "Repels pods that do not tolerate it.",
                        {
                            "key": string("Taint key."),
                            "value": string("Taint value."),
                            "effect": string(
                                "NoSchedule, PreferNoSchedule or NoExecute.",
                                enum=("NoExecute", "NoSchedule", "PreferNoSchedule"),
                            ),
                            "timeAdded": time("When a NoExecute taint was added."),
                        },
                        ("key", "effect"),
                    ),
                    "Taints of the node.",
                ),
                "configSource": opaque("Deprecated."),
                "externalID": string("Deprecated."),
                "podPreemptionPolicy": string("How pods on this node may be preempted."),
            },
        ),
        "status": struct(
            "Observed state of the node, reported by its agent.",
            {
                "capacity": quantities("Total resources of the node."),
                "allocatable": quantities("Resources available to pods."),
                "phase": string("Deprecated."),
                "conditions": keyed(ref(CORE + "NodeCondition"), "The node's conditions.", "type"),
                "addresses": keyed(
                    struct(
                        "An address of the node.",
                        {
                            "type": string("Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS."),
                            "address": string("The address."),
                        },
                        ("type", "address"),
                    ),
                    "Addresses of the node.",
                    "type",
                ),
                "daemonEndpoints": struct(
                    "Ports of daemons on the node.",
                    {
                        "kubeletEndpoint": struct(
                            "Endpoint of the node agent.", {"Port": integer("Port number.")}, ("Port",)
                        )
                    },
                ),
                "nodeInfo": ref(CORE + "NodeSystemInfo", "Identity and versions of the node."),
                "images": array(
                    struct(
                        "A container image on the node.",
                        {"names": strings("Names of the image."), "sizeBytes": int64("Size in bytes.")},
                    ),
                    "Container images on the node.",
                ),
                "volumesInUse": strings("Volumes in use on the node."),
                "volumesAttached": array(opaque("An attached volume."), "Volumes attached to the node."),
                "config": opaque("Status of the node's dynamic configuration."),
                "runtimeHandlers": array(opaque("A runtime handler."), "Runtime handlers on the node."),
                "features": opaque("Features the node supports."),
                "declaredFeatures": strings("Features the node declares."),
            },
        ),
    },
)
kind(
    CORE + "ConfigMap",
    "",
    "v1",
    "ConfigMap",
    "Configuration data for pods to consume, as key/value pairs.",
    {
        "immutable": boolean("When true, data cannot be changed; only deletion is allowed."),
        "data": string_map("UTF-8 values, keyed by [-._a-zA-Z0-9]+ names."),
        "binaryData": {
            "description": "Binary values (base64 in JSON), keyed like data; keys must not also be in data.",
            "type": "object",
            "additionalProperties": {"type": "string", "format": "byte"},
        },
    },
)
kind(
    CORE + "Secret",
    "",
    "v1",
    "Secret",
    "Sensitive data such as passwords, tokens or keys.",
    {
        "immutable": boolean("When true, data cannot be changed; only deletion is allowed."),
        "data": {
            "description": "Values, base64-encoded in JSON, keyed by [-._a-zA-Z0-9]+ names.",
            "type": "object",
            "additionalProperties": {"type": "string", "format": "byte"},
        },
        "stringData": string_map("Write-only convenience: plain-text values merged into data on write."),
        "type": string("How to interpret the data, e.g. Opaque or kubernetes.io/tls."),
    },
)
define(
    CORE + "ServicePort",
    struct(
        "A port a service exposes.",
        {
            "name": string("Name of the port; required when the service has several."),
            "protocol": string("TCP, UDP or SCTP; defaults to TCP.", enum=("SCTP", "TCP", "UDP")),
            "appProtocol": string("Application protocol, e.g. http or kubernetes.io/h2c."),
            "port": integer("Port the service exposes."),
            "targetPort": ref(INT_OR_STRING, "Port number or name on the pods; defaults to port."),
            "nodePort": integer("Port on every node, for NodePort and LoadBalancer services."),
        },
        ("port",),
    ),
)
kind(
    CORE + "Service",
    "",
    "v1",
    "Service",
    "A stable name and address for a set of pods, selected by labels.",
    {
        "spec": struct(
            "Desired behaviour of the service.",
            {
                "ports": keyed(
                    ref(CORE + "ServicePort"), "Ports the service exposes.", "port", keys=("port", "protocol")
                ),
                "selector": string_map("Labels of the pods traffic goes to."),
                "clusterIP": string('Virtual IP of the service; "None" for a headless service.'),
                "clusterIPs": strings("Virtual IPs of the service, one per family."),
                "type": string(
                    "ClusterIP, NodePort, LoadBalancer or ExternalName; defaults to ClusterIP.",
                    enum=("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
                ),
                "externalIPs": strings("Extra IPs nodes accept traffic for."),
                "sessionAffinity": string("ClientIP or None.", enum=("ClientIP", "None")),
                "loadBalancerIP": string("Deprecated."),
                "loadBalancerSourceRanges": strings("Client IP ranges a load balancer accepts."),
                "externalName": string("DNS name the service aliases, for type ExternalName."),
                "externalTrafficPolicy": string("Cluster or Local.", enum=("Cluster", "Local")),
                "healthCheckNodePort": integer("Health check port for externalTrafficPolicy Local."),
                "publishNotReadyAddresses": boolean("Publish addresses of pods that are not ready."),
                "sessionAffinityConfig": opaque("Session affinity settings."),
                "ipFamilies": strings("IPv4 and/or IPv6."),
                "ipFamilyPolicy": string("SingleStack, PreferDualStack or RequireDualStack."),
                "allocateLoadBalancerNodePorts": boolean("Allocate node ports for LoadBalancer services."),
                "loadBalancerClass": string("Load balancer implementation to use."),
                "internalTrafficPolicy": string("Cluster or Local.", enum=("Cluster", "Local")),
                "trafficDistribution": string("Preference for how traffic is distributed."),
            },
        ),
        "status": struct(
            "Observed state of the service.",
            {
                "loadBalancer": struct(
                    "The load balancer, if any.",
                    {
                        "ingress": array(
                            struct(
                                "An ingress point of the load balancer.",
                                {
                                    "ip": string("IP address."),
                                    "hostname": string("Host name."),
                                    "ipMode": string("VIP or Proxy."),
                                    "ports": array(opaque("Status of a port."), "Status of the ports."),
                                },
                            ),
                            "Ingress points of the load balancer.",
                        )
                    },
                ),
                "conditions": keyed(ref(META + "Condition"), "The service's conditions.", "type"),
            },
        ),
    },
)
_ENDPOINT_ADDRESS = struct(
    "An address of an endpoint.",
    {
        "ip": string("IP address."),
        "hostname": string("Hostname of the endpoint."),
        "nodeName": string("Node hosting the endpoint."),
        "targetRef": ref(CORE + "ObjectReference", "The object (usually a pod) behind the address."),
    },
    ("ip",),
)
_ENDPOINT_ADDRESS["x-kubernetes-map-type"] = "atomic"
kind(
    CORE + "Endpoints",
    "",
    "v1",
    "Endpoints",
    "The addresses and ports that implement a service.",
    {
        "subsets": array(
            struct(
                "A set of addresses with a common set of ports.",
                {
                    "addresses": array(_ENDPOINT_ADDRESS, "Ready addresses."),
                    "notReadyAddresses": array(_ENDPOINT_ADDRESS, "Addresses that are not ready."),
                    "ports": array(
                        struct(
                            "A port of the endpoints.",
                            {
                                "name": string("Name of the port, matching the service port's name."),
                                "port": integer("Port number."),
                                "protocol": string("TCP, UDP or SCTP."),
                                "appProtocol": string("Application protocol."),
                            },
                            ("port",),
                        ),
                        "Ports of the addresses.",
                    ),
                },
            ),
            "Address sets of the service.",
        )
    },
)
kind(
    CORE + "Event",
    "",
    "v1",
    "Event",
    "A report of something that happened to an object.",
    {
        "involvedObject": ref(CORE + "ObjectReference", "The object this event is about."),
        "reason": string("Short CamelCase reason, e.g. Scheduled or FailedMount."),
        "message": string("Human-readable description."),
        "source": struct(
            "Component that reported the event.",
            {"component": string("Component name."), "host": string("Node name.")},
        ),
        "firstTimestamp": time("When the event was first recorded."),
        "lastTimestamp": time("When the event last occurred."),
        "count": integer("How many times it occurred."),
        "type": string("Normal or Warning."),
        "eventTime": ref(META + "MicroTime", "When the event first occurred."),
        "series": struct(
            "A series of occurrences of the event.",
            {
                "count": integer("Occurrences so far."),
                "lastObservedTime": ref(META + "MicroTime", "When the last occurrence was observed."),
            },
        ),
        "action": string("What was done, or failed, about the object."),
        "related": ref(CORE + "ObjectReference", "A second object involved."),
        "reportingComponent": string("Controller that emitted the event."),
        "reportingInstance": string("Instance of the controller."),
    },
    ("metadata", "involvedObject"),
)
kind(
    CORE + "ServiceAccount",
    "",
    "v1",
    "ServiceAccount",
    "An identity for processes in pods.",
    {
        "secrets": keyed(ref(CORE + "ObjectReference"), "Deprecated: secrets the account may use.", "name"),
        "imagePullSecrets": array(ref(CORE + "LocalObjectReference"), "Secrets to pull images with."),
        "automountServiceAccountToken": boolean(
            "Whether pods running as this account get an API token mounted."
        ),
    },
)


# -- other groups --------------------------------------------------------------------------------------

kind(
    COORDINATION + "Lease",
    "coordination.k8s.io",
    "v1",
    "Lease",
    "A lease: node heartbeats and leader election.",
    {
        "spec": struct(
            "The lease.",
            {
                "holderIdentity": string("Identity of the holder."),
                "leaseDurationSeconds": integer("Seconds candidates wait before taking the lease over."),
                "acquireTime": ref(META + "MicroTime", "When the current holder acquired the lease."),
                "renewTime": ref(META + "MicroTime", "When the holder last renewed the lease."),
                "leaseTransitions": integer("Number of holder changes."),
                "strategy": string("Strategy for picking leaders in coordinated election."),
                "preferredHolder": string("Holder the lease should move to."),
            },
        )
    },
)
kind(
    AUTOSCALING + "Scale",
    "autoscaling",
    "v1",
    "Scale",
    "The scale of a resource: desired and current number of replicas.",
    {
        "spec": struct("Desired scale.", {"replicas": integer("Desired number of replicas.")}),
        "status": struct(
            "Current scale.",
            {
                "replicas": integer("Actual number of replicas."),
                "selector": string("Label selector of the pods, in query string form."),
            },
            ("replicas",),
        ),
    },
)
kind(
    APPS + "Deployment",
    "apps",
    "v1",
    "Deployment",
    "Runs a number of identical pods and rolls out changes to them.",
    {
        "spec": struct(
            "Desired state of the deployment.",
            {
                "replicas": integer("Number of pods; defaults to 1."),
                "selector": ref(
                    META + "LabelSelector", "Label selector of the pods; must match the template's labels."
                ),
                "template": ref(CORE + "PodTemplateSpec", "The pods to run."),
                "strategy": {
                    **struct(
                        "How pods are replaced.",
                        {
                            "type": string("Recreate or RollingUpdate; defaults to RollingUpdate."),
                            "rollingUpdate": struct(
                                "Rolling update parameters.",
                                {
                                    "maxUnavailable": ref(
                                        INT_OR_STRING, "Pods that may be unavailable, number or %."
                                    ),
                                    "maxSurge": ref(
                                        INT_OR_STRING, "Pods above the desired number, number or %."
                                    ),
                                },
                            ),
                        },
                    ),
                    "x-kubernetes-patch-strategy": "retainKeys",
                },
                "minReadySeconds": integer("Seconds a pod must be ready to count as available."),
                "revisionHistoryLimit": integer("Old ReplicaSets to keep for rollback; defaults to 10."),
                "paused": boolean("Pause the rollout."),
                "progressDeadlineSeconds": integer(
                    "Seconds before a stalled rollout is reported; defaults to 600."
                ),
            },
            ("selector", "template"),
        ),
        "status": struct(
            "Observed state of the deployment.",
            {
                "observedGeneration": int64("Generation observed by the controller."),
                "replicas": integer("Pods targeted by the deployment."),
                "updatedReplicas": integer("Pods with the current template."),
                "readyReplicas": integer("Ready pods."),
                "availableReplicas": integer("Pods ready for at least minReadySeconds."),
                "unavailableReplicas": integer("Pods still needed for 100% availability."),
                "terminatingReplicas": integer("Pods being terminated."),
                "conditions": keyed(
                    struct(
                        "One aspect of the deployment's state.",
                        {
                            "type": string("Available, Progressing or ReplicaFailure."),
                            "status": string("True, False or Unknown."),
                            "lastUpdateTime": time("When the condition was last updated."),
                            "lastTransitionTime": time("When the status last changed."),
                            "reason": string("Reason for the last transition."),
                            "message": string("Details of the last transition."),
                        },
                        ("type", "status"),
                    ),
                    "The deployment's conditions.",
                    "type",
                ),
                "collisionCount": integer("Count of hash collisions of the ReplicaSet names."),
            },
        ),
    },
)


# -- apiextensions.k8s.io/v1 ----------------------------------------------------------------------------

_PROPS = APIEXT + "JSONSchemaProps"


def _schema_map(description: str) -> Schema:
    return {"description": description, "type": "object", "additionalProperties": ref(_PROPS)}


def _schema_list(description: str) -> Schema:
    return array(ref(_PROPS), description)


define(
    _PROPS,
    struct(
        "A JSON schema (OpenAPI v3 subset) describing custom objects.",
        {
            "id": string(),
            "$schema": string(),
            "$ref": string(),
            "description": string("Description shown by kubectl explain."),
            "type": string("object, array, string, integer, number or boolean."),
            "format": string("Format of the type, e.g. int32, date-time, byte."),
            "title": string(),
            "default": anything("Default value, applied when the field is missing."),
            "maximum": {"type": "number", "format": "double"},
            "exclusiveMaximum": boolean(),
            "minimum": {"type": "number", "format": "double"},
            "exclusiveMinimum": boolean(),
            "maxLength": int64(),
            "minLength": int64(),
            "pattern": string("Regular expression the value must match."),
            "maxItems": int64(),
            "minItems": int64(),
            "uniqueItems": boolean(),
            "multipleOf": {"type": "number", "format": "double"},
            "enum": array(anything("An allowed value."), "Allowed values."),
            "maxProperties": int64(),
            "minProperties": int64(),
            "required": strings("Properties that must be present."),
            "items": anything("Schema of the array's items, or a list of schemas."),
            "allOf": _schema_list("All of these schemas must validate."),
            "oneOf": _schema_list("Exactly one of these schemas must validate."),
            "anyOf": _schema_list("At least one of these schemas must validate."),
            "not": ref(_PROPS, "This schema must not validate."),
            "properties": _schema_map("Schemas of the object's properties."),
            "additionalProperties": anything("Schema of properties not listed, or a boolean."),
            "patternProperties": _schema_map("Schemas of properties whose names match a pattern."),
            "dependencies": {
                "type": "object",
                "additionalProperties": anything("A schema or a list of property names."),
            },
            "additionalItems": anything("Schema of additional items, or a boolean."),
            "definitions": _schema_map("Named schemas."),
            "externalDocs": struct("External documentation.", {"description": string(), "url": string()}),
            "example": anything("An example value."),
            "nullable": boolean("Whether null is allowed."),
            "x-kubernetes-preserve-unknown-fields": boolean("Keep fields the schema does not describe."),
            "x-kubernetes-embedded-resource": boolean(
                "The value is a Kubernetes object with apiVersion, kind, metadata."
            ),
            "x-kubernetes-int-or-string": boolean("The value is an integer or a string."),
            "x-kubernetes-list-map-keys": strings("Keys of a list of type map."),
            "x-kubernetes-list-type": string("atomic, set or map."),
            "x-kubernetes-map-type": string("granular or atomic."),
            "x-kubernetes-validations": keyed(
                struct(
                    "A CEL validation rule.",
                    {
                        "rule": string("CEL expression."),
                        "message": string("Message when the rule fails."),
                        "messageExpression": string("CEL expression giving the message."),
                        "reason": string("Reason reported when the rule fails."),
                        "fieldPath": string("Field the failure is reported on."),
                        "optionalOldSelf": boolean("Evaluate on create too, with oldSelf absent."),
                    },
                    ("rule",),
                ),
                "CEL validation rules.",
                "rule",
            ),
        },
    ),
)
_NAMES = struct(
    "Names a custom resource is served under.",
    {
        "plural": string("Plural resource name, used in URLs: /apis/<group>/<version>/<plural>."),
        "singular": string("Singular name; defaults to the lowercased kind."),
        "shortNames": strings("Short names for kubectl, e.g. dev."),
        "kind": string("Kind of the objects, in CamelCase."),
        "listKind": string("Kind of lists; defaults to <kind>List."),
        "categories": strings("Groups of resources, e.g. all, for kubectl get <category>."),
    },
    ("plural", "kind"),
)
kind(
    APIEXT + "CustomResourceDefinition",
    "apiextensions.k8s.io",
    "v1",
    "CustomResourceDefinition",
    "Defines a custom resource the server serves. Its name must be <plural>.<group>.",
    {
        "spec": struct(
            "The custom resource to serve.",
            {
                "group": string("API group of the resource, a DNS subdomain with at least one dot."),
                "names": _NAMES,
                "scope": string("Namespaced or Cluster.", enum=("Cluster", "Namespaced")),
                "versions": array(
                    struct(
                        "One version of the custom resource.",
                        {
                            "name": string(
                                "Version name, e.g. v1 or v1beta1; served at /apis/<group>/<name>."
                            ),
                            "served": boolean("Serve this version."),
                            "storage": boolean("Store objects in this version; exactly one version must."),
                            "deprecated": boolean("Warn clients that use this version."),
                            "deprecationWarning": string(
                                "Warning returned to clients that use this version."
                            ),
                            "schema": struct(
                                "Schema of the objects.",
                                {"openAPIV3Schema": ref(_PROPS, "OpenAPI v3 schema of the objects.")},
                            ),
                            "subresources": struct(
                                "Subresources served for this version.",
                                {
                                    "status": opaque("Serve /status; the main resource then ignores status."),
                                    "scale": struct(
                                        "Serve /scale.",
                                        {
                                            "specReplicasPath": string("JSON path of the desired replicas."),
                                            "statusReplicasPath": string(
                                                "JSON path of the observed replicas."
                                            ),
                                            "labelSelectorPath": string("JSON path of the label selector."),
                                        },
                                        ("specReplicasPath", "statusReplicasPath"),
                                    ),
                                },
                            ),
                            "additionalPrinterColumns": array(
                                struct(
                                    "A column kubectl get prints.",
                                    {
                                        "name": string("Column header."),
                                        "type": string(
                                            "integer, number, string, boolean or date (printed as an age).",
                                            enum=("boolean", "date", "integer", "number", "string"),
                                        ),
                                        "format": string("Format of the values, e.g. name."),
                                        "description": string("Description of the column."),
                                        "priority": integer("0 for the default view, more for -o wide."),
                                        "jsonPath": string("Simple JSONPath evaluated against each object."),
                                    },
                                    ("name", "type", "jsonPath"),
                                ),
                                "Columns of kubectl get; NAME and AGE when empty.",
                            ),
                            "selectableFields": array(
                                struct(
                                    "A field usable in field selectors.",
                                    {"jsonPath": string("JSON path of the field.")},
                                    ("jsonPath",),
                                ),
                                "Fields usable in field selectors.",
                            ),
                        },
                        ("name", "served", "storage"),
                    ),
                    "Versions of the resource.",
                ),
                "conversion": opaque("How objects are converted between versions."),
                "preserveUnknownFields": boolean("Deprecated; must be false."),
            },
            ("group", "names", "scope", "versions"),
        ),
        "status": struct(
            "Observed state of the definition.",
            {
                "conditions": keyed(
                    struct(
                        "One aspect of the definition's state: Established, NamesAccepted, Terminating.",
                        {
                            "type": string("Type of the condition."),
                            "status": string("True, False or Unknown."),
                            "lastTransitionTime": time("When the status last changed."),
                            "reason": string("Reason for the last transition."),
                            "message": string("Details of the last transition."),
                            "observedGeneration": int64("metadata.generation the condition was set for."),
                        },
                        ("type", "status"),
                    ),
                    "The definition's conditions.",
                    "type",
                    strategy="",
                ),
                "acceptedNames": _NAMES,
                "storedVersions": strings("Versions objects have ever been stored in."),
                "observedGeneration": int64("metadata.generation last observed."),
            },
        ),
    },
    ("spec",),
)


# -- inlining ------------------------------------------------------------------------------------------

_SCHEMA_KEYS = ("items", "additionalProperties", "not")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAP_KEYS = ("properties", "patternProperties")
_CUT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def inline(name: str) -> Schema:
    """A self-contained copy of a definition: references replaced by what they point to."""
    return _inline(DEFINITIONS[name], (name,))


def _inline(schema: Any, stack: tuple[str, ...]) -> Any:
    if not isinstance(schema, dict):
        return schema
    target = _target(schema)
    if target is not None:
        if target in stack:
            resolved: Schema = dict(_CUT)
        else:
            resolved = dict(_inline(DEFINITIONS[target], (*stack, target)))
        if "description" in schema:
            resolved["description"] = schema["description"]
        return resolved
    out = dict(schema)
    for key in _SCHEMA_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = _inline(out[key], stack)
    for key in _SCHEMA_LIST_KEYS:
        if key in out:
            out[key] = [_inline(s, stack) for s in out[key]]
    for key in _SCHEMA_MAP_KEYS:
        if key in out:
            out[key] = {k: _inline(s, stack) for k, s in out[key].items()}
    return out


def _target(schema: Schema) -> str | None:
    """The definition a `$ref` (or a one-element allOf wrapping one) points to."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(REF_PREFIX)
    all_of = schema.get("allOf")
    if (
        isinstance(all_of, list)
        and len(all_of) == 1
        and isinstance(all_of[0], dict)
        and "$ref" in all_of[0]
        and set(schema) <= {"allOf", "description"}
    ):
        return str(all_of[0]["$ref"]).removeprefix(REF_PREFIX)
    return None


def references(name: str) -> set[str]:
    """Every definition `name` needs, itself included."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending.extend(_refs(DEFINITIONS[current]))
    return seen


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            found.append(str(schema["$ref"]).removeprefix(REF_PREFIX))
        for key in _SCHEMA_KEYS:
            found.extend(_refs(schema.get(key)))
        for key in _SCHEMA_LIST_KEYS:
            for sub in schema.get(key) or ():
                found.extend(_refs(sub))
        for key in _SCHEMA_MAP_KEYS:
            for sub in (schema.get(key) or {}).values():
                found.extend(_refs(sub))
    return found
