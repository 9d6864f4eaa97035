"""costtune measure BENCH --passes P --target T --metric insns|wall [--runner R]."""

import argparse
import json

from costtune import toolchain
from costtune.benchmarks import get_benchmark
from costtune.compile import compile_benchmark
from costtune.errors import CompileError
from costtune.measure import METRICS, RUNNER_NAMES, WallConfig, measure
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("measure", help="compile a benchmark and measure it (insns or wall time)",
                       description=("Compile a benchmark and measure it: exact AArch64 instruction counts under qemu (insns),\n"
                                    "adaptive wall time (wall) or cycles estimated by llvm-mca (cycles). The output is checked\n"
                                    "against the O0 build's; the share of instructions outside the program's own functions is shown."),
                       epilog=("examples:\n"
                               "  costtune measure builtin/sha256 --passes O3\n"
                               "  costtune measure builtin/sha256 --passes O2 --metric cycles --cpu cortex-a72\n"
                               "  costtune measure path/to/myprog --passes O3 --json"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", metavar="BENCH", help="suite/name, e.g. builtin/checksum")
    p.add_argument("--passes", default="O3", help="O0..O3|Os|Oz, catalog names a,b,c, or a new-PM pipeline")
    p.add_argument("--target", default="aarch64", choices=sorted(toolchain.TARGETS))
    p.add_argument("--metric", default="insns", choices=METRICS,
                   help="insns | wall | cycles: estimated cycles on --cpu (blocks x llvm-mca)")
    p.add_argument("--cpu", help="cycles: the core llvm-mca models (default cortex-a57; e.g. cortex-a72, neoverse-n1)")
    p.add_argument("--runner", help=f"{' | '.join(RUNNER_NAMES)} (default: qemu for aarch64 or insns, "
                                    "local for host wall); ssh options via COSTTUNE_SSH_OPTS")
    p.add_argument("--repeat", type=int, help="the benchmark's repeat knob (default: its own)")
    p.add_argument("--timeout", type=float, help="seconds for one run on the runner")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with the O0 reference output")
    p.add_argument("--max-runs", type=int, default=30, help="wall: most timed runs")
    p.add_argument("--rel-ci", type=float, default=0.01, help="wall: stop when the 95%% CI half-width < this x mean")
    p.add_argument("--budget", type=float, default=60.0, help="wall: seconds of timed runs at most")
    p.add_argument("--llvm", type=int, help="LLVM major version")
    p.add_argument("--cbench-root", help="cBench checkout (for cbench/...)")
    p.add_argument("--testsuite-root", help="llvm-test-suite checkout (for testsuite/...)")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    bench = get_benchmark(args.bench, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root)
    tc = toolchain.find(args.llvm)
    res = compile_benchmark(bench, args.passes, args.target, tc)
    if not res.ok:
        raise CompileError(f"{bench.id} [{args.passes}]: {res.describe()}", res.step, res.stderr_tail)
    wall = WallConfig(min_runs=min(3, args.max_runs), max_runs=args.max_runs, rel_ci=args.rel_ci,
                      budget_s=args.budget)
    profiled = args.metric != "wall" and args.target == "aarch64"  # per-function counts of the same run
    m = measure(res.artifact, bench, args.metric, runner=args.runner, repeat=args.repeat,
                check=not args.no_check, timeout=args.timeout, wall=wall, toolchain=tc, cpu=args.cpu,
                profile=profiled)
    outside = None
    if m.functions:
        from costtune.asm import program_functions
        from costtune.measure.profile import outside_share

        own = program_functions(res.artifact, "asm", tc)
        outside = outside_share(m.functions, own)
        total = sum(m.functions.values())
        libc = ", ".join(f"{f} {n / total * 100:.1f}%" for f, n in [(f, n) for f, n in m.functions.items()
                                                                      if f not in own][:3])
    if args.json:
        out = m.to_dict()
        out["blocks"] = None  # the profile's executed blocks: thousands of lines
        out["outside_share"] = outside
        out["passes"] = args.passes
        out["binary_hash"] = res.artifact.binary_hash
        print(json.dumps(out, indent=2))
    else:
        value = "-" if m.value is None else (f"{m.value:.6f} s" if m.metric == "wall" else f"{m.value:.0f}")
        ci = "-" if not m.ci_halfwidth or not m.value else f"+-{m.ci_halfwidth / m.value * 100:.2f}%"
        print(format_table([(bench.id, args.passes[:10], m.metric, value, m.status, m.n, ci, m.runner)],
                           ("bench", "passes", "metric", "value", "status", "n", "ci95", "runner"), align="<<<><>><"))
        if m.detail:
            print(f"  {m.detail}")
        if outside is not None:
            print(f"  {outside * 100:.1f}% of the instructions run outside the program's own functions ({libc}): "
                  "no pipeline changes them and the cost model never sees them - keep this share small")
    return 0 if m.ok else 1
