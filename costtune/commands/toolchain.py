"""costtune toolchain: the tools found, their versions and the targets."""

import argparse
from costtune import toolchain
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("toolchain", help="show the LLVM tools and qemu found, versions, targets",
                       description=("Find clang, opt, llc, lld, llvm-objdump, llvm-mca and qemu-aarch64 for an LLVM version and\n"
                                    "print their paths, versions and targets; a missing tool is one line naming its Debian package."),
                       epilog=("examples:\n"
                               "  costtune toolchain\n"
                               "  costtune toolchain --llvm 14"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llvm", type=int, help="LLVM major version (default: COSTTUNE_LLVM or newest)")
    p.set_defaults(func=run)


def run(args) -> int:
    tc = toolchain.find(args.llvm)
    print(f"LLVM {tc.llvm} (installed: {', '.join(map(str, toolchain.installed_versions()))})")
    print(format_table([(name, tc.versions[name], path) for name, path in tc.tools.items()],
                       ("tool", "version", "path"), align="<<<"))
    print("targets:")
    print(format_table([(name, toolchain.TARGETS[name].triple, status) for name, status in tc.targets().items()],
                       ("target", "triple", "status"), align="<<<"))
    return 0
