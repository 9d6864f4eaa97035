/* pqueue: indexed binary min-heap (see pqueue.h). */
#include "pqueue.h"

#include <stdlib.h>

void pq_init(struct pqueue *q, int32_t capacity)
{
    int32_t i;
    q->heap = malloc((size_t)capacity * sizeof *q->heap);
    q->slot = malloc((size_t)capacity * sizeof *q->slot);
    q->prio = malloc((size_t)capacity * sizeof *q->prio);
    q->capacity = capacity;
    q->size = 0;
    for (i = 0; i < capacity; i++)
        q->slot[i] = -1;
}

void pq_free(struct pqueue *q)
{
    free(q->heap);
    free(q->slot);
    free(q->prio);
}

void pq_clear(struct pqueue *q)
{
    while (q->size > 0)
        q->slot[q->heap[--q->size]] = -1;
}

int pq_empty(const struct pqueue *q)
{
    return q->size == 0;
}

/* ties are broken by item number so the pop order is fully determined */
static int less(const struct pqueue *q, int32_t a, int32_t b)
{
    if (q->prio[a] != q->prio[b])
        return q->prio[a] < q->prio[b];
    return a < b;
}

static void place(struct pqueue *q, int32_t pos, int32_t item)
{
    q->heap[pos] = item;
    q->slot[item] = pos;
}

static void sift_up(struct pqueue *q, int32_t pos)
{
    int32_t item = q->heap[pos];
    while (pos > 0) {
        int32_t parent = (pos - 1) / 2;
        if (!less(q, item, q->heap[parent]))
            break;
        place(q, pos, q->heap[parent]);
        pos = parent;
    }
    place(q, pos, item);
}

static void sift_down(struct pqueue *q, int32_t pos)
{
    int32_t item = q->heap[pos];
    for (;;) {
        int32_t c = 2 * pos + 1;
        if (c >= q->size)
            break;
        if (c + 1 < q->size && less(q, q->heap[c + 1], q->heap[c]))
            c++;
        if (!less(q, q->heap[c], item))
            break;
        place(q, pos, q->heap[c]);
        pos = c;
    }
    place(q, pos, item);
}

void pq_push_or_decrease(struct pqueue *q, int32_t item, uint64_t prio)
{
    int32_t pos = q->slot[item];
    if (pos < 0) {
        q->prio[item] = prio;
        pos = q->size++;
        place(q, pos, item);
        sift_up(q, pos);
    } else if (prio < q->prio[item]) {
        q->prio[item] = prio;
        sift_up(q, pos);
    }
}

int32_t pq_pop(struct pqueue *q, uint64_t *prio)
{
    int32_t top = q->heap[0];
    *prio = q->prio[top];
    q->slot[top] = -1;
    if (--q->size > 0) {
        place(q, 0, q->heap[q->size]);
        sift_down(q, 0);
    }
    return top;
}
