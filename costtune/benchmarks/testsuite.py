"""The llvm-test-suite read from a user's checkout of ``llvm/llvm-test-suite``.

The suite is third-party code: costtune never copies it. It is read at run time
from the checkout given as ``root`` (``--testsuite-root DIR``), else
``COSTTUNE_TESTSUITE_ROOT``; the root is the folder that holds ``SingleSource/``
and ``MultiSource/``.

Programs come from the checkout's own CMake files, interpreted by a small CMake
subset (:class:`_Interp`) for an AArch64 Linux little-endian target with
``SMALL_PROBLEM_SIZE`` on, starting at ``SingleSource/Benchmarks``,
``MultiSource/Benchmarks`` and ``MultiSource/Applications``. It understands
``set``, ``list(APPEND|INSERT|REMOVE_ITEM)``, ``if/elseif/else/endif`` (NOT, AND,
OR, DEFINED, STREQUAL, MATCHES, EQUAL, parentheses), ``add_subdirectory``,
``add_definitions``, ``include_directories``, ``file(GLOB)``,
``llvm_singlesource``, ``llvm_multisource``, ``llvm_test_data``,
``set_property(TARGET ... PROPERTY C_STANDARD n)``,
``target_include_directories``, ``target_compile_options`` and the
``include(Check...)`` lines; the programs of a file that uses any other command
(``check_function_exists``, ``find_package``, ``add_custom_command`` ...) are
listed unsupported with that command as the reason.

What a program gets, as the suite's ``llvm_test_traditional`` does: sources (the
``Source`` list, or every ``.c`` of the directory), ``-DSMALL_PROBLEM_SIZE``,
``CFLAGS``/``CPPFLAGS``/``add_definitions``, ``LDFLAGS`` (plus ``-lm``),
``RUN_OPTIONS`` as argv (``< file`` and ``<name>.reference_input`` become
stdin), the ``llvm_test_data`` files and files named in ``RUN_OPTIONS`` as inputs,
and the reference output chosen like the suite does
(``.reference_output.little-endian.small``, ``.small``, ``.little-endian``,
``.Linux``, plain). The check mirrors the harness: stdout and stderr go to one
stream, ``exit N`` is appended, ``HASH_PROGRAM_OUTPUT`` replaces it by its md5,
and the result is compared like ``fpcmp`` with ``FP_TOLERANCE`` /
``FP_ABSTOLERANCE`` (:func:`fp_compare`). C++ and Fortran programs are listed
unsupported, as are programs whose inputs sit in subdirectories (the run
directory is flat).

Names: the program's path below ``SingleSource/Benchmarks``,
``MultiSource/Benchmarks`` or ``MultiSource/`` (so Applications keep an
``Applications-`` prefix) with ``/`` replaced by ``-``, and the target name
dropped when it equals the last directory: ``Stanford-Queens``,
``Polybench-linear-algebra-kernels-2mm``, ``MiBench-consumer-jpeg``,
``Applications-sqlite3``. Should two programs still share a name, both take
their full path (``SingleSource-Benchmarks-...``).

Verdicts: ``costtune benchmarks check --suite testsuite`` builds each supported
program at O0 and O3, runs it under qemu and stores a verdict per program,
keyed by its content and the toolchain (see :mod:`costtune.benchmarks.check`). :meth:`TestSuite.list` reports a program with a
failed verdict as unsupported with the verdict's reason, so collection and
search skip it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from costtune.benchmarks._base import Benchmark, Suite
from costtune.errors import BenchmarkError, CostTuneError
from costtune.logging import get_logger

log = get_logger(__name__)

ENV_ROOT = "COSTTUNE_TESTSUITE_ROOT"
SUITE_NAME = "testsuite"
#: (directory below the root, name prefix it gives)
TOPS = (("SingleSource/Benchmarks", ""), ("MultiSource/Benchmarks", ""), ("MultiSource/Applications", "Applications-"))
#: The configuration the CMake files are read for.
CONFIG = {
    "ARCH": "AArch64", "TARGET_OS": "Linux", "ENDIAN": "little", "SMALL_PROBLEM_SIZE": "ON",
    "CMAKE_SYSTEM_NAME": "Linux", "CMAKE_SYSTEM_PROCESSOR": "aarch64", "CMAKE_C_COMPILER_ID": "Clang",
    "CMAKE_CXX_COMPILER_ID": "Clang", "FPCMP": "fpcmp", "CMAKE_CURRENT_BINARY_DIR": "/nonexistent-build-dir",
}
#: Answers of the configure checks (``check_symbol_exists`` ...) for that target, by result
#: variable; a check whose variable is not here makes its programs unsupported.
CHECK_RESULTS = {"HAS_AARCH64_FMV": "OFF", "RISCV_MISALIGNED_AVOID": "OFF", "MIPS_IS_MIPS64_ENABLED": "OFF",
                 "PPC_IS_PPC64_ENABLED": "OFF", "HAVE_SGTTY_INCLUDE": "ON"}
CHECK_COMMANDS = ("check_symbol_exists", "check_function_exists", "check_include_files", "check_c_compiler_flag")
#: Frontend flags every program gets (the suite's top-level CMake adds -DNDEBUG; old C needs the rest).
BASE_CFLAGS = ("-DNDEBUG", "-fcommon", "-Wno-implicit-int", "-Wno-return-type")
#: Seconds one native run may take; qemu runs get the runner's multiple (30 s with the default 10x).
DEFAULT_TIMEOUT = 3.0
C_EXT = (".c",)
CXX_EXT = (".cpp", ".cc", ".cxx", ".C")
FORTRAN_PAT = ("*.for", "*.FOR", "*.fpp", "*.FPP", "*.f", "*.F", "*.f90", "*.F90", "*.f95", "*.F95", "*.f03",
               "*.F03", "*.f08", "*.F08")
IGNORED_COMMANDS = {"message", "include", "cmake_minimum_required", "project", "enable_language"}
FALSE_CONSTANTS = {"", "0", "OFF", "NO", "FALSE", "N", "IGNORE", "NOTFOUND"}


# ---- a CMake subset ----------------------------------------------------------

class _Unsupported(Exception):
    pass


@dataclass
class _Arg:
    text: str
    quoted: bool


@dataclass
class _Program:
    name: str  #: test name (PREFIX + basename, or the target)
    target: str
    directory: Path
    sources: list[str]
    vars: dict
    file: Path
    data: list[tuple[Path, str]] = field(default_factory=list)  #: (source dir, relative path)
    cflags: list[str] = field(default_factory=list)
    problem: str = ""


_COMMAND = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def _parse_file(path: Path) -> list[tuple[str, list[tuple[str, bool]], int]]:
    """(command, raw args as (text, quoted), line) for each command of a CMake file."""
    text = path.read_text(errors="replace")
    out = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "#":
            if text.startswith("#[[", i):
                j = text.find("]]", i)
                j = n if j < 0 else j + 2
            else:
                j = text.find("\n", i)
                j = n if j < 0 else j
            line += text.count("\n", i, j)
            i = j
            continue
        if c.isspace():
            line += c == "\n"
            i += 1
            continue
        m = _COMMAND.match(text, i)
        if not m:
            raise _Unsupported(f"{path.name}:{line}: cannot parse '{text[i:i + 30].splitlines()[0]}'")
        name, start_line = m.group(1).lower(), line
        i = m.end()
        args: list[tuple[str, bool]] = []
        depth, cur = 0, None
        while True:
            if i >= n:
                raise _Unsupported(f"{path.name}:{start_line}: unterminated {name}(")
            c = text[i]
            if c == '"' and cur is not None:  # a quote inside an unquoted argument stays in it
                j = text.find('"', i + 1)
                j = n - 1 if j < 0 else j
                cur += text[i:j + 1]
                i = j + 1
                continue
            if c == '"':
                j = i + 1
                buf = []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        nxt = text[j + 1]
                        buf.append({"n": "\n", "t": "\t", "\n": ""}.get(nxt, nxt))
                        j += 2
                        continue
                    buf.append(text[j])
                    j += 1
                line += text.count("\n", i, j)
                args.append(("".join(buf), True))
                i = j + 1
                continue
            if c == "#" and cur is None:
                j = text.find("\n", i)
                i = n if j < 0 else j
                continue
            if c.isspace() or c in "()":
                if cur is not None:
                    args.append((cur, False))
                    cur = None
                line += c == "\n"
                i += 1
                if c == "(":
                    depth += 1
                    args.append(("(", False))
                elif c == ")":
                    if depth == 0:
                        break
                    depth -= 1
                    args.append((")", False))
                continue
            cur = (cur or "") + c
            i += 1
        out.append((name, args, start_line))
    return out


_VAR = re.compile(r"\$(?:ENV)?\{([^${}]*)\}")


def _expand(text: str, vars: dict) -> str:
    for _ in range(20):
        new = _VAR.sub(lambda m: "" if m.group(0).startswith("$ENV") else vars.get(m.group(1), ""), text)
        if new == text:
            return new
        text = new
    return text


def _truthy(value: str) -> bool:
    v = value.upper()
    if v in FALSE_CONSTANTS or v.endswith("-NOTFOUND"):
        return False
    try:
        return float(value) != 0
    except ValueError:
        return True


class _Cond:
    """Evaluate an ``if()`` condition (a CMake subset) over expanded arguments."""

    def __init__(self, args: list[_Arg], vars: dict):
        self.toks, self.vars, self.i = args, vars, 0

    def value(self, a: _Arg) -> str:
        return a.text if a.quoted or a.text not in self.vars else self.vars[a.text]

    def peek(self) -> str | None:
        t = self.toks[self.i] if self.i < len(self.toks) else None
        return None if t is None or t.quoted else t.text

    def run(self) -> bool:
        v = self.or_()
        if self.i != len(self.toks):
            raise _Unsupported(f"if(): cannot evaluate '{' '.join(a.text for a in self.toks)}'")
        return v

    def or_(self) -> bool:
        v = self.and_()
        while self.peek() == "OR":
            self.i += 1
            v = self.and_() or v
        return v

    def and_(self) -> bool:
        v = self.not_()
        while self.peek() == "AND":
            self.i += 1
            v = self.not_() and v
        return v

    def not_(self) -> bool:
        if self.peek() == "NOT":
            self.i += 1
            return not self.not_()
        return self.cmp()

    def atom(self) -> _Arg:
        if self.i >= len(self.toks):
            raise _Unsupported("if(): condition ends early")
        a = self.toks[self.i]
        self.i += 1
        return a

    def cmp(self) -> bool:
        if self.peek() == "(":
            self.i += 1
            v = self.or_()
            if self.peek() != ")":
                raise _Unsupported("if(): unbalanced parentheses")
            self.i += 1
            return v
        if self.peek() == "DEFINED":
            self.i += 1
            return self.atom().text in self.vars
        if self.peek() in ("EXISTS", "IS_DIRECTORY", "COMMAND", "TARGET", "POLICY"):
            raise _Unsupported(f"if({self.peek()} ...)")
        left = self.atom()
        op = self.peek()
        if op in ("STREQUAL", "MATCHES", "EQUAL", "LESS", "GREATER"):
            self.i += 1
            right = self.atom()
            lv, rv = self.value(left), self.value(right)
            if op == "STREQUAL":
                return lv == rv
            if op == "MATCHES":
                return re.search(rv, lv) is not None
            try:
                x, y = float(lv), float(rv)
            except ValueError:
                return False
            return {"EQUAL": x == y, "LESS": x < y, "GREATER": x > y}[op]
        if left.quoted:
            return _truthy(left.text)
        if left.text.upper() in FALSE_CONSTANTS or left.text.upper() in ("ON", "YES", "TRUE", "Y"):
            return _truthy(left.text)
        try:
            return float(left.text) != 0
        except ValueError:
            pass
        return left.text in self.vars and _truthy(self.vars[left.text])


class _Interp:
    """Walks the CMake files from one top directory and collects programs."""

    def __init__(self, root: Path):
        self.root = root
        self.programs: list[_Program] = []
        self.visited: set[Path] = set()

    def run_dir(self, directory: Path, vars: dict) -> None:
        self.visited.add(directory)
        path = directory / "CMakeLists.txt"
        vars = dict(vars)
        vars["CMAKE_CURRENT_SOURCE_DIR"] = str(directory)
        vars["CMAKE_CURRENT_LIST_DIR"] = str(directory)
        mine: list[_Program] = []
        try:
            commands = _parse_file(path)
        except (OSError, _Unsupported) as e:
            self.programs.append(_Program(directory.name, directory.name, directory, [], vars, path,
                                          problem=f"unparsed CMake: {e}"))
            return
        # if/else: a stack of (this branch runs, some branch already ran, parent runs)
        stack: list[list[bool]] = []
        for name, raw, line in commands:
            active = all(s[0] for s in stack)
            if name in ("if", "elseif", "else", "endif"):
                try:
                    self._branch(name, raw, vars, stack, active)
                except _Unsupported as e:
                    vars["__PROBLEM"] = f"unparsed CMake construct at {path.relative_to(self.root)}:{line}: {e}"
                    if name in ("if", "elseif"):
                        if name == "if":
                            stack.append([False, True, active])
                        else:
                            stack[-1][0] = False
                continue
            if not active:
                continue
            args = self._args(raw, vars)
            try:
                self._command(name, args, vars, directory, path, mine)
            except _Unsupported as e:
                why = f"unparsed CMake construct {name}() at {path.relative_to(self.root)}:{line}" + (
                    f" ({e})" if str(e) else "")
                vars["__PROBLEM"] = vars.get("__PROBLEM") or why
                for p in mine:
                    p.problem = p.problem or why

    def _branch(self, name, raw, vars, stack, active):
        if name == "if":
            ok = active and _Cond(self._args(raw, vars), vars).run()
            stack.append([ok, ok, active])
        elif name == "elseif":
            if not stack:
                raise _Unsupported("elseif without if")
            top = stack[-1]
            ok = top[2] and not top[1] and _Cond(self._args(raw, vars), vars).run()
            top[0], top[1] = ok, top[1] or ok
        elif name == "else":
            top = stack[-1]
            top[0], top[1] = top[2] and not top[1], True
        elif stack:
            stack.pop()

    @staticmethod
    def _args(raw, vars) -> list[_Arg]:
        out = []
        for text, quoted in raw:
            value = _expand(text, vars)
            if quoted:
                out.append(_Arg(value, True))
            else:
                out.extend(_Arg(v, False) for v in value.split(";") if v != "")
        return out

    def _command(self, name, args: list[_Arg], vars: dict, directory: Path, path: Path, mine: list) -> None:
        words = [a.text for a in args]
        if name == "set":
            if not words:
                raise _Unsupported("set() without a variable")
            vals = [w for w in words[1:] if w != "PARENT_SCOPE"]
            if "CACHE" in vals:
                vals = vals[:vals.index("CACHE")]
            if vals:
                vars[words[0]] = ";".join(vals)
            else:
                vars.pop(words[0], None)
        elif name == "list":
            op, var, items = words[0], words[1], words[2:]
            cur = [v for v in vars.get(var, "").split(";") if v != ""]
            if op == "APPEND":
                cur += items
            elif op == "REMOVE_ITEM":
                cur = [v for v in cur if v not in items]
            elif op == "INSERT":
                cur[int(items[0]):int(items[0])] = items[1:]
            else:
                raise _Unsupported(f"list({op})")
            vars[var] = ";".join(cur)
        elif name == "add_subdirectory":
            sub = directory / words[0]
            if not (sub / "CMakeLists.txt").is_file():
                raise _Unsupported(f"no {words[0]}/CMakeLists.txt")
            self.run_dir(sub, vars)
        elif name == "add_definitions":
            vars["__DEFS"] = ";".join([*_split(vars.get("__DEFS")), *words])
        elif name == "include_directories":
            vars["__DEFS"] = ";".join([*_split(vars.get("__DEFS")),
                                       *(f"-I{_abs(directory, w)}" for w in words if w not in ("BEFORE", "AFTER", "SYSTEM"))])
        elif name in CHECK_COMMANDS:
            result = next((w for w in reversed(words[:words.index("LANGUAGE")] if "LANGUAGE" in words else words)), "")
            if result not in CHECK_RESULTS:
                raise _Unsupported(f"configure check {' '.join(words)}")
            vars[result] = CHECK_RESULTS[result]
        elif name == "file" and words and words[0] == "WRITE":
            pass  # only feeds configure checks
        elif name == "file":
            if not words or words[0] != "GLOB" or len(words) < 3:
                raise _Unsupported(f"file({words[0] if words else ''})")
            found = sorted(p.name for p in directory.iterdir()
                           if any(fnmatch.fnmatchcase(p.name, pat) for pat in words[2:]))
            vars[words[1]] = ";".join(found)
        elif name == "llvm_singlesource":
            prefix = words[words.index("PREFIX") + 1] if "PREFIX" in words else ""
            if "DEST_SUFFIX" in words:
                raise _Unsupported("DEST_SUFFIX")
            if "Source" in vars:
                sources = _split(vars["Source"])
            else:
                sources = _glob_sources(directory)
            for s in sources:
                base = re.sub(r"\.[^.]*$", "", Path(s).name)
                p = _Program(base, prefix + base, directory, [s], dict(vars), path)
                self.programs.append(p)
                mine.append(p)
        elif name == "llvm_multisource":
            sources = words[1:] or _glob_sources(directory)
            p = _Program(words[0], words[0], directory, sources, dict(vars), path)
            self.programs.append(p)
            mine.append(p)
        elif name == "llvm_test_data":
            p = self._target(words[0], mine)
            rest = [w for w in words[1:] if w != "MUST_COPY"]
            if "DEST_SUFFIX" in rest:
                raise _Unsupported("llvm_test_data with DEST_SUFFIX")
            src = directory
            if "SOURCE_DIR" in rest:
                k = rest.index("SOURCE_DIR")
                src = Path(_abs(directory, rest[k + 1]))
                del rest[k:k + 2]
            p.data += [(src, w) for w in rest]
        elif name == "set_property":
            if len(words) < 4 or words[0] != "TARGET" or "PROPERTY" not in words:
                raise _Unsupported("set_property other than TARGET ... PROPERTY")
            k = words.index("PROPERTY")
            prop, vals = words[k + 1], words[k + 2:]
            for t in words[1:k]:
                p = self._target(t, mine)
                if prop == "C_STANDARD":
                    std = {"90": "89"}.get(vals[0], vals[0])
                    p.cflags.append(f"-std=gnu{std}")
                elif prop not in ("CXX_STANDARD", "TEST_NAME"):
                    raise _Unsupported(f"property {prop}")
        elif name in ("target_include_directories", "target_compile_options", "target_compile_definitions"):
            p = self._target(words[0], mine)
            vals = [w for w in words[1:] if w not in ("PRIVATE", "PUBLIC", "INTERFACE", "BEFORE", "SYSTEM")]
            if name == "target_include_directories":
                p.cflags += [f"-I{_abs(directory, v)}" for v in vals]
            elif name == "target_compile_definitions":
                p.cflags += [f"-D{v}" for v in vals]
            else:
                p.cflags += vals
        elif name in IGNORED_COMMANDS:
            if name == "include" and words and not words[0].startswith("Check"):
                raise _Unsupported(f"include({words[0]})")
        else:
            raise _Unsupported()

    @staticmethod
    def _target(target: str, mine: list[_Program]) -> _Program:
        for p in mine:
            if p.target == target:
                return p
        raise _Unsupported(f"unknown target {target}")


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(";") if v != ""]


def _abs(directory: Path, p: str) -> str:
    return p if os.path.isabs(p) else os.path.normpath(directory / p)


def _glob_sources(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_file() and (
        p.suffix in (*C_EXT, *CXX_EXT) or any(fnmatch.fnmatchcase(p.name, pat) for pat in FORTRAN_PAT)))


# ---- programs -> benchmarks ----------------------------------------------------

def resolve_root(root: str | os.PathLike | None = None) -> Path:
    if root is None:
        root = os.environ.get(ENV_ROOT)
        if not root:
            raise BenchmarkError(f"no llvm-test-suite checkout: pass --testsuite-root DIR or set {ENV_ROOT} "
                                 "(a checkout of github.com/llvm/llvm-test-suite)")
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        raise BenchmarkError(f"llvm-test-suite root '{root}' is not a directory")
    if not any((base / top / "CMakeLists.txt").is_file() for top, _ in TOPS):
        raise BenchmarkError(f"llvm-test-suite root '{base}' has none of {', '.join(t for t, _ in TOPS)} "
                             "with a CMakeLists.txt")
    return base


def _reference(p: _Program) -> Path | None:
    d, n = p.directory, p.name
    for suffix in (".little-endian.small", ".small", ".little-endian", ".Linux", ""):
        f = d / f"{n}.reference_output{suffix}"
        if f.is_file():
            return f
    return None


def _to_benchmark(p: _Program, name: str, rel: str) -> Benchmark:
    v = p.vars
    common = dict(suite=SUITE_NAME, name=name, root=p.directory, sources=tuple(p.sources), repeat=1,
                  timeout=DEFAULT_TIMEOUT, description=rel)

    def bad(reason: str) -> Benchmark:
        return Benchmark(**common, status="unsupported", reason=reason)

    if p.problem or v.get("__PROBLEM"):
        return bad(p.problem or v["__PROBLEM"])
    if not p.sources:
        return bad("no sources")
    if any(s.endswith(CXX_EXT) for s in p.sources):
        return bad("C++ not supported")
    if not all(s.endswith(C_EXT) for s in p.sources):
        return bad("Fortran not supported")
    missing = [s for s in p.sources if not (p.directory / s).is_file()]
    if missing:
        return bad(f"source files missing: {', '.join(missing)}")
    if _truthy(v.get("NO_REFERENCE_OUTPUT", "")):
        return bad("no reference output (NO_REFERENCE_OUTPUT)")
    ref = _reference(p)
    if ref is None:
        return bad("no reference output")
    # arguments, stdin and input files
    try:  # the harness joins RUN_OPTIONS with blanks into a shell command line
        tokens = [t for item in _split(v.get("RUN_OPTIONS")) for t in shlex.split(item)]
    except ValueError as e:
        return bad(f"RUN_OPTIONS cannot be split: {e}")
    stdin: Path | None = None
    if (p.directory / f"{p.name}.reference_input").is_file():
        stdin = p.directory / f"{p.name}.reference_input"
    args: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "<" and i + 1 < len(tokens):
            stdin = _abs_path(p.directory, tokens[i + 1])
            i += 2
            continue
        if t.startswith(("<", ">", "|", "2>", "%S", "%o", "%t", "%b")):
            return bad(f"RUN_OPTIONS needs shell syntax '{t}'")
        args.append(t)
        i += 1
    # the run directory is flat: a data file in a subdirectory is copied to its top and an
    # argument that names it is rewritten to its basename
    inputs: list[Path] = []
    for src, f in p.data:
        path = Path(_abs(src, f))
        if path.is_dir():
            return bad(f"input {f} is a directory (the run directory is flat)")
        if not path.is_file():
            return bad(f"needs a missing input: {f}")
        if path.name in {q.name for q in inputs if q != path}:
            return bad(f"two inputs named {path.name}")
        args = [path.name if os.path.normpath(a) == os.path.normpath(f) else a for a in args]
        if stdin is not None and stdin.name == path.name and not stdin.is_file():
            stdin = path
        if path not in inputs:
            inputs.append(path)
    for a in args:
        path = _abs_path(p.directory, a)
        if "/" not in os.path.normpath(a) and path.is_file() and path not in inputs:
            inputs.append(path)
    args = [os.path.normpath(a) if a.startswith("./") else a for a in args]
    if stdin is not None and not stdin.is_file():
        return bad(f"needs a missing input: {stdin.name} (stdin)")
    cflags = []
    if _truthy(v.get("SMALL_PROBLEM_SIZE", "")):
        cflags.append("-DSMALL_PROBLEM_SIZE")
    cflags += _split(v.get("CFLAGS")) + _split(v.get("CPPFLAGS"))
    cflags += [f for f in _split(v.get("CXXFLAGS")) if not f.startswith("-std=")]
    cflags += _split(v.get("__DEFS")) + p.cflags
    ldflags = [f for f in _split(v.get("LDFLAGS"))]
    if "-lm" not in ldflags:
        ldflags.append("-lm")
    return Benchmark(
        **common, cflags=(*BASE_CFLAGS, *cflags), ldflags=tuple(ldflags), args=tuple(args), inputs=tuple(inputs),
        stdin=stdin, expected_output=ref, fp_tolerance=_float(v.get("FP_TOLERANCE")),
        fp_abstolerance=_float(v.get("FP_ABSTOLERANCE")), hash_output=_truthy(v.get("HASH_PROGRAM_OUTPUT", "")),
        append_exit_status=True, merge_stderr=True,
    )


def _abs_path(directory: Path, f: str) -> Path:
    return Path(_abs(directory, f.replace("%S/", "")))


def _float(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def _short_name(rel: str, prefix: str, target: str) -> str:
    parts = rel.split("/")
    if parts and parts[-1] == target:
        parts = parts[:-1]
    return prefix + "-".join([*parts, target])


def scan(root: Path) -> list[Benchmark]:
    """Every program of the three trees, supported or not (no verdicts)."""
    found: list[tuple[str, str, Benchmark | _Program]] = []  # (short name, full name, program)
    for top, prefix in TOPS:
        top_dir = root / top
        if not (top_dir / "CMakeLists.txt").is_file():
            continue
        interp = _Interp(root)
        interp.run_dir(top_dir, {**CONFIG, "CMAKE_SOURCE_DIR": str(root)})
        for p in interp.programs:
            rel_dir = p.directory.relative_to(top_dir).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            short = _short_name(rel_dir, prefix, p.name) if rel_dir else prefix + p.name
            full = "-".join([*top.split("/"), *([rel_dir] if rel_dir else []), p.name]).replace("/", "-")
            found.append((short, full, p))
        # directories with reference outputs that the CMake walk never reached
        for cm in sorted(top_dir.rglob("CMakeLists.txt")):
            d = cm.parent
            if d in interp.visited or any(a in interp.visited and a != top_dir and False for a in d.parents):
                continue
            if not any(d.glob("*.reference_output*")):
                continue
            rel_dir = d.relative_to(top_dir).as_posix()
            skipped = _Program(d.name, d.name, d, [], {}, cm,
                               problem="not built by the suite's CMake for AArch64 Linux with SMALL_PROBLEM_SIZE")
            found.append((_short_name(rel_dir, prefix, d.name), "-".join([*top.split("/"), rel_dir]).replace("/", "-"),
                          skipped))
    counts: dict[str, int] = {}
    for short, _, _ in found:
        counts[short] = counts.get(short, 0) + 1
    out = []
    seen = set()
    for short, full, p in found:
        name = short if counts[short] == 1 else full
        if name in seen:
            continue
        seen.add(name)
        rel = (p.directory / p.name).relative_to(root).as_posix()
        out.append(_to_benchmark(p, name, rel))
    return out


class TestSuite(Suite):
    """The C programs of a llvm-test-suite checkout (see the module docstring).

    ``verdicts``: apply the stored ``benchmarks check`` verdicts (a program that
    failed its check is listed unsupported with the reason).
    """

    __test__ = False  # not a pytest class
    name = SUITE_NAME

    def __init__(self, root: str | os.PathLike | None = None, verdicts: bool = True):
        self.root = resolve_root(root)
        self.verdicts = verdicts
        self._cache: list[Benchmark] | None = None

    def list(self) -> list[Benchmark]:
        if self._cache is None:
            benches = scan(self.root)
            if self.verdicts:
                benches = self._apply_verdicts(benches)
            self._cache = benches
        return list(self._cache)

    @staticmethod
    def _apply_verdicts(benches: list[Benchmark]) -> list[Benchmark]:
        from dataclasses import replace

        from costtune.toolchain import find

        try:
            fingerprint = find().fingerprint
        except CostTuneError:
            return benches
        from costtune.benchmarks.check import verdict_for

        out = []
        for b in benches:
            if b.status == "ok":
                v = verdict_for(b, fingerprint)
                if v is not None and v.get("status") != "ok":
                    b = replace(b, status="unsupported", reason=v.get("reason", "failed its check"))
            out.append(b)
        return out
