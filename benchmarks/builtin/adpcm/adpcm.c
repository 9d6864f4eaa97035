/* adpcm: adaptive differential PCM (4-bit and 3-bit codes with an adaptive
 * step size) and logarithmic 8-bit companding of 16-bit audio, with
 * encode/decode round trips and an error measure.
 *
 * usage: adpcm SPEECH.RAW REPEAT
 * SPEECH.RAW is little-endian signed 16-bit mono.  The step table follows
 * the usual ~10% geometric growth but is generated here by a recurrence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTEPS 89

static int32_t step_table[NSTEPS];

/* index adjustment by code magnitude (the low bits of a code) */
static const int8_t adjust4[8] = {-1, -1, -1, -1, 2, 4, 6, 8};
static const int8_t adjust3[4] = {-1, -1, 2, 4};

struct adpcm_state {
    int32_t predicted;
    int index;
};

struct codec {
    const char *name;
    int bits;            /* code width including the sign bit */
    const int8_t *adjust;
};

static void make_step_table(void)
{
    int i;
    int32_t s = 7;
    for (i = 0; i < NSTEPS; i++) {
        step_table[i] = s > 32767 ? 32767 : s;
        s = s + s / 10 + 1; /* roughly 1.1 ^ i growth */
    }
}

static int16_t clamp16(int32_t v)
{
    return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

static int clamp_index(int i)
{
    return i < 0 ? 0 : i >= NSTEPS ? NSTEPS - 1 : i;
}

/* reconstruct the difference for a magnitude code: (2*mag + 1) * step / 2^(bits-1) */
static int32_t dequant(unsigned mag, int32_t step, int bits)
{
    int32_t diff = step >> (bits - 1);
    int b;
    for (b = bits - 2; b >= 0; b--)
        if (mag & (1u << b))
            diff += step >> (bits - 2 - b);
    return diff;
}

static unsigned encode_sample(struct adpcm_state *st, int16_t sample, const struct codec *c)
{
    int32_t step = step_table[st->index], diff = sample - st->predicted, d;
    unsigned sign = 0, mag = 0;
    int b;
    if (diff < 0) {
        sign = 1u << (c->bits - 1);
        diff = -diff;
    }
    /* successive approximation of diff / step, one bit at a time */
    d = step;
    for (b = c->bits - 2; b >= 0; b--) {
        if (diff >= d) {
            mag |= 1u << b;
            diff -= d;
        }
        d >>= 1;
    }
    d = dequant(mag, step, c->bits);
    st->predicted = clamp16(sign ? st->predicted - d : st->predicted + d);
    st->index = clamp_index(st->index + c->adjust[mag]);
    return sign | mag;
}

static int16_t decode_sample(struct adpcm_state *st, unsigned code, const struct codec *c)
{
    unsigned sign = code >> (c->bits - 1), mag = code & ((1u << (c->bits - 1)) - 1u);
    int32_t step = step_table[st->index], d = dequant(mag, step, c->bits);
    st->predicted = clamp16(sign ? st->predicted - d : st->predicted + d);
    st->index = clamp_index(st->index + c->adjust[mag]);
    return (int16_t)st->predicted;
}

/* codes are packed LSB-first into a byte stream */
static size_t adpcm_encode(const int16_t *x, size_t n, uint8_t *out, const struct codec *c)
{
    struct adpcm_state st = {0, 0};
    uint32_t acc = 0;
    int nbits = 0;
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        acc |= encode_sample(&st, x[i], c) << nbits;
        nbits += c->bits;
        while (nbits >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if (nbits > 0)
        out[o++] = (uint8_t)acc;
    return o;
}

static void adpcm_decode(const uint8_t *in, size_t n, int16_t *y, const struct codec *c)
{
    struct adpcm_state st = {0, 0};
    uint32_t acc = 0;
    int nbits = 0;
    size_t i, ip = 0;
    for (i = 0; i < n; i++) {
        while (nbits < c->bits) {
            acc |= (uint32_t)in[ip++] << nbits;
            nbits += 8;
        }
        y[i] = decode_sample(&st, acc & ((1u << c->bits) - 1u), c);
        acc >>= c->bits;
        nbits -= c->bits;
    }
}

/* ------------------------------------------------------------ companding */
/* sign bit, 3-bit segment (exponent), 4-bit mantissa; segment boundaries at
 * powers of two above a bias, in the spirit of mu-law */
#define BIAS 132

static uint8_t compand(int16_t s)
{
    int32_t v = s;
    unsigned sign = 0, seg = 0, mant;
    if (v < 0) {
        sign = 0x80u;
        v = -v;
    }
    v += BIAS;
    if (v > 32767)
        v = 32767;
    while (seg < 7 && v >= (256 << seg))
        seg++;
    mant = (unsigned)(v >> (seg + 3)) & 0xfu;
    return (uint8_t)(sign | seg << 4 | mant);
}

static int16_t expand(uint8_t c)
{
    unsigned seg = (c >> 4) & 7u, mant = c & 0xfu;
    int32_t v = (int32_t)(((mant << 3) + 0x84u) << seg) - BIAS;
    return (int16_t)((c & 0x80u) ? -v : v);
}

static uint64_t sq_error(const int16_t *a, const int16_t *b, size_t n)
{
    uint64_t e = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        int64_t d = (int64_t)a[i] - b[i];
        e += (uint64_t)(d * d);
    }
    return e;
}

int main(int argc, char **argv)
{
    static const struct codec codecs[] = {{"adpcm4", 4, adjust4}, {"adpcm3", 3, adjust3}};
    FILE *f;
    unsigned char *raw;
    int16_t *x, *y;
    uint8_t *packed;
    size_t n, i;
    long size;
    uint64_t err[3] = {0, 0, 0}, energy = 0;
    uint32_t hash = 2166136261u;
    unsigned long bytes[3] = {0, 0, 0};
    int repeat, r, c;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SPEECH.RAW REPEAT\n", argv[0]);
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
    raw = malloc((size_t)size);
    n = fread(raw, 1, (size_t)size, f) / 2;
    fclose(f);
    x = malloc(n * sizeof *x);
    y = malloc(n * sizeof *y);
    packed = malloc(n + 16);
    for (i = 0; i < n; i++)
        x[i] = (int16_t)(uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
    free(raw);
    make_step_table();

    for (r = 0; r < repeat; r++) {
        /* each round starts at a different sample and scales the volume */
        size_t off = ((size_t)r * 1009u) % (n / 4), len = n - off;
        int gain = 12 + r % 6; /* in 1/16 */
        int16_t *src = malloc(len * sizeof *src);
        for (i = 0; i < len; i++)
            src[i] = clamp16(x[off + i] * gain / 16);
        for (i = 0; i < len; i++)
            energy += (uint64_t)((int64_t)src[i] * src[i]);
        for (c = 0; c < 2; c++) {
            size_t nb = adpcm_encode(src, len, packed, &codecs[c]);
            adpcm_decode(packed, len, y, &codecs[c]);
            err[c] += sq_error(src, y, len);
            bytes[c] += (unsigned long)nb;
            for (i = 0; i < nb; i += 61)
                hash = (hash ^ packed[i]) * 16777619u;
        }
        for (i = 0; i < len; i++) {
            packed[i] = compand(src[i]);
            y[i] = expand(packed[i]);
        }
        err[2] += sq_error(src, y, len);
        bytes[2] += (unsigned long)len;
        hash = (hash ^ (uint16_t)y[len / 2]) * 16777619u;
        free(src);
    }
    printf("samples %lu steps %d..%d\n", (unsigned long)n, (int)step_table[0],
           (int)step_table[NSTEPS - 1]);
    for (c = 0; c < 3; c++) {
        /* signal-to-noise ratio in centibels of power, from the integer ratio */
        uint64_t ratio = err[c] ? energy / err[c] : 0;
        int cb = 0;
        while (ratio >= 2) { /* ~3.01 dB per doubling */
            ratio >>= 1;
            cb += 30;
        }
        printf("%-7s bytes %lu sqerr %llu snr~%d.%d dB\n", c < 2 ? codecs[c].name : "compand",
               bytes[c], (unsigned long long)err[c], cb / 10, cb % 10);
    }
    printf("hash %08x\n", (unsigned)hash);
    free(x);
    free(y);
    free(packed);
    return 0;
}
