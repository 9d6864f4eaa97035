"""Program families and the corpus's fixed train / validation / test split.

A *family* is a set of programs that share code: the encoder and decoder of one
codec, the variants of one program run on other inputs, the same program as it
appears in several suites (cBench's programs are MiBench's, the MILEPOST
codelets are loops cut out of them, and llvm-test-suite carries MiBench and
mediabench again; PolyBench kernels appear in cTuning and in llvm-test-suite),
or one source built with other defines (llvm-test-suite's TSVC). A result on a
family that training saw is not evidence of generalisation, so every split is
by family.

:func:`family_of` names a program's family from its ``suite/name``: a known
shared codebase when the name mentions one (:data:`SHARED_CODE`), a PolyBench
kernel by its kernel name, a few suites whose programs are one source
(:data:`ONE_SOURCE`), else the program itself.

:func:`split_of` is the split, fixed once for every evaluation: a family's
split comes from a hash of its name (:data:`TEST_SHARE` test,
:data:`VALIDATION_SHARE` validation, the rest train), except that the cBench
programs ``costtune search``'s settings were developed on are train
(:data:`DEVELOPED_ON`: a result on them would not be held out) and the six
cBench programs held out of that development are test (:data:`HELD_OUT`), so
that model and search results can be reported on them. The rule never looks at
measurements, so adding programs never moves an existing family.
"""

from __future__ import annotations

import hashlib
import re

SPLITS = ("train", "validation", "test")
TEST_SHARE = 0.2
VALIDATION_SHARE = 0.1

#: codebase -> pattern over the lower-cased ``suite/name`` (``telecomm`` read as ``telecom``)
SHARED_CODE: dict[str, str] = {
    "jpeg": r"jpeg",
    "gsm": r"gsm",
    "adpcm": r"adpcm",
    "bzip2": r"bzip2",
    "susan": r"susan",
    "sha": r"(^|[-_/.])sha($|[-_/.])|security-sha",
    "blowfish": r"blowfish",
    "rijndael": r"rijndael",
    "pgp": r"(^|[-_/.])pgp",
    "crc32": r"crc32",
    "dijkstra": r"dijkstra",
    "patricia": r"patricia",
    "qsort": r"automotive-qsort",
    "bitcount": r"automotive-bitcount|bitcnt",
    "stringsearch": r"stringsearch",
    "basicmath": r"basicmath",
    "fft": r"telecom-fft",
    "lame": r"(^|[-_/])lame",
    "mad": r"consumer-mad",
    "tiff": r"tiff",
    "typeset": r"typeset",
    "ispell": r"ispell",
}

#: suites (a path component of the name) whose programs are one source built with other defines
ONE_SOURCE = {"tsvc": r"(^|[-_/])tsvc([-_/]|$)", "jm": r"(^|[-_/])jm[-_/]"}

#: cBench programs the search's settings were chosen on: their families train
DEVELOPED_ON = ("sha", "adpcm", "qsort", "crc32", "bitcount", "stringsearch", "patricia", "rijndael",
                "blowfish")
#: cBench programs held out of that development (gsm, susan x3, bzip2 x2): their families test
HELD_OUT = ("gsm", "susan", "bzip2")

_POLY = re.compile(r"polybench")
_POLY_DROP = ("polybench", "cpu", "linear-algebra", "kernels", "solvers", "stencils", "datamining", "medley",
              "singlesource", "benchmarks", "testsuite", "codelets")


def _normal(bench_id: str) -> str:
    return bench_id.lower().replace("telecomm", "telecom")


def family_of(bench_id: str) -> str:
    """The family of ``suite/name`` (see the module docstring)."""
    low = _normal(bench_id)
    suite = low.split("/", 1)[0]
    if suite == "builtin":  # costtune's own programs share no code with the public suites
        return f"builtin:{low.split('/', 1)[1]}"
    for code, pattern in SHARED_CODE.items():
        if re.search(pattern, low):
            return f"mibench:{code}"
    if _POLY.search(low):
        parts = [p for p in re.split(r"[/]", low) if p]
        last = parts[-1]
        for word in _POLY_DROP:  # cTuning's "polybench-cpu-medley-floyd-warshall" -> "floyd-warshall"
            last = re.sub(rf"(^|-){word}(?=-)", "", last).strip("-")
        return f"polybench:{last.removesuffix('-imper')}"
    for name, pattern in ONE_SOURCE.items():
        if re.search(pattern, low):
            return f"{suite}:{name}"
    return low.replace("/", ":", 1)


def split_of(family: str) -> str:
    """train | validation | test for ``family`` (fixed; see the module docstring)."""
    code = family.split(":", 1)[1] if family.startswith("mibench:") else None
    if code in HELD_OUT:
        return "test"
    if code in DEVELOPED_ON:
        return "train"
    u = int(hashlib.sha256(f"costtune-family-split:{family}".encode()).hexdigest()[:12], 16) / 16 ** 12
    if u < TEST_SHARE:
        return "test"
    if u < TEST_SHARE + VALIDATION_SHARE:
        return "validation"
    return "train"
