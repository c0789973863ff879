"""Operation, group, module and resource-type names, as KubeEdge spells them on the wire.

Source: KubeEdge's beehive `model/message.go`, `edge/pkg/common/message`, `cloud/pkg/common/modules`
(see shared/reference/kubeedge.md §1). Plain str constants so hot code compares interned strings.
"""

# Operations
INSERT = "insert"
DELETE = "delete"
QUERY = "query"
UPDATE = "update"
PATCH = "patch"
UPLOAD = "upload"
RESPONSE = "response"
ERROR = "error"
KEEPALIVE = "keepalive"
CONNECT = "connect"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
MESSAGE = "message"
PUBLISH = "publish"
GET = "get"
GET_RESULT = "get_result"
START = "start"
STOP = "stop"
DETAIL = "detail"
PING = "ping"
PONG = "pong"
CONFIG = "config"
#: Operations the WebSocket peer answers with content "ack" and drops (viaduct control messages).
CONTROL_OPERATIONS = frozenset((PING, PONG, CONFIG))

# Message groups used on the wire
GROUP_RESOURCE = "resource"
GROUP_FUNC = "func"
GROUP_USER = "user"
GROUP_TWIN = "twin"
GROUP_META = "meta"
GROUP_TASKMANAGER = "taskmanager"

# Module names and groups (edge)
EDGEHUB = "websocket"
EDGEHUB_GROUP = "hub"
METAMANAGER = "metamanager"
METAMANAGER_GROUP = "meta"
EDGED = "edged"
EDGED_GROUP = "edged"
TWIN = "twin"
TWIN_GROUP = "twin"
EVENTBUS = "eventbus"
SERVICEBUS = "servicebus"
BUS_GROUP = "bus"

# Module names and groups (cloud)
CLOUDHUB = "cloudhub"
EDGECONTROLLER = "edgecontroller"
DEVICECONTROLLER = "devicecontroller"
SYNCCONTROLLER = "synccontroller"
ROUTER = "router"
CLOUD_GROUP_USER = "user"

# Resource types
POD = "pod"
PODLIST = "podlist"
PODSTATUS = "podstatus"
PODPATCH = "podpatch"
CONFIGMAP = "configmap"
SECRET = "secret"
SERVICE = "service"
ENDPOINTS = "endpoints"
NODE = "node"
NODESTATUS = "nodestatus"
NODEPATCH = "nodepatch"
LEASE = "lease"
EVENT = "event"
SERVICEACCOUNTTOKEN = "serviceaccounttoken"
RULE = "rule"
RULEENDPOINT = "ruleendpoint"
RULESTATUS = "rulestatus"
DEVICE = "device"
DEVICEMODEL = "devicemodel"
MEMBERSHIP = "membership"

#: Content of a successful ack (KubeEdge `MessageSuccessfulContent`).
ACK_OK = "OK"
#: Cluster-scoped objects carry this literal as their namespace in resource strings.
NULL_NAMESPACE = "null"
#: KubeEdge's default project id (path segment and `project_id` header of the WebSocket lane).
DEFAULT_PROJECT_ID = "e632aba927ea4ac2b575ec1603d56f10"
