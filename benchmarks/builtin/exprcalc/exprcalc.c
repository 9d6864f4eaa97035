/* exprcalc: a tokenizer and recursive-descent parser for C-like integer
 * expressions (ternary, comparison, bitwise, shift, arithmetic, unary minus,
 * max()), building an AST that is evaluated two ways: by a recursive tree
 * walker and by compiling to postfix code for a small stack evaluator.
 *
 * usage: exprcalc EXPRS.TXT REPEAT
 * Arithmetic is on uint32 (wrapping); x / 0 and x % 0 are 0; shift counts
 * are taken mod 32.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVARS 26
#define VARSETS 12

/* ------------------------------------------------------------ tokens */
enum tok {
    T_END, T_NUM, T_VAR, T_MAX, T_LPAREN, T_RPAREN, T_COMMA, T_QUEST, T_COLON,
    T_OR, T_XOR, T_AND, T_LT, T_SHL, T_SHR, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
    T_ERROR
};

struct lexer {
    const unsigned char *p;
    enum tok tok;
    uint32_t value; /* number value or variable index */
};

static void next(struct lexer *lx)
{
    const unsigned char *p = lx->p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 0 || *p == '\n') {
        lx->tok = T_END;
    } else if (*p >= '0' && *p <= '9') {
        uint32_t v = 0;
        while (*p >= '0' && *p <= '9')
            v = v * 10u + (uint32_t)(*p++ - '0');
        lx->tok = T_NUM;
        lx->value = v;
        lx->p = p;
        return;
    } else if (*p >= 'a' && *p <= 'z') {
        if (strncmp((const char *)p, "max", 3) == 0 && !(p[3] >= 'a' && p[3] <= 'z')) {
            lx->tok = T_MAX;
            lx->p = p + 3;
            return;
        }
        lx->tok = T_VAR;
        lx->value = (uint32_t)(*p - 'a');
        p++;
        if (*p >= 'a' && *p <= 'z')
            lx->tok = T_ERROR; /* only one-letter variables */
    } else {
        switch (*p) {
        case '(': lx->tok = T_LPAREN; break;
        case ')': lx->tok = T_RPAREN; break;
        case ',': lx->tok = T_COMMA; break;
        case '?': lx->tok = T_QUEST; break;
        case ':': lx->tok = T_COLON; break;
        case '|': lx->tok = T_OR; break;
        case '^': lx->tok = T_XOR; break;
        case '&': lx->tok = T_AND; break;
        case '+': lx->tok = T_PLUS; break;
        case '-': lx->tok = T_MINUS; break;
        case '*': lx->tok = T_STAR; break;
        case '/': lx->tok = T_SLASH; break;
        case '%': lx->tok = T_PERCENT; break;
        case '<':
            if (p[1] == '<') {
                lx->tok = T_SHL;
                p++;
            } else {
                lx->tok = T_LT;
            }
            break;
        case '>':
            if (p[1] == '>') {
                lx->tok = T_SHR;
                p++;
            } else {
                lx->tok = T_ERROR;
            }
            break;
        default: lx->tok = T_ERROR; break;
        }
        p++;
    }
    lx->p = p;
}

/* ------------------------------------------------------------ AST */
enum kind { N_NUM, N_VAR, N_NEG, N_BIN, N_COND, N_MAX };

struct node {
    enum kind kind;
    enum tok op; /* for N_BIN */
    uint32_t value;
    int a, b, c; /* children, indices into the pool */
};

struct parser {
    struct lexer lx;
    struct node *pool;
    int n, cap;
    int error;
};

static int new_node(struct parser *ps, enum kind k, enum tok op, uint32_t value, int a, int b, int c)
{
    struct node *nd;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->pool = realloc(ps->pool, (size_t)ps->cap * sizeof *ps->pool);
    }
    nd = &ps->pool[ps->n];
    nd->kind = k;
    nd->op = op;
    nd->value = value;
    nd->a = a;
    nd->b = b;
    nd->c = c;
    return ps->n++;
}

static int parse_cond(struct parser *ps);

static int expect(struct parser *ps, enum tok t)
{
    if (ps->lx.tok != t) {
        ps->error = 1;
        return 0;
    }
    next(&ps->lx);
    return 1;
}

static int parse_primary(struct parser *ps)
{
    struct lexer *lx = &ps->lx;
    int r, a, b;
    switch (lx->tok) {
    case T_NUM:
        r = new_node(ps, N_NUM, T_END, lx->value, -1, -1, -1);
        next(lx);
        return r;
    case T_VAR:
        r = new_node(ps, N_VAR, T_END, lx->value, -1, -1, -1);
        next(lx);
        return r;
    case T_MINUS:
        next(lx);
        a = parse_primary(ps);
        return new_node(ps, N_NEG, T_END, 0, a, -1, -1);
    case T_LPAREN:
        next(lx);
        r = parse_cond(ps);
        expect(ps, T_RPAREN);
        return r;
    case T_MAX:
        next(lx);
        expect(ps, T_LPAREN);
        a = parse_cond(ps);
        expect(ps, T_COMMA);
        b = parse_cond(ps);
        expect(ps, T_RPAREN);
        return new_node(ps, N_MAX, T_END, 0, a, b, -1);
    default:
        ps->error = 1;
        next(lx);
        return new_node(ps, N_NUM, T_END, 0, -1, -1, -1);
    }
}

/* binary precedence levels, loosest first; each row lists its operators */
static const enum tok levels[][4] = {
    {T_OR, T_END},   {T_XOR, T_END},  {T_AND, T_END},
    {T_LT, T_END},   {T_SHL, T_SHR, T_END},
    {T_PLUS, T_MINUS, T_END},
    {T_STAR, T_SLASH, T_PERCENT, T_END},
};
#define NLEVELS ((int)(sizeof levels / sizeof levels[0]))

static int in_level(int level, enum tok t)
{
    int i;
    for (i = 0; levels[level][i] != T_END; i++)
        if (levels[level][i] == t)
            return 1;
    return 0;
}

static int parse_binary(struct parser *ps, int level)
{
    int left;
    if (level == NLEVELS)
        return parse_primary(ps);
    left = parse_binary(ps, level + 1);
    while (in_level(level, ps->lx.tok)) {
        enum tok op = ps->lx.tok;
        int right;
        next(&ps->lx);
        right = parse_binary(ps, level + 1);
        left = new_node(ps, N_BIN, op, 0, left, right, -1);
    }
    return left;
}

static int parse_cond(struct parser *ps)
{
    int c = parse_binary(ps, 0), a, b;
    if (ps->lx.tok != T_QUEST)
        return c;
    next(&ps->lx);
    a = parse_cond(ps);
    expect(ps, T_COLON);
    b = parse_cond(ps);
    return new_node(ps, N_COND, T_END, 0, c, a, b);
}

/* ------------------------------------------------------------ evaluation */
static uint32_t apply(enum tok op, uint32_t x, uint32_t y)
{
    switch (op) {
    case T_OR: return x | y;
    case T_XOR: return x ^ y;
    case T_AND: return x & y;
    case T_LT: return (int32_t)x < (int32_t)y; /* signed compare, two's complement */
    case T_SHL: return x << (y & 31u);
    case T_SHR: return x >> (y & 31u);
    case T_PLUS: return x + y;
    case T_MINUS: return x - y;
    case T_STAR: return x * y;
    case T_SLASH: return y ? x / y : 0u;
    case T_PERCENT: return y ? x % y : 0u;
    default: return 0;
    }
}

static uint32_t eval_tree(const struct node *pool, int i, const uint32_t *vars)
{
    const struct node *nd = &pool[i];
    uint32_t x, y;
    switch (nd->kind) {
    case N_NUM: return nd->value;
    case N_VAR: return vars[nd->value];
    case N_NEG: return 0u - eval_tree(pool, nd->a, vars);
    case N_BIN:
        x = eval_tree(pool, nd->a, vars);
        y = eval_tree(pool, nd->b, vars);
        return apply(nd->op, x, y);
    case N_COND:
        return eval_tree(pool, nd->a, vars) ? eval_tree(pool, nd->b, vars)
                                            : eval_tree(pool, nd->c, vars);
    case N_MAX:
        x = eval_tree(pool, nd->a, vars);
        y = eval_tree(pool, nd->b, vars);
        return x > y ? x : y;
    }
    return 0;
}

/* postfix code: opcodes below 32 are the binary operators (enum tok values) */
enum { C_NUM = 32, C_VAR, C_NEG, C_MAX, C_JZ, C_JMP, C_END };

struct code {
    uint32_t *w;
    int n, cap;
};

static void emit(struct code *c, uint32_t word)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->w = realloc(c->w, (size_t)c->cap * sizeof *c->w);
    }
    c->w[c->n++] = word;
}

static void compile(const struct node *pool, int i, struct code *c)
{
    const struct node *nd = &pool[i];
    int jz_at, jmp_at;
    switch (nd->kind) {
    case N_NUM: emit(c, C_NUM); emit(c, nd->value); break;
    case N_VAR: emit(c, C_VAR); emit(c, nd->value); break;
    case N_NEG: compile(pool, nd->a, c); emit(c, C_NEG); break;
    case N_BIN: compile(pool, nd->a, c); compile(pool, nd->b, c); emit(c, (uint32_t)nd->op); break;
    case N_MAX: compile(pool, nd->a, c); compile(pool, nd->b, c); emit(c, C_MAX); break;
    case N_COND:
        compile(pool, nd->a, c);
        emit(c, C_JZ);
        jz_at = c->n;
        emit(c, 0);
        compile(pool, nd->b, c);
        emit(c, C_JMP);
        jmp_at = c->n;
        emit(c, 0);
        c->w[jz_at] = (uint32_t)c->n;
        compile(pool, nd->c, c);
        c->w[jmp_at] = (uint32_t)c->n;
        break;
    }
}

static uint32_t run_code(const struct code *c, int start, const uint32_t *vars, uint32_t *stack)
{
    int pc = start, sp = 0;
    for (;;) {
        uint32_t op = c->w[pc++], y;
        switch (op) {
        case C_NUM: stack[sp++] = c->w[pc++]; break;
        case C_VAR: stack[sp++] = vars[c->w[pc++]]; break;
        case C_NEG: stack[sp - 1] = 0u - stack[sp - 1]; break;
        case C_MAX:
            y = stack[--sp];
            if (y > stack[sp - 1])
                stack[sp - 1] = y;
            break;
        case C_JZ:
            if (stack[--sp] == 0)
                pc = (int)c->w[pc];
            else
                pc++;
            break;
        case C_JMP: pc = (int)c->w[pc]; break;
        case C_END: return stack[sp - 1];
        default:
            y = stack[--sp];
            stack[sp - 1] = apply((enum tok)op, stack[sp - 1], y);
            break;
        }
    }
}

static int tree_depth(const struct node *pool, int i)
{
    const struct node *nd = &pool[i];
    int d = 0, t;
    if (nd->a >= 0 && (t = tree_depth(pool, nd->a)) > d)
        d = t;
    if (nd->b >= 0 && (t = tree_depth(pool, nd->b)) > d)
        d = t;
    if (nd->c >= 0 && (t = tree_depth(pool, nd->c)) > d)
        d = t;
    return d + 1;
}

/* ------------------------------------------------------------ driver */
int main(int argc, char **argv)
{
    FILE *f;
    char *text, *line, *save;
    long size;
    size_t len;
    int repeat, r, nexpr = 0, errors = 0, bad = 0, maxdepth = 0, nodes = 0, k, v;
    uint32_t vars[VARSETS][NVARS], hash = 2166136261u, seed = 12345u, *stack;
    int *roots = NULL, *starts = NULL;
    struct parser ps;
    struct code code;

    if (argc < 3) {
        fprintf(stderr, "usage: %s EXPRS.TXT REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)size + 1);
    len = fread(text, 1, (size_t)size, f);
    text[len] = 0;
    fclose(f);
    for (k = 0; (size_t)k < len; k++)
        nexpr += text[k] == '\n';
    nexpr++;
    roots = malloc((size_t)nexpr * sizeof *roots);
    starts = malloc((size_t)nexpr * sizeof *starts);
    stack = malloc(4096 * sizeof *stack);
    memset(&ps, 0, sizeof ps);
    memset(&code, 0, sizeof code);

    for (r = 0; r < repeat; r++) {
        int n = 0;
        /* fresh variable values for this round */
        for (v = 0; v < VARSETS; v++)
            for (k = 0; k < NVARS; k++) {
                seed = seed * 1664525u + 1013904223u;
                vars[v][k] = (v & 1) ? seed >> (seed >> 27) : seed % 2000u;
            }
        /* parse and compile everything again */
        ps.n = 0;
        code.n = 0;
        errors = 0;
        for (line = text; *line; line = save) {
            save = line;
            while (*save && *save != '\n')
                save++;
            if (*save)
                save++;
            ps.lx.p = (const unsigned char *)line;
            ps.error = 0;
            next(&ps.lx);
            if (ps.lx.tok == T_END)
                continue;
            roots[n] = parse_cond(&ps);
            if (ps.lx.tok != T_END)
                ps.error = 1;
            if (ps.error) {
                errors++;
                continue;
            }
            starts[n] = code.n;
            compile(ps.pool, roots[n], &code);
            emit(&code, C_END);
            n++;
        }
        for (k = 0; k < n; k++)
            for (v = 0; v < VARSETS; v++) {
                uint32_t a = eval_tree(ps.pool, roots[k], vars[v]);
                uint32_t b = run_code(&code, starts[k], vars[v], stack);
                if (a != b)
                    bad++;
                hash = (hash ^ a) * 16777619u;
            }
        if (r == 0) {
            for (k = 0; k < n; k++) {
                int d = tree_depth(ps.pool, roots[k]);
                if (d > maxdepth)
                    maxdepth = d;
            }
            nodes = ps.n;
            printf("expressions %d, parse errors %d, nodes %d, code words %d, max depth %d\n", n,
                   errors, nodes, code.n, maxdepth);
            printf("first values: %lu %lu %lu\n", (unsigned long)eval_tree(ps.pool, roots[0], vars[0]),
                   (unsigned long)eval_tree(ps.pool, roots[1], vars[0]),
                   (unsigned long)eval_tree(ps.pool, roots[2], vars[1]));
        }
    }
    printf("hash %08x bad %d\n", (unsigned)hash, bad);
    free(text);
    free(roots);
    free(starts);
    free(stack);
    free(ps.pool);
    free(code.w);
    return bad != 0;
}
