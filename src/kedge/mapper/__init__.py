"""Mappers: device protocols to KubeEdge twin reports over the edge's MQTT broker.

A mapper runs next to edgecore (`kedge mapper counter|modbus`) and speaks KubeEdge's device topics
(`$hw/events/node/<node>/membership/...`, `$hw/events/device/<ns>/<name>/twin/...`): it learns the
node's devices from DeviceTwin, serves those of its protocol, reports their properties and applies the
desired values the cloud sets.

- `driver`   the Driver a protocol implements (connect, read, write, close) and its errors
- `runner`   the MQTT session and one worker per device (membership, reconnects)
- `worker`   one device: connect with backoff, desired values, collect/report cycles, state
- `schedule` which property is due for a read or a report (pure)
- `entries`, `messages`  device entries and payloads (pure), `config` the YAML config
- `counter`  KubeEdge's virtual counter; `modbus` (+ pure `modbus_codec`) Modbus TCP via pymodbus
- `app`      the command: config, signals

A new protocol is a Driver subclass with a `protocol` name, added to `app.MAPPERS`.
"""
