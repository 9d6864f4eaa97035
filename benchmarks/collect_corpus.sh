#!/usr/bin/env bash
# Collect the training corpus: O0/O3 references and 64 o3-edits candidates (the candidates
# costtune search scores) per program, each with its per-function instruction counts, for every
# supported program of the builtin suite, cBench, the MILEPOST codelets and PolyBench of the
# cTuning checkout, and llvm-test-suite; then export it as the committed corpus file.
#
#   COSTTUNE_CBENCH_ROOT=~/ck COSTTUNE_TESTSUITE_ROOT=~/llvm-test-suite \
#       benchmarks/collect_corpus.sh [DB] [JOBS]          # resumable: run it again after a kill
#
# builtin and cbench run at --repeat 1 (the setting of the cBench search benchmarks); the
# codelets, PolyBench and llvm-test-suite programs at their own (small) inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${1:-$HOME/.cache/costtune/corpus/corpus.db}
JOBS=${2:-$(nproc)}
SAMPLES=${SAMPLES:-64}
SUITES=${SUITES:-"builtin cbench polybench codelets testsuite"}
mkdir -p "$(dirname "$DB")"
CT=${COSTTUNE:-.venv/bin/costtune}
for suite in $SUITES; do
  extra=()
  case $suite in builtin|cbench) extra=(--repeat 1) ;; esac
  echo "== $suite $(date -u +%FT%TZ)"
  $CT collect --suite "$suite" --space o3-edits --samples "$SAMPLES" --references O0,O3 \
      --db "$DB" --jobs "$JOBS" --no-progress "${extra[@]}" | tail -4 || echo "collect $suite: exit $?"
done
$CT records export --db "$DB" --format corpus --out benchmarks/corpus/corpus.jsonl.gz
