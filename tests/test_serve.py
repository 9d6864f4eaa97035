"""The gRPC scoring service against a real tiny model on real loopback servers.

Two builtin programs x three pipelines are compiled and measured once; a tiny Llama is
pretrained on their assembly and two heads are trained on it with the model package's
own functions (rank, pairwise-sft). Servers listen on port 0 (a free loopback port):
in-process ones for the RPC checks, and one ``costtune serve`` subprocess for start-up
health and SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import torch  # noqa: E402,F401
import costtune.serve  # noqa: E402,F401 - first: it configures grpc before grpc is imported

import grpc  # noqa: E402

from costtune.cli import main as cli_main  # noqa: E402
from costtune.serve import costtune_pb2 as pb  # noqa: E402
from costtune.serve import costtune_pb2_grpc as pb_grpc  # noqa: E402
from costtune.serve.adapter import FASTER, SLOWER, ServedModel  # noqa: E402
from costtune.serve.client import Client  # noqa: E402
from costtune.serve.errors import InvalidRequest, ModelNotFound, RequestTooLarge, ServerUnavailable  # noqa: E402
from costtune.serve.server import SERVICE, ServerConfig, start  # noqa: E402

PROGRAMS = ("builtin/bitcount", "builtin/checksum")
PIPELINES = ("O0", "O1", "O3")
TINY = dict(max_len=64, max_chunks=2, group_size=3, lr=5e-3, warmup=1, threads=1, device="cpu")
LIMITS = dict(max_candidates=8, max_request_bytes=64 * 1024)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict:
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.measure import measure
    from costtune.model import PretrainConfig, TrainConfig
    from costtune.model.pretrain import pretrain
    from costtune.model.train import train
    from costtune.tokenizer import train_spm

    root = tmp_path_factory.mktemp("serve_models")
    data = root / "data"
    data.mkdir()
    rows = []
    for prog in PROGRAMS:
        bench = get_benchmark(prog)
        for p in PIPELINES:
            cr = compile_benchmark(bench, p)
            assert cr.ok, cr.describe()
            m = measure(cr.artifact, bench, metric="insns", repeat=1)
            assert m.ok, m.describe()
            fns = program_functions(cr.artifact)
            rows.append({"program": prog, "candidate": p, "pipeline": p, "latency": m.value, "functions": fns,
                         "text": "\n".join(fns.values()), "split": "test" if prog == PROGRAMS[1] else "train"})
    (data / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "all_assembly.txt").write_text("\n".join(r["text"] for r in rows))
    train_spm(data / "all_assembly.txt", 400, root / "tok")
    pretrain(data / "all_assembly.txt", root / "tok", root / "llama",
             PretrainConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_len=64,
                            steps=30, batch_size=4, lr=1e-2, warmup=2, threads=1, device="cpu"))
    train(data, root / "llama", root / "rank", TrainConfig(epochs=2.0, **TINY))
    train(data, root / "llama", root / "sft", TrainConfig(head="pairwise-sft", sft_max_len=128, max_steps=3, **TINY))
    return {"rank": root / "rank", "sft": root / "sft", "rows": rows}


def _serve(model_dir: Path, **cfg):
    running = start(lambda: ServedModel.load(model_dir, threads=1),
                    ServerConfig(host="127.0.0.1", port=0, workers=4, **cfg))
    assert running.loaded.wait(120) and running.load_error is None, running.load_error
    return running


@pytest.fixture(scope="module")
def server(models):
    running = _serve(models["rank"], **LIMITS)
    yield running
    running.stop(1)


@pytest.fixture(scope="module")
def sft_server(models):
    running = _serve(models["sft"])
    yield running
    running.stop(1)


def _addr(running) -> str:
    return f"127.0.0.1:{running.port}"


def _stub(running):
    ch = grpc.insecure_channel(_addr(running))
    return ch, pb_grpc.CostModelServiceStub(ch)


def _req(cands, **kw) -> pb.ScoreRequest:
    out = []
    for i, c in enumerate(cands):
        if isinstance(c, dict):
            out.append(pb.Candidate(id=f"c{i}", functions=[pb.Function(name=k, text=v) for k, v in c.items()]))
        else:
            out.append(pb.Candidate(id=f"c{i}", text=c))
    return pb.ScoreRequest(candidates=out, **kw)


def test_served_scores_equal_in_process_exactly(models):
    """The same requests in the same order: a server and an in-process CostModel give the same floats."""
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark
    from costtune.model import CostModel

    rows = models["rows"]
    fresh = _serve(models["rank"])  # cold caches, like the in-process model below
    local = CostModel.from_pretrained(models["rank"], threads=1)
    ch, stub = _stub(fresh)
    try:
        funcs = [r["functions"] for r in rows]
        texts = [r["text"] for r in rows[3:]]
        served = list(stub.Score(_req(funcs)).costs)
        assert served == local.score(funcs)
        assert len(set(served)) > 1
        r2 = stub.Score(_req(texts))
        assert list(r2.costs) == local.score(texts) and list(r2.ids) == ["c0", "c1", "c2"]
        # Rank: order and costs as CostModel.rank/score
        rk = stub.Rank(_req(funcs))
        assert list(rk.order) == local.rank(funcs) and list(rk.costs) == served
        # a repeat is answered from the cache, with the same floats
        r3 = stub.Score(_req(funcs))
        assert list(r3.costs) == served and r3.cache_hits == len(funcs)
        # streaming: one response per request, in order
        stream = list(stub.ScoreStream(iter([_req(funcs[:2]), _req(texts), _req(funcs[4:])])))
        assert [list(s.costs) for s in stream] == [served[:2], list(r2.costs), served[4:]]
        # pipelines + benchmark: the server compiles, the same functions as a local compile
        bench = get_benchmark("builtin/bitcount")
        local_fns = [program_functions(compile_benchmark(bench, p).artifact) for p in ("O2", "Os")]
        rp = stub.Score(pb.ScoreRequest(benchmark="builtin/bitcount", candidates=[
            pb.Candidate(id="O2", pipeline="O2"), pb.Candidate(id="Os", pipeline="Os")]))
        assert list(rp.costs) == local.score(local_fns) and list(rp.ids) == ["O2", "Os"]
        # Stats counters
        st = stub.Stats(pb.StatsRequest())
        assert st.requests == 4 + 3 + 1 and st.candidates == 6 + 3 + 6 + 6 + 2 + 3 + 2 + 2
        assert st.cache_hits >= 6 + 6 + 5 and st.cache_hits + st.cache_misses == st.candidates
        assert st.batches >= 3 and st.max_batch_size >= 6 and st.mean_batch_size > 0
        assert st.function_cache_hits > 0 and st.p99_latency_ms >= st.p50_latency_ms > 0 and st.rss_bytes > 10 << 20
        assert st.errors == 0
    finally:
        ch.close()
        fresh.stop(1)


def test_client_model_info_health_reflection(server, models):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with Client(_addr(server), timeout=30) as c:
        info = c.model_info()
        assert (info.name, info.head, info.repr, info.device) == ("rank", "rank", "asm", "cpu")
        assert info.parameters > 1000 and info.version
        assert c.health() == "SERVING"
        rows = models["rows"]
        costs = c.score(functions=[r["functions"] for r in rows[:3]])
        order = c.rank(functions=[r["functions"] for r in rows[:3]])
        assert order == sorted(range(3), key=lambda i: (costs[i], i))
    ch = grpc.insecure_channel(_addr(server))
    stub = reflection_pb2_grpc.ServerReflectionStub(ch)
    resp = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in resp.list_services_response.service}
    assert SERVICE == "costtune.v1.CostModelService" and SERVICE in names and "grpc.health.v1.Health" in names
    ch.close()


def _code(fn, *a) -> tuple:
    with pytest.raises(grpc.RpcError) as ei:
        fn(*a, timeout=30)
    return ei.value.code(), ei.value.details()


def test_bad_input_is_refused_and_server_keeps_serving(server, models):
    rows = models["rows"]
    ch, stub = _stub(server)
    good = _req([r["functions"] for r in rows[:2]])
    before = list(stub.Score(good).costs)
    S = grpc.StatusCode
    cases = {
        "empty": (stub.Score, pb.ScoreRequest(), S.INVALID_ARGUMENT, "no candidates"),
        "two kinds": (stub.Score, pb.ScoreRequest(candidates=[pb.Candidate(text="a:\n ret\n", pipeline="O3")]),
                      S.INVALID_ARGUMENT, "exactly one"),
        "too many": (stub.Score, _req(["f:\n ret\n"] * 9), S.RESOURCE_EXHAUSTED, "limit of 8"),
        "too big": (stub.Score, _req(["f:\n" + " add x0, x0, x1\n" * 8000]), S.RESOURCE_EXHAUSTED, "larger than max"),
        "wrong repr": (stub.Score, _req(["f:\n ret\n"], repr="ir"), S.INVALID_ARGUMENT, "does not match"),
        "unknown repr": (stub.Rank, _req(["f:\n ret\n"], repr="bytes"), S.INVALID_ARGUMENT, "unknown repr"),
        "unknown model": (stub.Score, _req(["f:\n ret\n"], model="codellama"), S.NOT_FOUND, "unknown model"),
        "unknown bench": (stub.Score, pb.ScoreRequest(benchmark="builtin/nope", candidates=[pb.Candidate(pipeline="O3")]),
                          S.NOT_FOUND, "nope"),
        "no bench": (stub.Score, pb.ScoreRequest(candidates=[pb.Candidate(pipeline="O3")]), S.INVALID_ARGUMENT, "benchmark"),
    }
    for name, (fn, req, code, msg) in cases.items():
        got, details = _code(fn, req)
        assert got == code and msg in details, (name, got, details)
    # bytes that are not a ScoreRequest at all
    raw = ch.unary_unary(f"/{SERVICE}/Score", request_serializer=None, response_deserializer=None)
    got, details = _code(raw, b"\x0a\xff\xff\xff\xff\x0f")
    assert got == S.INVALID_ARGUMENT and "malformed" in details
    # the client maps codes back to costtune errors
    with Client(_addr(server), timeout=30, retries=0) as c:
        with pytest.raises(InvalidRequest, match="no candidates"):
            c.score()
        with pytest.raises(RequestTooLarge):
            c.score(texts=["f:\n ret\n"] * 9)
        with pytest.raises(ModelNotFound):
            c.score(texts=["f:\n ret\n"], model="codellama")
        with pytest.raises(InvalidRequest, match="does not match"):
            c.score(texts=["f:\n ret\n"], repr="ir")
    assert list(stub.Score(good).costs) == before
    st = stub.Stats(pb.StatsRequest())
    assert st.errors >= 10
    ch.close()


def test_compare_pairwise_sft_research_shape(sft_server, models):
    from costtune.dataset import F_CODE1, F_CODE2, F_INSTRUCTION, F_OUTPUT, INSTRUCTIONS
    from costtune.model import CostModel
    from costtune.model.costmodel import sft_prompt

    local = CostModel.from_pretrained(models["sft"], threads=1)
    a, b = models["rows"][3], models["rows"][5]  # checksum O0, O3
    prompt = sft_prompt(a["text"], b["text"])
    with Client(_addr(sft_server), timeout=60) as c:
        assert c.model_info().head == "pairwise-sft"
        pred, p = c.compare(prompt=prompt)
        want = local.sft_faster_prob(a["functions"], b["functions"])
        assert p == want and pred == (FASTER if want >= 0.5 else SLOWER)
        # a record of llm_training_record.json, as JSON, and code1/code2 fields give the same answer
        record = {F_INSTRUCTION: INSTRUCTIONS["asm"], F_CODE1: a["text"], F_CODE2: b["text"], F_OUTPUT: ""}
        assert c.compare(prompt=json.dumps(record)) == (pred, p)
        assert c.compare(code1=a["text"], code2=b["text"]) == (pred, p)
        with pytest.raises(InvalidRequest, match="llvm|ir"):
            c.compare(prompt=json.dumps({**record, F_INSTRUCTION: INSTRUCTIONS["ir"]}))
        with pytest.raises(InvalidRequest, match="prompt"):
            c.compare(prompt="which one is faster?")
        # Score on a pairwise-sft model ranks the candidates of one request against each other
        cands = [r["functions"] for r in models["rows"][3:]]
        assert c.score(functions=cands) == local.score(cands)
        assert c.health() == "SERVING"


def test_dead_server_is_one_line(capsys):
    with Client("127.0.0.1:1", timeout=5, retries=1, backoff=0.1) as c:
        with pytest.raises(ServerUnavailable) as ei:
            c.score(texts=["f:\n ret\n"])
    assert "\n" not in str(ei.value) and "unreachable" in str(ei.value)
    rc = cli_main(["score", "--server", "127.0.0.1:1", "builtin/bitcount", "--passes", "O3", "O2"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.count("\n") == 0 and err.startswith("costtune: error:") and "unreachable" in err
    rc = cli_main(["serve", "--model", "/nonexistent", "--port", "0"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.count("\n") == 0 and "/nonexistent" in err


def test_cli_serve_subprocess_health_score_and_sigterm(models, capsys):
    proc = subprocess.Popen([sys.executable, "-m", "costtune", "serve", "--model", str(models["rank"]), "--port", "0",
                             "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert "listening on 127.0.0.1:" in line, line + proc.stderr.read()
        addr = line.split("listening on ")[1].split()[0]
        with Client(addr, timeout=10) as c:
            seen = [c.health()]
            c.wait_ready(180)
            seen.append(c.health())
        # torch and the model take seconds to load: the first answer is NOT_SERVING
        assert seen == ["NOT_SERVING", "SERVING"]
        assert "serving rank" in proc.stdout.readline()
        rc = cli_main(["score", "--server", addr, "builtin/bitcount", "--passes", "O3", "O0", "--json"])
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and sorted(r["pipeline"] for r in out) == ["O0", "O3"]
        assert out[0]["cost"] <= out[1]["cost"]
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        rest = proc.stdout.read()
        assert rc == 0 and "stopped" in rest, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_cli_serve_corrupt_weights_is_one_error_line(models, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(models["rank"], broken)
    weights = max(broken.rglob("*.safetensors"), key=lambda p: p.stat().st_size)
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short
    proc = subprocess.run([sys.executable, "-m", "costtune", "serve", "--model", str(broken), "--port", "0",
                           "--threads", "1"], capture_output=True, text=True, timeout=180)
    err = proc.stderr.strip()
    # listening (health NOT_SERVING) while loading, then the load error once, on stderr, and exit 1
    assert proc.returncode == 1 and "listening on" in proc.stdout, (proc.stdout, err)
    assert err.count("\n") == 0 and err.startswith("costtune: error:") and str(broken) in err, err


def test_load_model_swaps_the_served_model_only_when_allowed(models, tmp_path):
    from costtune.errors import ServerError
    from costtune.model import CostModel, TrainConfig
    from costtune.model.train import train

    root = Path(models["rank"]).parent
    other = tmp_path / "rank2"  # the same base, trained one epoch: other scores
    train(root / "data", root / "llama", other, TrainConfig(epochs=1.0, **TINY))
    cands = [r["functions"] for r in models["rows"][:3]]
    denied = _serve(models["rank"])
    try:
        with Client(_addr(denied), timeout=60, retries=0) as c:
            with pytest.raises(ServerError, match="--allow-load"):
                c.load_model(other)
            assert c.model_info().path == str(models["rank"])
    finally:
        denied.stop(1)
    running = _serve(models["rank"], allow_load=True)
    try:
        with Client(_addr(running), timeout=60, retries=0) as c:
            before = c.score(functions=cands)
            with pytest.raises(InvalidRequest, match="nope"):
                c.load_model(tmp_path / "nope")
            with pytest.raises(InvalidRequest, match="model directory"):
                c.load_model("")
            assert c.score(functions=cands) == before  # the old model goes on serving
            assert c.load_model(other).path == str(other) == c.model_info().path
            after = c.score(functions=cands)  # no cached cost of the old model is answered
            assert after != before and after == pytest.approx(CostModel.from_pretrained(other).score(cands), abs=1e-6)
    finally:
        running.stop(1)


# -- hostile clients (issue 25): right status, short message, nothing about the host, the server serves on --

def test_hostile_requests_get_the_right_status_and_a_short_message(models, tmp_path):
    S = grpc.StatusCode
    own = tmp_path / "own"  # a program directory on the server's disk: not a served suite
    own.mkdir()
    (own / "bench.yaml").write_text("name: own\nsources: [m.c]\n")
    (own / "m.c").write_text("int main(void){return 0;}\n")
    deep = "function(" * 1000 + "instcombine" + ")" * 1000
    many = ",".join(["instcombine"] * 20000)
    huge = "function(" + ",".join(["sroa"] * 25000) + ")"  # 125 KB: overflowed the client's metadata before
    cands = lambda p: [pb.Candidate(pipeline=p)]  # noqa: E731
    cases = {
        "nested 1000": (dict(benchmark="builtin/bitcount", candidates=cands(deep)), S.INVALID_ARGUMENT),
        "20000 passes": (dict(benchmark="builtin/bitcount", candidates=cands(many)), S.RESOURCE_EXHAUSTED),
        "100 KB pipeline": (dict(benchmark="builtin/bitcount", candidates=cands(huge)), S.RESOURCE_EXHAUSTED),
        "300-char name": (dict(benchmark="builtin/" + "x" * 300, candidates=cands("O3")), S.INVALID_ARGUMENT),
        "target x86_64": (dict(benchmark="builtin/bitcount", target="x86_64", candidates=cands("O3")),
                          S.INVALID_ARGUMENT),
        "target path": (dict(benchmark="builtin/bitcount", target="../../../etc", candidates=cands("O3")),
                        S.INVALID_ARGUMENT),
        "/proc/self/cwd": (dict(benchmark="/proc/self/cwd", candidates=cands("O3")), S.NOT_FOUND),
        "/proc/self": (dict(benchmark="/proc/self", candidates=cands("O3")), S.NOT_FOUND),
        "dir on disk": (dict(benchmark=str(own), candidates=cands("O3")), S.NOT_FOUND),
        "traversal": (dict(benchmark="builtin/../../etc", candidates=cands("O3")), S.NOT_FOUND),
        "csmith": (dict(benchmark="csmith/csmith-999999999", candidates=cands("O3")), S.NOT_FOUND),
        "huge id": (dict(candidates=[pb.Candidate(id="i" * 100_000, text="f:\n ret\n")]), S.RESOURCE_EXHAUSTED),
        "huge listing": (dict(candidates=[pb.Candidate(text="f:\n" + " ret\n" * 1_100_000)]), S.RESOURCE_EXHAUSTED),
        "huge model name": (dict(model="m" * 100_000, candidates=[pb.Candidate(text="f:\n ret\n")]), S.NOT_FOUND),
    }
    running = _serve(models["rank"])
    ch = grpc.insecure_channel(_addr(running), options=[("grpc.max_send_message_length", 64 << 20)])
    stub = pb_grpc.CostModelServiceStub(ch)
    try:
        good = _req([r["functions"] for r in models["rows"][:2]])
        before = list(stub.Score(good).costs)
        for name, (req, code) in cases.items():
            got, details = _code(stub.Score, pb.ScoreRequest(**req))
            assert got == code and len(details) < 400, (name, got, details[:500])
            assert os.getcwd() not in details and str(os.getpid()) not in details.split("'")[0], (name, details)
        assert not any(p.name.startswith("csmith-999999999") for p in Path(tmp_path).rglob("*"))
        assert list(stub.Score(good).costs) == before
    finally:
        ch.close()
        running.stop(1)


def test_a_deeply_nested_compare_prompt_is_invalid_argument(sft_server):
    ch, stub = _stub(sft_server)
    try:
        got, details = _code(stub.Compare, pb.CompareRequest(prompt='{"a":' * 100_000 + "1" + "}" * 100_000))
        assert got == grpc.StatusCode.INVALID_ARGUMENT and len(details) < 400, (got, details[:300])
        got, details = _code(stub.Compare, pb.CompareRequest(prompt='{"x":' + "[" * 200_000 + "]" * 200_000 + "}"))
        assert got == grpc.StatusCode.INVALID_ARGUMENT and len(details) < 400, (got, details[:300])
    finally:
        ch.close()


def test_work_of_a_client_that_has_gone_is_dropped_and_others_keep_their_latency(models):
    import threading

    running = _serve(models["rank"], cache=False, max_batch=8, max_candidates=20_000)
    ch, stub = _stub(running)
    try:
        # 20,000 distinct listings: thousands of model calls, far more than 1 s even on a fast
        # quiet machine; the client gives up after 1 s
        big = _req([f"f{i}:\n add x0, x0, #{i}\n ret\n" for i in range(20_000)])
        small = _req([models["rows"][0]["functions"]])
        stub.Score(small)  # warm
        idle = []
        for _ in range(3):
            t = time.perf_counter()
            stub.Score(small, timeout=60)
            idle.append(time.perf_counter() - t)
        errors = []

        def hog():
            try:
                stub.Score(big, timeout=1.0)
            except grpc.RpcError as e:
                errors.append(e.code())

        th = threading.Thread(target=hog)
        th.start()
        time.sleep(0.2)
        t = time.perf_counter()
        stub.Score(small, timeout=60)  # served between the hog's slices, not after all of them
        busy = time.perf_counter() - t
        th.join()
        assert errors == [grpc.StatusCode.DEADLINE_EXCEEDED]
        time.sleep(0.5)
        b = running.service.batcher
        assert b.dropped >= 1 and not b.pending  # the rest of the hog's work was dropped
        calls = b.batches
        time.sleep(1.0)
        assert b.batches == calls  # and nothing runs for it any more
        assert busy < max(idle) * 3 + 1.0, (busy, idle)
    finally:
        ch.close()
        running.stop(1)


def test_two_load_models_at_once_and_a_failed_load_never_break_the_next(models, tmp_path):
    import threading

    from costtune.errors import ServerError

    running = _serve(models["rank"], allow_load=True)
    results = []

    def load():
        with Client(_addr(running), timeout=120, retries=0) as c:
            try:
                results.append(c.load_model(models["rank"]).path)
            except ServerError as e:
                results.append(str(e))

    try:
        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert str(models["rank"]) in results, results
        assert all(r == str(models["rank"]) or "ABORTED" in r for r in results), results
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "costtune_model.json").write_text("[1, 2]")
        with Client(_addr(running), timeout=120, retries=0) as c:
            with pytest.raises(InvalidRequest, match="JSON object"):
                c.load_model(broken)
            assert c.load_model(models["rank"]).path == str(models["rank"])  # the next load works
            assert c.health() == "SERVING"
    finally:
        running.stop(1)


def test_serve_refuses_bad_ports_and_broken_model_configs_in_one_line(models, tmp_path, capsys):
    import shutil

    for port in ("99999", "-1"):
        assert cli_main(["serve", "--port", port, "--model", str(models["rank"])]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not a TCP port" in err[0], err
    for name, text in {"list": "[1, 2]", "nested": "[" * 100_000 + "]" * 100_000}.items():
        d = tmp_path / name
        d.mkdir()
        (d / "costtune_model.json").write_text(text)
        assert cli_main(["serve", "--port", "0", "--model", str(d)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("costtune: error: corrupt"), err
    xyz = tmp_path / "xyz"
    shutil.copytree(models["rank"], xyz)
    cfg = json.loads((xyz / "costtune_model.json").read_text())
    (xyz / "costtune_model.json").write_text(json.dumps({**cfg, "head": "xyz"}))
    assert cli_main(["serve", "--port", "0", "--model", str(xyz)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'xyz'" in err[0], err
    assert cli_main(["serve", "--port", "0", "--suites", "builtin,/etc", "--model", str(models["rank"])]) == 2
    assert "cannot serve suite" in capsys.readouterr().err
