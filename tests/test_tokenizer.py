import json
import random

import pytest
import sentencepiece as spm

from costtune import asm
from costtune import tokenizer as tk
from costtune.benchmarks import get_benchmark
from costtune.cli import main
from costtune.compile import compile_benchmark
from costtune.errors import TokenizerError

GENERIC = (
    "The quick brown fox jumps over the lazy dog while the compiler translates programs into machine code. "
    "Optimisation passes rewrite the representation so that programs run faster and use less memory. "
    "Tokenizers split text into pieces and byte pair encoding merges frequent pairs of symbols. "
    "def main(argc, argv): return sum(int(x) for x in argv) # 0 1 2 3 4 5 6 7 8 9 10 100 1000"
)


@pytest.fixture(scope="module")
def listings(tmp_path_factory):
    """Real normalised listings: {(program, pipeline): (asm functions, ir functions)}."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COSTTUNE_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = {}
    try:
        for b in ("builtin/bitcount", "builtin/checksum"):
            for p in ("O0", "O3"):
                res = compile_benchmark(get_benchmark(b), p)
                assert res.ok, res.describe()
                out[(b, p)] = (asm.program_functions(res.artifact), asm.program_functions(res.artifact, "ir"))
    finally:
        mp.undo()
    return out


@pytest.fixture(scope="module")
def corpus(listings, tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "all_assembly.txt"
    path.write_text("".join(t for fa, _ in listings.values() for t in fa.values()))
    return path


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("spm")
    return tk.train_spm(corpus, 1000, out)


@pytest.fixture(scope="module")
def spm_base(tmp_path_factory):
    """A tiny BPE sentencepiece model on generic text, in CodeLlama's layout (DIR/tokenizer.model)."""
    d = tmp_path_factory.mktemp("spm_base")
    rng = random.Random(0)
    words = GENERIC.split()
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(300)] + [GENERIC]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(d / "tokenizer"), vocab_size=400, model_type="bpe",
        byte_fallback=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        hard_vocab_limit=False, minloglevel=2)
    return d


@pytest.fixture(scope="module")
def bpe_base(tmp_path_factory):
    """A tiny GPT-2-style byte-level BPE (tokenizer.json) trained here."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("bpe_base")
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator([GENERIC] * 20, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
    PreTrainedTokenizerFast(tokenizer_object=t, eos_token="<|endoftext|>").save_pretrained(str(d))
    return d


def _texts(listings):
    asm_texts = [t for fa, _ in listings.values() for t in fa.values()]
    ir_texts = [t for _, fi in listings.values() for t in fi.values()]
    return asm_texts, ir_texts


def test_regex_vocab_coverage(corpus):
    lines = corpus.read_text().splitlines()
    vocab = tk.build_vocab(lines)
    assert vocab["x0"] > 0 and vocab["ret"] > 0 and vocab["["] > 0
    full = tk.vocab_coverage(lines, top=len(vocab))
    assert full.token_share == 1.0 and full.char_share == 1.0
    small = tk.vocab_coverage(lines, top=20)
    assert 0 < small.token_share < 1 and small.char_share < 1
    assert {"register", "mnemonic", "imm", "punct", "label"} <= set(full.by_class)
    assert tk.token_class("v1.4s") == "vector" and tk.token_class("w30") == "register"
    assert tk.token_class("eq") == "cond" and tk.token_class("IMM_1e4") == "imm"


def test_train_round_trip(trained, listings):
    sp = spm.SentencePieceProcessor(model_file=str(trained))
    assert (trained.parent / "spm.vocab").is_file()
    asm_texts, ir_texts = _texts(listings)
    whole = "".join(asm_texts)
    assert sp.decode(sp.encode(whole)) == whole
    for text in asm_texts + ir_texts[:5]:
        assert sp.decode(sp.encode(text)) == text
    # pieces are learned: well under one piece per two characters
    assert len(sp.encode(whole)) < len(whole) / 2
    hf = tk.load_tokenizer(trained.parent)
    assert hf.encode(whole, add_special_tokens=False) == sp.encode(whole)


def test_merge_into_sentencepiece_base(trained, spm_base, listings, tmp_path):
    res = tk.merge_tokenizer(spm_base, trained, tmp_path / "merged")
    assert res.kind == "sentencepiece" and res.added > 0 and res.size == res.base_size + res.added
    assert (tmp_path / "merged" / "tokenizer.model").is_file()
    base = spm.SentencePieceProcessor(model_file=str(spm_base / "tokenizer.model"))
    merged = spm.SentencePieceProcessor(model_file=str(tmp_path / "merged" / "tokenizer.model"))
    assert [merged.id_to_piece(i) for i in range(base.get_piece_size())] == \
        [base.id_to_piece(i) for i in range(base.get_piece_size())]  # base ids unchanged
    hf = tk.load_tokenizer(tmp_path / "merged")
    asm_texts, ir_texts = _texts(listings)
    for text in asm_texts + ir_texts[:5]:
        ids = merged.encode(text)
        assert hf.encode(text, add_special_tokens=False) == ids
        assert hf.decode(ids) == text and merged.decode(ids) == text
    assert hf.encode("ret")[0] == hf.bos_token_id
    whole = "".join(asm_texts)
    assert len(merged.encode(whole)) < 0.7 * len(base.encode(whole))


def test_merge_into_bpe_base(trained, bpe_base, listings, tmp_path):
    res = tk.merge_tokenizer(bpe_base, trained.parent, tmp_path / "merged")
    assert res.kind == "bpe" and res.added > 0
    base = tk.load_tokenizer(bpe_base)
    hf = tk.load_tokenizer(tmp_path / "merged")
    asm_texts, _ = _texts(listings)
    for text in asm_texts:
        ids = hf.encode(text, add_special_tokens=False)
        assert hf.decode(ids) == text
    whole = "".join(asm_texts)
    assert len(hf.encode(whole, add_special_tokens=False)) < 0.7 * len(base.encode(whole, add_special_tokens=False))
    assert hf.decode(hf.encode(GENERIC, add_special_tokens=False)) == GENERIC


def test_merge_rejects_unknown_base(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerError):
        tk.merge_tokenizer(tmp_path / "empty", trained, tmp_path / "out")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.model").write_bytes(b"not a model")
    with pytest.raises(TokenizerError):
        tk.merge_tokenizer(tmp_path / "bad", trained, tmp_path / "out")


def _records(listings, repr_index):
    recs = []
    items = list(listings.items())
    for (b, p), funcs in items:
        for (b2, p2), funcs2 in items:
            if b == b2 and p != p2:
                recs.append({"instruction:": "compare the performance of the two arm64 assembly code",
                             "code1:": "".join(funcs[repr_index].values()),
                             "code2:": "".join(funcs2[repr_index].values()),
                             "output": "code1 is faster than code2"})
    return recs


def test_token_stats_and_cli(trained, spm_base, listings, tmp_path, capsys):
    merged = tmp_path / "merged"
    tk.merge_tokenizer(spm_base, trained, merged)
    asm_data, ir_data = tmp_path / "asm.json", tmp_path / "ir.json"
    asm_data.write_text(json.dumps(_records(listings, 0)))
    ir_data.write_text(json.dumps(_records(listings, 1)))
    rep = tk.token_stats([spm_base, merged], [asm_data, ir_data], max_len=512)
    rows = {(r.repr, r.tokenizer): r for r in rep.rows}
    assert len(rep.rows) == 6 and {r.repr for r in rep.rows} == {"asm", "ir"}
    for repr in ("asm", "ir"):
        base_row, merged_row = rows[(repr, spm_base.name)], rows[(repr, "merged")]
        assert merged_row.tokens_per_insn < base_row.tokens_per_insn
        assert 0 <= merged_row.over_max_len <= base_row.over_max_len <= 1
        assert merged_row.records == 4
        cl = rows[(repr, tk.TIKTOKEN_NAME)]
        assert cl.note.startswith("unavailable") or cl.tokens_mean > 0
    tiny = tk.token_stats([merged], asm_data, max_len=10, tiktoken=False)
    assert tiny.rows[0].over_max_len == 1.0

    assert main(["tokenizer", "stats", "--tokenizer", str(merged), "--data", str(asm_data),
                 "--no-tiktoken", "--json", str(tmp_path / "stats.json")]) == 0
    out = capsys.readouterr().out
    assert "tok/insn" in out and "merged" in out
    assert json.loads((tmp_path / "stats.json").read_text())["rows"][0]["tokenizer"] == "merged"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"code1": "x"}]))
    assert main(["tokenizer", "stats", "--tokenizer", str(merged), "--data", str(bad)]) != 0
    assert "lacks" in capsys.readouterr().err


def test_cli_vocab_train_merge(corpus, spm_base, tmp_path, capsys):
    assert main(["tokenizer", "vocab", "--corpus", str(corpus), "--top", "50"]) == 0
    assert "top 50" in capsys.readouterr().out
    assert main(["tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "600", "--out",
                 str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "spm.model").is_file()
    assert main(["tokenizer", "merge", "--base", str(spm_base), "--add", str(tmp_path / "t"),
                 "--out", str(tmp_path / "m")]) == 0
    assert "new pieces" in capsys.readouterr().out
    assert main(["tokenizer", "merge", "--base", str(tmp_path), "--add", str(tmp_path / "t"),
                 "--out", str(tmp_path / "m2")]) != 0
    assert capsys.readouterr().err.startswith("costtune: error:")
