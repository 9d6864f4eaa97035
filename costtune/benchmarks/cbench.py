"""cBench read from a user's Collective Knowledge (CK) checkout.

cBench is third-party code: costtune never copies it into its repository. It is
read at run time from a checkout in the CK layout, found through the ``root``
argument, else ``COSTTUNE_CBENCH_ROOT``.

Root rule (first match wins, separately for programs and datasets):

* programs: ``ROOT/program`` or ``ROOT/ctuning-programs/program``
* datasets: ``ROOT/dataset``, ``ROOT/ctuning-datasets-min/dataset`` or
  ``ROOT/ctuning-datasets/dataset``

So ``ROOT`` is either one CK repository holding both ``program/`` and
``dataset/``, or a folder holding the two repositories ``ctuning-programs/`` and
``ctuning-datasets-min/`` side by side (e.g. ``--cbench-root ~/CK``).

Each ``program/cbench-*/.cm/meta.json`` gives the source files, the compiler
defines (``build_compiler_vars``; ``XOPENME`` is dropped: costtune does not link
the xOpenME library), and ``run_cmds``: every run command becomes one
:class:`~costtune.benchmarks._base.Benchmark`. Its name is the program folder
without ``cbench-`` (``telecom-crc32``) when the program has one run command,
else that plus ``-<run_cmd key>`` (``automotive-susan-corners``,
``bzip2-decode``).

A run command's ``dataset_tags`` select the dataset: the datasets whose tags
hold every (non-empty) tag; among several, the one whose tags share most words
with the variant name, then one named ``*-0001``, then by name. ``datasets=``
overrides the choice per variant. Placeholders in ``run_cmd_main`` resolve to
basenames of the dataset files, which are copied into the run directory
(``$#dataset_filename#$``, ``$#dataset_filename_1#$``) or to values of the
dataset's ``cm_properties`` (``$#dataset_number#$``). The compared outputs are
stdout plus ``run_correctness_output_files`` (less the CK stdout/stderr
redirection files). ``CT_REPEAT_MAIN={repeat}`` is the repeat knob; the default
repeat per variant (:data:`DEFAULT_REPEAT`) makes a native ``-O2`` build run
about 50-500 ms on the minimal datasets.

Known defects on 64-bit hosts are fixed without touching the checkout: a
variant that needs a source patch gets an overlay copy of its program folder
under ``<cache>/cbench-overlay/<program>/<hash>/`` (cache = ``COSTTUNE_CACHE``
or ``~/.cache/costtune``) with the minimal patch applied, and
``Benchmark.root`` points there; define-only fixes go into ``cflags``. See
:data:`FIXES`. Every variant is listed; those that cannot run have
``status="unsupported"`` and a ``reason``.

The loader is generic over the CK programs of a checkout: a
:class:`CKSuiteSettings` names the program prefix and the suite's tables (fixes,
known failures, repeats, define overrides, a runtime built with every program,
whether stderr is compared). :data:`CBENCH` holds cBench's;
:mod:`costtune.benchmarks.ctuning` uses the same loader for the MILEPOST
codelets and PolyBench/C.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from costtune.benchmarks._base import Benchmark, Suite
from costtune.cache import cache_dir
from costtune.errors import BenchmarkError
from costtune.logging import get_logger

log = get_logger(__name__)

ENV_ROOT = "COSTTUNE_CBENCH_ROOT"
SUITE_NAME = "cbench"
PROGRAM_PREFIX = "cbench-"

#: Frontend flags that let clang >= 16 accept the suite's K&R-era C.
#: ``-fcommon``: several programs define the same global in more than one file.
KR_CFLAGS = (
    "-std=gnu89",
    "-fcommon",
    "-w",
    "-Wno-implicit-function-declaration",
    "-Wno-implicit-int",
    "-Wno-int-conversion",
    "-Wno-incompatible-pointer-types",
    "-Wno-return-type",
)

#: Compiler variables from meta.json that are never passed on.
DROPPED_DEFINES = frozenset({"XOPENME", "OPENME"})

#: Seconds one native run may take (the runner gives qemu a multiple).
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``file``."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class ProgramFix:
    """What costtune changes, outside the checkout, to run a program correctly."""

    why: str
    cflags: tuple[str, ...] = ()
    patches: tuple[Patch, ...] = ()
    stdin_as_arg: bool = False  #: the run command reads ``< file``; a patch opens argv[1] instead
    drop_sources: tuple[str, ...] = ()  #: meta.json sources not to compile
    unsupported: str = ""  #: reason, when the program cannot be made to run reproducibly


#: Keyed by program folder without the ``cbench-`` prefix.
FIXES: dict[str, ProgramFix] = {
    "security-pgp": ProgramFix(
        why="gettime.c redefines glibc's gettimeofday (dropped); xopenme_* calls not guarded by XOPENME (defined away)",
        cflags=("-Dxopenme_clock_end(x)=", "-Dxopenme_dump_state()=", "-Dxopenme_finish()="),
        drop_sources=("gettime.c",),
    ),
    "security-sha": ProgramFix(
        why="LONG is 'unsigned long' (64 bits): SHA-1 words read uninitialised memory; use a 32-bit type",
        patches=(
            Patch("sha.h", "typedef unsigned long LONG;", "typedef unsigned int LONG;"),
            Patch("sha.c", 'printf("%08lx %08lx %08lx %08lx %08lx\\n",', 'printf("%08x %08x %08x %08x %08x\\n",'),
        ),
    ),
    "security-rijndael": ProgramFix(
        why="fgetpos() writes a 16-byte fpos_t into an 8-byte variable (stack smash at -O3); use ftell()",
        patches=(Patch("aesxam.c", "fgetpos(fin, (fpos_t*)&flen);", "flen = (unsigned long)ftell(fin);"),),
    ),
    "consumer-mad": ProgramFix(
        why="needs <unistd.h> declarations (lseek, read) on glibc",
        cflags=("-DHAVE_UNISTD_H=1",),
    ),
    "telecom-adpcm-c": ProgramFix(
        why="reads its input from stdin; the patched main reopens argv[1] as stdin",
        patches=(
            Patch(
                "rawcaudio.c",
                "int main() {",
                'int main(int argc, char **argv) {\n    if (argc > 1 && !freopen(argv[1], "rb", stdin)) { perror(argv[1]); return 1; }',
            ),
        ),
        stdin_as_arg=True,
    ),
    "telecom-adpcm-d": ProgramFix(
        why="reads its input from stdin; the patched main reopens argv[1] as stdin",
        patches=(
            Patch(
                "rawdaudio.c",
                "int main()\n{",
                'int main(int argc, char **argv)\n{\n    if (argc > 1 && !freopen(argv[1], "rb", stdin)) { perror(argv[1]); return 1; }',
            ),
        ),
        stdin_as_arg=True,
    ),
}

#: Variants that build and run but cannot serve as benchmarks, with the reason.
UNSUPPORTED_VARIANTS: dict[str, str] = {
    "security-pgp-encode": "the -O3 build writes a different (5 bytes longer, repeatable) signature than -O0 on "
    "AArch64 with LLVM 19: undefined behaviour in pgp's signing path, not diagnosed",
}

#: Dataset used when the meta's tags allow many and the generic rank picks a poor
#: one: bzip2 would compress an already compressed file, pgp would stop to ask
#: whether a PGP file may be signed. Only used when the dataset exists and matches.
PREFERRED_DATASETS: dict[str, str] = {
    "bzip2-encode": "cdataset-qsort-0001",
    "security-pgp-encode": "txt-0001",
}

#: Default ``{repeat}`` per variant: a native x86-64 -O2 run of about 50-500 ms
#: on the minimal dataset (measured: time at repeat 1 and 10, per-iteration cost
#: extrapolated, checked at the chosen value). Variants not listed use 1.
#: office-stringsearch2: its repeat loop is dead code at -O2 (the result is
#: overwritten), so only unoptimised builds scale with it.
DEFAULT_REPEAT: dict[str, int] = {
    "automotive-bitcount": 2,
    "automotive-qsort1": 4,
    "automotive-susan-corners": 7,
    "automotive-susan-edges": 6,
    "automotive-susan-smoothing": 1,
    "bzip2-decode": 1,
    "bzip2-encode": 1,
    "consumer-jpeg-c": 20,
    "consumer-jpeg-d": 25,
    "consumer-lame": 2,
    "consumer-mad": 20,
    "consumer-tiff2bw": 20,
    "consumer-tiff2dither": 50,
    "consumer-tiff2median": 100,
    "consumer-tiff2rgba": 15,
    "network-dijkstra": 40000,
    "network-patricia": 250,
    "office-stringsearch2": 200,
    "security-blowfish-decode": 500,
    "security-blowfish-encode": 500,
    "security-pgp-decode": 130,
    "security-pgp-encode": 80,
    "security-rijndael-decode": 300,
    "security-rijndael-encode": 130,
    "security-sha": 500,
    "telecom-adpcm-c": 150,
    "telecom-adpcm-d": 200,
    "telecom-crc32": 500,
    "telecom-gsm": 15,
}


@dataclass(frozen=True)
class CKSuiteSettings:
    """What one suite of CK programs adds to the generic loader."""

    suite: str  #: costtune suite name
    prefix: str  #: program folders ``<prefix>*``; benchmark names drop the prefix
    label: str  #: how descriptions name the suite
    fixes: Mapping[str, ProgramFix] = field(default_factory=dict)  #: by program folder without the prefix
    unsupported: Mapping[str, str] = field(default_factory=dict)  #: variant name -> why it cannot serve
    preferred_datasets: Mapping[str, str] = field(default_factory=dict)  #: variant name -> dataset folder
    repeat: Mapping[str, int] = field(default_factory=dict)  #: default ``{repeat}`` per variant
    default_repeat: int = 1  #: for variants not in ``repeat``
    #: ``build_compiler_vars`` replaced or added, by program folder without the prefix
    defines: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    extra_sources: tuple[Path, ...] = ()  #: runtime C files built with every program (absolute)
    include_dirs: tuple[Path, ...] = ()  #: ``-I`` directories for every program (a runtime's headers)
    #: compare stderr when the run command names its stderr file (``run_cmd_out2``) a correctness output
    compare_stderr: bool = False
    timeout: float = DEFAULT_TIMEOUT


CBENCH = CKSuiteSettings(suite=SUITE_NAME, prefix=PROGRAM_PREFIX, label="cBench", fixes=FIXES,
                         unsupported=UNSUPPORTED_VARIANTS, preferred_datasets=PREFERRED_DATASETS,
                         repeat=DEFAULT_REPEAT)


@dataclass
class _Dataset:
    uoa: str
    path: Path
    tags: frozenset[str]
    files: tuple[str, ...]
    properties: dict = field(default_factory=dict)


def resolve_root(root: str | os.PathLike | None = None) -> tuple[Path, Path | None]:
    """Return (programs dir, datasets dir or None) following the root rule."""
    if root is None:
        root = os.environ.get(ENV_ROOT)
        if not root:
            raise BenchmarkError(
                f"no cBench checkout: pass --cbench-root DIR or set {ENV_ROOT} "
                "(a folder with ctuning-programs/ and ctuning-datasets-min/ from github.com/ctuning)"
            )
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        raise BenchmarkError(f"cBench root '{root}' is not a directory")
    programs = next((p for p in (base / "program", base / "ctuning-programs" / "program") if p.is_dir()), None)
    if programs is None:
        raise BenchmarkError(
            f"cBench root '{base}' has neither program/ nor ctuning-programs/program/ (see costtune.benchmarks.cbench)"
        )
    datasets = next(
        (
            p
            for p in (base / "dataset", base / "ctuning-datasets-min" / "dataset", base / "ctuning-datasets" / "dataset")
            if p.is_dir()
        ),
        None,
    )
    return programs, datasets


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BenchmarkError(f"{path}: cannot read CK meta ({e.__class__.__name__}: {e})") from None
    if not isinstance(data, dict):
        raise BenchmarkError(f"{path}: expected a JSON object")
    return data


def _load_datasets(directory: Path | None) -> list[_Dataset]:
    if directory is None:
        return []
    out = []
    for meta_path in sorted(directory.glob("*/.cm/meta.json")):
        d = meta_path.parent.parent
        try:
            meta = _read_json(meta_path)
        except BenchmarkError as e:
            log.warning("skipping dataset %s: %s", d.name, e)
            continue
        props = ((meta.get("cm_properties") or {}).get("run_time") or {}).get("run_cmd_main") or {}
        out.append(
            _Dataset(
                uoa=d.name,
                path=d,
                tags=frozenset(str(t) for t in meta.get("tags") or ()),
                files=tuple(str(f) for f in meta.get("dataset_files") or ()),
                properties={str(k): str(v) for k, v in props.items()} if isinstance(props, dict) else {},
            )
        )
    return out


def _usable(d: _Dataset) -> bool:
    """A dataset with its files present (or a parameter-only one like number-0001)."""
    if not d.files:
        return bool(d.properties)
    return all((d.path / f).is_file() for f in d.files)


def _choose_dataset(tags: list[str], variant: str, datasets: list[_Dataset],
                    preferred_datasets: Mapping[str, str] = PREFERRED_DATASETS) -> _Dataset | None:
    wanted = {t for t in tags if t}
    matches = [d for d in datasets if wanted <= d.tags and _usable(d)]
    if not matches:
        return None
    preferred = [d for d in matches if d.uoa == preferred_datasets.get(variant)]
    if preferred:
        return preferred[0]
    words = set(re.split(r"[-_]", variant))

    def rank(d: _Dataset):
        return (-len(words & d.tags), not d.uoa.endswith("-0001"), d.uoa)

    return min(matches, key=rank)


_PLACEHOLDER = re.compile(r"\$#([A-Za-z0-9_]+)#\$")


def _render_token(token: str, ds: _Dataset | None) -> tuple[str, list[Path]]:
    """Resolve CK placeholders in one argv token; returns (text, input files used)."""
    used: list[Path] = []

    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key in ("dataset_path", "src_path"):
            return ""  # the files are copied into the run directory
        if ds is None:
            raise BenchmarkError(f"placeholder $#{key}#$ but no dataset")
        fm = re.fullmatch(r"dataset_filename(?:_(\d+))?", key)
        if fm:
            i = int(fm.group(1) or 0)
            if i >= len(ds.files):
                raise BenchmarkError(f"dataset {ds.uoa} has no file #{i} for $#{key}#$")
            p = ds.path / ds.files[i]
            if not p.is_file():
                raise BenchmarkError(f"dataset file {p} is missing")
            used.append(p)
            return p.name
        if key.startswith("dataset_") and key in ds.properties:
            return ds.properties[key]
        raise BenchmarkError(f"unknown placeholder $#{key}#$ (dataset {ds.uoa})")

    return _PLACEHOLDER.sub(sub, token), used


def _defines(meta: dict, overrides: Mapping[str, str] | None = None) -> list[str]:
    values = dict(meta.get("build_compiler_vars") or {})
    values.update(overrides or {})
    out = []
    for k, v in values.items():
        if k in DROPPED_DEFINES:
            continue
        out.append(f"-D{k}" if v in ("", None) else f"-D{k}={v}")
    return out


def _overlay(program_dir: Path, short: str, fix: ProgramFix, suite: str = SUITE_NAME) -> Path:
    """A patched copy of ``program_dir`` in the cache (created once, keyed by content)."""
    h = hashlib.sha256()
    files = sorted(p for p in program_dir.iterdir() if p.is_file())
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for patch in fix.patches:
        h.update(repr(patch).encode())
    dest = cache_dir(f"{suite}-overlay", short) / h.hexdigest()[:16]
    if (dest / ".complete").is_file():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for p in files:
        shutil.copy2(p, tmp / p.name)
    for patch in fix.patches:
        target = tmp / patch.file
        text = target.read_text(errors="surrogateescape")
        n = text.count(patch.old)
        if n != 1:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BenchmarkError(f"patch for {short}/{patch.file} does not apply ({n} matches of {patch.old!r})")
        target.write_text(text.replace(patch.old, patch.new), errors="surrogateescape")
    (tmp / ".complete").write_text("")
    if dest.exists():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(dest)
    return dest


def load_program(program_dir: Path, datasets: list[_Dataset], overrides: Mapping[str, str] | None = None,
                 settings: CKSuiteSettings = CBENCH) -> list[Benchmark]:
    """Every run variant of one CK program folder (unsupported ones included)."""
    overrides = overrides or {}
    s = settings
    short = program_dir.name.removeprefix(s.prefix)
    meta_path = program_dir / ".cm" / "meta.json"
    try:
        meta = _read_json(meta_path)
        run_cmds = meta.get("run_cmds") or {}
        if not isinstance(run_cmds, dict) or not run_cmds:
            raise BenchmarkError(f"{meta_path}: no run_cmds")
    except BenchmarkError as e:
        return [Benchmark(s.suite, short, program_dir, (), status="unsupported", reason=str(e))]

    fix = s.fixes.get(short)
    sources = tuple(str(s) for s in meta.get("source_files") or () if not (fix and s in fix.drop_sources))
    cflags = (*KR_CFLAGS, *_defines(meta, s.defines.get(short)), *(f"-I{d}" for d in s.include_dirs),
              *(fix.cflags if fix else ()))
    problem = ""
    if not sources:
        problem = "meta.json lists no source_files"
    missing = [s for s in sources if not (program_dir / s).is_file()]
    if missing:
        problem = f"source files missing: {', '.join(missing)}"
    if fix and fix.unsupported:
        problem = fix.unsupported
    root = program_dir
    if not problem and fix and fix.patches:
        try:
            root = _overlay(program_dir, short, fix, s.suite)
        except (BenchmarkError, OSError) as e:
            problem = str(e)

    out = []
    for key in sorted(run_cmds):
        rc = run_cmds[key] or {}
        name = short if len(run_cmds) == 1 else f"{short}-{key}"
        rt = rc.get("run_time") or {}
        redirects = {rt.get("run_cmd_out1"), rt.get("run_cmd_out2")} - {None}
        checked = rt.get("run_correctness_output_files") or ()
        outputs = tuple(f for f in checked if f not in redirects)
        common = dict(
            suite=s.suite,
            name=name,
            root=root,
            sources=sources,
            cflags=cflags,
            ldflags=("-lm",),
            outputs=outputs,
            env=(("CT_REPEAT_MAIN", "{repeat}"),),
            repeat=s.repeat.get(name, s.default_repeat),
            timeout=s.timeout,
            compare_stderr=s.compare_stderr and rt.get("run_cmd_out2") in checked,
            extra_sources=s.extra_sources,
            description=f"{s.label} {program_dir.name}, run_cmd '{key}'"
            + (f"; costtune fix: {fix.why}" if fix and (fix.patches or fix.cflags) else ""),
        )
        if problem or name in s.unsupported:
            out.append(Benchmark(**common, status="unsupported", reason=problem or s.unsupported[name]))
            continue
        try:
            args, inputs, ds = _run_command(rc, name, short, program_dir, datasets, overrides, fix,
                                            s.preferred_datasets)
        except BenchmarkError as e:
            out.append(Benchmark(**common, status="unsupported", reason=str(e)))
            continue
        if ds is not None:
            common["description"] += f"; dataset {ds.uoa}"
        out.append(Benchmark(**common, args=tuple(args), inputs=tuple(inputs)))
    return out


def _run_command(rc: dict, name: str, short: str, program_dir: Path, datasets: list[_Dataset],
                 overrides: Mapping[str, str], fix: ProgramFix | None,
                 preferred_datasets: Mapping[str, str]) -> tuple[list[str], list[Path], _Dataset | None]:
    rt = rc.get("run_time") or {}
    cmd = rt.get("run_cmd_main")
    if not isinstance(cmd, str) or not cmd.strip():
        raise BenchmarkError("run_cmd_main is missing")
    tokens = shlex.split(cmd)
    if tokens and tokens[0] == "$#BIN_FILE#$":
        tokens = tokens[1:]
    if any("BIN_FILE" in t for t in tokens):
        raise BenchmarkError(f"cannot place the binary in '{cmd}'")

    needs_dataset = any(_PLACEHOLDER.search(t) and "dataset" in t for t in tokens)
    ds = None
    if name in overrides:
        ds = next((d for d in datasets if d.uoa == overrides[name]), None)
        if ds is None:
            raise BenchmarkError(f"dataset '{overrides[name]}' (override) not found")
    elif needs_dataset:
        tags = [str(t) for t in rc.get("dataset_tags") or ()]
        ds = _choose_dataset(tags, name, datasets, preferred_datasets)
        if ds is None:
            raise BenchmarkError(f"no dataset with tags {sorted(t for t in tags if t)} in the checkout")

    args: list[str] = []
    inputs: list[Path] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("<", ">", "2>", "|"):
            if tok != "<" or not (fix and fix.stdin_as_arg) or i + 1 >= len(tokens):
                raise BenchmarkError(f"run command needs shell redirection '{tok}': {cmd}")
            i += 1
            tok = tokens[i]
        text, used = _render_token(tok, ds)
        args.append(text)
        inputs.extend(used)
        i += 1
    for f in rc.get("run_input_files") or rt.get("run_input_files") or ():
        p = program_dir / str(f)
        if not p.is_file():
            raise BenchmarkError(f"run input file {f} is missing")
        inputs.append(p)
    seen: dict[str, Path] = {}
    for p in inputs:
        if p.name in seen and seen[p.name] != p:
            raise BenchmarkError(f"two input files named {p.name}")
        seen[p.name] = p
    return args, list(seen.values()), ds


class CKSuite(Suite):
    """The variants of the CK programs ``settings.prefix*`` of a checkout (see the module docstring).

    ``root``: the checkout (default ``COSTTUNE_CBENCH_ROOT``). ``datasets``: optional
    ``{variant name: dataset folder}`` overrides of the dataset choice.
    """

    settings: CKSuiteSettings = CBENCH

    @property
    def name(self) -> str:
        return self.settings.suite

    def __init__(self, root: str | os.PathLike | None = None, datasets: Mapping[str, str] | None = None):
        self.programs_dir, self.datasets_dir = resolve_root(root)
        self.root = self.programs_dir.parent
        self._overrides = dict(datasets or {})
        self._cache: list[Benchmark] | None = None

    def list(self) -> list[Benchmark]:
        if self._cache is None:
            ds = _load_datasets(self.datasets_dir)
            out: list[Benchmark] = []
            for d in sorted(self.programs_dir.glob(f"{self.settings.prefix}*")):
                if (d / ".cm" / "meta.json").is_file():
                    out.extend(load_program(d, ds, self._overrides, self.settings))
            self._cache = out
        return list(self._cache)


class CBenchSuite(CKSuite):
    """cBench variants from a CK checkout (see the module docstring for the layout)."""

    settings = CBENCH
