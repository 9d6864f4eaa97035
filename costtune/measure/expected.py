"""Checking a run against an expected output that a suite ships (llvm-test-suite).

The suite's harness runs a program with stdout and stderr in one file, appends
``exit N`` (the exit status), optionally replaces the file by its md5
(``HASH_PROGRAM_OUTPUT``), and compares it with the reference output like its
``fpcmp`` tool: text must match, numbers may differ within an absolute
(``FP_ABSTOLERANCE``) or relative (``FP_TOLERANCE``) tolerance.
:func:`check_expected` does the same in Python.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

#: a number with the blanks before it (fpcmp parses numbers with strtod, which skips them,
#: so ' 0.0' and '-0.0' in one column compare as numbers)
_NUMBER = re.compile(rb"[ \t]*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _tokens(data: bytes, ignore_ws: bool) -> list:
    """Numbers as floats, every other byte as itself (whitespace dropped when ``ignore_ws``)."""
    out: list = []
    i, n = 0, len(data)
    while i < n:
        m = _NUMBER.match(data, i)
        if m:
            out.append(float(m.group()))
            i = m.end()
            continue
        c = data[i:i + 1]
        if not (ignore_ws and c.isspace()):
            out.append(c)
        i += 1
    return out


def fp_compare(got: bytes, want: bytes, rel: float = 0.0, abs_: float = 0.0, ignore_ws: bool = False) -> str:
    """'' when ``got`` matches ``want`` the way fpcmp judges, else the first difference.

    Text must match exactly except numbers, which match when equal in value, or
    within ``abs_`` of each other, or within ``rel`` relative to the expected value.
    """
    if got == want:
        return ""
    a, b = _tokens(got, ignore_ws), _tokens(want, ignore_ws)
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, float) and isinstance(y, float):
            diff = abs(x - y)
            if x == y or diff <= abs_:
                continue
            ref = y if y != 0 else x
            if ref != 0 and diff / abs(ref) <= rel:
                continue
            line = sum(1 for t in a[:i] if t == b"\n") + 1
            return (f"line {line}: {x!r} vs expected {y!r} (diff {diff:.3g}; tolerance abs {abs_:g}, "
                    f"rel {rel:g})")
        if x != y:
            line = sum(1 for t in a[:i] if t == b"\n") + 1
            return f"line {line}: {_show(x)} vs expected {_show(y)}"
    if len(a) != len(b):
        line = sum(1 for t in a[:min(len(a), len(b))] if t == b"\n") + 1
        return f"line {line}: output {'longer' if len(a) > len(b) else 'shorter'} than expected"
    return ""


def _show(t) -> str:
    return repr(t) if isinstance(t, float) else repr(t.decode("latin-1"))


def harness_output(output: bytes, returncode: int, *, append_exit: bool, hash_output: bool) -> bytes:
    """What the harness compares: the output, ``exit N`` appended, then md5'd when asked."""
    data = output
    if append_exit:  # appended as is, after a last line without a newline too
        data += f"exit {returncode}\n".encode()
    if hash_output:
        data = hashlib.md5(data).hexdigest().encode() + b"\n"
    return data


def check_expected(output: bytes, returncode: int, expected: Path, *, append_exit: bool = False,
                   hash_output: bool = False, rel: float = 0.0, abs_: float = 0.0) -> str:
    """'' when a run's (combined) ``output`` and exit code give ``expected``, else why not."""
    got = harness_output(output, returncode, append_exit=append_exit, hash_output=hash_output)
    want = Path(expected).read_bytes()
    if hash_output:
        if got.strip() == want.strip():
            return ""
        return f"md5 of the output {got.strip().decode()} differs from the expected {want.strip()[:40].decode('latin-1')}"
    return fp_compare(got, want, rel, abs_)
