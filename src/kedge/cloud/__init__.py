"""cloudcore: CloudHub, EdgeController, DeviceController, Router, and the embedded API server."""
