/* stencil: fixed-point (Q12) dense matrix multiply in three loop orders
 * (naive i-j-k, transposed operand, cache-blocked) and 2D Jacobi relaxation
 * with 5-point and 9-point integer stencils.
 *
 * usage: stencil INIT.BIN REPEAT
 * INIT.BIN supplies the initial matrix entries and grid values (bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 64      /* matrix order */
#define TILE 16   /* blocking factor */
#define QBITS 12  /* fixed-point fraction bits */
#define GW 128    /* grid width */
#define GH 96     /* grid height */
#define SWEEPS 8

typedef int32_t mat_t[N][N];

static mat_t A, B, Bt, C1, C2, C3;
static int32_t grid_a[GH][GW], grid_b[GH][GW];

static void matmul_naive(mat_t a, mat_t b, mat_t c)
{
    int i, j, k;
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++) {
            int64_t acc = 0;
            for (k = 0; k < N; k++)
                acc += (int64_t)a[i][k] * b[k][j];
            c[i][j] = (int32_t)(acc >> QBITS);
        }
}

static void transpose(mat_t src, mat_t dst)
{
    int i, j;
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++)
            dst[j][i] = src[i][j];
}

static void matmul_transposed(mat_t a, mat_t bt, mat_t c)
{
    int i, j, k;
    for (i = 0; i < N; i++) {
        const int32_t *row = a[i];
        for (j = 0; j < N; j++) {
            const int32_t *col = bt[j];
            int64_t acc = 0;
            for (k = 0; k < N; k++)
                acc += (int64_t)row[k] * col[k];
            c[i][j] = (int32_t)(acc >> QBITS);
        }
    }
}

static void matmul_blocked(mat_t a, mat_t b, mat_t c)
{
    static int64_t acc[N][N];
    int ii, jj, kk, i, j, k;
    memset(acc, 0, sizeof acc);
    for (ii = 0; ii < N; ii += TILE)
        for (kk = 0; kk < N; kk += TILE)
            for (jj = 0; jj < N; jj += TILE)
                for (i = ii; i < ii + TILE; i++)
                    for (k = kk; k < kk + TILE; k++) {
                        int64_t aik = a[i][k];
                        for (j = jj; j < jj + TILE; j++)
                            acc[i][j] += aik * b[k][j];
                    }
    for (i = 0; i < N; i++)
        for (j = 0; j < N; j++)
            c[i][j] = (int32_t)(acc[i][j] >> QBITS);
}

/* one Jacobi sweep; border cells stay fixed */
static void sweep5(int32_t (*src)[GW], int32_t (*dst)[GW])
{
    int y, x;
    for (y = 1; y < GH - 1; y++)
        for (x = 1; x < GW - 1; x++)
            dst[y][x] = (4 * src[y][x] + src[y - 1][x] + src[y + 1][x] + src[y][x - 1] +
                         src[y][x + 1]) >> 3;
}

static void sweep9(int32_t (*src)[GW], int32_t (*dst)[GW])
{
    int y, x;
    for (y = 1; y < GH - 1; y++) {
        const int32_t *up = src[y - 1], *mid = src[y], *dn = src[y + 1];
        int32_t *out = dst[y];
        for (x = 1; x < GW - 1; x++) {
            int32_t edge = up[x] + dn[x] + mid[x - 1] + mid[x + 1];
            int32_t corner = up[x - 1] + up[x + 1] + dn[x - 1] + dn[x + 1];
            out[x] = (8 * mid[x] + 2 * edge + corner) >> 4;
        }
    }
}

static uint32_t hash_words(const int32_t *p, size_t n, uint32_t h)
{
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ (uint32_t)p[i]) * 16777619u;
    return h;
}

int main(int argc, char **argv)
{
    unsigned char *init;
    size_t len, need = 2 * N * N + GW * GH;
    FILE *f;
    int repeat, r, i, j, bad = 0;
    uint32_t hm = 2166136261u, hg = 2166136261u;
    int64_t trace_sum = 0, energy = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s INIT.BIN REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    init = malloc(need);
    f = fopen(argv[1], "rb");
    if (!f || (len = fread(init, 1, need, f)) != need) {
        fprintf(stderr, "%s: need %lu bytes\n", argv[1], (unsigned long)need);
        return 2;
    }
    fclose(f);

    for (r = 0; r < repeat; r++) {
        const unsigned char *p = init;
        int32_t (*src)[GW] = grid_a, (*dst)[GW] = grid_b, (*tmp)[GW];
        int s;
        /* entries in [-0.5, 0.5) in Q12, perturbed by the round number */
        for (i = 0; i < N; i++)
            for (j = 0; j < N; j++) {
                A[i][j] = ((int32_t)*p++ - 128) * 16 + (r % 17) - 8;
                B[i][j] = ((int32_t)*p++ - 128) * 16 - (r % 13) + 6;
            }
        matmul_naive(A, B, C1);
        transpose(B, Bt);
        matmul_transposed(A, Bt, C2);
        matmul_blocked(A, B, C3);
        if (memcmp(C1, C2, sizeof C1) || memcmp(C1, C3, sizeof C1))
            bad++;
        /* square the product once more through the blocked kernel */
        matmul_blocked(C1, C1, C2);
        for (i = 0; i < N; i++)
            trace_sum += C2[i][i];
        hm = hash_words(&C2[0][0], N * N, hm);

        for (i = 0; i < GH; i++)
            for (j = 0; j < GW; j++)
                grid_a[i][j] = grid_b[i][j] = (int32_t)p[i * GW + j] << 8;
        for (j = 0; j < GW; j++) /* hot top edge, cold bottom edge */
            grid_a[0][j] = grid_b[0][j] = 0xffff - r;
        for (s = 0; s < SWEEPS; s++) {
            if (s & 1)
                sweep9(src, dst);
            else
                sweep5(src, dst);
            tmp = src;
            src = dst;
            dst = tmp;
        }
        for (i = 0; i < GH; i++)
            for (j = 0; j < GW; j++)
                energy += src[i][j];
        hg = hash_words(&src[0][0], GW * GH, hg);
    }
    printf("matmul N=%d trace_sum %lld hash %08x\n", N, (long long)trace_sum, (unsigned)hm);
    printf("jacobi %dx%d sweeps %d energy %lld hash %08x\n", GW, GH, SWEEPS, (long long)energy,
           (unsigned)hg);
    printf("c[0][0] %ld c[N-1][N-1] %ld bad %d\n", (long)C1[0][0], (long)C1[N - 1][N - 1], bad);
    free(init);
    return bad != 0;
}
