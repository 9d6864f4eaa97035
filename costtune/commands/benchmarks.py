"""costtune benchmarks list | check: the programs of a suite, and whether they pass."""

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from costtune.benchmarks import get_suite
from costtune.errors import CostTuneError
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("benchmarks", help="list benchmark suites and programs",
                       description=("List a suite's programs and their status, or check that they build and give their reference\n"
                                    "output at O0 and O3 under qemu (the verdicts are kept; collect and search skip the\n"
                                    "llvm-test-suite programs that failed). Suites: builtin, cbench, codelets, polybench,\n"
                                    "testsuite, csmith, or a folder of programs with bench.yaml files."),
                       epilog=("examples:\n"
                               "  costtune benchmarks list --suite builtin\n"
                               "  costtune benchmarks check --suite polybench --cbench-root ~/ck --jobs 2"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list the programs of a suite",
                      description=("List the programs of a suite with their sources, repeat knob, status and description;\n"
                                   "an unsupported program shows its reason."),
                      epilog=("examples:\n"
                              "  costtune benchmarks list --suite builtin\n"
                              "  costtune benchmarks list --suite testsuite --testsuite-root ~/llvm-test-suite"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    _suite_args(ls)
    ls.set_defaults(func=run_list)
    ck = s.add_parser("check", help="build and run programs at O0 and O3 under qemu and store the verdicts",
                      description=("Build programs at O0 and O3 (or --passes) for AArch64, run each once under qemu and check\n"
                                   "its output; the verdicts are kept under the cache and taken again only when the program\n"
                                   "or the toolchain changes (--refresh: check again)."),
                      epilog=("examples:\n"
                              "  costtune benchmarks check --suite testsuite --testsuite-root ~/llvm-test-suite --jobs 2\n"
                              "  costtune benchmarks check --suite codelets --cbench-root ~/ck"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    _suite_args(ck)
    ck.add_argument("names", nargs="*", help="programs to check (default: every supported one)")
    ck.add_argument("--jobs", type=int, default=1, help="programs checked at once (default 1)")
    ck.add_argument("--passes", default="O0,O3", help="comma list of pipelines (default: O0,O3)")
    ck.add_argument("--refresh", action="store_true", help="check again programs that have a verdict")
    ck.set_defaults(func=run_check)


def _suite_args(p):
    p.add_argument("--suite", default="builtin",
                   help="builtin | cbench | codelets | polybench | csmith | testsuite | DIR")
    p.add_argument("--cbench-root", help="checkout holding ctuning-programs and ctuning-datasets-min")
    p.add_argument("--testsuite-root", help="checkout of llvm-test-suite (for --suite testsuite)")


def _fingerprint() -> str | None:
    from costtune.toolchain import find

    try:
        return find().fingerprint
    except CostTuneError:
        return None


def run_list(args) -> int:
    from costtune.benchmarks.check import verdict_for

    suite = get_suite(args.suite, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root)
    rows = suite.list()
    fp = _fingerprint() if args.suite == "testsuite" else None
    checked = 0
    table = []
    for b in rows:
        status = b.status if b.status == "ok" else f"{b.status}: {b.reason}"
        if b.status == "ok" and fp is not None:
            v = verdict_for(b, fp)
            checked += v is not None
            status = "ok (passes O0,O3)" if v is not None else "ok (not checked)"
        table.append((b.id, len(b.sources), b.repeat, status, b.description))
    if table:
        print(format_table(table, ("program", "sources", "repeat", "status", "description")))
    ok = sum(b.status == "ok" for b in rows)
    print(f"{len(rows)} programs, {ok} ok" + (f" ({checked} checked)" if fp is not None else ""))
    return 0


def run_check(args) -> int:
    from costtune.benchmarks.check import check_benchmark, save_verdict, verdict_for, verdict_key
    from costtune.toolchain import find

    suite = get_suite(args.suite, cbench_root=args.cbench_root, testsuite_root=args.testsuite_root)
    if hasattr(suite, "verdicts"):
        suite.verdicts = False  # check every supported program, whatever its last verdict
    benches = [b for b in suite.list() if b.status == "ok"]
    if args.names:
        known = {b.name for b in benches}
        for n in args.names:
            if n not in known:
                suite.get(n)  # unknown names raise with a hint
                raise CostTuneError(f"{suite.name}/{n} is unsupported: {suite.get(n).reason}")
        benches = [b for b in benches if b.name in args.names]
    passes = tuple(p.strip() for p in args.passes.split(",") if p.strip())
    if not passes or args.jobs < 1:
        raise CostTuneError("--passes needs at least one pipeline and --jobs at least 1")
    tc = find()
    width = max([len(b.name) for b in benches] + [10])
    results: dict[str, dict] = {}
    todo = []
    for b in benches:
        v = None if args.refresh else verdict_for(b, tc.fingerprint)
        if v is not None and all(p in v.get("passes", {}) or v["status"] != "ok" for p in passes):
            results[b.name] = v
        else:
            todo.append(b)
    start = time.perf_counter()

    def show(b, v, cached=False):
        insns = "/".join(f"{(v['passes'].get(p) or {}).get('insns') or 0:.2g}" for p in passes)
        print(f"{b.name:<{width}}  {v['status']:<4} {insns:<16} {'(cached) ' if cached else ''}{v['reason']}",
              flush=True)

    for b in benches:
        if b.name in results:
            show(b, results[b.name], cached=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(check_benchmark, b, passes, tc): b for b in todo}
        for f in as_completed(futures):
            b = futures[f]
            try:
                v = f.result()
            except CostTuneError as e:  # the environment failed (qemu missing...): no verdict stored
                print(f"{b.name:<{width}}  error {e}", file=sys.stderr, flush=True)
                continue
            save_verdict(verdict_key(b, tc.fingerprint), v)
            results[b.name] = v
            show(b, v)
    passed = sum(v["status"] == "ok" for v in results.values())
    print(f"{len(benches)} supported, {passed} pass {' and '.join(passes)}, "
          f"{len(benches) - len(results)} not checked ({time.perf_counter() - start:.0f} s)")
    return 0
