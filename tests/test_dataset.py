"""costtune dataset on a real records database.

A module fixture measures 4 builtin programs (O0, O3 and 6 random pipelines each,
repeat=1) with the real collect (clang/opt/llc/qemu) into a SQLite file; the
tests build datasets from it and check them against the database.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from costtune import dataset as ds
from costtune.cli import main as cli_main
from costtune.collect import CollectConfig, collect
from costtune.errors import DatasetError, RecordStoreError
from costtune.records import Record, RecordStore

PROGRAMS = ["bitcount", "checksum", "sorting", "corners"]
IDS = [f"builtin/{p}" for p in PROGRAMS]
EPS = 0.1


@pytest.fixture(scope="module")
def records_db(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("records") / "records.db")
    summary = collect(CollectConfig(suite="builtin", benchmarks=PROGRAMS, samples=6, db=db, seed=11,
                                    repeat=1, min_len=10, max_len=30, references=("O0", "O3")))
    assert summary.remaining == 0 and summary.errors == 0, summary
    return db


@pytest.fixture(scope="module")
def built(records_db, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds-asm")
    summary = ds.build_dataset(db=records_db, out=out, eps=EPS, seed=3)
    return summary, out


def _db_values(db: str) -> dict[int, float]:
    with RecordStore(db, create=False) as s:
        return {r.id: r.value for r in s.records(status="ok")}


def _read_json(path: Path):
    return json.loads(path.read_text())


def _ranking(out: Path) -> list[dict]:
    return [json.loads(l) for l in (out / ds.RANKING_FILE).read_text().splitlines()]


# --------------------------------------------------------------------------- the built dataset

def test_every_file_is_written(built):
    summary, out = built
    expected = {*ds.RECORD_FILES.values(), *ds.META_FILES.values(), ds.RANKING_FILE, ds.PAIRS_FILE,
                ds.SPLITS_FILE, ds.CORPUS_FILE, ds.SUMMARY_FILE}
    for name in expected:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert set(summary.files) == expected
    for p in IDS:
        suite, name = p.split("/")
        for kind in ("hist", "sorted"):
            assert (out / "plots" / suite / f"{name}_{kind}.png").is_file()
    loaded = ds.DatasetSummary.load(out)
    assert [p.program for p in loaded.programs] == sorted(IDS)
    assert loaded.config["eps"] == EPS and loaded.db.endswith("records.db")
    assert loaded.versions["costtune"] and any(k.startswith("llvm-") for k in loaded.versions)


def test_plots_open_and_are_not_blank(built):
    from matplotlib.image import imread

    _, out = built
    pngs = sorted((out / "plots").rglob("*.png"))
    assert len(pngs) == 2 * len(IDS)
    for png in pngs:
        img = imread(png)
        assert img.ndim == 3 and img.shape[0] >= 200 and img.shape[1] >= 300
        rgb = img[..., :3].reshape(-1, 3)
        assert rgb.std() > 0.05  # not a single colour
        colours = {tuple(c) for c in (rgb[:: max(1, len(rgb) // 20000)] * 255).round().astype(int)}
        assert len(colours) > 10


def test_research_record_format_and_labels(built):
    summary, out = built
    assert summary.total_pairs > 0
    for split in ds.SPLITS:
        records = _read_json(out / ds.RECORD_FILES[split])
        meta = _read_json(out / ds.META_FILES[split])
        assert len(records) == len(meta) == summary.split_counts[split]["pairs"]
        faster = sum(r["output"] == ds.FASTER for r in records)
        slower = sum(r["output"] == ds.SLOWER for r in records)
        assert faster + slower == len(records)
        assert abs(faster - slower) <= 1, (split, faster, slower)
        for r, m in zip(records, meta):
            assert list(r) == ["instruction:", "code1:", "code2:", "output"]
            assert r["instruction:"] == "compare the performance of the two arm64 assembly code"
            assert r["output"] == m["output"]
            assert r["code1:"] != r["code2:"]
            assert ds.text_id(r["code1:"]) == m["code1"] and ds.text_id(r["code2:"]) == m["code2"]


def test_pairs_obey_eps_and_outputs_match_latencies(built, records_db):
    _, out = built
    values = _db_values(records_db)
    n = 0
    for split in ds.SPLITS:
        for m in _read_json(out / ds.META_FILES[split]):
            l1, l2 = m["code1_latency"], m["code2_latency"]
            assert (max(l1, l2) - min(l1, l2)) / max(l1, l2) > EPS
            assert math.isclose(m["gap"], (max(l1, l2) - min(l1, l2)) / max(l1, l2))
            assert m["output"] == (ds.FASTER if l1 < l2 else ds.SLOWER)
            # the latencies are the measured ones
            assert values[m["code1_record"]] == l1 and values[m["code2_record"]] == l2
            assert m["split"] == split
            n += 1
    pairs = [json.loads(l) for l in (out / ds.PAIRS_FILE).read_text().splitlines()]
    assert len(pairs) == n
    for p in pairs:
        assert p["latency_a"] < p["latency_b"] and p["gap"] > EPS


def test_every_eligible_pair_is_present(built):
    """No cap: the pairs of a program are exactly its candidate pairs with gap > eps."""
    _, out = built
    ranking = _ranking(out)
    pairs = [json.loads(l) for l in (out / ds.PAIRS_FILE).read_text().splitlines()]
    for prog in IDS:
        cands = [r for r in ranking if r["program"] == prog]
        want = {frozenset((a["candidate"], b["candidate"])) for i, a in enumerate(cands) for b in cands[i + 1:]
                if (max(a["latency"], b["latency"]) - min(a["latency"], b["latency"]))
                / max(a["latency"], b["latency"]) > EPS}
        got = {frozenset((p["a"], p["b"])) for p in pairs if p["program"] == prog}
        assert got == want


def test_splits_are_disjoint_by_program(built):
    summary, out = built
    splits = _read_json(out / ds.SPLITS_FILE)
    sets = [set(splits[s]) for s in ds.SPLITS]
    assert all(sets), splits  # 4 programs, default 0.7/0.15/0.15: none empty
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(IDS)
    split_of = {p: s for s in ds.SPLITS for p in splits[s]}
    for r in _ranking(out):
        assert r["split"] == split_of[r["program"]]
    for s in ds.SPLITS:
        for m in _read_json(out / ds.META_FILES[s]):
            assert split_of[m["program"]] == s


def test_ranking_and_corpus(built, records_db):
    summary, out = built
    values = _db_values(records_db)
    ranking = _ranking(out)
    assert len(ranking) == summary.total_candidates
    corpus = (out / ds.CORPUS_FILE).read_text()
    # one listing after another, a blank line between (listings hold no blank line themselves)
    assert corpus == "\n".join(r["text"] for r in ranking)
    assert len(corpus.rstrip("\n").split("\n\n")) == len(ranking)
    ids = set()
    for r in ranking:
        assert r["candidate"] == ds.text_id(r["text"]) and r["candidate"] not in ids
        ids.add(r["candidate"])
        assert r["latency"] == values[r["record_id"]]
        assert r["text"] == "".join(r["functions"][k] for k in sorted(r["functions"]))
        assert "\n\n" not in r["text"] and r["text"].startswith("<")
        assert "main" in r["functions"]
        assert all(v.startswith(f"<{k}>:") for k, v in r["functions"].items())
    for prog in IDS:
        lat = [r["latency"] for r in ranking if r["program"] == prog]
        assert lat == sorted(lat) and len(lat) >= 2


def test_step_sampling_keeps_the_extremes(records_db, tmp_path):
    summary = ds.build_dataset(db=records_db, out=tmp_path, n=3, eps=0.0, seed=1, plots=False)
    values = {}
    with RecordStore(records_db, create=False) as s:
        for r in s.records(status="ok", metric="insns"):
            values.setdefault(r.benchmark, []).append(r.value)
    ranking = _ranking(tmp_path)
    for prog in IDS:
        lat = [r["latency"] for r in ranking if r["program"] == prog]
        assert len(lat) == 3
        assert lat[0] == min(values[prog]) and lat[-1] == max(values[prog])
    assert all(p.sampled == 3 for p in summary.programs)


def test_seed_determinism_and_pair_cap(records_db, built, tmp_path):
    _, out = built
    again = ds.build_dataset(db=records_db, out=tmp_path / "again", eps=EPS, seed=3, jobs=2, plots=False)
    for name in (*ds.RECORD_FILES.values(), ds.PAIRS_FILE, ds.SPLITS_FILE, ds.CORPUS_FILE):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    capped = ds.build_dataset(db=records_db, out=tmp_path / "cap", eps=EPS, seed=3, max_pairs_per_program=2,
                              plots=False)
    assert all(p.pairs <= 2 for p in capped.programs) and capped.total_pairs > 0


def test_repr_ir(records_db, tmp_path):
    summary = ds.build_dataset(db=records_db, out=tmp_path, repr="ir", eps=EPS, benchmarks=IDS[:3], seed=2,
                               plots=False)
    assert summary.total_pairs > 0
    ranking = _ranking(tmp_path)
    assert {r["program"] for r in ranking} == set(IDS[:3])
    for r in ranking:
        assert r["text"].startswith("define ") and "@main(" in r["text"]
        assert all(v.startswith("define ") for v in r["functions"].values())
    records = _read_json(tmp_path / ds.RECORD_FILES["train"])
    assert records and records[0]["instruction:"] == "compare the performance of the two llvm ir code"
    assert (tmp_path / ds.CORPUS_FILE).read_text() == "\n".join(r["text"] for r in ranking)
    # the model reads the IR back as IR (each row says its repr); there is no asm in an IR dataset
    cands = ds.load_ranking(tmp_path, "ir")
    assert [(c.id, c.functions, c.text) for c in cands] == [(r["candidate"], r["functions"], r["text"])
                                                            for r in ranking]
    with pytest.raises(DatasetError, match="no asm text"):
        ds.load_ranking(tmp_path, "asm")


def test_split_with_few_programs(records_db, tmp_path):
    two = IDS[:2]
    with pytest.raises(DatasetError, match="--split"):
        ds.build_dataset(db=records_db, out=tmp_path / "a", benchmarks=two)
    summary = ds.build_dataset(db=records_db, out=tmp_path / "b", benchmarks=two, split=(1, 0, 0),
                               split_explicit=True, eps=EPS, plots=False)
    assert summary.splits == {"train": sorted(two), "validation": [], "test": []}
    assert _read_json(tmp_path / "b" / ds.RECORD_FILES["validation"]) == []
    assert len(_read_json(tmp_path / "b" / ds.RECORD_FILES["train"])) == summary.total_pairs > 0


# --------------------------------------------------------------------------- bad input

def _copy_records(src: str, dst: str, keep) -> None:
    with RecordStore(src, create=False) as s:
        rows = [r for r in s.records() if keep(r)]
    with RecordStore(dst) as d:
        for r in rows:
            r2 = Record.from_dict(r.to_dict())
            r2.id, r2.reused_from = None, None
            d.add(r2)


def test_program_with_one_valid_record_is_skipped(records_db, tmp_path):
    db = str(tmp_path / "partial.db")
    seen = {"n": 0}

    def keep(r):
        if r.benchmark != IDS[3]:
            return True
        if r.status == "ok":
            seen["n"] += 1
            return seen["n"] == 1
        return False

    _copy_records(records_db, db, keep)
    summary = ds.build_dataset(db=db, out=tmp_path / "out", eps=EPS, plots=False)
    by = {p.program: p for p in summary.programs}
    assert by[IDS[3]].skipped and by[IDS[3]].records == 1 and not by[IDS[3]].split
    assert all(by[p].split and not by[p].skipped for p in IDS[:3])
    assert IDS[3] not in {r["program"] for r in _ranking(tmp_path / "out")}

    lone = str(tmp_path / "lone.db")
    _copy_records(db, lone, lambda r: r.benchmark == IDS[3])
    with pytest.raises(DatasetError, match="no program has two usable candidates"):
        ds.build_dataset(db=lone, out=tmp_path / "out2")


def test_one_reason_shared_by_every_program_is_said_once(records_db, tmp_path, monkeypatch):
    monkeypatch.delenv("COSTTUNE_CBENCH_ROOT", raising=False)
    with RecordStore(records_db, create=False) as s:
        rows = list(s.records())
    db = str(tmp_path / "cbench.db")
    with RecordStore(db) as d:  # the same records, named as cBench programs: nothing resolves them here
        for r in rows:
            r2 = Record.from_dict({**r.to_dict(), "suite": "cbench",
                                   "benchmark": r.benchmark.replace("builtin/", "cbench/")})
            r2.id, r2.reused_from = None, None
            d.add(r2)
    with pytest.raises(DatasetError) as ei:
        ds.build_dataset(db=db, out=tmp_path / "out")
    msg = str(ei.value)
    assert msg.count("--cbench-root") == 1 and f"{len(IDS)} programs" in msg, msg


def test_bad_databases_and_names(records_db, tmp_path):
    empty = tmp_path / "empty.db"
    RecordStore(empty).close()
    with pytest.raises(DatasetError, match="holds no records"):
        ds.build_dataset(db=str(empty), out=tmp_path / "o")
    with pytest.raises(DatasetError, match="no records of builtin/nosuch"):
        ds.build_dataset(db=records_db, out=tmp_path / "o", benchmarks=["builtin/nosuch"])
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(8192)))
    with pytest.raises(RecordStoreError):
        ds.build_dataset(db=str(corrupt), out=tmp_path / "o")
    with pytest.raises(RecordStoreError, match="no records database"):
        ds.build_dataset(db=str(tmp_path / "missing.db"), out=tmp_path / "o")
    assert not (tmp_path / "missing.db").exists()
    for bad in ({"eps": 1.5}, {"n": 1}, {"repr": "bytes"}, {"split": "1,2"}):
        with pytest.raises(DatasetError):
            ds.build_dataset(db=records_db, out=tmp_path / "o", **bad)


def test_cli_table_and_errors(records_db, tmp_path, capsys):
    rc = cli_main(["dataset", "--db", records_db, "--out", str(tmp_path / "cli"), "--n", "4", "--eps", "0.05",
                   "--benchmarks", *IDS[:2], "--split", "1,0,0", "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 0
    for prog in IDS[:2]:
        line = next(l for l in out.splitlines() if l.startswith(prog))
        assert line.split()[3] == "4" and "train" in line
    assert (tmp_path / "cli" / ds.RECORD_FILES["train"]).is_file()
    rc = cli_main(["dataset", "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and err[0].startswith("costtune: error:")
    rc = cli_main(["dataset", "--db", records_db, "--out", str(tmp_path / "x"), "--benchmarks", *IDS[:2]])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "--split" in err[0]


# --------------------------------------------------------------------------- helpers

def test_step_sample_and_split_helpers():
    assert ds.step_sample(5, 10) == [0, 1, 2, 3, 4]
    idx = ds.step_sample(101, 11)
    assert idx == list(range(0, 101, 10))
    idx = ds.step_sample(37, 7)
    assert len(idx) == 7 and idx[0] == 0 and idx[-1] == 36
    progs = [f"p{i}" for i in range(19)]
    sp = ds.assign_splits(progs, (0.7, 0.15, 0.15), 0, False)
    assert [len(sp[s]) for s in ds.SPLITS] == [13, 3, 3]
    assert sorted(sum(sp.values(), [])) == sorted(progs)
    assert ds.assign_splits(progs, (0.7, 0.15, 0.15), 0, False) == sp
    assert ds.assign_splits(progs, (0.7, 0.15, 0.15), 1, False) != sp
    sp3 = ds.assign_splits(progs[:3], (0.7, 0.15, 0.15), 0, False)
    assert [len(sp3[s]) for s in ds.SPLITS] == [1, 1, 1]
    with pytest.raises(DatasetError):
        ds.assign_splits(progs[:2], (0.7, 0.15, 0.15), 0, False)
    assert ds.parse_split("2,1,1") == (0.5, 0.25, 0.25)


def test_one_definition_of_eps_for_dataset_eval_and_training_pairs():
    """(slow - fast) / slow > eps everywhere: 102.01 against 100 is a gap of 0.0197 (max/min - 1
    would be 0.0201), so at eps 0.02 it is no pair for the dataset, eval or training."""
    import random

    from costtune.model.data import gap_pairs
    from costtune.model.metrics import pairwise_counts

    lat = [100.0, 102.01, 103.0]  # 103 vs 100: gap 0.0291, a pair; 103 vs 102.01: 0.0096, none
    cands = [ds.Candidate(program="p", id=str(i), record_id=i, pipeline="", pass_seq=None, latency=v, n_records=1,
                          binary_hash="", ir_hash="", functions={}, text="") for i, v in enumerate(lat)]
    dataset_pairs = {(p.slow.id, p.fast.id) for p in ds.make_pairs(cands, 0.02, None, random.Random(0))}
    assert dataset_pairs == {("2", "0")}
    assert {(str(i), str(j)) for i, j in gap_pairs(lat, 0.02)} == dataset_pairs
    assert pairwise_counts(lat, [0.0, 1.0, 2.0], 0.02) == (1, 1)


def test_a_directory_suite_s_dataset_and_eval_work_from_any_directory(tmp_path, monkeypatch, capsys):
    """Records keep where a directory suite's program lives: collect from the folder above the
    suite, then dataset and eval from somewhere else (they failed: unknown suite 'mine')."""
    import shutil

    suite = tmp_path / "work" / "mine"
    suite.mkdir(parents=True)
    shutil.copytree(Path(__file__).resolve().parent.parent / "benchmarks" / "examples" / "sortcheck",
                    suite / "sortcheck")
    db = str(tmp_path / "records.db")
    monkeypatch.chdir(tmp_path / "work")
    assert cli_main(["collect", "--suite", "mine", "--samples", "3", "--repeat", "1", "--db", db]) == 0
    with RecordStore(db) as store:
        assert {r.detail.get("program_dir") for r in store.records()} == {str(suite / "sortcheck")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert cli_main(["dataset", "--db", db, "--out", "ds", "--eps", "0", "--split", "0,0,1", "--no-plots"]) == 0
    rows = [json.loads(line) for line in (elsewhere / "ds" / "ranking.jsonl").read_text().splitlines()]
    assert len(rows) >= 2 and {r["program"] for r in rows} == {"mine/sortcheck"}
    assert {r["program_dir"] for r in rows} == {str(suite / "sortcheck")}
    assert cli_main(["eval", "--model", "default", "--db", db, "--benchmarks", "mine/sortcheck"]) == 0
    assert "static_insns" in capsys.readouterr().out
