"""The model's data: :class:`~costtune.dataset.Candidate` and its helpers, from :mod:`costtune.dataset`.

Candidates, ``ranking.jsonl`` reading, program splits and gap pairs are implemented once,
in :mod:`costtune.dataset`; this module names them for the model's code (and keeps the
imports of callers that read them from here), and holds the model's text hash.
"""

from __future__ import annotations

import hashlib

from costtune.dataset import (Candidate, candidates_from_db, gap_pairs, group_by_program, load_ranking,
                              split_programs)

__all__ = ["Candidate", "load_ranking", "load_from_db", "group_by_program", "split_programs",
           "gap_pairs", "text_hash"]

#: candidates of a records database, recompiled (:func:`costtune.dataset.candidates_from_db`)
load_from_db = candidates_from_db


def text_hash(text: str) -> str:
    """The key of a function's text in the model's caches."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]
