"""costtune cache: how much the compile cache holds, and pruning it to a size."""

import argparse
from costtune import cache
from costtune.errors import ConfigError


def register(sub):
    p = sub.add_parser("cache", help="show the compile cache's size; --max-gb N prunes it to N GB (LRU)",
                       description=("Show the size of the compile cache (COSTTUNE_CACHE, default ~/.cache/costtune), or prune it,\n"
                                    "least recently used first; a pruned artifact is simply compiled again."),
                       epilog=("examples:\n"
                               "  costtune cache\n"
                               "  costtune cache --max-gb 10"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-gb", type=float, help="delete least recently used compile artifacts down to this size")
    p.add_argument("--min-age-min", type=float, default=15.0,
                   help="never delete an artifact used in the last M minutes (default 15: a search may be measuring it)")
    p.set_defaults(func=run)


def _summary(entries) -> str:
    return f"{len(entries)} compile artifacts, {sum(b for _, b, _ in entries) / 2**30:.2f} GB"


def run(args) -> int:
    if args.max_gb is not None and args.max_gb < 0 or args.min_age_min < 0:
        raise ConfigError("--max-gb and --min-age-min must be >= 0")
    print(f"{cache.cache_root() / 'compile'}: {_summary(cache.compile_artifacts())}")
    if args.max_gb is not None:
        n, freed = cache.prune_compile(int(args.max_gb * 2**30), args.min_age_min * 60)
        print(f"pruned {n} artifacts ({freed / 2**20:.0f} MB); now {_summary(cache.compile_artifacts())}")
        if cache.compile_bytes() > args.max_gb * 2**30:
            print(f"the rest was used in the last {args.min_age_min:g} min and stays (--min-age-min)")
    return 0
