"""A CompilerGym reward whose value is the cost model's predicted improvement.

:class:`CostModelReward` is a ``compiler_gym.spaces.Reward``. It asks the
environment for the module's IR (observation space ``Ir``), builds it for
AArch64 (``llc -filetype=obj``), normalises the object's functions exactly as
the model was trained (:func:`costtune.asm.program_functions`), and has a
costtune scoring server score them. The reward of a step is
``previous cost - new cost``: the model's cost is a log-latency, so a step's
reward is the log of its predicted speed-up and an episode's rewards sum to
``log(predicted cost at reset / predicted cost now)``; positive = predicted faster.

Why a server: CompilerGym 0.2.5 needs ``protobuf==3.20.3`` and old ``gym``,
which clash with costtune's own stack (sentencepiece, grpcio-tools, torch), so
it lives in a virtualenv of its own (``pip install compiler-gym`` fails on Python
3.11; it imports when installed ``--no-deps`` beside grpcio, gym 0.26, ``numpy<2``,
``networkx<3.4`` and ``protobuf==3.20.3``). The model runs
in the costtune venv (``costtune serve --model DIR --port N``); this module
runs in the CompilerGym venv with the costtune source tree on ``sys.path`` and
imports only stdlib-only costtune modules (``asm``, ``process``,
``toolchain``). It does not import the generated stubs either (they need a
newer protobuf): it reads the service's serialised descriptor from
``costtune/serve/costtune_pb2.py`` and builds the request/response classes
with whatever protobuf runtime is installed, then calls
``/costtune.v1.CostModelService/Score`` with a generic gRPC call.

Usage, in the CompilerGym venv::

    import sys; sys.path.insert(0, "/path/to/costtune")
    import compiler_gym
    from costtune.integrations.compiler_gym import CostModelReward
    env = compiler_gym.make("llvm-v0", reward_space=CostModelReward("127.0.0.1:50051"))

The full ``llvm-v0`` environment downloads its LLVM 10 service and the cBench
bitcode from hosts this project cannot reach (and needs ``libtinfo.so.5``), so
only the reward API is tested here: reset/update with real IR, a real server and
the real ``compiler_gym.spaces.Reward`` base class.
"""

from __future__ import annotations

import ast
import functools
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Callable, Mapping

try:
    from compiler_gym.spaces import Reward
except ImportError as e:  # pragma: no cover - only in a CompilerGym venv
    raise ImportError("costtune.integrations.compiler_gym needs the compiler_gym package (a venv of its own: "
                      "pip install --no-deps compiler-gym==0.2.5 grpcio 'gym==0.26.2' 'numpy<2' 'networkx<3.4' "
                      "protobuf==3.20.3 requests pydantic<2 absl-py deprecated fasteners humanize tabulate)") from e

__all__ = ["CostModelReward", "ScoreChannel", "ir_functions"]

SERVICE = "costtune.v1.CostModelService"
_PB2 = Path(files("costtune") / "serve" / "costtune_pb2.py")  # read as text: costtune.serve imports grpc


def _serialized_descriptor(pb2_path: Path = _PB2) -> bytes:
    """The FileDescriptorProto bytes the generated module registers (read, not imported)."""
    tree = ast.parse(pb2_path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, bytes):
                return arg.value
    raise RuntimeError(f"no serialised descriptor in {pb2_path}")


@functools.lru_cache(maxsize=1)
def _pool_and_factory():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(_serialized_descriptor()))
    return pool, (None if hasattr(message_factory, "GetMessageClass") else message_factory.MessageFactory(pool))


def _message_classes(names: list[str]) -> dict:
    """Message classes of ``costtune.v1`` built by the installed protobuf, all from one pool."""
    from google.protobuf import message_factory

    pool, factory = _pool_and_factory()
    out = {}
    for n in names:
        desc = pool.FindMessageTypeByName(f"costtune.v1.{n}")
        out[n] = message_factory.GetMessageClass(desc) if factory is None else factory.GetPrototype(desc)
    return out


class ScoreChannel:
    """``Score`` on a costtune server, without generated stubs."""

    def __init__(self, address: str, timeout: float = 120.0):
        import grpc

        self.address, self.timeout = address, timeout
        self._grpc = grpc
        classes = _message_classes(["ScoreRequest", "ScoreResponse", "Candidate"])
        self._req, self._cand = classes["ScoreRequest"], classes["Candidate"]
        fn_field = self._cand.DESCRIPTOR.fields_by_name["functions"]
        entry = fn_field.message_type
        # the schema's own shape: map<string, string> (older) or repeated Function {name, text}
        self._fn_cls = None if entry.GetOptions().map_entry else _message_classes([entry.name])[entry.name]
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20),
                                                               ("grpc.max_receive_message_length", 64 << 20)])
        self._score = self.channel.unary_unary(f"/{SERVICE}/Score",
                                               request_serializer=lambda m: m.SerializeToString(),
                                               response_deserializer=classes["ScoreResponse"].FromString)

    def score(self, candidates: list[Mapping[str, str]], repr: str = "asm") -> list[float]:
        def fns(f):
            if self._fn_cls is None:
                return dict(f)
            return [self._fn_cls(name=k, text=v) for k, v in f.items()]

        req = self._req(repr=repr, candidates=[self._cand(id=str(i), functions=fns(f))
                                               for i, f in enumerate(candidates)])
        try:
            return list(self._score(req, timeout=self.timeout).costs)
        except self._grpc.RpcError as e:
            raise RuntimeError(f"costtune server {self.address}: {e.code().name}: {e.details()}") from None

    def close(self) -> None:
        self.channel.close()


def ir_functions(ir_text: str, target: str = "aarch64", toolchain=None) -> dict[str, str]:
    """Normalised functions of an LLVM IR module built for ``target`` (as the model reads them)."""
    from costtune import process
    from costtune.asm import program_functions
    from costtune.toolchain import find, get_target

    tc = toolchain or find()
    tgt = get_target(target)
    with tempfile.TemporaryDirectory(prefix="costtune-cg-") as d:
        ll, obj = Path(d) / "m.ll", Path(d) / "m.o"
        ll.write_text(ir_text)
        res = process.run([tc.llc, "-O2", *tgt.llc_flags, "-filetype=obj", ll, "-o", obj], timeout=300)
        if not res.ok:
            raise RuntimeError(f"llc failed on the module: {res.stderr_tail()[-300:]}")
        return program_functions(obj, "asm", tc)


class CostModelReward(Reward):
    """Reward = predicted improvement of the last step (log of the predicted speed-up)."""

    def __init__(self, server: str, observation: str = "Ir", name: str = "CostModelImprovement",
                 target: str = "aarch64", to_functions: Callable[[str], Mapping[str, str]] | None = None):
        super().__init__(name=name, observation_spaces=[observation], default_value=0,
                         default_negates_returns=False, deterministic=True, platform_dependent=False)
        self.observation = observation
        self.channel = ScoreChannel(server)
        self.to_functions = to_functions or (lambda ir: ir_functions(ir, target))
        self.initial_cost: float | None = None
        self.previous_cost: float | None = None

    def cost(self, ir_text: str) -> float:
        return self.channel.score([self.to_functions(ir_text)])[0]

    def reset(self, benchmark, observation_view) -> None:
        self.initial_cost = self.previous_cost = self.cost(observation_view[self.observation])

    def update(self, actions, observations, observation_view) -> float:
        cost = self.cost(observations[0])
        if self.previous_cost is None:
            self.initial_cost = self.previous_cost = cost
        reward = self.previous_cost - cost
        self.previous_cost = cost
        return float(reward)
