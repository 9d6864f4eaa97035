#!/usr/bin/env python3
"""Regenerate the input files of the builtin benchmark suite.

Deterministic (fixed seeds, stdlib only): running it again rewrites the same
bytes.  Usage: ``python3 benchmarks/builtin/make_inputs.py`` (from anywhere).
Every file lands in ``<program>/data/``; each stays well under 256 KB.
"""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent


def out(program: str, name: str, data: bytes | str) -> None:
    d = HERE / program / "data"
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("ascii")
    (d / name).write_bytes(data)


# ---------------------------------------------------------------- pseudo-text
def make_vocab(rng: random.Random, n: int) -> list[str]:
    onset = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v",
             "w", "st", "tr", "pl", "ch", "sh", "th", "qu", "br", "gr"]
    nucleus = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "io"]
    coda = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"]
    words = set()
    while len(words) < n:
        syl = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        w = "".join(rng.choice(onset) + rng.choice(nucleus) + rng.choice(coda) for _ in range(syl))
        words.add(w)
    return sorted(words)


def pseudo_text(seed: int, size: int, vocab_size: int = 2000) -> str:
    rng = random.Random(seed)
    vocab = make_vocab(rng, vocab_size)
    rng.shuffle(vocab)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like
    parts: list[str] = []
    n = 0
    line = 0
    sentence_start = True
    while n < size:
        w = rng.choices(vocab, weights)[0]
        if sentence_start:
            w = w.capitalize()
            sentence_start = False
        r = rng.random()
        if r < 0.07:
            w += "."
            sentence_start = True
        elif r < 0.12:
            w += ","
        elif r < 0.13:
            w = str(rng.randrange(1, 2000))
        sep = " "
        line += len(w) + 1
        if line > 72:
            sep = "\n"
            line = 0
        parts.append(w + sep)
        n += len(w) + 1
    return "".join(parts)[:size]


# ---------------------------------------------------------------- images
def make_image(seed: int, w: int, h: int) -> bytes:
    """A grey-level scene: gradient background, rectangles, discs, triangles, noise."""
    rng = random.Random(seed)
    img = [[(x * 90 // w + y * 60 // h + 40) for x in range(w)] for y in range(h)]
    for _ in range(14):
        x0, y0 = rng.randrange(w - 20), rng.randrange(h - 20)
        x1, y1 = x0 + rng.randrange(8, w // 3), y0 + rng.randrange(8, h // 3)
        v = rng.randrange(256)
        for y in range(y0, min(y1, h)):
            for x in range(x0, min(x1, w)):
                img[y][x] = v
    for _ in range(10):
        cx, cy, r = rng.randrange(w), rng.randrange(h), rng.randrange(5, w // 6)
        v = rng.randrange(256)
        for y in range(max(0, cy - r), min(h, cy + r + 1)):
            for x in range(max(0, cx - r), min(w, cx + r + 1)):
                if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
                    img[y][x] = v
    for _ in range(6):
        x0, y0, s = rng.randrange(w - 10), rng.randrange(h - 10), rng.randrange(10, w // 4)
        v = rng.randrange(256)
        for y in range(y0, min(h, y0 + s)):
            for x in range(x0, min(w, x0 + (y - y0))):
                img[y][x] = v
    pix = bytearray()
    for y in range(h):
        for x in range(w):
            v = img[y][x] + rng.randrange(-6, 7)
            pix.append(max(0, min(255, v)))
    return f"P5\n# builtin suite test image\n{w} {h}\n255\n".encode() + bytes(pix)


# ---------------------------------------------------------------- signals
def make_signal(seed: int, n: int) -> bytes:
    rng = random.Random(seed)
    comps = [(rng.uniform(0.002, 0.2), rng.uniform(1500, 7000), rng.uniform(0, 6.28)) for _ in range(5)]
    out_ = bytearray()
    for i in range(n):
        env = 0.5 + 0.5 * math.sin(i * 0.0007)
        v = sum(a * math.sin(f * i + p) for f, a, p in comps) * env
        v += rng.gauss(0, 400)
        if (i // 3000) % 5 == 4:
            v *= 0.05  # quiet stretches
        s = int(round(max(-32768, min(32767, v))))
        out_ += struct.pack("<h", s)
    return bytes(out_)


# ---------------------------------------------------------------- programs
def bitcount() -> None:
    rng = random.Random(101)
    words = []
    for i in range(16384):
        k = i % 4
        if k == 0:
            words.append(rng.getrandbits(32))
        elif k == 1:
            words.append(rng.getrandbits(32) & rng.getrandbits(32) & rng.getrandbits(32))
        elif k == 2:
            words.append(rng.getrandbits(32) | rng.getrandbits(32))
        else:
            words.append(1 << rng.randrange(32) | rng.getrandbits(rng.randrange(1, 32)))
    out("bitcount", "words.bin", b"".join(struct.pack("<I", w) for w in words))


def checksum() -> None:
    rng = random.Random(202)
    text = pseudo_text(203, 60000).encode()
    blob = bytearray(text)
    blob += bytes(rng.getrandbits(8) for _ in range(40000))
    blob += bytes(range(256)) * 64
    out("checksum", "blob.bin", bytes(blob))


def sorting() -> None:
    rng = random.Random(303)
    vals = []
    for i in range(20000):
        r = rng.random()
        if r < 0.6:
            vals.append(rng.randrange(-2**31, 2**31))
        elif r < 0.8:
            vals.append(rng.randrange(-50, 50))  # many duplicates
        else:
            vals.append(i * 37 - 300000)  # ascending runs
    out("sorting", "ints.txt", f"{len(vals)}\n" + "\n".join(map(str, vals)) + "\n")


def strsearch() -> None:
    text = pseudo_text(404, 120000)
    rng = random.Random(405)
    words = text.split()
    pats = set()
    while len(pats) < 36:
        k = rng.randrange(1, 4)
        i = rng.randrange(len(words) - k)
        pats.add(" ".join(words[i:i + k]).strip(".,"))
    pats |= {"th", "the", "aaaa", "zzzz", "ing the", "ea", "a"}
    pats.discard("")
    out("strsearch", "text.txt", text)
    out("strsearch", "patterns.txt", "\n".join(sorted(pats)) + "\n")


def dijkstra() -> None:
    rng = random.Random(505)
    n = 3000
    edges = []
    # a ring keeps the graph strongly connected; add random local and long edges
    for u in range(n):
        edges.append((u, (u + 1) % n, rng.randrange(50, 500)))
    for _ in range(14000):
        u = rng.randrange(n)
        if rng.random() < 0.7:
            v = (u + rng.randrange(-40, 41)) % n
        else:
            v = rng.randrange(n)
        if u != v:
            edges.append((u, v, rng.randrange(1, 1000)))
    out("dijkstra", "graph.txt",
        f"{n} {len(edges)}\n" + "".join(f"{u} {v} {w}\n" for u, v, w in edges))


def stencil() -> None:
    rng = random.Random(606)
    out("stencil", "init.bin", bytes(rng.getrandbits(8) for _ in range(32768)))


def lzcodec() -> None:
    text = pseudo_text(707, 48000, vocab_size=600)
    rng = random.Random(708)
    tail = bytes(rng.getrandbits(8) for _ in range(4000))
    out("lzcodec", "corpus.txt", text.encode() + tail)


def huffman() -> None:
    rng = random.Random(808)
    data = bytearray()
    while len(data) < 60000:
        r = rng.random()
        if r < 0.35:
            data += bytes([rng.choice(b" \x00\xff.-")]) * rng.randrange(3, 90)
        elif r < 0.8:
            data += bytes(rng.choice(b"etaoinshrdlu etaoin\n") for _ in range(rng.randrange(5, 60)))
        else:
            data += bytes(rng.getrandbits(8) for _ in range(rng.randrange(2, 20)))
    out("huffman", "sample.bin", bytes(data[:60000]))


def imgfilter() -> None:
    out("imgfilter", "scene.pgm", make_image(909, 256, 256))


def corners() -> None:
    out("corners", "shapes.pgm", make_image(1010, 192, 192))


def fixdsp() -> None:
    out("fixdsp", "signal.raw", make_signal(1111, 32768))


def adpcm() -> None:
    out("adpcm", "speech.raw", make_signal(1212, 40000))


def bytevm() -> None:
    # the VM program is hand-written: see bytevm/data/programs.vm (not generated)
    pass


def bignum() -> None:
    rng = random.Random(1313)
    mod = rng.getrandbits(1024) | (1 << 1023) | 1
    base = rng.getrandbits(1000)
    exp = rng.getrandbits(256) | (1 << 255)
    out("bignum", "params.txt",
        f"factorial 700\nfibonacci 3000\nmodulus {mod:x}\nbase {base:x}\nexponent {exp:x}\n")


def sha256() -> None:
    rng = random.Random(1414)
    data = pseudo_text(1415, 30000).encode() + bytes(rng.getrandbits(8) for _ in range(35000))
    out("sha256", "message.bin", data)


def backtrack() -> None:
    rng = random.Random(1515)
    lines = [f"queens {n}" for n in range(6, 12)]
    base = [[(r * 3 + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)]
    for k in range(12):
        g = [row[:] for row in base]
        perm = list(range(1, 10))
        rng.shuffle(perm)
        g = [[perm[v - 1] for v in row] for row in g]
        # shuffle rows within bands and bands themselves; same for columns
        bands = [0, 1, 2]
        rng.shuffle(bands)
        rows = [b * 3 + i for b in bands for i in rng.sample(range(3), 3)]
        g = [g[r] for r in rows]
        stacks = [0, 1, 2]
        rng.shuffle(stacks)
        cols = [s * 3 + i for s in stacks for i in rng.sample(range(3), 3)]
        g = [[row[c] for c in cols] for row in g]
        holes = 50 + k % 9
        cells = rng.sample(range(81), holes)
        for c in cells:
            g[c // 9][c % 9] = 0
        lines.append("sudoku " + "".join(str(v) if v else "." for row in g for v in row))
    out("backtrack", "puzzles.txt", "\n".join(lines) + "\n")


def exprcalc() -> None:
    rng = random.Random(1616)
    ops = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]

    def expr(depth: int) -> str:
        if depth <= 0 or rng.random() < 0.25:
            r = rng.random()
            if r < 0.45:
                return rng.choice("abcdxyz")
            if r < 0.55:
                return "-" + rng.choice("abcdxyz")
            return str(rng.randrange(0, 1000))
        r = rng.random()
        if r < 0.1:
            return f"max({expr(depth - 1)}, {expr(depth - 1)})"
        if r < 0.18:
            return f"({expr(depth - 1)} ? {expr(depth - 1)} : {expr(depth - 1)})"
        if r < 0.25:
            return f"({expr(depth - 1)} < {expr(depth - 1)})"
        op = rng.choice(ops)
        if op in ("<<", ">>"):
            return f"({expr(depth - 1)} {op} {rng.randrange(0, 9)})"
        return f"({expr(depth - 1)} {op} {expr(depth - 1)})"

    lines = [expr(rng.randrange(2, 7)) for _ in range(300)]
    out("exprcalc", "exprs.txt", "\n".join(lines) + "\n")


def wordfreq() -> None:
    out("wordfreq", "book.txt", pseudo_text(1717, 100000, vocab_size=5000))


def main() -> None:
    for f in (bitcount, checksum, sorting, strsearch, dijkstra, stencil, lzcodec, huffman,
              imgfilter, corners, fixdsp, adpcm, bytevm, bignum, sha256, backtrack,
              exprcalc, wordfreq):
        f()


if __name__ == "__main__":
    main()
