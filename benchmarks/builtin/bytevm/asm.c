/* asm: two-pass assembler from the text form of the bytevm language.
 *
 * Tokens are separated by white space; ';' starts a comment; "name:" defines a
 * label.  Instructions with an operand take a number or (for jumps and calls)
 * a label.  Encoding: one opcode byte, then a 4-byte little-endian operand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"

struct mnemonic {
    const char *name;
    enum opcode op;
    int has_operand;
};

static const struct mnemonic mnemonics[] = {
    {"halt", OP_HALT, 0}, {"push", OP_PUSH, 1}, {"load", OP_LOAD, 1}, {"store", OP_STORE, 1},
    {"jmp", OP_JMP, 1},   {"jz", OP_JZ, 1},     {"jnz", OP_JNZ, 1},   {"call", OP_CALL, 1},
    {"ret", OP_RET, 0},   {"add", OP_ADD, 0},   {"sub", OP_SUB, 0},   {"mul", OP_MUL, 0},
    {"divu", OP_DIVU, 0}, {"modu", OP_MODU, 0}, {"and", OP_AND, 0},   {"or", OP_OR, 0},
    {"xor", OP_XOR, 0},   {"shl", OP_SHL, 0},   {"shr", OP_SHR, 0},   {"lt", OP_LT, 0},
    {"eq", OP_EQ, 0},     {"inc", OP_INC, 0},   {"dec", OP_DEC, 0},   {"dup", OP_DUP, 0},
    {"swap", OP_SWAP, 0}, {"drop", OP_DROP, 0}, {"over", OP_OVER, 0}, {"ldm", OP_LDM, 0},
    {"stm", OP_STM, 0},   {"arg", OP_ARG, 0},   {"print", OP_PRINT, 0},
};
#define NMNEMONICS (sizeof mnemonics / sizeof mnemonics[0])

#define MAX_LABELS 256
#define MAX_TOKEN 64

struct label {
    char name[MAX_TOKEN];
    uint32_t addr;
};

struct assembler {
    const char *src;
    size_t pos;
    int line;
    struct label labels[MAX_LABELS];
    int nlabels;
};

const char *opcode_name(int op)
{
    size_t i;
    for (i = 0; i < NMNEMONICS; i++)
        if ((int)mnemonics[i].op == op)
            return mnemonics[i].name;
    return "?";
}

/* next token into buf; returns its length, 0 at the end */
static size_t next_token(struct assembler *a, char *buf)
{
    const unsigned char *s = (const unsigned char *)a->src;
    size_t n = 0;
    for (;;) {
        unsigned char c = s[a->pos];
        if (c == 0)
            return 0;
        if (c == ';') {
            while (s[a->pos] && s[a->pos] != '\n')
                a->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (c == '\n')
                a->line++;
            a->pos++;
        } else {
            break;
        }
    }
    while (s[a->pos] && s[a->pos] != ' ' && s[a->pos] != '\t' && s[a->pos] != '\n' &&
           s[a->pos] != '\r' && s[a->pos] != ';') {
        if (n + 1 < MAX_TOKEN)
            buf[n++] = (char)s[a->pos];
        a->pos++;
    }
    buf[n] = 0;
    return n;
}

static const struct mnemonic *find_mnemonic(const char *name)
{
    size_t i;
    for (i = 0; i < NMNEMONICS; i++)
        if (strcmp(mnemonics[i].name, name) == 0)
            return &mnemonics[i];
    return NULL;
}

static int find_label(const struct assembler *a, const char *name, uint32_t *addr)
{
    int i;
    for (i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, name) == 0) {
            *addr = a->labels[i].addr;
            return 1;
        }
    return 0;
}

static int parse_number(const char *tok, uint32_t *value)
{
    uint32_t v = 0;
    int neg = 0;
    if (*tok == '-') {
        neg = 1;
        tok++;
    }
    if (!*tok)
        return 0;
    for (; *tok; tok++) {
        if (*tok < '0' || *tok > '9')
            return 0;
        v = v * 10u + (uint32_t)(*tok - '0');
    }
    *value = neg ? 0u - v : v;
    return 1;
}

/* pass 1 (emit == 0) only measures and records labels; pass 2 writes code */
static int pass(struct assembler *a, uint8_t *code, size_t *size, int emit)
{
    char tok[MAX_TOKEN], arg[MAX_TOKEN];
    size_t len, pc = 0;
    a->pos = 0;
    a->line = 1;
    while ((len = next_token(a, tok)) > 0) {
        const struct mnemonic *m;
        if (tok[len - 1] == ':') {
            tok[len - 1] = 0;
            if (!emit) {
                uint32_t dummy;
                if (a->nlabels == MAX_LABELS || find_label(a, tok, &dummy)) {
                    fprintf(stderr, "line %d: bad or duplicate label %s\n", a->line, tok);
                    return -1;
                }
                strcpy(a->labels[a->nlabels].name, tok);
                a->labels[a->nlabels].addr = (uint32_t)pc;
                a->nlabels++;
            }
            continue;
        }
        m = find_mnemonic(tok);
        if (!m) {
            fprintf(stderr, "line %d: unknown instruction %s\n", a->line, tok);
            return -1;
        }
        if (emit)
            code[pc] = (uint8_t)m->op;
        pc++;
        if (m->has_operand) {
            uint32_t v = 0;
            if (!next_token(a, arg)) {
                fprintf(stderr, "line %d: %s needs an operand\n", a->line, tok);
                return -1;
            }
            if (emit && !parse_number(arg, &v) && !find_label(a, arg, &v)) {
                fprintf(stderr, "line %d: bad operand %s\n", a->line, arg);
                return -1;
            }
            if (emit) {
                code[pc] = (uint8_t)v;
                code[pc + 1] = (uint8_t)(v >> 8);
                code[pc + 2] = (uint8_t)(v >> 16);
                code[pc + 3] = (uint8_t)(v >> 24);
            }
            pc += 4;
        }
    }
    *size = pc;
    return 0;
}

int assemble(const char *text, struct program *prog)
{
    struct assembler *a = calloc(1, sizeof *a);
    size_t size = 0;
    int rc;
    a->src = text;
    rc = pass(a, NULL, &size, 0);
    if (rc == 0) {
        prog->code = calloc(size + 1, 1); /* a trailing halt */
        rc = pass(a, prog->code, &prog->size, 1);
        prog->size = size + 1;
    }
    free(a);
    return rc;
}
