"""DeviceController: Device and DeviceModel objects to edge nodes, edge reports to Device status."""
