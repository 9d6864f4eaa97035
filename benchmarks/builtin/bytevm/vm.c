/* bytevm: assembles a stack-machine program (asm.c) and runs it with two
 * interpreters, a switch loop and a function-pointer handler table, checking
 * that both agree.
 *
 * usage: bytevm PROGRAM.VM REPEAT
 * The program reads REPEAT with the "arg" instruction; "print" values are
 * reported at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"

void vm_reset(struct vm *v, const struct program *p, uint32_t arg)
{
    memset(v, 0, sizeof *v);
    v->prog = p;
    v->arg = arg;
}

static uint32_t operand(const struct vm *v)
{
    const uint8_t *c = v->prog->code + v->pc;
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

/* ------------------------------------------------------------ switch interpreter */
#define NEED(k)                          \
    do {                                 \
        if (sp < (k)) {                  \
            v->error = "stack underflow"; \
            goto fail;                   \
        }                                \
    } while (0)
#define ROOM()                          \
    do {                                \
        if (sp >= VM_STACK) {           \
            v->error = "stack overflow"; \
            goto fail;                  \
        }                               \
    } while (0)
#define FETCH(dst)                          \
    do {                                    \
        if (pc + 4 > size) {                \
            v->error = "truncated operand"; \
            goto fail;                      \
        }                                   \
        v->pc = pc;                         \
        (dst) = operand(v);                 \
        pc += 4;                            \
    } while (0)
#define BINOP(expr)                 \
    do {                            \
        uint32_t b_, a_;            \
        NEED(2);                    \
        b_ = st[--sp];              \
        a_ = st[sp - 1];            \
        st[sp - 1] = (expr);        \
    } while (0)

int vm_run_switch(struct vm *v)
{
    const uint8_t *code = v->prog->code;
    size_t size = v->prog->size, pc = v->pc;
    uint32_t *st = v->stack;
    int sp = v->sp;
    uint64_t steps = 0;
    for (;;) {
        uint8_t op;
        uint32_t x;
        if (pc >= size) {
            v->error = "pc out of range";
            goto fail;
        }
        op = code[pc++];
        steps++;
        switch (op) {
        case OP_HALT:
            v->pc = pc;
            v->sp = sp;
            v->steps += steps;
            return 0;
        case OP_PUSH:
            ROOM();
            FETCH(x);
            st[sp++] = x;
            break;
        case OP_LOAD:
            ROOM();
            FETCH(x);
            st[sp++] = v->regs[x % VM_REGS];
            break;
        case OP_STORE:
            NEED(1);
            FETCH(x);
            v->regs[x % VM_REGS] = st[--sp];
            break;
        case OP_JMP:
            FETCH(x);
            pc = x;
            break;
        case OP_JZ:
        case OP_JNZ: {
            uint32_t target;
            NEED(1);
            FETCH(target);
            x = st[--sp];
            if ((x == 0) == (op == OP_JZ))
                pc = target;
            break;
        }
        case OP_CALL:
            if (v->csp >= VM_CALLS) {
                v->error = "call stack overflow";
                goto fail;
            }
            FETCH(x);
            v->calls[v->csp++] = (uint32_t)pc;
            pc = x;
            break;
        case OP_RET:
            if (v->csp == 0) {
                v->error = "return without call";
                goto fail;
            }
            pc = v->calls[--v->csp];
            break;
        case OP_ADD: BINOP(a_ + b_); break;
        case OP_SUB: BINOP(a_ - b_); break;
        case OP_MUL: BINOP(a_ * b_); break;
        case OP_DIVU: BINOP(b_ ? a_ / b_ : 0u); break;
        case OP_MODU: BINOP(b_ ? a_ % b_ : 0u); break;
        case OP_AND: BINOP(a_ & b_); break;
        case OP_OR: BINOP(a_ | b_); break;
        case OP_XOR: BINOP(a_ ^ b_); break;
        case OP_SHL: BINOP(a_ << (b_ & 31u)); break;
        case OP_SHR: BINOP(a_ >> (b_ & 31u)); break;
        case OP_LT: BINOP(a_ < b_ ? 1u : 0u); break;
        case OP_EQ: BINOP(a_ == b_ ? 1u : 0u); break;
        case OP_INC:
            NEED(1);
            st[sp - 1]++;
            break;
        case OP_DEC:
            NEED(1);
            st[sp - 1]--;
            break;
        case OP_DUP:
            NEED(1);
            ROOM();
            st[sp] = st[sp - 1];
            sp++;
            break;
        case OP_SWAP:
            NEED(2);
            x = st[sp - 1];
            st[sp - 1] = st[sp - 2];
            st[sp - 2] = x;
            break;
        case OP_DROP:
            NEED(1);
            sp--;
            break;
        case OP_OVER:
            NEED(2);
            ROOM();
            st[sp] = st[sp - 2];
            sp++;
            break;
        case OP_LDM:
            NEED(1);
            st[sp - 1] = v->mem[st[sp - 1] % VM_MEM];
            break;
        case OP_STM:
            NEED(2);
            v->mem[st[sp - 1] % VM_MEM] = st[sp - 2];
            sp -= 2;
            break;
        case OP_ARG:
            ROOM();
            st[sp++] = v->arg;
            break;
        case OP_PRINT:
            NEED(1);
            x = st[--sp];
            if (v->nout < VM_OUT)
                v->out[v->nout++] = x;
            break;
        default:
            v->error = "bad opcode";
            goto fail;
        }
    }
fail:
    v->pc = pc;
    v->sp = sp;
    v->steps += steps;
    return -1;
}

/* ------------------------------------------------------------ handler-table interpreter */
/* each handler returns 0 to continue, 1 to halt, -1 on error; v->pc is live */
typedef int (*handler)(struct vm *v);

static int pop(struct vm *v, uint32_t *x)
{
    if (v->sp == 0) {
        v->error = "stack underflow";
        return -1;
    }
    *x = v->stack[--v->sp];
    return 0;
}

static int push(struct vm *v, uint32_t x)
{
    if (v->sp >= VM_STACK) {
        v->error = "stack overflow";
        return -1;
    }
    v->stack[v->sp++] = x;
    return 0;
}

static int imm(struct vm *v, uint32_t *x)
{
    if (v->pc + 4 > v->prog->size) {
        v->error = "truncated operand";
        return -1;
    }
    *x = operand(v);
    v->pc += 4;
    return 0;
}

static int h_halt(struct vm *v) { (void)v; return 1; }
static int h_push(struct vm *v) { uint32_t x; return imm(v, &x) ? -1 : push(v, x); }
static int h_load(struct vm *v) { uint32_t r; return imm(v, &r) ? -1 : push(v, v->regs[r % VM_REGS]); }

static int h_store(struct vm *v)
{
    uint32_t r, x;
    if (imm(v, &r) || pop(v, &x))
        return -1;
    v->regs[r % VM_REGS] = x;
    return 0;
}

static int h_jmp(struct vm *v)
{
    uint32_t t;
    if (imm(v, &t))
        return -1;
    v->pc = t;
    return 0;
}

static int cond_jump(struct vm *v, int when_zero)
{
    uint32_t t, x;
    if (imm(v, &t) || pop(v, &x))
        return -1;
    if ((x == 0) == when_zero)
        v->pc = t;
    return 0;
}

static int h_jz(struct vm *v) { return cond_jump(v, 1); }
static int h_jnz(struct vm *v) { return cond_jump(v, 0); }

static int h_call(struct vm *v)
{
    uint32_t t;
    if (imm(v, &t))
        return -1;
    if (v->csp >= VM_CALLS) {
        v->error = "call stack overflow";
        return -1;
    }
    v->calls[v->csp++] = (uint32_t)v->pc;
    v->pc = t;
    return 0;
}

static int h_ret(struct vm *v)
{
    if (v->csp == 0) {
        v->error = "return without call";
        return -1;
    }
    v->pc = v->calls[--v->csp];
    return 0;
}

static uint32_t f_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t f_sub(uint32_t a, uint32_t b) { return a - b; }
static uint32_t f_mul(uint32_t a, uint32_t b) { return a * b; }
static uint32_t f_divu(uint32_t a, uint32_t b) { return b ? a / b : 0u; }
static uint32_t f_modu(uint32_t a, uint32_t b) { return b ? a % b : 0u; }
static uint32_t f_and(uint32_t a, uint32_t b) { return a & b; }
static uint32_t f_or(uint32_t a, uint32_t b) { return a | b; }
static uint32_t f_xor(uint32_t a, uint32_t b) { return a ^ b; }
static uint32_t f_shl(uint32_t a, uint32_t b) { return a << (b & 31u); }
static uint32_t f_shr(uint32_t a, uint32_t b) { return a >> (b & 31u); }
static uint32_t f_lt(uint32_t a, uint32_t b) { return a < b; }
static uint32_t f_eq(uint32_t a, uint32_t b) { return a == b; }

static uint32_t (*const binops[NUM_OPS])(uint32_t, uint32_t) = {
    [OP_ADD] = f_add, [OP_SUB] = f_sub, [OP_MUL] = f_mul, [OP_DIVU] = f_divu,
    [OP_MODU] = f_modu, [OP_AND] = f_and, [OP_OR] = f_or, [OP_XOR] = f_xor,
    [OP_SHL] = f_shl, [OP_SHR] = f_shr, [OP_LT] = f_lt, [OP_EQ] = f_eq,
};

static int h_binop(struct vm *v)
{
    uint32_t a, b;
    uint8_t op = v->prog->code[v->pc - 1];
    if (pop(v, &b) || pop(v, &a))
        return -1;
    return push(v, binops[op](a, b));
}

static int h_inc(struct vm *v) { uint32_t x; return pop(v, &x) ? -1 : push(v, x + 1u); }
static int h_dec(struct vm *v) { uint32_t x; return pop(v, &x) ? -1 : push(v, x - 1u); }

static int h_dup(struct vm *v)
{
    uint32_t x;
    return (pop(v, &x) || push(v, x)) ? -1 : push(v, x);
}

static int h_swap(struct vm *v)
{
    uint32_t a, b;
    return (pop(v, &b) || pop(v, &a) || push(v, b)) ? -1 : push(v, a);
}

static int h_drop(struct vm *v) { uint32_t x; return pop(v, &x); }

static int h_over(struct vm *v)
{
    uint32_t a, b;
    return (pop(v, &b) || pop(v, &a) || push(v, a) || push(v, b)) ? -1 : push(v, a);
}

static int h_ldm(struct vm *v)
{
    uint32_t addr;
    return pop(v, &addr) ? -1 : push(v, v->mem[addr % VM_MEM]);
}

static int h_stm(struct vm *v)
{
    uint32_t addr, x;
    if (pop(v, &addr) || pop(v, &x))
        return -1;
    v->mem[addr % VM_MEM] = x;
    return 0;
}

static int h_arg(struct vm *v) { return push(v, v->arg); }

static int h_print(struct vm *v)
{
    uint32_t x;
    if (pop(v, &x))
        return -1;
    if (v->nout < VM_OUT)
        v->out[v->nout++] = x;
    return 0;
}

static const handler handlers[NUM_OPS] = {
    [OP_HALT] = h_halt, [OP_PUSH] = h_push,   [OP_LOAD] = h_load,   [OP_STORE] = h_store,
    [OP_JMP] = h_jmp,   [OP_JZ] = h_jz,       [OP_JNZ] = h_jnz,     [OP_CALL] = h_call,
    [OP_RET] = h_ret,   [OP_ADD] = h_binop,   [OP_SUB] = h_binop,   [OP_MUL] = h_binop,
    [OP_DIVU] = h_binop, [OP_MODU] = h_binop, [OP_AND] = h_binop,   [OP_OR] = h_binop,
    [OP_XOR] = h_binop, [OP_SHL] = h_binop,   [OP_SHR] = h_binop,   [OP_LT] = h_binop,
    [OP_EQ] = h_binop,  [OP_INC] = h_inc,     [OP_DEC] = h_dec,     [OP_DUP] = h_dup,
    [OP_SWAP] = h_swap, [OP_DROP] = h_drop,   [OP_OVER] = h_over,   [OP_LDM] = h_ldm,
    [OP_STM] = h_stm,   [OP_ARG] = h_arg,     [OP_PRINT] = h_print,
};

int vm_run_table(struct vm *v)
{
    for (;;) {
        uint8_t op;
        int rc;
        if (v->pc >= v->prog->size) {
            v->error = "pc out of range";
            return -1;
        }
        op = v->prog->code[v->pc++];
        v->steps++;
        if (op >= NUM_OPS) {
            v->error = "bad opcode";
            return -1;
        }
        rc = handlers[op](v);
        if (rc)
            return rc > 0 ? 0 : -1;
    }
}

/* ------------------------------------------------------------ driver */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    n = fread(buf, 1, (size_t)size, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static uint32_t mem_hash(const struct vm *v)
{
    uint32_t h = 2166136261u;
    int i;
    for (i = 0; i < VM_MEM; i++)
        h = (h ^ v->mem[i]) * 16777619u;
    return h;
}

int main(int argc, char **argv)
{
    struct program prog;
    struct vm *a, *b;
    char *text;
    int repeat, i, ra, rb, same;

    if (argc < 3) {
        fprintf(stderr, "usage: %s PROGRAM.VM REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    text = read_text(argv[1]);
    if (assemble(text, &prog) != 0)
        return 2;
    a = malloc(sizeof *a);
    b = malloc(sizeof *b);
    vm_reset(a, &prog, (uint32_t)repeat);
    vm_reset(b, &prog, (uint32_t)repeat);
    ra = vm_run_switch(a);
    rb = vm_run_table(b);
    if (ra || rb) {
        fprintf(stderr, "vm error: %s / %s at pc %lu (%s)\n", a->error ? a->error : "-",
                b->error ? b->error : "-", (unsigned long)a->pc, opcode_name(prog.code[a->pc - 1]));
        return 3;
    }
    same = a->nout == b->nout && a->steps == b->steps && a->sp == b->sp &&
           memcmp(a->out, b->out, sizeof a->out) == 0 && memcmp(a->regs, b->regs, sizeof a->regs) == 0 &&
           mem_hash(a) == mem_hash(b);
    printf("code %lu bytes, %llu instructions\n", (unsigned long)prog.size,
           (unsigned long long)a->steps);
    printf("printed:");
    for (i = 0; i < a->nout; i++)
        printf(" %lu", (unsigned long)a->out[i]);
    printf("\nmemory %08x interpreters %s\n", (unsigned)mem_hash(a), same ? "agree" : "DISAGREE");
    free(a);
    free(b);
    free(prog.code);
    free(text);
    return same ? 0 : 1;
}
