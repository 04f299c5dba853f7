"""A CRI client, as the kubelet speaks to containerd: runtime.v1 messages over gRPC on a unix socket.

The messages come from runtime_v1.proto (next to this file: the part of k8s.io/cri-api's
runtime.v1 API the tests use, with the API's field numbers), compiled when first needed with
grpcio-tools into a temporary directory that is removed once the module is imported. No generated
code is kept and nothing is downloaded.

    api = load()                                  # the runtime_v1_pb2 module
    cri = CriClient("/path/containerd.sock")
    cri.call("Version", api.VersionRequest(version="v1"))
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

PROTO = Path(__file__).with_name("runtime_v1.proto")
PACKAGE = "runtime.v1"
IMAGE_METHODS = frozenset({"ImageStatus"})
_api: ModuleType | None = None


def load() -> ModuleType:
    """Compile runtime_v1.proto (once per process) and return its messages module."""
    global _api
    if _api is not None:
        return _api
    from grpc_tools import protoc  # grpcio-tools, from PyPI (requirements-dev.txt)

    out = Path(tempfile.mkdtemp(prefix="railcar-cri-proto-"))
    try:
        include = str(Path(protoc.__file__).parent / "_proto")  # the well-known types protoc ships
        argv = ["protoc", f"-I{PROTO.parent}", f"-I{include}", f"--python_out={out}", PROTO.name]
        if protoc.main(argv) != 0:
            raise RuntimeError(f"protoc failed on {PROTO}: {' '.join(argv)}")
        name = "runtime_v1_pb2"
        spec = importlib.util.spec_from_file_location(name, out / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    _api = module
    return module


class CriClient:
    """Unary CRI calls on containerd's socket: call("RunPodSandbox", request) -> response."""

    def __init__(self, socket: Path | str, timeout: float = 60.0) -> None:
        import grpc  # grpcio, from PyPI (requirements-dev.txt)

        self.api = load()
        self.timeout = timeout
        self.channel = grpc.insecure_channel(f"unix://{socket}")
        self._methods: dict[str, Any] = {}

    def close(self) -> None:
        self.channel.close()

    def _method(self, name: str) -> Any:
        if name not in self._methods:
            service = "ImageService" if name in IMAGE_METHODS else "RuntimeService"
            response = getattr(self.api, f"{name}Response")
            self._methods[name] = self.channel.unary_unary(
                f"/{PACKAGE}.{service}/{name}",
                request_serializer=lambda msg: msg.SerializeToString(),
                response_deserializer=response.FromString,
            )
        return self._methods[name]

    def call(self, name: str, request: Any, timeout: float | None = None) -> Any:
        """Send `request` (a <name>Request message) and return the <name>Response; a gRPC error
        raises grpc.RpcError (its .code() and .details() say what containerd said)."""
        return self._method(name)(request, timeout=timeout or self.timeout)

    def wait_ready(self, timeout: float) -> None:
        import grpc

        grpc.channel_ready_future(self.channel).result(timeout=timeout)
