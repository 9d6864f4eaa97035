"""costtune benchmarks list: the programs of a suite."""

from costtune.benchmarks import get_suite


def register(sub):
    p = sub.add_parser("benchmarks", help="list benchmark suites and programs")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list the programs of a suite")
    ls.add_argument("--suite", default="builtin", help="builtin | cbench | csmith | DIR")
    ls.add_argument("--cbench-root", help="checkout holding ctuning-programs and ctuning-datasets-min")
    ls.set_defaults(func=run_list)


def run_list(args) -> int:
    suite = get_suite(args.suite, cbench_root=args.cbench_root)
    rows = suite.list()
    width = max([len(b.id) for b in rows] + [10])
    for b in rows:
        status = b.status if b.status == "ok" else f"{b.status}: {b.reason}"
        print(f"{b.id:<{width}}  {len(b.sources):>3} src  repeat={b.repeat:<5} {status:<12} {b.description}")
    ok = sum(b.status == "ok" for b in rows)
    print(f"{len(rows)} programs, {ok} ok")
    return 0
