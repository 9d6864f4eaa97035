"""Measurement with real clang/opt/llc and real qemu-aarch64 (small repeat values)."""

from __future__ import annotations

import json
import os
import time

import pytest

from costtune.benchmarks import DirectorySuite, get_benchmark
from costtune.cli import main as cli_main
from costtune.compile import compile_benchmark
from costtune.errors import MeasurementError
from costtune.measure import (WallConfig, aggregate_by_function, block_profile, build_plugin, get_runner, measure,
                             reference_output)
from costtune.measure.profile import Symbol, parse_nm

PROGRAMS = ["builtin/checksum", "builtin/bitcount"]


def _build(bench, passes, target="aarch64"):
    res = compile_benchmark(bench, passes, target)
    assert res.ok, res.describe()
    return res.artifact


@pytest.mark.parametrize("name", PROGRAMS)
def test_insns_repeatable_and_o3_beats_o0(name):
    bench = get_benchmark(name)
    o0, o3 = _build(bench, "O0"), _build(bench, "O3")
    counts = [measure(o3, bench, "insns", repeat=1) for _ in range(5)]
    assert all(m.status == "ok" for m in counts), [m.detail for m in counts]
    assert len({m.value for m in counts}) == 1, [m.value for m in counts]
    assert counts[0].value > 10_000 and counts[0].n == 1 and counts[0].runner == "qemu"
    slow = measure(o0, bench, "insns", repeat=1)
    assert slow.ok and slow.value > counts[0].value
    # the O3 build prints exactly what the O0 reference printed
    assert counts[0].stdout_hash == reference_output(bench, "aarch64", 1).stdout_hash
    # repeat scales the work
    assert measure(o3, bench, "insns", repeat=2).value > counts[0].value


def test_host_insns_under_qemu_x86_64():
    bench = get_benchmark(PROGRAMS[0])
    art = _build(bench, "O2", "host")
    a, b = (measure(art, bench, "insns", repeat=1) for _ in range(2))
    assert a.ok and a.value == b.value and a.value > 0


def _program(tmp_path, name, body, yaml_extra=""):
    d = tmp_path / name
    d.mkdir(parents=True)
    (d / f"{name}.c").write_text(body)
    (d / "bench.yaml").write_text(f"sources: [{name}.c]\nargs: ['{{repeat}}']\nrepeat: 1\ntimeout: 5\n{yaml_extra}")
    return d


VARIANT = r"""
#include <stdio.h>
int main(void) {
    FILE *f = fopen("out.txt", "w");
    long s = 0;
    for (int i = 0; i < 1000; i++) s += i * VARIANT;
    fprintf(f, "%ld\n", s);
    fclose(f);
    printf("%s\n", STDOUT_TEXT);
    return 0;
}
"""


def test_wrong_output_is_a_result(tmp_path):
    """A 'miscompile' simulated by a -D define: checked against the reference of the other variant."""
    def variant(suite, v, text):
        d = _program(tmp_path / suite, "variant", VARIANT,
                     f"outputs: [out.txt]\ncflags: [-DVARIANT={v}, '-DSTDOUT_TEXT=\"{text}\"']\n")
        return DirectorySuite(d, name=suite).get("variant")
    good = variant("a", 1, "done")
    art_same_stdout = _build(variant("b", 2, "done"), "O2")  # only out.txt differs
    art_other_stdout = _build(variant("c", 1, "DONE"), "O2")  # only stdout differs
    m = measure(_build(good, "O2"), good, "insns")
    assert m.ok, m.detail
    for art, what in ((art_same_stdout, "out.txt"), (art_other_stdout, "stdout")):
        for metric in ("insns", "wall"):
            w = measure(art, good, metric, wall=WallConfig(min_runs=1, max_runs=2))
            assert w.status == "wrong_output" and what in w.detail, w
            assert w.value is None and not w.ok


def test_missing_output_file_is_wrong_output(tmp_path):
    d = _program(tmp_path, "writer", '#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v){'
                 ' if (atoi(v[1]) == 1) { FILE *f = fopen("o.txt", "w"); fputs("x", f); fclose(f); } return 0; }\n',
                 "outputs: [o.txt]\n")
    bench = DirectorySuite(d, name="tmp").get("writer")
    art = _build(bench, "O1")
    ref = reference_output(bench, "aarch64", 1)
    assert ref.outputs["o.txt"] and ref.output_heads["o.txt"] == "x"
    m = measure(art, bench, "insns", repeat=2, reference=ref)
    assert m.status == "wrong_output" and "missing" in m.detail


def test_crash_and_timeout(tmp_path):
    d = _program(tmp_path, "bad", "#include <stdlib.h>\nint main(int c, char **v){ if (atoi(v[1]) == 1)"
                 " { volatile int *p = 0; return *p; } if (atoi(v[1]) == 3) return 7;"
                 " for (volatile unsigned long i = 0;; i++); }\n")
    bench = DirectorySuite(d, name="tmp").get("bad")
    art = _build(bench, "O0")
    crash = measure(art, bench, "insns", repeat=1, check=False)
    assert crash.status == "crash" and "SIGSEGV" in crash.detail and crash.value is None
    exit7 = measure(art, bench, "insns", repeat=3, check=False)
    assert exit7.status == "crash" and "exit code 7" in exit7.detail
    t0 = time.perf_counter()
    hang = measure(art, bench, "insns", repeat=2, check=False, timeout=1.0)
    assert hang.status == "timeout" and time.perf_counter() - t0 < 10
    # a reference that cannot be made is an 'error' result for the candidate, not an exception
    broken = measure(art, bench, "insns", repeat=1, check=True)
    assert broken.status == "error" and "reference" in broken.detail


def test_wall_metric_reports_ci():
    bench = get_benchmark(PROGRAMS[1])
    art = _build(bench, "O2")
    m = measure(art, bench, "wall", repeat=1, wall=WallConfig(min_runs=3, max_runs=5))
    assert m.ok and 3 <= m.n <= 5 and len(m.values) == m.n
    assert m.ci_halfwidth is not None and m.ci_halfwidth >= 0
    assert min(m.values) <= m.value <= max(m.values) and m.runner == "qemu"
    host = _build(bench, "O2", "host")
    h = measure(host, bench, "wall", repeat=1, wall=WallConfig(min_runs=3, max_runs=5))
    assert h.ok and h.runner == "local" and h.n >= 3 and h.ci_halfwidth is not None
    json.dumps(h.to_dict())


def test_block_profile_sums_to_total():
    bench = get_benchmark(PROGRAMS[0])
    art = _build(bench, "O1")
    prof = block_profile(art, bench, repeat=1)
    assert prof.ok
    count = measure(art, bench, "insns", repeat=1)
    assert prof.total == count.value
    assert sum(n * e for _, n, e in prof.blocks) == prof.total
    assert sum(prof.functions.values()) == prof.total
    assert "main" in prof.functions
    top = next(iter(prof.functions))
    assert top != "[unknown]" and prof.fractions()[top] > 0.05


def test_aggregate_by_function_boundaries():
    syms = parse_nm("0000000000400100 0000000000000010 T f\n0000000000400100 W f_alias\n"
                    "0000000000400200 t g\n0000000000400000 D data\n")
    assert syms == [Symbol(0x400100, 0x10, "f"), Symbol(0x400200, None, "g")]
    blocks = [(0x400100, 3, 2), (0x40010c, 1, 1), (0x400150, 2, 1), (0x400210, 4, 10), (0x3000, 1, 1)]
    assert aggregate_by_function(blocks, syms) == {"g": 40, "f": 7, "[unknown]": 3}


def test_misuse_raises(tmp_path, monkeypatch):
    bench = get_benchmark(PROGRAMS[0])
    art = _build(bench, "O2")
    with pytest.raises(MeasurementError):
        measure(art, bench, "bogus-metric")
    with pytest.raises(MeasurementError):
        get_runner("rsh://x")
    with pytest.raises(MeasurementError, match="cannot measure 'insns'"):
        measure(art, bench, "insns", runner="local")
    # no C compiler: one clear line, not a traceback from deep inside
    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(MeasurementError) as err:
        build_plugin()
    assert "no-such-cc" in str(err.value) and "\n" not in str(err.value)


def test_cli_measure_json(capsys):
    rc = cli_main(["measure", PROGRAMS[1], "--passes", "O2", "--repeat", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["status"] == "ok" and out["metric"] == "insns" and out["value"] > 0
    rc = cli_main(["measure", PROGRAMS[1], "--passes", "O2", "--repeat", "1", "--metric", "wall",
                   "--max-runs", "3"])
    text = capsys.readouterr().out
    assert rc == 0 and "wall" in text and " ok " in text
    assert os.environ.get("COSTTUNE_SSH_OPTS") is None


def test_failed_reference_is_cached(tmp_path, monkeypatch):
    """A benchmark whose O0 run fails costs its run once; later lookups fail at once."""
    import time as _time

    from costtune.benchmarks import get_benchmark
    from costtune.errors import BenchmarkError
    from costtune.measure import reference_output

    monkeypatch.setenv("COSTTUNE_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "crashy"
    d.mkdir()
    (d / "c.c").write_text("#include <stdlib.h>\nint main(void) { abort(); }\n")
    (d / "bench.yaml").write_text("name: crashy\n")
    bench = get_benchmark(str(d))
    with pytest.raises(BenchmarkError, match="reference run failed"):
        reference_output(bench, "aarch64")
    t0 = _time.perf_counter()
    with pytest.raises(BenchmarkError, match="failed before; delete .*failed to retry"):
        reference_output(bench, "aarch64")
    assert _time.perf_counter() - t0 < 0.5
    with pytest.raises(BenchmarkError, match="reference run failed"):
        reference_output(bench, "aarch64", refresh=True)


def test_measure_shows_the_share_of_instructions_outside_the_program_s_own_functions(capsys):
    """wordfreq spends most of its instructions in the C library's qsort and strcmp."""
    from costtune.asm import program_functions

    assert cli_main(["measure", "builtin/wordfreq", "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    art = compile_benchmark(get_benchmark("builtin/wordfreq"), "O3").artifact
    own = program_functions(art)
    fns = out["functions"]
    assert sum(fns.values()) == out["value"] and out["blocks"] is None
    assert out["outside_share"] == pytest.approx(sum(n for f, n in fns.items() if f not in own) / out["value"])
    assert 0.3 < out["outside_share"] < 0.9
    assert cli_main(["measure", "builtin/wordfreq", "--repeat", "1"]) == 0
    text = capsys.readouterr().out
    assert f"{out['outside_share'] * 100:.1f}% of the instructions run outside the program's own functions" in text
    assert "strcmp" in text and "keep this share small" in text


def test_a_run_killed_by_sigkill_is_not_the_candidate_s_result():
    """SIGKILL comes from the OOM killer or an operator, never from the program: a measurement
    error (nothing recorded), while a segfault stays the candidate's crash."""
    import signal as _signal

    from costtune.measure._base import RunResult
    from costtune.measure.core import _judge

    assert _judge(RunResult(-_signal.SIGKILL, False, 1.0), None)[0] == "error"
    assert _judge(RunResult(-_signal.SIGSEGV, False, 1.0), None)[0] == "crash"
    assert _judge(RunResult(None, True, 1.0), None)[0] == "timeout"
