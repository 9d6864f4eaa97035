/* pqueue: indexed binary min-heap with decrease-key, keyed by 64-bit priorities. */
#ifndef BUILTIN_PQUEUE_H
#define BUILTIN_PQUEUE_H

#include <stdint.h>

struct pqueue {
    int32_t *heap;  /* heap[i] = item at heap slot i */
    int32_t *slot;  /* slot[item] = heap slot, -1 when not queued */
    uint64_t *prio; /* prio[item] */
    int32_t size;
    int32_t capacity;
};

void pq_init(struct pqueue *q, int32_t capacity);
void pq_free(struct pqueue *q);
void pq_clear(struct pqueue *q);
int pq_empty(const struct pqueue *q);
/* insert item, or lower its priority if it is queued with a higher one */
void pq_push_or_decrease(struct pqueue *q, int32_t item, uint64_t prio);
int32_t pq_pop(struct pqueue *q, uint64_t *prio);

#endif
