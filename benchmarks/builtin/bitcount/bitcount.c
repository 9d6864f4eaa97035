/* bitcount: population count of 32-bit words by eight different methods.
 *
 * usage: bitcount WORDS.BIN REPEAT
 * Reads little-endian 32-bit words, counts their set bits with every method
 * (each perturbs the words differently per round so nothing is hoisted), checks
 * that all methods agree and prints per-method totals.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef unsigned (*count_fn)(uint32_t);

static unsigned char byte_table[256];
static const unsigned char nibble_table[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

static unsigned count_shift(uint32_t x)
{
    unsigned n = 0;
    int i;
    for (i = 0; i < 32; i++) {
        n += x & 1u;
        x >>= 1;
    }
    return n;
}

static unsigned count_sparse(uint32_t x)
{
    unsigned n = 0;
    while (x) {
        x &= x - 1u;
        n++;
    }
    return n;
}

static unsigned count_dense(uint32_t x)
{
    /* counts the zero bits of x, then subtracts */
    unsigned zeros = 0;
    x = ~x;
    while (x) {
        x &= x - 1u;
        zeros++;
    }
    return 32u - zeros;
}

static unsigned count_bytes(uint32_t x)
{
    return byte_table[x & 0xffu] + byte_table[(x >> 8) & 0xffu] +
           byte_table[(x >> 16) & 0xffu] + byte_table[x >> 24];
}

static unsigned count_nibbles(uint32_t x)
{
    unsigned n = 0;
    while (x) {
        n += nibble_table[x & 0xfu];
        x >>= 4;
    }
    return n;
}

static unsigned count_swar(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (unsigned)((x * 0x01010101u) >> 24);
}

static unsigned count_octal(uint32_t x)
{
    /* sum of bits within groups of three, then fold the groups by mod 63 */
    uint32_t t = x - ((x >> 1) & 033333333333u) - ((x >> 2) & 011111111111u);
    return (unsigned)(((t + (t >> 3)) & 030707070707u) % 63u);
}

static unsigned count_split_rec(uint32_t x, int width)
{
    uint32_t mask;
    int half;
    if (width <= 4)
        return nibble_table[x & 0xfu];
    half = width / 2;
    mask = (half == 32) ? 0xffffffffu : ((1u << half) - 1u);
    return count_split_rec(x & mask, half) + count_split_rec(x >> half, half);
}

static unsigned count_split(uint32_t x)
{
    return count_split_rec(x, 32);
}

static const struct {
    const char *name;
    count_fn fn;
} methods[] = {
    {"shift", count_shift},   {"sparse", count_sparse}, {"dense", count_dense},
    {"bytes", count_bytes},   {"nibbles", count_nibbles}, {"swar", count_swar},
    {"octal", count_octal},   {"split", count_split},
};
#define NMETHODS ((int)(sizeof(methods) / sizeof(methods[0])))

static void init_tables(void)
{
    int i;
    byte_table[0] = 0;
    for (i = 1; i < 256; i++)
        byte_table[i] = (unsigned char)((i & 1) + byte_table[i / 2]);
}

static uint32_t *load_words(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[4];
    size_t cap = 1024, n = 0;
    uint32_t *w;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    w = malloc(cap * sizeof *w);
    while (fread(buf, 1, 4, f) == 4) {
        if (n == cap) {
            cap *= 2;
            w = realloc(w, cap * sizeof *w);
        }
        w[n++] = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                 (uint32_t)buf[3] << 24;
    }
    fclose(f);
    *count = n;
    return w;
}

int main(int argc, char **argv)
{
    size_t n, i;
    uint32_t *words;
    uint64_t totals[NMETHODS];
    uint32_t mix = 0;
    int repeat, r, m, mismatches = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s WORDS.BIN REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    init_tables();
    words = load_words(argv[1], &n);

    for (m = 0; m < NMETHODS; m++)
        totals[m] = 0;
    for (r = 0; r < repeat; r++) {
        uint32_t key = (uint32_t)r * 0x9e3779b9u;
        uint32_t rot = (uint32_t)r & 31u;
        for (m = 0; m < NMETHODS; m++) {
            count_fn fn = methods[m].fn;
            uint64_t sum = 0;
            for (i = 0; i < n; i++) {
                uint32_t x = words[i] ^ key;
                x = rot ? (x << rot | x >> (32u - rot)) : x;
                sum += fn(x);
            }
            totals[m] += sum;
        }
        /* cross-check word by word on a strided sample */
        for (i = (size_t)r % 7u; i < n; i += 7) {
            unsigned ref = count_swar(words[i]);
            for (m = 0; m < NMETHODS; m++)
                if (methods[m].fn(words[i]) != ref)
                    mismatches++;
            mix = (mix * 31u) ^ ref;
        }
    }
    for (m = 0; m < NMETHODS; m++)
        printf("%-8s %llu\n", methods[m].name, (unsigned long long)totals[m]);
    printf("words %lu mix %08x mismatches %d\n", (unsigned long)n, (unsigned)mix, mismatches);
    free(words);
    return mismatches != 0;
}
