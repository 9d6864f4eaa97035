"""costtune: an LLM cost model for LLVM pass-pipeline autotuning."""

__version__ = "0.1.0"
