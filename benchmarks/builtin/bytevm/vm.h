/* vm: a small stack-machine bytecode, its assembler and its interpreters. */
#ifndef BUILTIN_VM_H
#define BUILTIN_VM_H

#include <stddef.h>
#include <stdint.h>

enum opcode {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_JMP, OP_JZ, OP_JNZ, OP_CALL, OP_RET,
    OP_ADD, OP_SUB, OP_MUL, OP_DIVU, OP_MODU, OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR,
    OP_LT, OP_EQ, OP_INC, OP_DEC, OP_DUP, OP_SWAP, OP_DROP, OP_OVER,
    OP_LDM, OP_STM, OP_ARG, OP_PRINT,
    NUM_OPS
};

#define VM_REGS 16
#define VM_STACK 1024
#define VM_CALLS 256
#define VM_MEM 8192 /* words, a power of two: addresses wrap */
#define VM_OUT 64

struct program {
    uint8_t *code;
    size_t size;
};

struct vm {
    const struct program *prog;
    size_t pc;
    uint32_t regs[VM_REGS];
    uint32_t stack[VM_STACK];
    int sp;
    uint32_t calls[VM_CALLS];
    int csp;
    uint32_t mem[VM_MEM];
    uint32_t arg;
    uint32_t out[VM_OUT];
    int nout;
    uint64_t steps;
    const char *error;
};

/* asm.c: assembles source text; returns 0 or prints a diagnostic and returns -1 */
int assemble(const char *text, struct program *prog);
const char *opcode_name(int op);

/* vm.c */
void vm_reset(struct vm *v, const struct program *p, uint32_t arg);
int vm_run_switch(struct vm *v);
int vm_run_table(struct vm *v);

#endif
