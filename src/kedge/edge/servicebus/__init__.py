"""ServiceBus (KubeEdge's `edge/pkg/servicebus`): HTTP between the cloud Router and edge apps."""

from kedge.edge.servicebus.module import ServiceBus, make_servicebus

__all__ = ["ServiceBus", "make_servicebus"]
