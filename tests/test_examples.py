"""The README's "your own program" walkthrough on benchmarks/examples, run from a directory
outside the repository with small budgets: real compiles, qemu counts, SQLite records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from costtune.cli import main as cli_main
from costtune.records import RecordStore

EXAMPLES = Path(__file__).resolve().parent.parent / "benchmarks" / "examples"


def test_walkthrough_from_bench_yaml_to_search_from_any_directory(tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    shutil.copytree(EXAMPLES, mine)
    runs = tmp_path / "runs"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    db = str(runs / "mine.db")
    runs.mkdir()

    assert cli_main(["measure", str(mine / "heat2d"), "--passes", "O3"]) == 0
    out = capsys.readouterr().out
    assert "mine/heat2d" in out and "run outside the program's own functions" in out

    assert cli_main(["collect", "--suite", str(mine), "--samples", "2", "--db", db]) == 0
    capsys.readouterr()
    assert cli_main(["records", "stats", "--db", db, "--json"]) == 0
    rows = {r["benchmark"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"mine/heat2d", "mine/sortcheck"}
    for r in rows.values():
        assert r["o0"] and r["o3"] and r["best_vs_o3"] and 0 <= r["outside_o3"] < 0.5

    ds = runs / "mine_ds"
    assert cli_main(["dataset", "--db", db, "--out", str(ds), "--eps", "0.02", "--split", "0,0,1",
                     "--no-plots"]) == 0
    capsys.readouterr()
    assert cli_main(["eval", "--model", "default", "--data", str(ds)]) == 0
    out = capsys.readouterr().out
    assert "skipped: no training programs" in out and "top1_score" in out

    search = runs / "mine_search"
    assert cli_main(["search", "--strategy", "search_quick", "--suite", str(mine), "--benchmarks", "heat2d",
                     "sortcheck", "--budget", "3", "--no-progress", "--out", str(search)]) == 0
    with RecordStore(search / "records.db") as store:
        assert {r.detail.get("program_dir") for r in store.records()} == {str(mine / "heat2d"), str(mine / "sortcheck")}
    capsys.readouterr()
    assert cli_main(["records", "stats", "--db", str(search / "records.db"), "--json"]) == 0
    for r in json.loads(capsys.readouterr().out):
        assert r["o3"] and r["best_vs_o3"] and r["best_vs_o3"] <= 1.0


def test_the_examples_catch_a_wrong_result(tmp_path, capsys):
    """heat2d's result is on stderr and compared; sortcheck's verdict is its exit status."""
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import measure

    for name, broken, status in (("heat2d", "v[i * n + j] = c + 0.2 * (around - 4.0 * c);",
                                  "wrong_output"),
                                 ("sortcheck", "tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];", "crash")):
        prog = tmp_path / name
        shutil.copytree(EXAMPLES / name, prog)
        src = prog / f"{name}.c"
        bench = get_benchmark(str(prog))
        ref_ok = measure(compile_benchmark(bench, "O3").artifact, bench)
        assert ref_ok.status == "ok", ref_ok.describe()
        text = src.read_text()
        assert broken in text
        # the same program with a bug standing in for a miscompile, checked against the O0 build of the original
        from costtune.measure.reference import reference_output

        ref = reference_output(bench)
        src.write_text(text.replace(broken, broken.replace("0.2", "0.21").replace("<=", ">=")))
        wrong = get_benchmark(str(prog))
        m = measure(compile_benchmark(wrong, "O3").artifact, wrong, reference=ref)
        assert m.status == status, m.describe()
