"""costtune compile BENCH --passes P --target T --out DIR."""

import argparse
import json
from pathlib import Path

from costtune import toolchain
from costtune.benchmarks import get_benchmark
from costtune.compile import compile_benchmark
from costtune.errors import CompileError, EnvironmentFailure


def register(sub):
    p = sub.add_parser("compile", help="compile a benchmark with a pass pipeline",
                       description=("Compile a benchmark with a pass pipeline: the frontend per source file, llvm-link, opt, llc,\n"
                                    "the assembler and a static link. Artifacts are cached by content."),
                       epilog=("examples:\n"
                               "  costtune compile builtin/sha256 --passes O3 --out sha256_o3\n"
                               "  costtune compile builtin/sha256 --passes sroa,instcombine,gvn,licm --json"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", metavar="BENCH", help="suite/name, e.g. builtin/checksum")
    p.add_argument("--passes", default="O3", help="O0..O3|Os|Oz, catalog names a,b,c, or a new-PM pipeline")
    p.add_argument("--target", default="aarch64", choices=sorted(toolchain.TARGETS))
    p.add_argument("--out", type=Path, help="copy IR, asm, object, binary and artifact.json here")
    p.add_argument("--llvm", type=int, help="LLVM major version")
    p.add_argument("--cbench-root", help="cBench checkout (for cbench/...)")
    p.add_argument("--testsuite-root", help="llvm-test-suite checkout (for testsuite/...)")
    p.add_argument("--json", action="store_true", help="print the artifact record as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    bench = get_benchmark(args.bench, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root)
    res = compile_benchmark(bench, args.passes, args.target, toolchain.find(args.llvm))
    if not res.ok:
        raise CompileError(f"{bench.id} [{args.passes}]: {res.describe()}", res.step, res.stderr_tail)
    art = res.artifact
    if args.out:
        try:
            art.copy_to(args.out)
        # the path, or a folder above it, is a file: as the machine's other faults, exit 3
        except (FileExistsError, NotADirectoryError) as e:
            raise EnvironmentFailure(f"--out: {e.strerror}: {e.filename}") from None
    if args.json:
        print(json.dumps(art.to_json(), indent=2))
    else:
        where = args.out or art.dir
        times = " ".join(f"{k}={v:.2f}s" for k, v in res.seconds.items()) or "cached"
        print(f"{bench.id} [{args.passes}] -> {where}")
        print(f"  ir {art.ir_hash[:16]}  text {art.text_hash[:16]}  binary {art.binary_hash[:16]}  ({times})")
    return 0
