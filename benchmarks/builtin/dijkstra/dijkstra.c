/* dijkstra: single-source shortest paths on a weighted directed graph stored
 * in compressed sparse rows, with an indexed binary heap (pqueue.c).
 *
 * usage: dijkstra GRAPH.TXT REPEAT
 * GRAPH.TXT: "N M" then M lines "u v w".  Each round runs Dijkstra from a
 * different source, reconstructs one path and folds distances into a checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pqueue.h"

#define INF UINT64_MAX

struct graph {
    int32_t n, m;
    int32_t *start;  /* n + 1 offsets into dst/weight */
    int32_t *dst;
    uint32_t *weight;
};

struct edge_in {
    int32_t u, v;
    uint32_t w;
};

static void load_graph(const char *path, struct graph *g)
{
    FILE *f = fopen(path, "r");
    struct edge_in *e;
    int32_t *fill;
    long n, m, i, u, v, w;
    if (!f || fscanf(f, "%ld %ld", &n, &m) != 2 || n <= 0 || m < 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    e = malloc((size_t)(m ? m : 1) * sizeof *e);
    for (i = 0; i < m; i++) {
        if (fscanf(f, "%ld %ld %ld", &u, &v, &w) != 3 || u < 0 || u >= n || v < 0 || v >= n ||
            w < 0) {
            fprintf(stderr, "bad edge %ld\n", i);
            exit(2);
        }
        e[i].u = (int32_t)u;
        e[i].v = (int32_t)v;
        e[i].w = (uint32_t)w;
    }
    fclose(f);
    g->n = (int32_t)n;
    g->m = (int32_t)m;
    g->start = calloc((size_t)n + 1, sizeof *g->start);
    g->dst = malloc((size_t)(m ? m : 1) * sizeof *g->dst);
    g->weight = malloc((size_t)(m ? m : 1) * sizeof *g->weight);
    for (i = 0; i < m; i++)
        g->start[e[i].u + 1]++;
    for (i = 0; i < n; i++)
        g->start[i + 1] += g->start[i];
    fill = malloc((size_t)n * sizeof *fill);
    for (i = 0; i < n; i++)
        fill[i] = g->start[i];
    for (i = 0; i < m; i++) {
        int32_t k = fill[e[i].u]++;
        g->dst[k] = e[i].v;
        g->weight[k] = e[i].w;
    }
    free(fill);
    free(e);
}

static void free_graph(struct graph *g)
{
    free(g->start);
    free(g->dst);
    free(g->weight);
}

/* returns the number of vertices reached */
static int32_t shortest_paths(const struct graph *g, int32_t src, uint64_t *dist, int32_t *pred,
                              struct pqueue *q)
{
    int32_t i, reached = 0;
    for (i = 0; i < g->n; i++) {
        dist[i] = INF;
        pred[i] = -1;
    }
    dist[src] = 0;
    pq_clear(q);
    pq_push_or_decrease(q, src, 0);
    while (!pq_empty(q)) {
        uint64_t d;
        int32_t u = pq_pop(q, &d), k;
        reached++;
        for (k = g->start[u]; k < g->start[u + 1]; k++) {
            int32_t v = g->dst[k];
            uint64_t nd = d + g->weight[k];
            if (nd < dist[v] || (nd == dist[v] && u < pred[v] && q->slot[v] >= 0)) {
                dist[v] = nd;
                pred[v] = u;
                pq_push_or_decrease(q, v, nd);
            }
        }
    }
    return reached;
}

static int32_t path_length(const int32_t *pred, int32_t src, int32_t target, uint32_t *hash)
{
    int32_t hops = 0, v = target;
    while (v != src && v >= 0) {
        *hash = (*hash ^ (uint32_t)v) * 0x9e3779b1u;
        v = pred[v];
        hops++;
    }
    return v == src ? hops : -1;
}

int main(int argc, char **argv)
{
    struct graph g;
    struct pqueue q;
    uint64_t *dist, sum_all = 0, far_all = 0;
    int32_t *pred, i;
    uint32_t hash = 0;
    long hops_all = 0, reached_all = 0;
    int repeat, r;

    if (argc < 3) {
        fprintf(stderr, "usage: %s GRAPH.TXT REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    load_graph(argv[1], &g);
    dist = malloc((size_t)g.n * sizeof *dist);
    pred = malloc((size_t)g.n * sizeof *pred);
    pq_init(&q, g.n);

    for (r = 0; r < repeat; r++) {
        int32_t src = (int32_t)(((uint32_t)r * 7919u + 13u) % (uint32_t)g.n);
        int32_t target = (int32_t)(((uint32_t)r * 104729u + (uint32_t)g.n / 2) % (uint32_t)g.n);
        uint64_t far = 0, sum = 0;
        reached_all += shortest_paths(&g, src, dist, pred, &q);
        for (i = 0; i < g.n; i++)
            if (dist[i] != INF) {
                sum += dist[i];
                if (dist[i] > far)
                    far = dist[i];
            }
        sum_all += sum;
        far_all += far;
        hops_all += path_length(pred, src, target, &hash);
        if (r < 3)
            printf("src %ld -> %ld: dist %llu hops %ld\n", (long)src, (long)target,
                   (unsigned long long)dist[target],
                   (long)path_length(pred, src, target, &(uint32_t){0}));
    }
    printf("n %ld m %ld rounds %d reached %ld\n", (long)g.n, (long)g.m, repeat, reached_all);
    printf("distsum %llu farsum %llu hops %ld pathhash %08x\n", (unsigned long long)sum_all,
           (unsigned long long)far_all, hops_all, (unsigned)hash);
    pq_free(&q);
    free(dist);
    free(pred);
    free_graph(&g);
    return 0;
}
