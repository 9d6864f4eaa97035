"""The MILEPOST codelets and PolyBench/C programs of a user's cTuning checkout.

The checkout that holds cBench (see :mod:`costtune.benchmarks.cbench` for the
root rule, ``--cbench-root`` / ``COSTTUNE_CBENCH_ROOT``) has two more families of
CK programs, read with the same loader:

* ``codelets`` - ``program/milepost-codelet-*``: kernels cut out of MiBench
  programs by the MILEPOST project, each with a wrapper ``main`` that reads the
  kernel's arguments from ``codelet.data`` and calls it ``CT_REPEAT_MAIN`` times.
  Names drop ``milepost-codelet-`` (``mibench-automotive-susan-e-src-susan-codelet-2-1``).
* ``polybench`` - ``program/polybench-cpu-*``: PolyBench/C 3.2 kernels that
  print their live-out arrays (``POLYBENCH_DUMP_ARRAYS``). Names drop
  ``polybench-cpu-`` (``2mm``, ``medley-floyd-warshall``).

Both need a CK runtime library that is not in the checkout. costtune ships its
own (``costtune/benchmarks/runtime/``), built into every program like its other
sources: ``astex_rtl.c`` for the codelets' ``__astex_*`` calls and
``polybench.h``/``polybench.c`` for PolyBench's macros. Both write no timings
(costtune measures the run), so their output is repeatable.

The compared output is what the CK metadata names, ``tmp-output2.tmp``: the
program's stderr. For PolyBench that is the dumped arrays; for a codelet it is
what ``__astex_write_output`` writes there - our runtime adds one line per data
region with a hash of its bytes after the kernel ran, so a build that computes
other results fails the check. stdout (the codelets' progress notes; 2mm's dump)
is compared too.

Sizes and repeats: PolyBench keeps the checkout's dataset sizes (16 per
dimension for most programs, :data:`POLYBENCH_DEFINES` for the exceptions), and
``CT_REPEAT_MAIN`` (initialisation plus kernel, the dump once) is set per
program so that one AArch64 run is about 1e7-7e7 instructions at ``-O3``
and 2e7-3e8 at ``-O0`` (:data:`POLYBENCH_REPEAT`, :data:`CODELET_REPEAT`;
counted under qemu with LLVM 19; the dump is printed once, so the C library's
share of the count stays small). A codelet kernel is often tiny (20-40
instructions a call for some), hence repeats up to 1e6.
Programs that fail their output check at ``-O3`` against ``-O0``, or crash, are
listed with the measured reason (:data:`CODELET_UNSUPPORTED`,
:data:`POLYBENCH_UNSUPPORTED`).
"""

from __future__ import annotations

from pathlib import Path

from costtune.benchmarks.cbench import CKSuite, CKSuiteSettings, Patch, ProgramFix

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"

#: Default ``{repeat}`` per codelet (see the module docstring for the instruction counts).
CODELET_REPEAT: dict[str, int] = {
    "mibench-automotive-basicmath-cubic-codelet-3-1": 15000,
    "mibench-automotive-basicmath-isqrt-codelet-1-1": 73000,
    "mibench-automotive-bitcount-src-bitcnt-1-codelet-2-1": 1000000,
    "mibench-automotive-bitcount-src-bitcnts-codelet-1-1": 1000000,
    "mibench-automotive-qsort1-src-qsort-codelet-1-1": 1,
    "mibench-automotive-susan-e-src-susan-codelet-10-1": 11,
    "mibench-automotive-susan-e-src-susan-codelet-2-1": 1,
    "mibench-automotive-susan-s-src-susan-codelet-1-1": 12000,
    "mibench-consumer-jpeg-c-src-jcdctmgr-codelet-13-1": 35000,
    "mibench-consumer-jpeg-c-src-jchuff-codelet-9-1": 5500,
    "mibench-consumer-jpeg-c-src-jfdctint-codelet-2-1": 45000,
    "mibench-consumer-lame-src-fft-codelet-2-1": 200,
    "mibench-consumer-lame-src-newmdct-codelet-10-1": 50000,
    "mibench-consumer-lame-src-newmdct-codelet-3-1": 26000,
    "mibench-consumer-lame-src-psymodel-codelet-17-1": 1400,
    "mibench-consumer-lame-src-quantize-codelet-7-1": 4700,
    "mibench-consumer-lame-src-quantize-pvt-codelet-6-1": 15000,
    "mibench-consumer-lame-src-takehiro-codelet-16-1": 700000,
    "mibench-consumer-lame-src-takehiro-codelet-5-1": 8600,
    "mibench-consumer-mad-src-layer3-codelet-5-1": 150000,
    "mibench-consumer-mad-src-layer3-codelet-6-1": 680,
    "mibench-consumer-tiff2rgba-src-tif-predict-codelet-4-1": 15000,
    "mibench-consumer-tiffdither-src-tif-fax3-codelet-8-1": 340000,
    "mibench-consumer-tiffdither-src-tif-fax3-codelet-9-1": 320000,
    "mibench-consumer-tiffdither-src-tiffdither-codelet-1-1": 3500,
    "mibench-consumer-tiffmedian-src-tiffmedian-codelet-1-1": 49000,
    "mibench-consumer-tiffmedian-src-tiffmedian-codelet-3-1": 11000,
    "mibench-consumer-tiffmedian-src-tiffmedian-codelet-4-1": 5600,
    "mibench-consumer-tiffmedian-src-tiffmedian-codelet-5-1": 49000,
    "mibench-consumer-tiffmedian-src-tiffmedian-codelet-6-1": 1000000,
    "mibench-network-dijkstra-src-dijkstra-large-codelet-5-1": 780000,
    "mibench-office-ghostscript-src-gdevpbm-codelet-1-1": 1000000,
    "mibench-office-rsynth-src-nsynth-codelet-5-1": 800000,
    "mibench-office-rsynth-src-nsynth-codelet-9-1": 1000000,
    "mibench-security-pgp-d-src-mpilib-codelet-1-1": 90000,
    "mibench-security-pgp-e-src-mpilib-codelet-1-1": 170000,
    "mibench-security-pgp-e-src-mpilib-codelet-3-1": 400000,
    "mibench-security-pgp-e-src-mpilib-codelet-4-1": 88000,
    "mibench-telecomm-adpcm-c-src-adpcm-codelet-1-1": 650,
    "mibench-telecomm-adpcm-d-src-adpcm-codelet-1-1": 940,
    "mibench-telecomm-fft-fftmisc-codelet-5-1": 280000,
    "mibench-telecomm-fft-fourierf-codelet-3-1": 1,
    "mibench-telecomm-gsm-src-rpe-codelet-4-1": 25000,
    "mibench-telecomm-gsm-src-short-term-codelet-2-1": 15000,
}

#: Codelets that build and run but cannot serve as benchmarks, with the measured reason.
CODELET_UNSUPPORTED: dict[str, str] = {
    "mibench-consumer-lame-src-takehiro-codelet-5-1": "the kernel stores its local 'astex_what_return' "
    "uninitialised when no element exceeds w: that result region differs between the -O0 and -O3 builds",
}

#: Default ``{repeat}`` per PolyBench program (see the module docstring for the instruction counts).
POLYBENCH_REPEAT: dict[str, int] = {
    "2mm": 1500,
    "3mm": 1200,
    "adi": 40,
    "atax": 13000,
    "bicg": 11000,
    "cholesky": 5100,
    "doitgen": 20,
    "durbin": 14000,
    "dynprog": 400,
    "fdtd-2d": 4300,
    "fdtd-apml": 490,
    "gemm": 45,
    "gemver": 7700,
    "gesummv": 11000,
    "gramschmidt": 1,
    "jacobi-1d-imper": 26000,
    "jacobi-2d-imper": 1200,
    "lu": 2400,
    "ludcmp": 2300,
    "medley-floyd-warshall": 1100,
    "medley-reg-detect": 14000,
    "mvt": 20000,
    "seidel-2d": 1300,
    "symm": 1100,
    "syr2k": 680,
    "syrk": 1300,
    "trisolv": 28000,
    "trmm": 270,
}

#: Dataset sizes that replace the checkout's (``build_compiler_vars``).
POLYBENCH_DEFINES: dict[str, dict[str, str]] = {
    "gemm": {"NI": "32", "NJ": "32", "NK": "32"},  # the checkout's 512 is 2.3e9 instructions a run
    "fdtd-apml": {"CZ": "8", "CYM": "8", "CXM": "8"},  # at 16 printing the four 17^3 arrays is 4e7
}

#: PolyBench programs that cannot serve as benchmarks, with the measured reason.
POLYBENCH_UNSUPPORTED: dict[str, str] = {
    "gramschmidt": "the initial matrix has a zero column, so the kernel computes 0/0 and prints NaNs whose sign "
    "differs between the -O0 and -O3 builds (at repeat 3)",
}

#: Source patches (applied to a copy outside the checkout, see :mod:`costtune.benchmarks.cbench`).
POLYBENCH_FIXES: dict[str, ProgramFix] = {
    "2mm": ProgramFix(
        why="print_array reads D[i][j] with j uninitialised (the -O0 build segfaults); it prints the "
        "diagonal, as its bound min(ni, nl) says",
        patches=(Patch("2mm.c", "printf (DATA_PRINTF_MODIFIER, D[i][j]);", "printf (DATA_PRINTF_MODIFIER, D[i][i]);"),),
    ),
}

CODELETS = CKSuiteSettings(
    suite="codelets", prefix="milepost-codelet-", label="MILEPOST codelet",
    unsupported=CODELET_UNSUPPORTED, repeat=CODELET_REPEAT,
    extra_sources=(RUNTIME_DIR / "astex_rtl.c",), compare_stderr=True,
)

POLYBENCH = CKSuiteSettings(
    suite="polybench", prefix="polybench-cpu-", label="PolyBench/C",
    fixes=POLYBENCH_FIXES, unsupported=POLYBENCH_UNSUPPORTED, repeat=POLYBENCH_REPEAT, defines=POLYBENCH_DEFINES,
    extra_sources=(RUNTIME_DIR / "polybench.c",), include_dirs=(RUNTIME_DIR,), compare_stderr=True,
)


class CodeletSuite(CKSuite):
    """The MILEPOST codelets of a cTuning checkout (see the module docstring)."""

    settings = CODELETS


class PolybenchSuite(CKSuite):
    """The PolyBench/C CPU programs of a cTuning checkout (see the module docstring)."""

    settings = POLYBENCH
