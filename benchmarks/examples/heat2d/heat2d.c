/* heat2d - explicit 2-D heat diffusion on an N x N grid, a kernel in the style of the
 * numerical suites: the size N comes from the command line (the dataset-size knob) and the
 * final grid is dumped to stderr. Only every 8th point is printed, so that the C library's
 * printf stays a small share of the instructions next to the kernel itself. */
#include <stdio.h>
#include <stdlib.h>

#define STEPS 64

static void init(int n, double *u)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            u[i * n + j] = (double)((i * 7 + j * 13) % 17) / 17.0;
}

/* one time step: interior points relax towards their four neighbours, the border is fixed */
static void step(int n, const double *restrict u, double *restrict v)
{
    for (int j = 0; j < n; j++) {
        v[j] = u[j];
        v[(n - 1) * n + j] = u[(n - 1) * n + j];
    }
    for (int i = 1; i < n - 1; i++) {
        v[i * n] = u[i * n];
        for (int j = 1; j < n - 1; j++) {
            double c = u[i * n + j];
            double around = u[(i - 1) * n + j] + u[(i + 1) * n + j] + u[i * n + j - 1] + u[i * n + j + 1];
            v[i * n + j] = c + 0.2 * (around - 4.0 * c);
        }
        v[i * n + n - 1] = u[i * n + n - 1];
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64;
    if (n < 8)
        n = 8;
    double *u = malloc(sizeof(double) * n * n), *v = malloc(sizeof(double) * n * n);
    if (!u || !v)
        return 2;
    init(n, u);
    for (int t = 0; t < STEPS; t++) {
        step(n, u, v);
        double *w = u;
        u = v;
        v = w;
    }
    for (int i = 0; i < n; i += 8) {
        for (int j = 0; j < n; j += 8)
            fprintf(stderr, "%.6f ", u[i * n + j]);
        fputc('\n', stderr);
    }
    free(u);
    free(v);
    return 0;
}
