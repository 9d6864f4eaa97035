/* bignum: multiprecision arithmetic on 32-bit limbs - schoolbook and
 * Karatsuba multiplication, factorials (sequential and by product tree),
 * Fibonacci numbers, conversion to decimal by repeated short division, and
 * Montgomery modular exponentiation with a 1024-bit modulus.
 *
 * usage: bignum PARAMS.TXT REPEAT
 * PARAMS.TXT holds lines "factorial N", "fibonacci N", and hexadecimal
 * "modulus", "base" and "exponent".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KARATSUBA_CUTOFF 24

/* a number is a little-endian limb array with a length; no leading zero limbs */
struct bn {
    uint32_t *d;
    int n, cap;
};

static void bn_init(struct bn *x, int cap)
{
    x->d = calloc((size_t)cap, sizeof *x->d);
    x->n = 0;
    x->cap = cap;
}

static void bn_free(struct bn *x)
{
    free(x->d);
    x->d = NULL;
}

static void bn_reserve(struct bn *x, int cap)
{
    if (cap > x->cap) {
        x->d = realloc(x->d, (size_t)cap * sizeof *x->d);
        memset(x->d + x->cap, 0, (size_t)(cap - x->cap) * sizeof *x->d);
        x->cap = cap;
    }
}

static void bn_trim(struct bn *x)
{
    while (x->n > 0 && x->d[x->n - 1] == 0)
        x->n--;
}

static void bn_set_u32(struct bn *x, uint32_t v)
{
    bn_reserve(x, 1);
    x->d[0] = v;
    x->n = v ? 1 : 0;
}

static void bn_copy(struct bn *dst, const struct bn *src)
{
    bn_reserve(dst, src->n + 1);
    memcpy(dst->d, src->d, (size_t)src->n * sizeof *src->d);
    dst->n = src->n;
}

static int bn_cmp(const struct bn *a, const struct bn *b)
{
    int i;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* r = a + b (r may alias a or b) */
static void bn_add(struct bn *r, const struct bn *a, const struct bn *b)
{
    int n = a->n > b->n ? a->n : b->n, i;
    uint64_t carry = 0;
    bn_reserve(r, n + 1);
    for (i = 0; i < n; i++) {
        uint64_t s = carry;
        if (i < a->n)
            s += a->d[i];
        if (i < b->n)
            s += b->d[i];
        r->d[i] = (uint32_t)s;
        carry = s >> 32;
    }
    r->d[n] = (uint32_t)carry;
    r->n = n + 1;
    bn_trim(r);
}

/* r = a - b, requires a >= b */
static void bn_sub(struct bn *r, const struct bn *a, const struct bn *b)
{
    int i;
    uint32_t borrow = 0;
    bn_reserve(r, a->n);
    for (i = 0; i < a->n; i++) {
        uint32_t bi = i < b->n ? b->d[i] : 0;
        uint32_t t = a->d[i] - bi - borrow;
        borrow = (a->d[i] < bi || (a->d[i] == bi && borrow)) ? 1u : 0u;
        r->d[i] = t;
    }
    r->n = a->n;
    bn_trim(r);
}

static void bn_mul_small(struct bn *x, uint32_t m)
{
    uint64_t carry = 0;
    int i;
    bn_reserve(x, x->n + 1);
    for (i = 0; i < x->n; i++) {
        uint64_t p = (uint64_t)x->d[i] * m + carry;
        x->d[i] = (uint32_t)p;
        carry = p >> 32;
    }
    if (carry)
        x->d[x->n++] = (uint32_t)carry;
}

/* x /= m, returns the remainder */
static uint32_t bn_div_small(struct bn *x, uint32_t m)
{
    uint64_t rem = 0;
    int i;
    for (i = x->n - 1; i >= 0; i--) {
        uint64_t cur = rem << 32 | x->d[i];
        x->d[i] = (uint32_t)(cur / m);
        rem = cur % m;
    }
    bn_trim(x);
    return (uint32_t)rem;
}

/* ------------------------------------------------------------ raw multiplication */
/* r[0..na+nb) = a[0..na) * b[0..nb) */
static void mul_school(uint32_t *r, const uint32_t *a, int na, const uint32_t *b, int nb)
{
    int i, j;
    memset(r, 0, (size_t)(na + nb) * sizeof *r);
    for (i = 0; i < na; i++) {
        uint64_t carry = 0, ai = a[i];
        for (j = 0; j < nb; j++) {
            uint64_t t = ai * b[j] + r[i + j] + carry;
            r[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        r[i + nb] = (uint32_t)carry;
    }
}

/* r[0..n) += a[0..m), returns the carry out (m <= n) */
static uint32_t add_into(uint32_t *r, int n, const uint32_t *a, int m)
{
    uint64_t carry = 0;
    int i;
    for (i = 0; i < n; i++) {
        uint64_t s = (uint64_t)r[i] + (i < m ? a[i] : 0u) + carry;
        r[i] = (uint32_t)s;
        carry = s >> 32;
        if (i >= m && !carry)
            return 0;
    }
    return (uint32_t)carry;
}

/* r[0..n) -= a[0..m), the result must stay non-negative */
static void sub_from(uint32_t *r, int n, const uint32_t *a, int m)
{
    uint32_t borrow = 0;
    int i;
    for (i = 0; i < n; i++) {
        uint32_t ai = i < m ? a[i] : 0u, ri = r[i];
        r[i] = ri - ai - borrow;
        borrow = (ri < ai || (ri == ai && borrow)) ? 1u : 0u;
        if (i >= m && !borrow)
            return;
    }
}

/* r[0..2n) = a[0..n) * b[0..n), Karatsuba above the cutoff */
static void mul_karatsuba(uint32_t *r, const uint32_t *a, const uint32_t *b, int n)
{
    int h, h2, i;
    uint32_t *sa, *sb, *z1;
    if (n <= KARATSUBA_CUTOFF) {
        mul_school(r, a, n, b, n);
        return;
    }
    h = n / 2;   /* low half */
    h2 = n - h;  /* high half, >= h */
    sa = calloc((size_t)(h2 + 1), sizeof *sa);
    sb = calloc((size_t)(h2 + 1), sizeof *sb);
    z1 = calloc((size_t)(2 * h2 + 2), sizeof *z1);
    for (i = 0; i < h2; i++) {
        sa[i] = a[h + i];
        sb[i] = b[h + i];
    }
    sa[h2] = add_into(sa, h2, a, h);
    sb[h2] = add_into(sb, h2, b, h);
    mul_karatsuba(r, a, b, h);                   /* z0 in r[0..2h) */
    mul_karatsuba(r + 2 * h, a + h, b + h, h2);  /* z2 in r[2h..2n) */
    mul_karatsuba(z1, sa, sb, h2 + 1);           /* (a0+a1)(b0+b1) */
    sub_from(z1, 2 * h2 + 2, r, 2 * h);
    sub_from(z1, 2 * h2 + 2, r + 2 * h, 2 * h2);
    {
        /* the middle term fits in 2*h2 + 1 limbs; add it at limb h */
        int len = 2 * h2 + 2;
        while (len > 0 && z1[len - 1] == 0)
            len--;
        add_into(r + h, 2 * n - h, z1, len);
    }
    free(sa);
    free(sb);
    free(z1);
}

/* r = a * b with either algorithm (r must not alias) */
static void bn_mul(struct bn *r, const struct bn *a, const struct bn *b, int karatsuba)
{
    int n = a->n > b->n ? a->n : b->n;
    if (a->n == 0 || b->n == 0) {
        r->n = 0;
        return;
    }
    bn_reserve(r, 2 * n);
    if (karatsuba) {
        uint32_t *pa = calloc((size_t)n, sizeof *pa), *pb = calloc((size_t)n, sizeof *pb);
        memcpy(pa, a->d, (size_t)a->n * sizeof *pa);
        memcpy(pb, b->d, (size_t)b->n * sizeof *pb);
        mul_karatsuba(r->d, pa, pb, n);
        free(pa);
        free(pb);
        r->n = 2 * n;
    } else {
        mul_school(r->d, a->d, a->n, b->d, b->n);
        r->n = a->n + b->n;
    }
    bn_trim(r);
}

/* ------------------------------------------------------------ factorials, Fibonacci */
static void factorial_seq(struct bn *r, uint32_t n)
{
    uint32_t i;
    bn_set_u32(r, 1);
    for (i = 2; i <= n; i++)
        bn_mul_small(r, i);
}

/* product of lo..hi by balanced recursion */
static void product_tree(struct bn *r, uint32_t lo, uint32_t hi)
{
    struct bn left, right;
    uint32_t mid;
    if (hi - lo < 8) {
        uint32_t i;
        bn_set_u32(r, lo);
        for (i = lo + 1; i <= hi; i++)
            bn_mul_small(r, i);
        return;
    }
    mid = lo + (hi - lo) / 2;
    bn_init(&left, 8);
    bn_init(&right, 8);
    product_tree(&left, lo, mid);
    product_tree(&right, mid + 1, hi);
    bn_mul(r, &left, &right, 1);
    bn_free(&left);
    bn_free(&right);
}

static void fibonacci(struct bn *r, uint32_t n)
{
    struct bn a, b;
    uint32_t i;
    bn_init(&a, 4);
    bn_init(&b, 4);
    bn_set_u32(&a, 0);
    bn_set_u32(&b, 1);
    for (i = 0; i < n; i++) {
        bn_add(&a, &a, &b); /* (a, b) -> (a + b, b) then swap roles */
        {
            struct bn t = a;
            a = b;
            b = t;
        }
    }
    bn_copy(r, &a);
    bn_free(&a);
    bn_free(&b);
}

/* decimal digits: count, digit sum and the leading digits */
static void decimal_summary(const struct bn *x, int *ndigits, uint32_t *digit_sum, char *lead, int nlead)
{
    struct bn t;
    uint32_t *chunks;
    int nchunks = 0, i, k = 0;
    char buf[16];
    bn_init(&t, 1);
    bn_copy(&t, x);
    chunks = malloc(((size_t)x->n * 10 / 9 + 2) * sizeof *chunks);
    while (t.n > 0)
        chunks[nchunks++] = bn_div_small(&t, 1000000000u);
    *digit_sum = 0;
    *ndigits = 0;
    for (i = nchunks - 1; i >= 0; i--) {
        int len = sprintf(buf, i == nchunks - 1 ? "%lu" : "%09lu", (unsigned long)chunks[i]), j;
        for (j = 0; j < len; j++) {
            *digit_sum += (uint32_t)(buf[j] - '0');
            if (k < nlead)
                lead[k++] = buf[j];
        }
        *ndigits += len;
    }
    if (nchunks == 0) {
        *ndigits = 1;
        if (k < nlead)
            lead[k++] = '0';
    }
    lead[k] = 0;
    bn_free(&t);
    free(chunks);
}

/* ------------------------------------------------------------ Montgomery arithmetic */
struct mont {
    struct bn m;
    int k;          /* limbs of m */
    uint32_t minv;  /* -m^-1 mod 2^32 */
    struct bn r2;   /* R^2 mod m, R = 2^(32k) */
    uint32_t *t;    /* scratch, 2k + 2 limbs */
};

/* r = a * b / R mod m, for a, b < m held in k limbs (zero padded) */
static void mont_mul(const struct mont *ctx, uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    int k = ctx->k, i, j;
    uint32_t *t = ctx->t;
    const uint32_t *m = ctx->m.d;
    uint32_t borrow;
    memset(t, 0, (size_t)(2 * k + 2) * sizeof *t);
    mul_school(t, a, k, b, k);
    for (i = 0; i < k; i++) {
        uint32_t u = t[i] * ctx->minv;
        uint64_t carry = 0;
        for (j = 0; j < k; j++) {
            uint64_t s = (uint64_t)u * m[j] + t[i + j] + carry;
            t[i + j] = (uint32_t)s;
            carry = s >> 32;
        }
        for (j = i + k; carry && j < 2 * k + 2; j++) {
            uint64_t s = (uint64_t)t[j] + carry;
            t[j] = (uint32_t)s;
            carry = s >> 32;
        }
    }
    /* result t[k..2k]; subtract m once if it is >= m */
    {
        int ge = t[2 * k] != 0;
        if (!ge) {
            ge = 1;
            for (j = k - 1; j >= 0; j--)
                if (t[k + j] != m[j]) {
                    ge = t[k + j] > m[j];
                    break;
                }
        }
        borrow = 0;
        for (j = 0; j < k; j++) {
            uint32_t x = t[k + j], y = ge ? m[j] : 0u;
            r[j] = x - y - borrow;
            borrow = (x < y || (x == y && borrow)) ? 1u : 0u;
        }
    }
}

static void mont_init(struct mont *ctx, const struct bn *m)
{
    uint32_t inv = 1;
    int i, bits;
    struct bn x;
    bn_init(&ctx->m, m->n);
    bn_copy(&ctx->m, m);
    ctx->k = m->n;
    for (i = 0; i < 5; i++) /* Newton: each step doubles the correct low bits */
        inv *= 2u - m->d[0] * inv;
    ctx->minv = 0u - inv;
    /* R^2 mod m by 2*32k modular doublings of 1 */
    bn_init(&x, ctx->k + 2);
    bn_set_u32(&x, 1);
    for (bits = 0; bits < 64 * ctx->k; bits++) {
        bn_add(&x, &x, &x);
        if (bn_cmp(&x, &ctx->m) >= 0)
            bn_sub(&x, &x, &ctx->m);
    }
    bn_init(&ctx->r2, ctx->k);
    bn_copy(&ctx->r2, &x);
    bn_reserve(&ctx->r2, ctx->k);
    bn_free(&x);
    ctx->t = malloc((size_t)(2 * ctx->k + 2) * sizeof *ctx->t);
}

static void mont_free(struct mont *ctx)
{
    bn_free(&ctx->m);
    bn_free(&ctx->r2);
    free(ctx->t);
}

/* r = base^exp mod m, left-to-right binary method */
static void mont_pow(const struct mont *ctx, struct bn *r, const struct bn *base, const struct bn *exp)
{
    int k = ctx->k, i, bit;
    uint32_t *b = calloc((size_t)k, sizeof *b), *acc = calloc((size_t)k, sizeof *acc);
    uint32_t *one = calloc((size_t)k, sizeof *one), *r2 = calloc((size_t)k, sizeof *r2);
    memcpy(b, base->d, (size_t)base->n * sizeof *b);
    memcpy(r2, ctx->r2.d, (size_t)ctx->r2.n * sizeof *r2);
    one[0] = 1;
    mont_mul(ctx, b, b, r2);    /* b * R mod m */
    mont_mul(ctx, acc, one, r2); /* 1 * R mod m */
    for (i = exp->n - 1; i >= 0; i--)
        for (bit = 31; bit >= 0; bit--) {
            mont_mul(ctx, acc, acc, acc);
            if ((exp->d[i] >> bit) & 1u)
                mont_mul(ctx, acc, acc, b);
        }
    mont_mul(ctx, acc, acc, one); /* leave Montgomery form */
    bn_reserve(r, k);
    memcpy(r->d, acc, (size_t)k * sizeof *acc);
    r->n = k;
    bn_trim(r);
    free(b);
    free(acc);
    free(one);
    free(r2);
}

/* ------------------------------------------------------------ I/O */
static int parse_hex(struct bn *x, const char *s)
{
    int len = (int)strlen(s), i;
    bn_reserve(x, len / 8 + 1);
    memset(x->d, 0, (size_t)x->cap * sizeof *x->d);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[len - 1 - i];
        uint32_t v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10u;
        else
            return -1;
        x->d[i / 8] |= v << (4 * (i % 8));
    }
    x->n = len / 8 + 1;
    bn_trim(x);
    return 0;
}

static uint32_t bn_hash(const struct bn *x)
{
    uint32_t h = 2166136261u;
    int i;
    for (i = 0; i < x->n; i++)
        h = (h ^ x->d[i]) * 16777619u;
    return h;
}

static void print_hex_tail(const char *label, const struct bn *x)
{
    int i;
    printf("%s", label);
    for (i = x->n < 4 ? x->n - 1 : 3; i >= 0; i--)
        printf("%08lx", (unsigned long)x->d[i]);
    printf(" (%d limbs)\n", x->n);
}

int main(int argc, char **argv)
{
    FILE *f;
    char key[32], val[1024];
    struct bn mod, base, exp, fact, fact2, fib, res, prod, tmp;
    struct mont ctx;
    uint32_t nfact = 100, nfib = 100, hash = 0, dsum;
    int repeat, r, nd, bad = 0;
    char lead[24];

    if (argc < 3) {
        fprintf(stderr, "usage: %s PARAMS.TXT REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    bn_init(&mod, 4);
    bn_init(&base, 4);
    bn_init(&exp, 4);
    f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    while (fscanf(f, "%31s %1023s", key, val) == 2) {
        if (strcmp(key, "factorial") == 0)
            nfact = (uint32_t)strtoul(val, NULL, 10);
        else if (strcmp(key, "fibonacci") == 0)
            nfib = (uint32_t)strtoul(val, NULL, 10);
        else if (strcmp(key, "modulus") == 0)
            parse_hex(&mod, val);
        else if (strcmp(key, "base") == 0)
            parse_hex(&base, val);
        else if (strcmp(key, "exponent") == 0)
            parse_hex(&exp, val);
    }
    fclose(f);
    if (mod.n == 0 || !(mod.d[0] & 1u) || bn_cmp(&base, &mod) >= 0) {
        fprintf(stderr, "need an odd modulus larger than the base\n");
        return 2;
    }
    bn_init(&fact, 4);
    bn_init(&fact2, 4);
    bn_init(&fib, 4);
    bn_init(&res, 4);
    bn_init(&prod, 4);
    bn_init(&tmp, 4);
    mont_init(&ctx, &mod);

    for (r = 0; r < repeat; r++) {
        uint32_t n = nfact + (uint32_t)(r % 5);
        struct bn one;
        factorial_seq(&fact, n);
        product_tree(&fact2, 1, n);
        if (bn_cmp(&fact, &fact2) != 0)
            bad++;
        /* schoolbook and Karatsuba must agree on a big square */
        bn_mul(&prod, &fact, &fact2, 0);
        bn_mul(&tmp, &fact, &fact2, 1);
        if (bn_cmp(&prod, &tmp) != 0)
            bad++;
        hash = (hash * 31u) ^ bn_hash(&prod);
        fibonacci(&fib, nfib + (uint32_t)(r % 3));
        hash = (hash * 31u) ^ bn_hash(&fib);
        /* exponentiate base + r */
        bn_init(&one, 1);
        bn_set_u32(&one, (uint32_t)r);
        bn_add(&tmp, &base, &one);
        bn_free(&one);
        mont_pow(&ctx, &res, &tmp, &exp);
        hash = (hash * 31u) ^ bn_hash(&res);
    }
    factorial_seq(&fact, nfact);
    decimal_summary(&fact, &nd, &dsum, lead, 20);
    printf("%lu! has %d digits, digit sum %lu, starts %s\n", (unsigned long)nfact, nd,
           (unsigned long)dsum, lead);
    fibonacci(&fib, nfib);
    decimal_summary(&fib, &nd, &dsum, lead, 20);
    printf("fib(%lu) has %d digits, digit sum %lu, starts %s\n", (unsigned long)nfib, nd,
           (unsigned long)dsum, lead);
    mont_pow(&ctx, &res, &base, &exp);
    print_hex_tail("base^exp mod m = ", &res);
    printf("hash %08x bad %d\n", (unsigned)hash, bad);
    mont_free(&ctx);
    bn_free(&mod);
    bn_free(&base);
    bn_free(&exp);
    bn_free(&fact);
    bn_free(&fact2);
    bn_free(&fib);
    bn_free(&res);
    bn_free(&prod);
    bn_free(&tmp);
    return bad != 0;
}
