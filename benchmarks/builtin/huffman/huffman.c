/* huffman: run-length coding followed by canonical Huffman coding, and back.
 *
 * usage: huffman SAMPLE REPEAT
 * Each round takes a slice of the sample, RLE-encodes it (PackBits style),
 * Huffman-codes the result with a tree built by the two-queue method,
 * decodes both stages and checks the round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSYM 256
#define MAXLEN 30

/* ------------------------------------------------------------ RLE */
/* control byte c < 128: c + 1 literal bytes follow;
 * c >= 128: the next byte repeats c - 126 times (2..129) */
static size_t rle_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && run < 129 && in[i + run] == in[i])
            run++;
        if (run >= 2) {
            out[o++] = (uint8_t)(run + 126);
            out[o++] = in[i];
            i += run;
        } else {
            size_t start = i, lits = 0;
            while (i < n && lits < 128 && !(i + 1 < n && in[i + 1] == in[i])) {
                i++;
                lits++;
            }
            out[o++] = (uint8_t)(lits - 1);
            memcpy(out + o, in + start, lits);
            o += lits;
        }
    }
    return o;
}

static long rle_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned c = in[i++];
        if (c < 128) {
            size_t lits = c + 1u;
            if (i + lits > n || o + lits > cap)
                return -1;
            memcpy(out + o, in + i, lits);
            i += lits;
            o += lits;
        } else {
            size_t run = c - 126u;
            if (i >= n || o + run > cap)
                return -1;
            memset(out + o, in[i++], run);
            o += run;
        }
    }
    return (long)o;
}

/* ------------------------------------------------------------ Huffman tree */
struct node {
    uint32_t weight;
    int16_t left, right; /* children, -1 for leaves */
    int16_t symbol;
};

struct code {
    uint32_t bits;
    uint8_t len;
};

static void assign_depths(const struct node *nodes, int idx, int depth, uint8_t *lens)
{
    if (nodes[idx].left < 0) {
        lens[nodes[idx].symbol] = (uint8_t)(depth ? depth : 1);
        return;
    }
    assign_depths(nodes, nodes[idx].left, depth + 1, lens);
    assign_depths(nodes, nodes[idx].right, depth + 1, lens);
}

/* code lengths from frequencies; leaves are sorted by (weight, symbol) and
 * merged with a second FIFO queue of internal nodes (O(n) after the sort) */
static void build_lengths(const uint32_t *freq, uint8_t *lens)
{
    struct node nodes[2 * NSYM];
    int leaves[NSYM], nleaves = 0, i, j;
    int qa = 0, qb, qb_end, nn;
    memset(lens, 0, NSYM);
    for (i = 0; i < NSYM; i++)
        if (freq[i]) {
            nodes[nleaves].weight = freq[i];
            nodes[nleaves].left = nodes[nleaves].right = -1;
            nodes[nleaves].symbol = (int16_t)i;
            leaves[nleaves] = nleaves;
            nleaves++;
        }
    if (nleaves == 0)
        return;
    /* insertion sort of leaf indices by weight, ties by symbol (stable) */
    for (i = 1; i < nleaves; i++) {
        int v = leaves[i];
        for (j = i; j > 0 && nodes[leaves[j - 1]].weight > nodes[v].weight; j--)
            leaves[j] = leaves[j - 1];
        leaves[j] = v;
    }
    nn = nleaves;
    qb = qb_end = nleaves; /* internal nodes are appended at nodes[nleaves...] */
    while ((nleaves - qa) + (qb_end - qb) > 1) {
        int pick[2], k;
        for (k = 0; k < 2; k++) {
            if (qa < nleaves &&
                (qb == qb_end || nodes[leaves[qa]].weight <= nodes[qb].weight))
                pick[k] = leaves[qa++];
            else
                pick[k] = qb++;
        }
        nodes[nn].weight = nodes[pick[0]].weight + nodes[pick[1]].weight;
        nodes[nn].left = (int16_t)pick[0];
        nodes[nn].right = (int16_t)pick[1];
        nodes[nn].symbol = -1;
        nn++;
        qb_end = nn;
    }
    assign_depths(nodes, nn - 1, 0, lens);
}

/* canonical codes: shorter first, then by symbol */
static void canonical_codes(const uint8_t *lens, struct code *codes, int *count_per_len,
                            uint32_t *first_code, int *sorted_syms)
{
    uint32_t code = 0, next[MAXLEN + 2];
    int len, s, k = 0;
    for (len = 0; len <= MAXLEN + 1; len++)
        count_per_len[len] = 0;
    for (s = 0; s < NSYM; s++)
        count_per_len[lens[s]]++;
    count_per_len[0] = 0;
    for (len = 1; len <= MAXLEN; len++) {
        code = (code + (uint32_t)count_per_len[len - 1]) << 1;
        first_code[len] = code;
        next[len] = code;
    }
    for (len = 1; len <= MAXLEN; len++)
        for (s = 0; s < NSYM; s++)
            if (lens[s] == len)
                sorted_syms[k++] = s;
    for (s = 0; s < NSYM; s++) {
        codes[s].len = lens[s];
        codes[s].bits = lens[s] ? next[lens[s]]++ : 0;
    }
}

/* ------------------------------------------------------------ bit I/O */
struct bitout {
    uint8_t *buf;
    size_t pos;
    uint64_t acc;
    int n;
};

static void put_bits(struct bitout *b, uint32_t bits, int len)
{
    b->acc = b->acc << len | bits;
    b->n += len;
    while (b->n >= 8) {
        b->n -= 8;
        b->buf[b->pos++] = (uint8_t)(b->acc >> b->n);
    }
}

static size_t end_bits(struct bitout *b)
{
    if (b->n > 0)
        b->buf[b->pos++] = (uint8_t)(b->acc << (8 - b->n));
    return b->pos;
}

struct huff_table {
    uint8_t lens[NSYM];
    struct code codes[NSYM];
    int count[MAXLEN + 2];
    uint32_t first[MAXLEN + 2];
    int syms[NSYM];
};

static size_t huff_encode(const uint8_t *in, size_t n, uint8_t *out, struct huff_table *t)
{
    uint32_t freq[NSYM];
    struct bitout b = {out, 0, 0, 0};
    size_t i;
    memset(freq, 0, sizeof freq);
    for (i = 0; i < n; i++)
        freq[in[i]]++;
    build_lengths(freq, t->lens);
    canonical_codes(t->lens, t->codes, t->count, t->first, t->syms);
    for (i = 0; i < n; i++)
        put_bits(&b, t->codes[in[i]].bits, t->codes[in[i]].len);
    return end_bits(&b);
}

/* bit-serial canonical decoding: walk lengths until the code falls in range */
static long huff_decode(const uint8_t *in, size_t nbytes, size_t nsyms, uint8_t *out,
                        const struct huff_table *t)
{
    size_t bitpos = 0, o;
    for (o = 0; o < nsyms; o++) {
        uint32_t code = 0;
        int len, index = 0;
        for (len = 1; len <= MAXLEN; len++) {
            if (bitpos >= nbytes * 8)
                return -1;
            code = code << 1 | ((in[bitpos >> 3] >> (7 - (bitpos & 7))) & 1u);
            bitpos++;
            if (code - t->first[len] < (uint32_t)t->count[len]) {
                out[o] = (uint8_t)t->syms[index + (int)(code - t->first[len])];
                break;
            }
            index += t->count[len];
        }
        if (len > MAXLEN)
            return -1;
    }
    return (long)o;
}

static uint32_t fnv(const uint8_t *p, size_t n, uint32_t h)
{
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

int main(int argc, char **argv)
{
    FILE *f;
    uint8_t *data, *rle, *packed, *unrle, *back;
    size_t len;
    long size;
    struct huff_table table;
    uint64_t total_rle = 0, total_huff = 0;
    uint32_t h = 2166136261u;
    int repeat, r, bad = 0, maxlen = 0, s;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SAMPLE REPEAT\n", argv[0]);
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
    data = malloc((size_t)size + 1);
    len = fread(data, 1, (size_t)size, f);
    fclose(f);
    rle = malloc(2 * len + 16);
    packed = malloc(4 * len + 16);
    unrle = malloc(2 * len + 16);
    back = malloc(len + 16);

    for (r = 0; r < repeat; r++) {
        size_t off = ((size_t)r * 7001u) % (len / 3);
        size_t n = len - off - ((size_t)r * 113u) % (len / 3);
        size_t nr = rle_encode(data + off, n, rle);
        size_t nh = huff_encode(rle, nr, packed, &table);
        long dr = huff_decode(packed, nh, nr, unrle, &table);
        long dd = dr == (long)nr ? rle_decode(unrle, nr, back, len) : -1;
        if (dd != (long)n || memcmp(back, data + off, n) != 0)
            bad++;
        total_rle += nr;
        total_huff += nh;
        h = fnv(packed, nh, h);
        for (s = 0; s < NSYM; s++)
            if (table.lens[s] > maxlen)
                maxlen = table.lens[s];
        if (r == 0)
            printf("slice %lu -> rle %lu -> huffman %lu bytes\n", (unsigned long)n,
                   (unsigned long)nr, (unsigned long)nh);
    }
    printf("rle total %llu huffman total %llu longest code %d\n", (unsigned long long)total_rle,
           (unsigned long long)total_huff, maxlen);
    printf("hash %08x bad %d\n", (unsigned)h, bad);
    free(data);
    free(rle);
    free(packed);
    free(unrle);
    free(back);
    return bad != 0;
}
