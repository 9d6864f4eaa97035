/* corners: a SUSAN-style corner and edge detector on an 8-bit PGM image.
 *
 * usage: corners IMAGE.PGM REPEAT
 * For every pixel, a 37-pixel circular mask sums a brightness-similarity
 * table over its neighbours (the USAN area).  Small areas mark corners (with a
 * centroid test and 5x5 non-maximum suppression), medium areas mark edges.
 * Each round uses a different brightness threshold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MASK_MAX 64
#define BORDER 3

struct offset {
    int dx, dy;
};

struct corner {
    int x, y;
    int response;
};

struct detector {
    int w, h;
    const uint8_t *px;
    struct offset mask[MASK_MAX];
    int nmask;
    int lut[511]; /* similarity of a brightness difference d, at lut[d + 255] */
    int *response;
    int *edge;
};

static uint8_t *load_pgm(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    char magic[3] = {0, 0, 0};
    int maxval, c;
    uint8_t *px;
    size_t n;
    if (!f)
        return NULL;
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] != '5') {
        fclose(f);
        return NULL;
    }
    /* skip a comment line if present */
    c = getc(f);
    while (c == '\n' || c == ' ')
        c = getc(f);
    if (c == '#')
        while (c != '\n' && c != EOF)
            c = getc(f);
    else
        ungetc(c, f);
    if (fscanf(f, "%d %d %d", w, h, &maxval) != 3 || maxval != 255 || *w < 16 || *h < 16 ||
        *w > 8192 || *h > 8192) {
        fclose(f);
        return NULL;
    }
    getc(f); /* the single white space after maxval */
    n = (size_t)*w * (size_t)*h;
    px = malloc(n);
    if (fread(px, 1, n, f) != n) {
        free(px);
        px = NULL;
    }
    fclose(f);
    return px;
}

static void init_detector(struct detector *d, const uint8_t *px, int w, int h)
{
    int dx, dy;
    d->px = px;
    d->w = w;
    d->h = h;
    d->nmask = 0;
    for (dy = -3; dy <= 3; dy++)
        for (dx = -3; dx <= 3; dx++)
            if (dx * dx + dy * dy <= 10) {
                d->mask[d->nmask].dx = dx;
                d->mask[d->nmask].dy = dy;
                d->nmask++;
            }
    d->response = calloc((size_t)w * (size_t)h, sizeof(int));
    d->edge = calloc((size_t)w * (size_t)h, sizeof(int));
}

/* similarity 100 * (1 - (d/t)^6), clipped at zero: a smooth-ish integer bump */
static void set_threshold(struct detector *d, int t)
{
    int diff;
    for (diff = -255; diff <= 255; diff++) {
        int64_t a = diff < 0 ? -diff : diff, t6 = (int64_t)t * t * t * t * t * t;
        int64_t a6 = a * a * a * a * a * a;
        d->lut[diff + 255] = a6 >= t6 ? 0 : (int)(100 - (100 * a6) / t6);
    }
}

/* USAN area and centroid of pixel (x, y) */
static int usan(const struct detector *d, int x, int y, int *cx, int *cy)
{
    const uint8_t *center = d->px + y * d->w + x;
    const int *lut = d->lut + 255 - *center;
    int k, n = 0, sx = 0, sy = 0;
    for (k = 0; k < d->nmask; k++) {
        const struct offset *o = &d->mask[k];
        int c = lut[center[o->dy * d->w + o->dx]];
        n += c;
        sx += c * o->dx;
        sy += c * o->dy;
    }
    *cx = sx;
    *cy = sy;
    return n;
}

static void compute_responses(struct detector *d)
{
    int x, y, max_area = d->nmask * 100;
    int corner_g = max_area / 2, edge_g = 3 * max_area / 4;
    memset(d->response, 0, (size_t)d->w * (size_t)d->h * sizeof(int));
    memset(d->edge, 0, (size_t)d->w * (size_t)d->h * sizeof(int));
    for (y = BORDER; y < d->h - BORDER; y++)
        for (x = BORDER; x < d->w - BORDER; x++) {
            int cx, cy, n = usan(d, x, y, &cx, &cy);
            if (n < edge_g)
                d->edge[y * d->w + x] = edge_g - n;
            if (n < corner_g) {
                /* the centroid must sit away from the nucleus: |c|/n > 1/2 */
                int64_t dist2 = (int64_t)cx * cx + (int64_t)cy * cy;
                if (4 * dist2 > (int64_t)n * n)
                    d->response[y * d->w + x] = corner_g - n;
            }
        }
}

/* keep responses that are maxima of their 5x5 window; ties go to the first in scan order */
static int suppress(const struct detector *d, struct corner *out, int max_out)
{
    int x, y, i, j, count = 0;
    for (y = BORDER + 2; y < d->h - BORDER - 2; y++)
        for (x = BORDER + 2; x < d->w - BORDER - 2; x++) {
            int v = d->response[y * d->w + x], keep = v > 0;
            for (j = -2; j <= 2 && keep; j++)
                for (i = -2; i <= 2 && keep; i++) {
                    int u = d->response[(y + j) * d->w + x + i];
                    int before = j < 0 || (j == 0 && i < 0);
                    if (u > v || (before && u == v))
                        keep = 0;
                }
            if (keep) {
                if (count < max_out) {
                    out[count].x = x;
                    out[count].y = y;
                    out[count].response = v;
                }
                count++;
            }
        }
    return count;
}

static int cmp_corner(const void *a, const void *b)
{
    const struct corner *p = a, *q = b;
    if (p->response != q->response)
        return q->response - p->response; /* strongest first */
    if (p->y != q->y)
        return p->y - q->y;
    return p->x - q->x;
}

int main(int argc, char **argv)
{
    struct detector det;
    struct corner *corners;
    uint8_t *px;
    int w, h, repeat, r, k, count = 0, max_out;
    uint64_t edge_total = 0, corner_total = 0;
    uint32_t hash = 2166136261u;

    if (argc < 3) {
        fprintf(stderr, "usage: %s IMAGE.PGM REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    px = load_pgm(argv[1], &w, &h);
    if (!px) {
        fprintf(stderr, "cannot read PGM %s\n", argv[1]);
        return 2;
    }
    init_detector(&det, px, w, h);
    max_out = w * h / 4;
    corners = malloc((size_t)max_out * sizeof *corners);

    for (r = 0; r < repeat; r++) {
        int i, n;
        set_threshold(&det, 12 + (r % 8) * 4);
        compute_responses(&det);
        for (i = 0; i < w * h; i++)
            edge_total += (uint32_t)det.edge[i];
        count = suppress(&det, corners, max_out);
        n = count < max_out ? count : max_out;
        qsort(corners, (size_t)n, sizeof *corners, cmp_corner);
        corner_total += (uint64_t)count;
        for (i = 0; i < n; i++)
            hash = (hash ^ (uint32_t)(corners[i].y * w + corners[i].x)) * 16777619u;
    }
    printf("image %dx%d mask %d\n", w, h, det.nmask);
    printf("last round corners %d; strongest:", count);
    for (k = 0; k < count && k < 5; k++)
        printf(" (%d,%d:%d)", corners[k].x, corners[k].y, corners[k].response);
    printf("\ncorners %llu edge_total %llu hash %08x\n", (unsigned long long)corner_total,
           (unsigned long long)edge_total, (unsigned)hash);
    free(corners);
    free(det.response);
    free(det.edge);
    free(px);
    return 0;
}
