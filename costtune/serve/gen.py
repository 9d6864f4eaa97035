"""Regenerate the gRPC stubs from costtune.proto (needs grpcio-tools).

The generated modules are committed; they refuse to run with a grpcio/protobuf
older than the generator, which is why setup.cfg pins both at least at the
generator's versions (GRPC_GENERATED_VERSION in costtune_pb2_grpc.py, the Protobuf Python
Version in costtune_pb2.py).
"""

import re
import sys
from importlib.resources import files
from pathlib import Path

HERE = Path(files("costtune.serve"))


def main() -> int:
    from grpc_tools import protoc

    rc = protoc.main(["grpc_tools.protoc", f"-I{HERE}", f"--python_out={HERE}", f"--pyi_out={HERE}",
                      f"--grpc_python_out={HERE}", str(HERE / "costtune.proto")])
    if rc:
        return rc
    grpc_file = HERE / "costtune_pb2_grpc.py"
    text = grpc_file.read_text()
    # make the generated import package-relative
    text = re.sub(r"^import costtune_pb2 as", "from costtune.serve import costtune_pb2 as", text, flags=re.M)
    grpc_file.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
