import re

import pytest

from costtune import asm, toolchain
from costtune.benchmarks import get_benchmark
from costtune.compile import compile_benchmark
from costtune.errors import CompileError

PROGRAMS = ("builtin/bitcount", "builtin/checksum")
PIPELINES = ("O0", "O2")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COSTTUNE_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = {}
    try:
        for b in PROGRAMS:
            bench = get_benchmark(b)
            for p in PIPELINES:
                res = compile_benchmark(bench, p)
                assert res.ok, res.describe()
                out[(b, p)] = res.artifact
    finally:
        mp.undo()
    return out


def _check_labels(fn: str) -> None:
    defined, referenced, order = [], set(), []
    for line in fn.splitlines()[1:]:
        if re.fullmatch(r"L\d+:", line):
            defined.append(line[:-1])
            names = [line[:-1]]
        else:
            names = re.findall(r"\bL\d+\b", line.split(" ", 1)[1]) if " " in line else []
            referenced.update(names)
        for n in names:
            if n not in order:
                order.append(n)
    assert len(defined) == len(set(defined)), "a label defined twice"
    assert referenced <= set(defined), f"branch to an undefined label {referenced - set(defined)}"
    assert set(defined) <= referenced, "a label nothing branches to"
    assert order == [f"L{i}" for i in range(1, len(order) + 1)], "labels not numbered by first appearance"


def test_object_and_llc_assembly_normalise_identically(artifacts):
    for art in artifacts.values():
        from_obj = asm.normalize_asm(asm.disassemble(art.obj))
        from_s = asm.normalize_asm(art.asm.read_text())
        assert from_obj == from_s
        assert asm.normalize_asm(from_obj) == from_obj  # idempotent


def test_program_functions_are_the_programs_own(artifacts):
    for (bench, pipeline), art in artifacts.items():
        funcs = asm.program_functions(art)
        ir_funcs = asm.program_functions(art, repr="ir")
        assert "main" in funcs
        assert set(funcs) == set(ir_funcs), (bench, pipeline)
        assert not {"printf", "malloc", "memcpy", "_start"} & set(funcs)
        for name, text in funcs.items():
            assert text.startswith(f"<{name}>:\n")
            assert asm.count_instructions(text) > 0
            _check_labels(text)
            assert "0x" not in text and "\t" not in text and "//" not in text
            for line in text.splitlines()[1:]:
                assert line == line.strip() and "  " not in line
                for imm in re.findall(r"#(-?\d+)(?![\d.])", line):
                    assert abs(int(imm)) < asm.SMALL_IMM
        for name, text in ir_funcs.items():
            assert text.startswith("define ") and f"@{name}(" in text.splitlines()[0]
            assert text.rstrip().endswith("}")


def test_optimisation_changes_the_listing(artifacts):
    o0 = asm.program_functions(artifacts[("builtin/bitcount", "O0")])
    o2 = asm.program_functions(artifacts[("builtin/bitcount", "O2")])
    assert o0["main"] != o2["main"]


def test_calls_keep_callee_names(artifacts):
    funcs = asm.program_functions(artifacts[("builtin/bitcount", "O0")])
    calls = {l.split()[1] for t in funcs.values() for l in t.splitlines() if l.startswith("bl ")}
    assert "printf" in calls or "fprintf" in calls  # a libc callee, named through its relocation
    assert calls & set(funcs)  # a call to one of the program's own functions


def test_linked_binary_and_llvm14_objdump(artifacts):
    art = artifacts[("builtin/checksum", "O2")]
    linked = asm.split_functions(asm.normalize_asm(asm.disassemble(art.binary)))
    own = asm.program_functions(art)
    assert set(own) < set(linked)  # the binary carries libc too
    assert len(linked) > 10 * len(own)
    if 14 in toolchain.installed_versions():  # llvm-objdump-14 prints immediates differently by default
        tc14 = toolchain.find(14, require_qemu=False)
        assert asm.normalize_asm(asm.disassemble(art.obj, tc14)) == asm.normalize_asm(art.asm.read_text())


def test_immediates_and_addresses():
    text = (
        "\nx.o:\tfile format elf64-littleaarch64\n\nDisassembly of section .text:\n\n"
        "0000000000000000 <f>:\n"
        "       0:      \tmov\tw8, #31161              // =0x79b9\n"
        "       4:      \tmovk\tw8, #40503, lsl #16\n"
        "       8:      \tsub\tsp, sp, #-123456\n"
        "       c:      \ttst\tw9, #0x1f\n"
        "      10:      \tb.ne\t0x4 <f+0x4>\n"
        "      14:      \tfmov\td0, #1.00000000\n"
        "      18:      \tb\t0x0 <f>\n"
    )
    out = asm.normalize_asm(text).splitlines()
    assert out == [
        "<f>:", "mov w8, #IMM_1e4", "L1:", "movk w8, #IMM_1e4, lsl #16", "sub sp, sp, #-IMM_1e5",
        "tst w9, #31", "b.ne L1", "fmov d0, #1.00000000", "b f",
    ]


def test_normalize_ir_drops_noise_and_renames(artifacts):
    art = artifacts[("builtin/checksum", "O2")]
    raw = art.opt_ll.read_text()
    ir = asm.normalize_ir(raw)
    assert "target triple" in raw and "attributes #" in raw
    for noise in ("target triple", "target datalayout", "source_filename", "attributes #", "; ModuleID", "!tbaa"):
        assert noise not in ir
    assert not re.search(r"^\s", ir, re.M) and not re.search(r"\s#\d+\b", ir)
    assert asm.normalize_ir(ir) == ir
    for text in asm.split_functions(ir).values():
        head = text.splitlines()[0]
        if "(" in head and "%0" not in head and "()" not in head:
            pytest.fail(f"arguments not renamed from %0: {head}")
    plain = asm.normalize_ir(raw, canonical_names=False)
    assert asm.split_functions(plain).keys() == asm.split_functions(ir).keys()


def test_disassemble_missing_file(tmp_path):
    with pytest.raises(CompileError):
        asm.disassemble(tmp_path / "nope.o")


def test_program_functions_reads_each_distinct_object_once(artifacts, tmp_path, monkeypatch):
    # two pipelines that give the same object file are disassembled once; another object is read
    from types import SimpleNamespace

    art = artifacts[("builtin/checksum", "O2")]
    copy = tmp_path / "prog.o"
    copy.write_bytes(art.obj.read_bytes())
    calls = []
    real = asm.disassemble
    monkeypatch.setattr(asm, "disassemble", lambda path, tc=None: calls.append(path) or real(path, tc))
    monkeypatch.setattr(asm, "_FUNCTIONS", {})
    first = asm.program_functions(art)
    assert asm.program_functions(SimpleNamespace(dir=tmp_path, obj=copy, opt_ll=art.opt_ll)) == first
    assert len(calls) == 1
    other = asm.program_functions(artifacts[("builtin/checksum", "O0")])
    assert len(calls) == 2 and other != first
