"""costtune tokenizer vocab|train|merge|stats."""

import argparse
import json
from pathlib import Path

from costtune import tokenizer as tk
from costtune.errors import TokenizerError
from costtune.table import format_table


def register(sub):
    p = sub.add_parser("tokenizer", help="regex vocabulary, sentencepiece training, merge, token statistics",
                       description=("Tokenizers for assembly: the regex vocabulary's coverage of a corpus, a sentencepiece BPE\n"
                                    "model trained on normalised listings, merged into a base tokenizer, and token counts."),
                       epilog=("examples:\n"
                               "  costtune tokenizer train --corpus runs/ds/all_assembly.txt --vocab-size 4000 --out runs/tok\n"
                               "  costtune tokenizer stats --tokenizer runs/merged --data runs/ds/llm_training_record.json"),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)

    v = s.add_parser("vocab", help="coverage of a corpus by its top-N regex tokens",
                     description="How much of a normalised corpus its top-N regex tokens cover.",
                     epilog=("example:\n"
                             "  costtune tokenizer vocab --corpus runs/ds/all_assembly.txt --top 1000"),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--corpus", type=Path, required=True, help="normalised text, e.g. all_assembly.txt")
    v.add_argument("--top", type=int, default=1000, help="vocabulary size to measure coverage of")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=run_vocab)

    t = s.add_parser("train", help="train a BPE sentencepiece model on normalised text",
                     description="Train a BPE sentencepiece model on normalised assembly or IR.",
                     epilog=("example:\n"
                             "  costtune tokenizer train --corpus runs/ds/all_assembly.txt --vocab-size 4000 --out runs/tok"),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--corpus", type=Path, required=True)
    t.add_argument("--vocab-size", type=int, default=8000, help="soft limit (a small corpus gives fewer)")
    t.add_argument("--out", type=Path, required=True, help="writes OUT/spm.model and OUT/spm.vocab")
    t.set_defaults(func=run_train)

    m = s.add_parser("merge", help="add a sentencepiece model's pieces to a base tokenizer",
                     description=("Add a sentencepiece model's pieces to a base Hugging Face tokenizer (the model's embeddings\n"
                                  "are resized when it is trained with the merged tokenizer)."),
                     epilog=("example:\n"
                             "  costtune tokenizer merge --base BASE_TOKENIZER_DIR --add runs/tok/spm.model --out runs/merged"),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--base", type=Path, required=True,
                   help="dir with tokenizer.model (sentencepiece BPE), tokenizer.json or a .gguf file")
    m.add_argument("--add", type=Path, required=True, help="spm.model (or its directory) from 'train'")
    m.add_argument("--out", type=Path, required=True)
    m.set_defaults(func=run_merge)

    st = s.add_parser("stats", help="tokens per record and per instruction under each tokenizer",
                      description=("Tokens per record and per instruction under each tokenizer (cl100k_base too, unless\n"
                                   "--no-tiktoken)."),
                      epilog=("example:\n"
                              "  costtune tokenizer stats --tokenizer BASE_DIR --tokenizer runs/merged \\\n"
                              "      --data runs/ds/llm_training_record.json"),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    st.add_argument("--tokenizer", type=Path, action="append", default=[], help="repeatable")
    st.add_argument("--data", type=Path, action="append", required=True,
                    help="llm_training_record.json (repeatable: e.g. one asm, one IR)")
    st.add_argument("--max-len", type=int, default=2048)
    st.add_argument("--no-tiktoken", action="store_true", help="leave out cl100k_base")
    st.add_argument("--json", type=Path, help="also write the report as JSON here")
    st.set_defaults(func=run_stats)


def run_vocab(args) -> int:
    if not args.corpus.is_file():
        raise TokenizerError(f"corpus {args.corpus} does not exist")
    rep = tk.vocab_coverage(args.corpus.read_text(errors="replace").splitlines(), args.top)
    if args.json:
        print(json.dumps(rep.__dict__, indent=2))
        return 0
    print(f"{args.corpus}: {rep.lines} lines, {rep.tokens} tokens, {rep.distinct} distinct")
    print(f"top {rep.top}: {100 * rep.token_share:.2f}% of tokens, {100 * rep.char_share:.2f}% of characters")
    rows = [(cls, d["distinct"], d["tokens"], f"{100 * d['share']:.2f}%") for cls, d in rep.by_class.items()]
    print(format_table(rows, ("class", "distinct", "tokens", "share"), align="<>>>"))
    print("most common: " + " ".join(f"{t!r}:{n}" for t, n in rep.most_common))
    return 0


def run_train(args) -> int:
    model = tk.train_spm(args.corpus, args.vocab_size, args.out)
    print(f"{model} ({tk.spm_size(model)} pieces)")
    return 0


def run_merge(args) -> int:
    r = tk.merge_tokenizer(args.base, args.add, args.out)
    print(f"{r.out}: {r.kind} base {r.base_size} + {r.added} new pieces = {r.size}")
    return 0


def run_stats(args) -> int:
    rep = tk.token_stats(args.tokenizer, args.data, args.max_len, tiktoken=not args.no_tiktoken)
    print(rep.table())
    if args.json:
        args.json.write_text(json.dumps(rep.to_json(), indent=2) + "\n")
    print(json.dumps(rep.to_json()))
    return 0
