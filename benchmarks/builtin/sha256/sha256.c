/* sha256: the SHA-256 hash (FIPS 180-4) with its round constants derived at
 * start-up from integer cube and square roots of the first primes, an
 * incremental update API, HMAC-SHA256 and an iterated hash chain.
 *
 * usage: sha256 MESSAGE REPEAT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;     /* bytes in block */
    uint64_t length; /* total bytes */
};

static uint32_t K[64], H0[8];

/* ------------------------------------------------------------ constants */
struct u128 {
    uint64_t hi, lo;
};

static struct u128 mul64(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    struct u128 r;
    r.lo = mid << 32 | (p00 & 0xffffffffu);
    r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return r;
}

/* (hi:lo) * b, assuming no overflow past 128 bits */
static struct u128 mul128_64(struct u128 a, uint64_t b)
{
    struct u128 lo = mul64(a.lo, b), r;
    r.lo = lo.lo;
    r.hi = a.hi * b + lo.hi;
    return r;
}

static int le128(struct u128 a, struct u128 b)
{
    return a.hi != b.hi ? a.hi < b.hi : a.lo <= b.lo;
}

/* largest x < 2^40 with x^power <= p * 2^(32*power): x / 2^32 = root(p) */
static uint64_t fixed_root(uint32_t p, int power)
{
    struct u128 target;
    uint64_t x = 0;
    int bit;
    target.lo = 0;
    target.hi = (uint64_t)p << (32 * power - 64); /* p * 2^(32*power), power 2 or 3 */
    for (bit = 39; bit >= 0; bit--) {
        uint64_t c = x | (uint64_t)1 << bit;
        struct u128 v = mul64(c, c);
        if (power == 3)
            v = mul128_64(v, c);
        if (le128(v, target))
            x = c;
    }
    return x;
}

static void derive_constants(void)
{
    uint32_t primes[64];
    int n = 0;
    uint32_t c;
    for (c = 2; n < 64; c++) {
        int i, is_prime = 1;
        for (i = 0; i < n && primes[i] * primes[i] <= c; i++)
            if (c % primes[i] == 0) {
                is_prime = 0;
                break;
            }
        if (is_prime)
            primes[n++] = c;
    }
    for (n = 0; n < 64; n++)
        K[n] = (uint32_t)fixed_root(primes[n], 3); /* fractional 32 bits */
    for (n = 0; n < 8; n++)
        H0[n] = (uint32_t)fixed_root(primes[n], 2);
}

/* ------------------------------------------------------------ compression */
static uint32_t rotr(uint32_t x, int n)
{
    return x >> n | x << (32 - n);
}

static void compress(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3];
    e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha_init(struct sha256 *s)
{
    memcpy(s->h, H0, sizeof s->h);
    s->fill = 0;
    s->length = 0;
}

static void sha_update(struct sha256 *s, const uint8_t *p, size_t n)
{
    s->length += n;
    if (s->fill) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill < 64)
            return;
        compress(s->h, s->block);
        s->fill = 0;
    }
    while (n >= 64) {
        compress(s->h, p);
        p += 64;
        n -= 64;
    }
    memcpy(s->block, p, n);
    s->fill = n;
}

static void sha_final(struct sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->length * 8u;
    int i;
    s->block[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->block + s->fill, 0, 64 - s->fill);
        compress(s->h, s->block);
        s->fill = 0;
    }
    memset(s->block + s->fill, 0, 56 - s->fill);
    for (i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(s->h, s->block);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void sha_oneshot(const uint8_t *p, size_t n, uint8_t out[32])
{
    struct sha256 s;
    sha_init(&s);
    sha_update(&s, p, n);
    sha_final(&s, out);
}

static void hmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t n, uint8_t out[32])
{
    uint8_t k[64], pad[64], inner[32];
    struct sha256 s;
    int i;
    memset(k, 0, sizeof k);
    if (klen > 64)
        sha_oneshot(key, klen, k);
    else
        memcpy(k, key, klen);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36u;
    sha_init(&s);
    sha_update(&s, pad, 64);
    sha_update(&s, msg, n);
    sha_final(&s, inner);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5cu;
    sha_init(&s);
    sha_update(&s, pad, 64);
    sha_update(&s, inner, 32);
    sha_final(&s, out);
}

static void print_digest(const char *label, const uint8_t d[32])
{
    int i;
    printf("%s", label);
    for (i = 0; i < 32; i++)
        printf("%02x", d[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    FILE *f;
    uint8_t *msg, digest[32], mac[32], chain[32], acc[32];
    size_t len;
    long size;
    int repeat, r, i, j;
    static const uint8_t key[] = "builtin-suite-key";

    if (argc < 3) {
        fprintf(stderr, "usage: %s MESSAGE REPEAT\n", argv[0]);
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
    msg = malloc((size_t)size + 1);
    len = fread(msg, 1, (size_t)size, f);
    fclose(f);
    derive_constants();

    memset(acc, 0, sizeof acc);
    memset(chain, 0, sizeof chain);
    for (r = 0; r < repeat; r++) {
        struct sha256 s;
        /* streaming in uneven pieces must match the one-shot digest */
        size_t piece = 1 + (size_t)r % 131, pos;
        sha_init(&s);
        for (pos = 0; pos < len; pos += piece)
            sha_update(&s, msg + pos, len - pos < piece ? len - pos : piece);
        sha_final(&s, digest);
        hmac(key, sizeof key - 1, msg + (size_t)r % 64, len / 2, mac);
        /* a short chain of hashes of hashes */
        for (j = 0; j < 40; j++) {
            chain[j % 32] ^= (uint8_t)r;
            sha_oneshot(chain, 32, chain);
        }
        for (i = 0; i < 32; i++)
            acc[i] ^= (uint8_t)(digest[i] + mac[i] + chain[i]);
    }
    sha_oneshot(msg, len, digest);
    hmac(key, sizeof key - 1, msg, len, mac);
    printf("K[0] %08x K[63] %08x H0[0] %08x\n", (unsigned)K[0], (unsigned)K[63], (unsigned)H0[0]);
    print_digest("sha256 ", digest);
    print_digest("hmac   ", mac);
    print_digest("rounds ", acc);
    free(msg);
    return 0;
}
