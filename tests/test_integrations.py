"""The CompilerGym reward against the REAL compiler_gym package, in a virtualenv of its own.

CompilerGym 0.2.5 pins protobuf 3.20.3 and old gym, which clash with costtune's stack
(sentencepiece needs a newer protobuf), so it lives in its own venv: ``COSTTUNE_CG_VENV`` or /work/cache/cg-venv.
The test starts a real costtune scoring server (a tiny model) on a free loopback port,
then runs a script in the CompilerGym venv that subclasses ``compiler_gym.spaces.Reward``
(through :class:`costtune.integrations.compiler_gym.CostModelReward`), calls reset/update
with real IR and prints the rewards; they must equal the model's own cost differences.

setup.sh creates it as .venv-cg (Python 3.11)::

    python3 -m venv .venv-cg
    .venv-cg/bin/pip install --no-deps compiler-gym==0.2.5
    .venv-cg/bin/pip install grpcio 'gym==0.26.2' 'numpy<2' 'networkx<3.4' protobuf==3.20.3 \
        requests 'pydantic<2' absl-py deprecated fasteners humanize tabulate docker
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from costtune import process

REPO = Path(__file__).resolve().parent.parent
CG_VENV = Path(os.environ.get("COSTTUNE_CG_VENV") or REPO / ".venv-cg")  # setup.sh builds it

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import google.protobuf, compiler_gym.spaces
from costtune.integrations.compiler_gym import CostModelReward
assert issubclass(CostModelReward, compiler_gym.spaces.Reward)
r = CostModelReward(sys.argv[2])
irs = [open(p).read() for p in sys.argv[3:]]
r.reset(benchmark=None, observation_view={"Ir": irs[0]})
rewards = [r.update(actions=[0], observations=[ir], observation_view=None) for ir in irs[1:]]
print(json.dumps({"protobuf": google.protobuf.__version__, "initial": r.initial_cost, "rewards": rewards,
                  "space": r.name, "observation_spaces": list(r.observation_spaces)}))
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_search import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("cgmodel"))


def test_compiler_gym_reward_in_its_own_venv(tmp_path, tiny_model):
    py = CG_VENV / "bin" / "python"
    missing = pytest.fail  # setup.sh builds the venv
    if not py.exists():
        missing(f"no CompilerGym venv at {CG_VENV} (setup.sh builds it; see this module's docstring)")
    probe = process.run([py, "-c", "import compiler_gym.spaces"], timeout=120)
    if not probe.ok:
        missing(f"compiler_gym does not import in {CG_VENV}: {probe.stderr_tail()[-200:]}")
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.model import CostModel
    from costtune.serve.server import ServerConfig, start

    bench = get_benchmark("builtin/bitcount")
    arts = [compile_benchmark(bench, p).artifact for p in ("O0", "O1", "O3")]
    model = CostModel.from_pretrained(tiny_model)
    expected = model.score([program_functions(a) for a in arts])
    server = start(lambda: CostModel.from_pretrained(tiny_model), ServerConfig(port=0))
    try:
        server.loader.join(120)
        script = tmp_path / "cg_reward.py"
        script.write_text(SCRIPT)
        res = process.run([py, script, REPO, f"127.0.0.1:{server.port}", *[a.opt_ll for a in arts]], timeout=300,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")})
    finally:
        server.stop(0)
    assert res.ok, res.stderr_tail()
    out = json.loads(res.stdout.decode().strip().splitlines()[-1])
    assert out["protobuf"].startswith("3.20")  # the venv's own protobuf, not costtune's
    assert out["observation_spaces"] == ["Ir"]
    assert out["initial"] == pytest.approx(expected[0], abs=1e-4)
    assert out["rewards"] == pytest.approx([expected[0] - expected[1], expected[1] - expected[2]], abs=1e-4)


def test_the_readmes_optuna_example_runs_as_printed():
    """The README's ten lines for someone's own study, run as printed (2 trials of a smaller program)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = readme.split("Optuna - screen proposals of any sampler with the cost model:\n\n```python\n")[1]
    code = code.split("```")[0].replace("n_trials=30", "n_trials=2").replace("builtin/sha256", "builtin/checksum")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    study = scope["study"]
    assert len(study.trials) == 2 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert 0 < study.best_value < float("inf")
