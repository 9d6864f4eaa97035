"""The training corpus: program families, the fixed split, and the corpus file."""

from costtune.corpus.families import SPLITS, family_of, split_of
from costtune.corpus.file import CorpusSummary, export_corpus, import_corpus, read_corpus

__all__ = ["SPLITS", "family_of", "split_of", "CorpusSummary", "export_corpus", "import_corpus", "read_corpus"]
