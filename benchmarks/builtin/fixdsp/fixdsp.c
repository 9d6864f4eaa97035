/* fixdsp: fixed-point signal processing on 16-bit PCM: a windowed-sinc FIR
 * low-pass filter designed at run time with a polynomial sine, a radix-2
 * decimation-in-time integer FFT with per-stage scaling, and a band-energy
 * analysis of the spectrum.
 *
 * usage: fixdsp SIGNAL.RAW REPEAT
 * SIGNAL.RAW is little-endian signed 16-bit mono.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAPS 63
#define FFT_LOG 10
#define FFT_N (1 << FFT_LOG)
#define BANDS 8

/* ------------------------------------------------------------ fixed-point sine */
/* sin(2*pi*phase/2^32) in Q30 by an odd 7th-order polynomial on the quarter wave */
static int32_t sin_q30(uint32_t phase)
{
    static const int64_t a1 = 1686629713, a3 = 693598342, a5 = 85569227, a7 = 5026974;
    uint32_t quadrant = phase >> 30;
    int64_t q, q2, r;
    uint32_t frac = phase & 0x3fffffffu; /* position within the quadrant, Q30 */
    if (quadrant & 1u)
        frac = 0x40000000u - frac;
    q = (int64_t)frac;
    q2 = (q * q) >> 30;
    r = a5 - ((a7 * q2) >> 30);
    r = a3 - ((r * q2) >> 30);
    r = a1 - ((r * q2) >> 30);
    r = (r * q) >> 30;
    if (r > 0x3fffffff)
        r = 0x3fffffff;
    return (int32_t)(quadrant & 2u ? -r : r);
}

static int32_t cos_q30(uint32_t phase)
{
    return sin_q30(phase + 0x40000000u);
}

/* ------------------------------------------------------------ FIR design and filtering */
/* Hann-windowed sinc low-pass, cutoff fc = cutoff_q16 / 65536 of the sample rate,
 * taps in Q15 normalised to unity DC gain */
static void design_lowpass(int16_t *h, uint32_t cutoff_q16)
{
    const int mid = TAPS / 2;
    int32_t sum = 0;
    int n;
    for (n = 0; n < TAPS; n++) {
        int k = n - mid;
        int64_t sinc, win;
        if (k == 0) {
            sinc = (int64_t)cutoff_q16; /* 2*fc in Q15 */
        } else {
            /* sin(2*pi*fc*k) / (pi*k), Q15 */
            uint32_t phase = (uint32_t)((int64_t)cutoff_q16 * k * 65536);
            sinc = ((int64_t)sin_q30(phase) * 10430) >> 30; /* * (1/pi in Q15) -> Q15 */
            sinc /= k;
        }
        win = (int64_t)0x20000000 - (cos_q30((uint32_t)(((uint64_t)n << 32) / (TAPS - 1))) >> 1);
        h[n] = (int16_t)((sinc * win) >> 30);
        sum += h[n];
    }
    h[mid] = (int16_t)(h[mid] + (32768 - sum)); /* fix the DC gain exactly */
}

static void fir(const int16_t *x, int16_t *y, size_t n, const int16_t *h)
{
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        int64_t acc = 1 << 14;
        int kmax = i + 1 < TAPS ? (int)i + 1 : TAPS;
        for (k = 0; k < kmax; k++)
            acc += (int32_t)h[k] * x[i - (size_t)k];
        acc >>= 15;
        y[i] = (int16_t)(acc > 32767 ? 32767 : acc < -32768 ? -32768 : acc);
    }
}

/* ------------------------------------------------------------ FFT */
struct cpx {
    int32_t re, im;
};

static int16_t tw_cos[FFT_N / 2], tw_sin[FFT_N / 2];

static void make_twiddles(void)
{
    int k;
    for (k = 0; k < FFT_N / 2; k++) {
        uint32_t phase = (uint32_t)k << (32 - FFT_LOG);
        int32_t c = (cos_q30(phase) + (1 << 14)) >> 15, s = (sin_q30(phase) + (1 << 14)) >> 15;
        tw_cos[k] = (int16_t)(c > 32767 ? 32767 : c);
        tw_sin[k] = (int16_t)(s > 32767 ? 32767 : s);
    }
}

static unsigned reverse_bits(unsigned v, int bits)
{
    unsigned r = 0;
    while (bits--) {
        r = r << 1 | (v & 1u);
        v >>= 1;
    }
    return r;
}

/* in place, forward transform, each stage halves the values (result = DFT / N) */
static void fft(struct cpx *x)
{
    unsigned i, j;
    int len;
    for (i = 0; i < FFT_N; i++) {
        j = reverse_bits(i, FFT_LOG);
        if (j > i) {
            struct cpx t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
    }
    for (len = 2; len <= FFT_N; len <<= 1) {
        int half = len / 2, step = FFT_N / len, start, k;
        for (start = 0; start < FFT_N; start += len)
            for (k = 0; k < half; k++) {
                struct cpx *a = &x[start + k], *b = &x[start + k + half];
                int32_t wr = tw_cos[k * step], wi = -tw_sin[k * step];
                int32_t tr = (int32_t)(((int64_t)b->re * wr - (int64_t)b->im * wi) >> 15);
                int32_t ti = (int32_t)(((int64_t)b->re * wi + (int64_t)b->im * wr) >> 15);
                b->re = (a->re - tr) >> 1;
                b->im = (a->im - ti) >> 1;
                a->re = (a->re + tr) >> 1;
                a->im = (a->im + ti) >> 1;
            }
    }
}

static uint32_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)r;
}

int main(int argc, char **argv)
{
    FILE *f;
    unsigned char *raw;
    int16_t *x, *y, h[TAPS];
    struct cpx *buf;
    size_t n, i;
    long size;
    uint64_t band[BANDS], total_mag = 0;
    uint32_t hash = 2166136261u;
    int repeat, r, b, peak_bin = 0;
    uint32_t peak_mag = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SIGNAL.RAW REPEAT\n", argv[0]);
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
    for (i = 0; i < n; i++) /* assemble little-endian samples without relying on host order */
        x[i] = (int16_t)(uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
    free(raw);
    buf = malloc(FFT_N * sizeof *buf);
    make_twiddles();
    memset(band, 0, sizeof band);

    for (r = 0; r < repeat; r++) {
        uint32_t cutoff = 4000u + (uint32_t)(r % 9) * 1500u; /* 0.06 .. 0.24 of fs */
        size_t len = n / 2, off = ((size_t)r % 4) * (n / 8), blocks = len / FFT_N, blk;
        design_lowpass(h, cutoff);
        fir(x + off, y, len, h);
        for (i = 0; i < len; i += 97)
            hash = (hash ^ (uint16_t)y[i]) * 16777619u;
        for (blk = 0; blk < blocks; blk++) {
            const int16_t *src = (blk & 1) ? x + off : y;
            int k;
            for (k = 0; k < FFT_N; k++) {
                buf[k].re = src[blk * FFT_N + (size_t)k];
                buf[k].im = 0;
            }
            fft(buf);
            for (k = 1; k < FFT_N / 2; k++) {
                uint32_t mag = isqrt64((uint64_t)((int64_t)buf[k].re * buf[k].re +
                                                  (int64_t)buf[k].im * buf[k].im));
                band[k * BANDS / (FFT_N / 2)] += mag;
                total_mag += mag;
                if (mag > peak_mag) {
                    peak_mag = mag;
                    peak_bin = k;
                }
            }
        }
    }
    printf("samples %lu taps %d h[mid] %d h[0] %d\n", (unsigned long)n, TAPS, h[TAPS / 2], h[0]);
    printf("fir hash %08x peak bin %d mag %u total %llu\n", (unsigned)hash, peak_bin,
           (unsigned)peak_mag, (unsigned long long)total_mag);
    printf("bands");
    for (b = 0; b < BANDS; b++)
        printf(" %llu", (unsigned long long)band[b]);
    printf("\n");
    free(x);
    free(y);
    free(buf);
    return 0;
}
