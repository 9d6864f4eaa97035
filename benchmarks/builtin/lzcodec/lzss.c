/* lzss: LZ77 with a 4 KB window, hash chains and lazy flag bytes.
 *
 * Stream: groups of up to 8 tokens, each group preceded by a flag byte whose
 * bit i says whether token i is a literal (1) or a match (0).  A match is two
 * bytes: 12-bit distance - 1 and 4-bit length - MIN_MATCH.
 */
#include "codec.h"

#include <string.h>

#define WINDOW 4096
#define MIN_MATCH 3
#define MAX_MATCH (MIN_MATCH + 15)
#define HASH_BITS 12
#define HASH_SIZE (1 << HASH_BITS)
#define MAX_CHAIN 48
#define NIL (-1)

static int32_t head[HASH_SIZE];
static int32_t prev_pos[WINDOW];

size_t codec_bound(size_t n)
{
    return 2 * n + 64;
}

static unsigned hash3(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (unsigned)((v * 2654435761u) >> (32 - HASH_BITS));
}

static void insert(const uint8_t *in, size_t pos)
{
    unsigned h = hash3(in + pos);
    prev_pos[pos % WINDOW] = head[h];
    head[h] = (int32_t)pos;
}

static size_t longest_match(const uint8_t *in, size_t n, size_t pos, size_t *dist)
{
    int32_t cand = head[hash3(in + pos)];
    size_t best = 0, limit = n - pos < MAX_MATCH ? n - pos : MAX_MATCH;
    int chain = MAX_CHAIN;
    while (cand != NIL && chain-- > 0) {
        size_t c = (size_t)cand, len = 0;
        if (pos - c > WINDOW - 1 || c >= pos)
            break;
        while (len < limit && in[c + len] == in[pos + len])
            len++;
        if (len > best) {
            best = len;
            *dist = pos - c;
            if (len == limit)
                break;
        }
        cand = prev_pos[c % WINDOW];
    }
    return best;
}

size_t lzss_compress(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t pos = 0, o = 0, flag_at = 0;
    int ntok = 8;
    int i;
    for (i = 0; i < HASH_SIZE; i++)
        head[i] = NIL;
    while (pos < n) {
        size_t len = 0, dist = 0;
        if (ntok == 8) {
            flag_at = o++;
            out[flag_at] = 0;
            ntok = 0;
        }
        if (n - pos >= MIN_MATCH)
            len = longest_match(in, n, pos, &dist);
        if (len >= MIN_MATCH) {
            unsigned code = (unsigned)(dist - 1) << 4 | (unsigned)(len - MIN_MATCH);
            out[o++] = (uint8_t)(code >> 8);
            out[o++] = (uint8_t)code;
            while (len--) {
                if (n - pos >= MIN_MATCH)
                    insert(in, pos);
                pos++;
            }
        } else {
            out[flag_at] |= (uint8_t)(1u << ntok);
            out[o++] = in[pos];
            if (n - pos >= MIN_MATCH)
                insert(in, pos);
            pos++;
        }
        ntok++;
    }
    return o;
}

long lzss_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned flags = in[i++], bit;
        for (bit = 0; bit < 8 && i < n; bit++) {
            if (flags & (1u << bit)) {
                if (o >= out_cap)
                    return -1;
                out[o++] = in[i++];
            } else {
                unsigned code, len;
                size_t dist;
                if (i + 1 >= n)
                    return -1;
                code = (unsigned)in[i] << 8 | in[i + 1];
                i += 2;
                dist = (code >> 4) + 1;
                len = (code & 15u) + MIN_MATCH;
                if (dist > o || o + len > out_cap)
                    return -1;
                while (len--) { /* byte by byte: the source may overlap */
                    out[o] = out[o - dist];
                    o++;
                }
            }
        }
    }
    return (long)o;
}
