"""The pairwise prompt: "compare the performance of the two ... code" -> "code1 is faster than code2".

One definition for everything that reads or writes it: the dataset's
``llm_*_record.json`` files, the pairwise-sft head's training and scoring, and
the server's ``Compare`` call. The instruction names the representation the
codes are written in (``asm``: AArch64 assembly, ``ir``: LLVM IR).
"""

from __future__ import annotations

__all__ = ["INSTRUCTIONS", "FASTER", "SLOWER", "F_INSTRUCTION", "F_CODE1", "F_CODE2", "F_OUTPUT",
           "prompt_text", "repr_of_instruction"]

#: the instruction, by representation
INSTRUCTIONS = {
    "asm": "compare the performance of the two arm64 assembly code",
    "ir": "compare the performance of the two llvm ir code",
}
#: the two answers
FASTER = "code1 is faster than code2"
SLOWER = "code1 is slower than code2"
#: the record's field names, spelled exactly as the original records (colons included)
F_INSTRUCTION, F_CODE1, F_CODE2, F_OUTPUT = "instruction:", "code1:", "code2:", "output"


def prompt_text(code1: str, code2: str, repr: str = "asm") -> str:
    """The prompt as one text, up to the answer: ``instruction: ...\\ncode1: ...\\ncode2: ...\\noutput: ``."""
    return f"instruction: {INSTRUCTIONS[repr]}\ncode1: {code1}\ncode2: {code2}\noutput: "


def repr_of_instruction(instruction: str) -> str | None:
    """The representation an instruction names (None for an instruction of neither)."""
    return next((r for r, ins in INSTRUCTIONS.items() if ins == instruction), None)
