"""The CRI v1 protobuf messages (`runtime.v1`), as module `pb`, without grpcio.

The messages come from the `container-runtime-interface-api` package (`cri_api/v1/api_pb2.py`). Its package
`__init__` also imports `api_pb2_grpc`, which imports grpcio: +16-19 MB resident, more than the rest of the
CRI client together (edge-measurements.md, A.2b). So the file is located through the package's import spec,
which finds it without running `__init__`, and executed under a private module name. Only protobuf is loaded.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_PACKAGE = "cri_api"
_MODULE = "kedge.edge.edged.runtime._cri_v1_api_pb2"


def _load() -> ModuleType:
    loaded = sys.modules.get(_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the CRI v1 messages need the 'container-runtime-interface-api' package: install kedge[edge]"
        )
    for location in spec.submodule_search_locations:
        path = Path(location, "v1", "api_pb2.py")
        if path.is_file():
            break
    else:
        raise ImportError(f"{_PACKAGE} is installed but has no v1/api_pb2.py: reinstall kedge[edge]")
    file_spec = importlib.util.spec_from_file_location(_MODULE, path)
    if file_spec is None or file_spec.loader is None:
        raise ImportError(f"cannot load the CRI v1 messages from {path}")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_MODULE] = module
    try:
        file_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE]
        raise
    return module


pb = _load()
