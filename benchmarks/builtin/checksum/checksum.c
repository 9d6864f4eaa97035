/* checksum: CRC-32 (table and bitwise), CRC-32C by slicing, Adler-32, FNV-1a
 * (32 and 64 bit) and a djb2-style hash over a binary file.
 *
 * usage: checksum BLOB REPEAT
 * Every round hashes the whole buffer with each function, then a window of it
 * whose start and length depend on the round, and folds everything together.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRC32_POLY 0xedb88320u  /* reflected IEEE 802.3 polynomial */
#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[256];
static uint32_t crcc_table[4][256];

static void make_tables(void)
{
    uint32_t i, c;
    int k, s;
    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ CRC32_POLY : c >> 1;
        crc_table[i] = c;
        c = i;
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
        crcc_table[0][i] = c;
    }
    for (s = 1; s < 4; s++)
        for (i = 0; i < 256; i++) {
            c = crcc_table[s - 1][i];
            crcc_table[s][i] = (c >> 8) ^ crcc_table[0][c & 0xffu];
        }
}

static uint32_t crc32_table(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xffu] ^ (c >> 8);
    return ~c;
}

static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) {
            uint32_t mask = 0u - (c & 1u);
            c = (c >> 1) ^ (CRC32_POLY & mask);
        }
    }
    return ~c;
}

static uint32_t crc32c_slice4(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n >= 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        c = crcc_table[3][c & 0xffu] ^ crcc_table[2][(c >> 8) & 0xffu] ^
            crcc_table[1][(c >> 16) & 0xffu] ^ crcc_table[0][c >> 24];
        p += 4;
        n -= 4;
    }
    while (n--)
        c = crcc_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
    return ~c;
}

static uint32_t adler32(const unsigned char *p, size_t n)
{
    const uint32_t MOD = 65521u;
    uint32_t a = 1, b = 0;
    while (n > 0) {
        size_t chunk = n < 5552 ? n : 5552; /* largest block without overflow */
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    return b << 16 | a;
}

static uint32_t fnv1a32(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    const unsigned char *end = p + n;
    while (p < end) {
        h ^= *p++;
        h *= 1099511628211ull;
    }
    return h;
}

static uint32_t djb2(const unsigned char *p, size_t n)
{
    uint32_t h = 5381;
    size_t i;
    for (i = 0; i < n; i++)
        h = ((h << 5) + h) ^ p[i];
    return h;
}

struct digest {
    uint32_t crc, crc_bits, crcc, adler, fnv32, djb;
    uint64_t fnv64;
};

static void digest_all(const unsigned char *p, size_t n, struct digest *d, int with_bitwise)
{
    d->crc = crc32_table(p, n);
    d->crc_bits = with_bitwise ? crc32_bitwise(p, n) : d->crc;
    d->crcc = crc32c_slice4(p, n);
    d->adler = adler32(p, n);
    d->fnv32 = fnv1a32(p, n);
    d->fnv64 = fnv1a64(p, n);
    d->djb = djb2(p, n);
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long size;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    size_t len;
    unsigned char *buf;
    struct digest whole, win;
    uint32_t fold = 0;
    uint64_t fold64 = 0;
    int repeat, r, bad = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s BLOB REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    buf = read_all(argv[1], &len);
    make_tables();
    memset(&whole, 0, sizeof whole);

    for (r = 0; r < repeat; r++) {
        size_t start = ((size_t)r * 7919u) % (len / 2);
        size_t wlen = len / 4 + ((size_t)r * 104729u) % (len / 4);
        digest_all(buf, len, &whole, r == 0);
        digest_all(buf + start, wlen, &win, 1);
        if (win.crc != win.crc_bits || whole.crc != whole.crc_bits)
            bad++;
        fold = (fold << 7 | fold >> 25) ^ win.crc ^ win.crcc ^ win.adler ^ win.fnv32 ^ win.djb;
        fold64 = fold64 * 31u + win.fnv64;
    }
    printf("bytes   %lu\n", (unsigned long)len);
    printf("crc32   %08x\n", (unsigned)whole.crc);
    printf("crc32c  %08x\n", (unsigned)whole.crcc);
    printf("adler32 %08x\n", (unsigned)whole.adler);
    printf("fnv1a32 %08x\n", (unsigned)whole.fnv32);
    printf("fnv1a64 %016llx\n", (unsigned long long)whole.fnv64);
    printf("djb2x   %08x\n", (unsigned)whole.djb);
    printf("windows %08x %016llx bad %d\n", (unsigned)fold, (unsigned long long)fold64, bad);
    free(buf);
    return bad != 0;
}
