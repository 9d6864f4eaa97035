/* lzcodec: LZ77 (LZSS) and LZW compression round trips over a text corpus.
 *
 * usage: lzcodec CORPUS REPEAT
 * Each round compresses a round-dependent slice of the corpus with both
 * codecs, decompresses, verifies the round trip and hashes the streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

typedef size_t (*compress_fn)(const uint8_t *, size_t, uint8_t *);
typedef long (*decompress_fn)(const uint8_t *, size_t, uint8_t *, size_t);

static const struct codec {
    const char *name;
    compress_fn compress;
    decompress_fn decompress;
} codecs[] = {
    {"lzss", lzss_compress, lzss_decompress},
    {"lzw", lzw_compress, lzw_decompress},
};

static uint32_t fnv(const uint8_t *p, size_t n, uint32_t h)
{
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
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
    size_t len, c;
    uint8_t *data, *packed, *unpacked;
    unsigned long long total_in = 0, total_out[2] = {0, 0};
    uint32_t h[2] = {2166136261u, 2166136261u};
    int repeat, r, bad = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    data = read_all(argv[1], &len);
    packed = malloc(codec_bound(len));
    unpacked = malloc(len + 1);

    for (r = 0; r < repeat; r++) {
        /* slices alternate between text-only and text plus the binary tail */
        size_t n = len / 2 + ((size_t)r * 2749u) % (len / 2);
        size_t off = (r & 1) ? len - n : 0;
        total_in += n;
        for (c = 0; c < 2; c++) {
            size_t plen = codecs[c].compress(data + off, n, packed);
            long got = codecs[c].decompress(packed, plen, unpacked, len);
            if (got != (long)n || memcmp(unpacked, data + off, n) != 0) {
                bad++;
                printf("round %d: %s round trip failed (%ld of %lu)\n", r, codecs[c].name, got,
                       (unsigned long)n);
            }
            total_out[c] += plen;
            h[c] = fnv(packed, plen, h[c]);
            if (r == 0)
                printf("%-5s %lu -> %lu bytes\n", codecs[c].name, (unsigned long)n,
                       (unsigned long)plen);
        }
    }
    for (c = 0; c < 2; c++)
        printf("%-5s total %llu/%llu hash %08x\n", codecs[c].name, total_out[c], total_in,
               (unsigned)h[c]);
    printf("bad %d\n", bad);
    free(data);
    free(packed);
    free(unpacked);
    return bad != 0;
}
