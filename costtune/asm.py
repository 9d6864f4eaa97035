"""Disassembly, normalisation and function splitting for assembly and LLVM IR.

The cost model reads a program as text. This module turns the three text forms a
compile produces into one canonical form per function:

* ``llvm-objdump -d -r`` of the program's object file (the default input: its
  symbols are exactly the program's own functions - the statically linked libc in
  the binary is identical across candidates and carries no signal),
* ``llvm-objdump -d`` of a linked binary (works, but includes every libc function),
* the ``.s`` file llc writes (``prog.s``).

Normalised assembly, one function after another::

    <count_shift>:
    mov w8, wzr
    cbz w0, L1
    L2:
    and w9, w0, #1
    ...
    L1:
    mov w0, w8
    ret

Rules (decided here, relied on by the tokenizer and the model):

* addresses, raw bytes, file names, comments and assembler directives are dropped;
* one instruction per line, written ``mnemonic operand, operand`` (single spaces,
  ``", "`` between operands); registers, condition codes, shifts and extends are kept;
* a function starts with a ``<name>:`` line;
* branch targets inside the function become labels ``L1, L2, ...`` numbered per
  function in order of first appearance (a reference or a definition); a label is
  defined on its own line ``L3:`` only where something branches to it;
* calls and tail calls keep the callee's name (``bl memcpy``, ``b helper``); objdump
  relocations of an object file supply the names (``R_AARCH64_CALL26 atoi``);
* named global data keeps its name (``adrp x8, byte_table`` /
  ``add x8, x8, :lo12:byte_table``); anonymous data (string literals ``.L.str.5``,
  constant pools ``.LCPI0_0``, ``.rodata.str1.1+0x1c``) becomes ``D1, D2, ...`` per
  function in order of first appearance;
* immediates are written in decimal; ``|v| < 4096`` (the AArch64 add/sub immediate
  range, which covers nearly all offsets and loop constants) is kept exactly, larger
  values are bucketed by decimal magnitude: ``#12345 -> #IMM_1e4``,
  ``#-70000 -> #-IMM_1e4``. Floating-point immediates (``#1.00000000``) are kept;
* any address that is left (a linked binary's data addresses) becomes ``ADDR``.

``normalize_ir`` drops module noise from LLVM IR (ModuleID, source_filename, target
lines, attribute groups, metadata, comments, blank lines, indentation) and by default
renames each function's local values and block labels ``%0, %1, ...`` in order of
first appearance, so that pass-generated names (``%exitcond112.not``) carry no noise.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from costtune import process
from costtune.errors import CompileError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = [
    "disassemble",
    "normalize_asm",
    "normalize_ir",
    "split_functions",
    "program_functions",
    "count_instructions",
    "SMALL_IMM",
]

#: immediates with ``abs(v) < SMALL_IMM`` are kept exactly, larger ones bucketed
SMALL_IMM = 4096
DISASSEMBLE_TIMEOUT = 120.0

#: wanted objdump flags; each is used only if this llvm-objdump knows it.
#: Leading addresses are kept on purpose: they place branch-target labels and are
#: stripped by normalize_asm. --no-print-imm-hex: llvm-objdump 19 prints hex by
#: default, 14 decimal - asking explicitly gives both the same text.
_OBJDUMP_FLAGS = ("--no-show-raw-insn", "--no-print-imm-hex")


# ----------------------------------------------------------------------------
# disassembly


@functools.lru_cache(maxsize=None)
def _objdump_supported(objdump: str) -> frozenset[str]:
    res = process.run([objdump, "--help"], timeout=30)
    text = (res.stdout + res.stderr).decode("utf-8", "replace")
    return frozenset(f for f in _OBJDUMP_FLAGS if f in text)


def disassemble(binary: str | os.PathLike, toolchain=None, *, section: str | None = ".text",
                relocations: bool = True) -> str:
    """``llvm-objdump -d`` of ``binary`` (an object file or a linked executable).

    ``section=None`` disassembles every executable section. Relocations (``-r``)
    are shown so that calls in an object file name their callee. Raises
    :class:`CompileError` (step ``disassemble``) when the file is missing or
    objdump fails.
    """
    from costtune.toolchain import find

    path = Path(binary)
    if not path.is_file():
        raise CompileError(f"cannot disassemble {path}: no such file", step="disassemble")
    tc = toolchain or find(require_qemu=False)
    objdump = os.fspath(tc["llvm-objdump"])
    argv = [objdump, "-d", "-t"]  # -t: the symbol table names file-local data (see _od_symtab)
    if relocations:
        argv.append("-r")
    argv += sorted(_objdump_supported(objdump))
    if section:
        argv.append(f"--section={section}")
    argv.append(os.fspath(path))
    res = process.run(argv, timeout=DISASSEMBLE_TIMEOUT)
    if not res.ok:
        raise CompileError(f"llvm-objdump failed on {path}: {res.describe()}: {res.stderr_tail(300).strip()}",
                           step="disassemble", stderr_tail=res.stderr_tail())
    return res.stdout.decode("utf-8", "replace")


# ----------------------------------------------------------------------------
# helpers shared by both assembly forms

_IMM = re.compile(r"#(-?)(0x[0-9a-fA-F]+|\d+)(?![\w.])")
_X86_IMM = re.compile(r"\$(-?)(0x[0-9a-fA-F]+|\d+)(?![\w.])")
_HEX_ADDR = re.compile(r"(?<![\w#$:.+-])0x[0-9a-fA-F]+(?![\w(])")
_ADDR_SYM = re.compile(r"(?:0x)?[0-9a-fA-F]+ <([^>+]+)(?:\+(0x[0-9a-fA-F]+))?>")
_SYM_ADDEND = re.compile(r"^(.*?)([+-]0x[0-9a-fA-F]+|[+-]\d+)?$")


def _bucket(value: int) -> str:
    if abs(value) < SMALL_IMM:
        return str(value)
    exp = len(str(abs(value))) - 1
    return f"{'-' if value < 0 else ''}IMM_1e{exp}"


def _imm_sub(m: re.Match, prefix: str) -> str:
    sign, digits = m.group(1), m.group(2)
    v = int(digits, 16) if digits.lower().startswith("0x") else int(digits)
    return prefix + _bucket(-v if sign else v)


def _canon_operands(ops: str, x86: bool) -> str:
    ops = re.sub(r"\s+", " ", ops.strip())
    ops = re.sub(r"\s*,\s*", ", ", ops)
    ops = _IMM.sub(lambda m: _imm_sub(m, "#"), ops) if not x86 else _X86_IMM.sub(lambda m: _imm_sub(m, "$"), ops)
    return _HEX_ADDR.sub("ADDR", ops)


def _is_anonymous(sym: str) -> bool:
    """Section names and assembler-local labels name anonymous data."""
    return sym.startswith(".")


class _Names:
    """Per-function canonical names in order of first appearance."""

    def __init__(self, prefix: str, start: int = 1):
        self.prefix, self.start = prefix, start
        self.map: dict = {}

    def __call__(self, key) -> str:
        if key not in self.map:
            self.map[key] = f"{self.prefix}{len(self.map) + self.start}"
        return self.map[key]


def _detect_x86(text: str) -> bool:
    head = text[:4000]
    if "file format elf64-littleaarch64" in head:
        return False
    return "file format elf64-x86-64" in head or bool(re.search(r"%[re]?(?:ax|sp|bp|ip)\b", head))


def _strip_comment(line: str, x86: bool) -> str:
    if x86:
        # AT&T: '#' starts a comment
        i = line.find("#")
        return line if i < 0 else line[:i]
    i = line.find("//")
    return line if i < 0 else line[:i]


def _form(text: str) -> str:
    """``objdump`` | ``normalised`` (this module's output) | ``s`` (llc assembly)."""
    head = text[:4000]
    if "file format" in head or "Disassembly of section" in head:
        return "objdump"
    if re.search(r"^[0-9a-fA-F]+ <[^>]+>:\s*$", head, re.M):
        return "objdump"
    if re.search(r"^<[^>]+>:$", head, re.M):
        return "objdump" if "\t" in head else "normalised"
    return "s"


def normalize_asm(text: str, *, x86: bool | None = None) -> str:
    """Normalise objdump output or an llc ``.s`` file (see the module docstring).

    ``x86=None`` detects the target (AArch64 unless the text is x86-64).
    Text already in normalised form passes through unchanged.
    """
    if x86 is None:
        x86 = _detect_x86(text)
    form = _form(text)
    if form == "objdump":
        funcs = _parse_objdump(text, x86)
    else:
        funcs = _parse_dot_s(text, x86, normalised=form == "normalised")
    out = []
    for name, lines in funcs:
        out.append(f"<{name}>:")
        out.extend(lines)
    return "\n".join(out) + ("\n" if out else "")


# ----------------------------------------------------------------------------
# objdump

_OD_HEADER = re.compile(r"^(?:([0-9a-fA-F]+)\s+)?<([^>]+)>:\s*$")
_OD_RELOC = re.compile(r"^\s*(?:[0-9a-fA-F]+:\s+)?(R_[A-Z0-9_]+)\s+(\S+)")
_OD_ADDR = re.compile(r"^\s*([0-9a-fA-F]+):(.*)$")


def _od_functions(text: str) -> list[tuple[str, int | None, list]]:
    """Split objdump text into (name, start address, [(offset|None, insn, [relocs])])."""
    funcs: list[tuple[str, int | None, list]] = []
    cur: list | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        m = _OD_HEADER.match(raw)
        if m:
            cur = []
            funcs.append((m.group(2), int(m.group(1), 16) if m.group(1) else None, cur))
            continue
        if cur is None:
            continue
        r = _OD_RELOC.match(raw)
        if r:
            if cur:
                cur[-1][2].append((r.group(1), r.group(2)))
            continue
        m = _OD_ADDR.match(raw)
        addr, rest = (int(m.group(1), 16), m.group(2)) if m else (None, raw)
        if "\t" not in rest:
            continue  # '...' (zero fill) and other non-instruction lines
        insn = rest.split("\t", 1)[1].strip()  # drops raw bytes, if any
        if insn:
            cur.append([addr, insn, []])
    return funcs


_OD_SYM = re.compile(r"^([0-9a-fA-F]{8,16}) (.{7}) (\S+)\t([0-9a-fA-F]+) (.+)$")


def _od_symtab(text: str) -> dict[str, list[tuple[int, int, str]]]:
    """``SYMBOL TABLE`` (objdump ``-t``): section -> [(start, size, name)] of objects and functions.

    Relocations against a file-local symbol name its section (``.bss+0x400``);
    this table turns them back into the symbol's name, as llc's ``.s`` writes it.
    """
    table: dict[str, list[tuple[int, int, str]]] = {}
    for line in text.splitlines():
        if line.startswith("Disassembly of section"):
            break
        m = _OD_SYM.match(line)
        if m and m.group(2).rstrip().endswith(("O", "F")) and not m.group(5).startswith("$"):
            table.setdefault(m.group(3), []).append((int(m.group(1), 16), int(m.group(4), 16), m.group(5)))
    return table


def _split_mnemonic(insn: str) -> tuple[str, str]:
    parts = insn.split(None, 1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _parse_objdump(text: str, x86: bool) -> list[tuple[str, list[str]]]:
    funcs = [f for f in _od_functions(text) if not f[0].startswith("$")]
    symtab = _od_symtab(text)
    symtab.setdefault(".text", []).extend((start, 0, name) for name, start, _ in funcs if start is not None)
    names = {name for name, _, _ in funcs}
    result = []
    for name, start, insns in funcs:
        # offsets inside the function: from addresses, else fixed 4-byte AArch64 encoding
        offsets = []
        for i, (addr, _, _) in enumerate(insns):
            if addr is not None and start is not None:
                offsets.append(addr - start)
            else:
                offsets.append(None if x86 else 4 * i)
        labels, data = _Names("L"), _Names("D")
        split = []
        targets = set()
        for _, insn, relocs in insns:
            mnemonic, ops = _split_mnemonic(_strip_comment(insn, x86))
            for rtype, rsym in relocs:  # a relocated operand is not a branch target
                ops = _apply_reloc(ops, rtype, _od_symbol(rsym, symtab, data, x86))
            split.append((mnemonic, ops))
            for m in _ADDR_SYM.finditer(ops):
                if m.group(1) == name and m.group(2):
                    targets.add(int(m.group(2), 16))
        lines: list[str] = []
        for (mnemonic, ops), off in zip(split, offsets):
            if off in targets:
                lines.append(f"{labels(off)}:")
            lines.append(_od_insn(mnemonic, ops, name, names, labels, data, x86))
        result.append((name, lines))
    return result


def _od_symbol(sym: str, symtab: dict, data: _Names, x86: bool) -> str:
    """A relocation's symbol (``name``, ``name+0x10``, ``.rodata.str1.1+0x1c``) in canonical form."""
    m = _SYM_ADDEND.match(sym)
    base, addend = m.group(1), m.group(2)
    add = 0
    if addend:
        add = int(addend, 16) if "0x" in addend else int(addend)
    if _is_anonymous(base):
        for start, size, name in symtab.get(base, ()):
            if start == add or start < add < start + size:
                base, add = name, add - start
                break
    if _is_anonymous(base):
        return data((base, add))
    if add and not x86:
        return f"{base}+{add}" if add > 0 else f"{base}{add}"
    return base


def _od_insn(mnemonic: str, ops: str, func: str, names: set, labels: _Names, data: _Names,
             x86: bool) -> str:
    def addr_sub(m: re.Match) -> str:
        sym, off = m.group(1), int(m.group(2), 16) if m.group(2) else 0
        if sym == func and off:
            return labels(off)
        if off == 0 and (sym in names or not _is_anonymous(sym)):
            return sym
        return data((sym, off))

    ops = _ADDR_SYM.sub(addr_sub, ops)
    ops = _canon_operands(ops, x86)
    return f"{mnemonic} {ops}" if ops else mnemonic


def _apply_reloc(ops: str, rtype: str, sym: str) -> str:
    """Write a relocation's symbol into the operands the way llc's ``.s`` spells it."""
    if _ADDR_SYM.search(ops) and not rtype.endswith(("LO12_NC", "_G0", "_G1", "_G2", "_G3", "_G0_NC",
                                                      "_G1_NC", "_G2_NC")):
        prefix = ":got:" if "GOT" in rtype and "AARCH64" in rtype else ""
        return _ADDR_SYM.sub(lambda m: prefix + sym, ops, count=1)
    if rtype.startswith("R_AARCH64_"):
        if "GOT" in rtype and "LO12" in rtype:
            mod = ":got_lo12:"
        elif "LO12" in rtype:
            mod = ":lo12:"
        elif "MOVW_UABS_" in rtype:  # R_AARCH64_MOVW_UABS_G1_NC -> :abs_g1_nc:
            mod = ":abs_" + rtype.split("MOVW_UABS_", 1)[1].lower() + ":"
        else:
            mod = ":"
        if rtype.startswith(("R_AARCH64_LDST", "R_AARCH64_LD64_GOT")) or "[" in ops:
            # the immediate of a load/store is 0 before relocation: [x8] or [x8, #0]
            new, n = re.subn(r"\[(\w+)(?:, #0)?\]", lambda m: f"[{m.group(1)}, {mod}{sym}]", ops, count=1)
            if n:
                return new
        new, n = re.subn(r"#0(?![\w.])", mod + sym, ops, count=1)
        if n:
            return new
        return f"{ops}, {mod}{sym}" if ops else mod + sym
    # x86 and others
    new, n = re.subn(r"(?:0x0)?\(%rip\)", f"{sym}(%rip)", ops, count=1)
    if n:
        return new
    new, n = re.subn(r"\$0x0\b", f"${sym}", ops, count=1)
    if n:
        return new
    return f"{ops}, {sym}" if ops else sym


# ----------------------------------------------------------------------------
# llc .s

_S_TYPE = re.compile(r"^\s*\.type\s+([^,\s]+)\s*,\s*[@%]function")
_S_LABEL = re.compile(r"^([^\s:#]+|\"[^\"]+\"):(.*)$")
_S_LOCAL = re.compile(r"(?<![\w.$])\.L[\w.$]+")


def _parse_dot_s(text: str, x86: bool, normalised: bool = False) -> list[tuple[str, list[str]]]:
    raw_lines = text.splitlines()
    func_names = {m.group(1).strip('"') for l in raw_lines if (m := _S_TYPE.match(l))}
    looks_normalised = normalised
    funcs: list[tuple[str, list[str]]] = []  # name -> cleaned raw lines (labels and insns)
    cur: list[str] | None = None
    for raw in raw_lines:
        line = _strip_comment(raw, x86).rstrip()
        if not line.strip():
            continue
        m = _S_LABEL.match(line.strip()) if not line[0].isspace() else None
        if m and not m.group(2).strip():
            lab = m.group(1).strip('"')
            if looks_normalised and lab.startswith("<") and lab.endswith(">"):
                cur = []
                funcs.append((lab[1:-1], cur))
                continue
            if lab in func_names:
                cur = []
                funcs.append((lab, cur))
                continue
            if lab.startswith(".Lfunc_end"):
                cur = None
                continue
            if cur is not None:
                cur.append(lab + ":")
            continue
        s = line.strip()
        if cur is None or (s.startswith(".") and not looks_normalised):
            if s.startswith(".cfi_endproc"):
                cur = None
            continue
        cur.append(s)
    result = []
    for name, lines in funcs:
        defined = {l[:-1] for l in lines if l.endswith(":")}
        refs: set[str] = set()
        for l in lines:
            if not l.endswith(":"):
                refs.update(t for t in re.findall(r"[\w.$]+", _split_mnemonic(l)[1]) if t in defined)
        labels, data = _Names("L"), _Names("D")
        out = []
        for l in lines:
            if l.endswith(":"):
                if l[:-1] in refs:
                    out.append(f"{labels(l[:-1])}:")
                continue
            mnemonic, ops = _split_mnemonic(l)

            def tok_sub(m: re.Match) -> str:
                t = m.group(0)
                if t in defined:
                    return labels(t)
                return data(t) if t.startswith(".L") else t

            ops = re.sub(r"(?<![\w.$])[\w.$]+", tok_sub, ops)
            ops = ops.replace("@PLT", "")  # objdump of the object names the callee plainly
            if looks_normalised:  # already canonical: keep label names stable
                ops = re.sub(r"\s+", " ", ops.strip())
            else:
                ops = _canon_operands(ops, x86)
            out.append(f"{mnemonic} {ops}" if ops else mnemonic)
        result.append((name, out))
    return result


# ----------------------------------------------------------------------------
# LLVM IR

_IR_DROP = re.compile(r"^(?:; ModuleID|source_filename|target (?:datalayout|triple)|attributes #|!|;)")
_IR_META = re.compile(r",?\s*!(?:[A-Za-z_.][\w.]*)\s+(?:!\d+|!\{[^}]*\}|distinct !\{[^}]*\})")
_IR_ATTR_REF = re.compile(r"\s#\d+\b")
_IR_LOCAL = re.compile(r"%(?:\"[^\"]*\"|[-A-Za-z$._][-\w$.]*|\d+)")
_IR_BLOCK = re.compile(r"^(\"[^\"]*\"|[-A-Za-z$._\d][-\w$.]*):(\s|$)")


def _outside_strings(line: str, fn) -> str:
    """Apply ``fn`` to the parts of ``line`` outside double quotes."""
    parts = line.split('"')
    for i in range(0, len(parts), 2):
        parts[i] = fn(parts[i])
    return '"'.join(parts)


def _strip_ir_comment(line: str) -> str:
    in_str = False
    for i, c in enumerate(line):
        if c == '"':
            in_str = not in_str
        elif c == ";" and not in_str:
            return line[:i]
    return line


def normalize_ir(text: str, *, canonical_names: bool = True) -> str:
    """Drop module noise from textual LLVM IR; optionally rename local values.

    Kept: global variables, type definitions, declarations and function bodies,
    one statement per line without indentation.
    """
    type_names = set(re.findall(r"^(%[-\w$.]+) = type\b", text, re.M))
    out: list[str] = []
    names: _Names | None = None
    for raw in text.splitlines():
        if _IR_DROP.match(raw):
            continue
        line = _strip_ir_comment(raw).strip()
        if not line:
            continue
        line = _outside_strings(line, lambda s: _IR_ATTR_REF.sub("", _IR_META.sub("", s)))
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line.startswith("define "):
            names = _Names("%", start=0) if canonical_names else None
        if names is not None:
            def local(m: re.Match) -> str:
                t = m.group(0)
                return t if t in type_names else names(t[1:].strip('"'))

            b = _IR_BLOCK.match(line)
            if b and not line.startswith("define "):
                line = names(b.group(1).strip('"'))[1:] + ":" + line[b.end(1) + 1:]
            else:
                line = _outside_strings(line, lambda s: _IR_LOCAL.sub(local, s))
        if line == "}":
            names = None
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


# ----------------------------------------------------------------------------
# functions

_IR_DEFINE = re.compile(r"^define\b[^@]*@(\"[^\"]+\"|[-\w$.]+)\s*\(")


def split_functions(text: str) -> dict[str, str]:
    """Split normalised assembly (``<name>:`` headers) or LLVM IR (``define ... @name(``).

    Each value is the function's text including its header line, newline-terminated.
    """
    lines = text.splitlines()
    out: dict[str, str] = {}
    if any(l.startswith("define ") for l in lines):
        cur: list[str] | None = None
        name = ""
        for l in lines:
            s = l.strip()
            m = _IR_DEFINE.match(s)
            if m:
                name, cur = m.group(1).strip('"'), [s]
                continue
            if cur is not None:
                cur.append(s)
                if s == "}":
                    out[name] = "\n".join(cur) + "\n"
                    cur = None
        return out
    cur_name = None
    buf: list[str] = []
    for l in lines:
        m = re.match(r"^(?:[0-9a-fA-F]+\s+)?<([^>]+)>:\s*$", l)
        if m:
            if cur_name is not None:
                out[cur_name] = "\n".join(buf) + "\n"
            cur_name, buf = m.group(1), [f"<{m.group(1)}>:"]
        elif cur_name is not None and l.strip():
            buf.append(l)
    if cur_name is not None:
        out[cur_name] = "\n".join(buf) + "\n"
    return out


def count_instructions(function_text: str) -> int:
    """Instructions in normalised assembly (headers and labels are not counted)."""
    return sum(1 for l in function_text.splitlines() if l.strip() and not l.rstrip().endswith(":"))


def program_functions(artifact, repr: str = "asm", toolchain=None) -> dict[str, str]:
    """The program's own functions, normalised: ``{name: text}`` in program order.

    ``artifact`` is a :class:`costtune.compile.Artifact` (anything with ``.obj``
    and ``.opt_ll``) or a path: an object file or executable (disassembled), an
    llc ``.s`` file, or a ``.ll`` file. ``repr`` is ``asm`` or ``ir``. The asm
    comes from objdump of the *object file*, whose symbols are the program's own;
    the statically linked libc in the binary would add thousands of functions that
    are identical across candidates.
    """
    if repr not in ("asm", "ir"):
        raise ValueError(f"repr must be 'asm' or 'ir', not {repr!r}")
    if isinstance(artifact, (str, os.PathLike)):
        path = Path(artifact)
        if path.suffix == ".ll":
            return split_functions(normalize_ir(path.read_text(errors="replace")))
        if path.suffix == ".s":
            return split_functions(normalize_asm(path.read_text(errors="replace")))
        return split_functions(normalize_asm(disassemble(path, toolchain)))
    # read each distinct file once: a search reads a candidate's functions to score it, to predict
    # it and to profile it, and many pipelines give the very same object file
    src = Path(artifact.opt_ll if repr == "ir" else artifact.obj)
    try:
        key = (hashlib.sha256(src.read_bytes()).hexdigest(), repr)
    except OSError:  # missing: disassemble says so
        key = None
    if key not in _FUNCTIONS:
        if repr == "ir":
            fns = split_functions(normalize_ir(src.read_text(errors="replace")))
        else:
            fns = split_functions(normalize_asm(disassemble(src, toolchain)))
        if key is None:
            return fns
        if len(_FUNCTIONS) >= _FUNCTIONS_MAX:
            _FUNCTIONS.pop(next(iter(_FUNCTIONS)))
        _FUNCTIONS[key] = fns
    return dict(_FUNCTIONS[key])


_FUNCTIONS: dict[tuple[str, str], dict[str, str]] = {}  #: (file's sha256, repr) -> functions, oldest first
_FUNCTIONS_MAX = 2048
