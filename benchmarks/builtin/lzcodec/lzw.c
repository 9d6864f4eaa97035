/* lzw: Lempel-Ziv-Welch with 9..12-bit codes, LSB-first bit packing, and a
 * clear code when the dictionary fills up.  Code 256 = clear, 257 = end. */
#include "codec.h"

#include <string.h>

#define CLEAR 256
#define STOP 257
#define FIRST 258
#define MAX_BITS 12
#define MAX_CODES (1 << MAX_BITS)
#define TABLE_SIZE 5003 /* prime, > MAX_CODES */

struct bitwriter {
    uint8_t *out;
    size_t pos;
    uint32_t acc;
    int nbits;
};

static void put_code(struct bitwriter *w, unsigned code, int width)
{
    w->acc |= (uint32_t)code << w->nbits;
    w->nbits += width;
    while (w->nbits >= 8) {
        w->out[w->pos++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nbits -= 8;
    }
}

static size_t flush_bits(struct bitwriter *w)
{
    if (w->nbits > 0)
        w->out[w->pos++] = (uint8_t)w->acc;
    w->acc = 0;
    w->nbits = 0;
    return w->pos;
}

/* encoder dictionary: open addressing on (prefix, byte) */
static int32_t key_of[TABLE_SIZE];
static int16_t code_of[TABLE_SIZE];

static void reset_table(void)
{
    int i;
    for (i = 0; i < TABLE_SIZE; i++)
        key_of[i] = -1;
}

static unsigned probe(int32_t key)
{
    unsigned h = ((uint32_t)key * 40503u) % TABLE_SIZE;
    while (key_of[h] != -1 && key_of[h] != key)
        h = h + 1 == TABLE_SIZE ? 0 : h + 1;
    return h;
}

size_t lzw_compress(const uint8_t *in, size_t n, uint8_t *out)
{
    struct bitwriter w = {out, 0, 0, 0};
    int width = 9;
    unsigned next = FIRST;
    int32_t prefix;
    size_t i;
    reset_table();
    put_code(&w, CLEAR, width);
    if (n == 0) {
        put_code(&w, STOP, width);
        return flush_bits(&w);
    }
    prefix = in[0];
    for (i = 1; i < n; i++) {
        int32_t key = prefix << 8 | in[i];
        unsigned h = probe(key);
        if (key_of[h] == key) {
            prefix = code_of[h];
            continue;
        }
        put_code(&w, (unsigned)prefix, width);
        if (next < MAX_CODES) {
            key_of[h] = key;
            code_of[h] = (int16_t)next++;
            if (next > (1u << width) && width < MAX_BITS)
                width++;
        } else {
            put_code(&w, CLEAR, width);
            reset_table();
            next = FIRST;
            width = 9;
        }
        prefix = in[i];
    }
    put_code(&w, (unsigned)prefix, width);
    put_code(&w, STOP, width);
    return flush_bits(&w);
}

/* decoder dictionary */
static uint16_t dec_prefix[MAX_CODES];
static uint8_t dec_suffix[MAX_CODES];
static uint8_t dec_first[MAX_CODES];
static uint8_t stack[MAX_CODES];

long lzw_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap)
{
    size_t ip = 0, o = 0;
    uint32_t acc = 0;
    int nbits = 0, width = 9;
    unsigned next = FIRST, code;
    int prev = -1;
    for (code = 0; code < 256; code++) {
        dec_suffix[code] = (uint8_t)code;
        dec_first[code] = (uint8_t)code;
    }
    for (;;) {
        unsigned cur, sp = 0;
        while (nbits < width) {
            if (ip >= n)
                return -1;
            acc |= (uint32_t)in[ip++] << nbits;
            nbits += 8;
        }
        code = acc & ((1u << width) - 1u);
        acc >>= width;
        nbits -= width;
        if (code == STOP)
            break;
        if (code == CLEAR) {
            next = FIRST;
            width = 9;
            prev = -1;
            continue;
        }
        if (prev < 0) {
            if (code > 255 || o >= out_cap)
                return -1;
            out[o++] = (uint8_t)code;
            prev = (int)code;
            continue;
        }
        if (code > next || (code >= FIRST && code == next && next >= MAX_CODES))
            return -1;
        cur = code;
        if (code == next) { /* the KwKwK case */
            stack[sp++] = dec_first[prev];
            cur = (unsigned)prev;
        }
        while (cur >= FIRST) {
            stack[sp++] = dec_suffix[cur];
            cur = dec_prefix[cur];
        }
        stack[sp++] = (uint8_t)cur;
        if (o + sp > out_cap)
            return -1;
        while (sp > 0)
            out[o++] = stack[--sp];
        if (next < MAX_CODES) {
            dec_prefix[next] = (uint16_t)prev;
            dec_first[next] = dec_first[prev];
            dec_suffix[next] = code == next ? dec_first[prev] : dec_first[code];
            next++;
            if (next + 1 > (1u << width) && width < MAX_BITS)
                width++;
        }
        prev = (int)code;
    }
    return (long)o;
}
