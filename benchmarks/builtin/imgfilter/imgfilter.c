/* imgfilter: image filters on an 8-bit PGM picture: 3x3 Gaussian blur via a
 * generic convolution, 3x3 median via a sorting network, Sobel gradient
 * magnitude, histogram equalisation and Otsu thresholding.
 *
 * usage: imgfilter IMAGE.PGM REPEAT
 * Writes the edge map of the last round to edges.pgm and prints checksums.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct image {
    int w, h;
    uint8_t *px;
};

struct kernel3 {
    int k[9];
    int shift; /* result = sum >> shift */
};

static const struct kernel3 gauss = {{1, 2, 1, 2, 4, 2, 1, 2, 1}, 4};
static const struct kernel3 sharpen = {{0, -4, 0, -4, 24, -4, 0, -4, 0}, 3};

static int read_token(FILE *f)
{
    int c, v = 0;
    do { /* skip white space and comments */
        c = getc(f);
        if (c == '#')
            while (c != '\n' && c != EOF)
                c = getc(f);
    } while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    if (c < '0' || c > '9')
        return -1;
    while (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        if (v > 100000)
            return -1;
        c = getc(f);
    }
    return v;
}

static int load_pgm(const char *path, struct image *img)
{
    FILE *f = fopen(path, "rb");
    int maxval;
    size_t n;
    if (!f)
        return -1;
    if (getc(f) != 'P' || getc(f) != '5') {
        fclose(f);
        return -1;
    }
    img->w = read_token(f);
    img->h = read_token(f);
    maxval = read_token(f); /* read_token consumed the single white space after it */
    if (img->w <= 2 || img->h <= 2 || maxval != 255) {
        fclose(f);
        return -1;
    }
    n = (size_t)img->w * (size_t)img->h;
    img->px = malloc(n);
    if (fread(img->px, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static uint8_t clamp255(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* border pixels replicate the nearest edge pixel */
static int pixel(const struct image *im, int x, int y)
{
    x = x < 0 ? 0 : x >= im->w ? im->w - 1 : x;
    y = y < 0 ? 0 : y >= im->h ? im->h - 1 : y;
    return im->px[y * im->w + x];
}

static void convolve(const struct image *in, struct image *out, const struct kernel3 *k)
{
    int x, y, i, j;
    for (y = 0; y < in->h; y++)
        for (x = 0; x < in->w; x++) {
            int sum = 0;
            if (x > 0 && y > 0 && x < in->w - 1 && y < in->h - 1) {
                const uint8_t *p = in->px + (y - 1) * in->w + (x - 1);
                for (j = 0; j < 3; j++, p += in->w)
                    for (i = 0; i < 3; i++)
                        sum += k->k[j * 3 + i] * p[i];
            } else {
                for (j = 0; j < 3; j++)
                    for (i = 0; i < 3; i++)
                        sum += k->k[j * 3 + i] * pixel(in, x + i - 1, y + j - 1);
            }
            /* divide rounding toward minus infinity without shifting negatives */
            out->px[y * in->w + x] = clamp255(sum >= 0 ? sum >> k->shift
                                                       : -((-sum + (1 << k->shift) - 1) >> k->shift));
        }
}

#define SORT2(a, b)              \
    do {                         \
        if ((a) > (b)) {         \
            int t_ = (a);        \
            (a) = (b);           \
            (b) = t_;            \
        }                        \
    } while (0)

static int median9(int *p)
{
    /* a 19-comparator median network on p[0..8] */
    SORT2(p[1], p[2]); SORT2(p[4], p[5]); SORT2(p[7], p[8]);
    SORT2(p[0], p[1]); SORT2(p[3], p[4]); SORT2(p[6], p[7]);
    SORT2(p[1], p[2]); SORT2(p[4], p[5]); SORT2(p[7], p[8]);
    SORT2(p[0], p[3]); SORT2(p[5], p[8]); SORT2(p[4], p[7]);
    SORT2(p[3], p[6]); SORT2(p[1], p[4]); SORT2(p[2], p[5]);
    SORT2(p[4], p[7]); SORT2(p[4], p[2]); SORT2(p[6], p[4]);
    SORT2(p[4], p[2]);
    return p[4];
}

static void median3x3(const struct image *in, struct image *out)
{
    int x, y, i, j, v[9];
    for (y = 0; y < in->h; y++)
        for (x = 0; x < in->w; x++) {
            for (j = 0; j < 3; j++)
                for (i = 0; i < 3; i++)
                    v[j * 3 + i] = pixel(in, x + i - 1, y + j - 1);
            out->px[y * in->w + x] = (uint8_t)median9(v);
        }
}

static void sobel(const struct image *in, struct image *out)
{
    int x, y, w = in->w;
    memset(out->px, 0, (size_t)in->w * (size_t)in->h);
    for (y = 1; y < in->h - 1; y++) {
        const uint8_t *a = in->px + (y - 1) * w, *b = a + w, *c = b + w;
        for (x = 1; x < w - 1; x++) {
            int gx = (a[x + 1] + 2 * b[x + 1] + c[x + 1]) - (a[x - 1] + 2 * b[x - 1] + c[x - 1]);
            int gy = (c[x - 1] + 2 * c[x] + c[x + 1]) - (a[x - 1] + 2 * a[x] + a[x + 1]);
            int mag = (gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy);
            out->px[y * w + x] = clamp255(mag >> 1);
        }
    }
}

static void histogram(const struct image *im, uint32_t *hist)
{
    size_t i, n = (size_t)im->w * (size_t)im->h;
    memset(hist, 0, 256 * sizeof *hist);
    for (i = 0; i < n; i++)
        hist[im->px[i]]++;
}

static void equalize(struct image *im)
{
    uint32_t hist[256], cdf = 0, cdf_min = 0, total = (uint32_t)(im->w * im->h);
    uint8_t lut[256];
    size_t i, n = (size_t)im->w * (size_t)im->h;
    int v;
    histogram(im, hist);
    for (v = 0; v < 256; v++)
        if (hist[v]) {
            cdf_min = hist[v];
            break;
        }
    for (v = 0; v < 256; v++) {
        cdf += hist[v];
        lut[v] = total == cdf_min ? (uint8_t)v
                                  : (uint8_t)(((uint64_t)(cdf - cdf_min) * 255u +
                                               (total - cdf_min) / 2) / (total - cdf_min));
    }
    for (i = 0; i < n; i++)
        im->px[i] = lut[im->px[i]];
}

/* minimal unsigned 128-bit arithmetic, portable C */
struct u128 {
    uint64_t hi, lo;
};

static struct u128 mul64(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    struct u128 r;
    r.lo = (mid << 32) | (p00 & 0xffffffffu);
    r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return r;
}

/* x*x*m, assuming the result fits in 128 bits and x*x*m/2^64 fits in 64 */
static struct u128 square_times(uint64_t x, uint64_t m)
{
    struct u128 sq = mul64(x, x), lo = mul64(sq.lo, m), r;
    r.lo = lo.lo;
    r.hi = sq.hi * m + lo.hi;
    return r;
}

static int u128_less(struct u128 a, struct u128 b)
{
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
}

/* Otsu: the threshold maximising between-class variance, in exact integers */
static int otsu(const struct image *im)
{
    uint32_t hist[256];
    uint64_t total = (uint64_t)im->w * (uint64_t)im->h, sum_all = 0, sum_b = 0, w_b = 0;
    uint64_t best_num = 0, best_den = 1;
    int t, best = 0;
    histogram(im, hist);
    for (t = 0; t < 256; t++)
        sum_all += (uint64_t)t * hist[t];
    for (t = 0; t < 256; t++) {
        uint64_t w_f;
        int64_t diff;
        uint64_t num, den;
        w_b += hist[t];
        sum_b += (uint64_t)t * hist[t];
        if (w_b == 0 || w_b == total)
            continue;
        w_f = total - w_b;
        /* (mean_b - mean_f)^2 * w_b * w_f = (sum_b*w_f - sum_f*w_b)^2 / (w_b*w_f) */
        diff = (int64_t)(sum_b * w_f) - (int64_t)((sum_all - sum_b) * w_b);
        num = (uint64_t)(diff < 0 ? -diff : diff);
        den = w_b * w_f;
        /* num^2/den > best_num^2/best_den, compared exactly in 128 bits */
        if (u128_less(square_times(best_num, den), square_times(num, best_den))) {
            best_num = num;
            best_den = den;
            best = t;
        }
    }
    return best;
}

static uint32_t fnv(const uint8_t *p, size_t n, uint32_t h)
{
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

int main(int argc, char **argv)
{
    struct image src, work, a, b;
    size_t n, i;
    uint32_t h_blur = 2166136261u, h_med = 2166136261u, h_edge = 2166136261u;
    uint64_t edge_sum = 0, fg_sum = 0;
    int repeat, r, thr = 0;
    FILE *f;

    if (argc < 3) {
        fprintf(stderr, "usage: %s IMAGE.PGM REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    if (load_pgm(argv[1], &src) != 0) {
        fprintf(stderr, "cannot read PGM %s\n", argv[1]);
        return 2;
    }
    n = (size_t)src.w * (size_t)src.h;
    work = a = b = src;
    work.px = malloc(n);
    a.px = malloc(n);
    b.px = malloc(n);

    for (r = 0; r < repeat; r++) {
        int bias = (r * 37) % 61 - 30;
        for (i = 0; i < n; i++)
            work.px[i] = clamp255(src.px[i] + bias);
        convolve(&work, &a, &gauss);
        h_blur = fnv(a.px, n, h_blur);
        median3x3(&work, &b);
        h_med = fnv(b.px, n, h_med);
        convolve(&b, &work, &sharpen);
        equalize(&work);
        sobel(&work, &a);
        for (i = 0; i < n; i++)
            edge_sum += a.px[i];
        h_edge = fnv(a.px, n, h_edge);
        thr = otsu(&a);
        for (i = 0; i < n; i++)
            fg_sum += a.px[i] > thr;
    }
    printf("image %dx%d otsu %d\n", src.w, src.h, thr);
    printf("blur %08x median %08x edges %08x\n", (unsigned)h_blur, (unsigned)h_med,
           (unsigned)h_edge);
    printf("edge_sum %llu foreground %llu\n", (unsigned long long)edge_sum,
           (unsigned long long)fg_sum);
    f = fopen("edges.pgm", "wb");
    if (f) {
        fprintf(f, "P5\n%d %d\n255\n", a.w, a.h);
        fwrite(a.px, 1, n, f);
        fclose(f);
    }
    free(src.px);
    free(work.px);
    free(a.px);
    free(b.px);
    return 0;
}
