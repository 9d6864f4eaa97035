/* wordfreq: word and bigram frequencies of a text with two hash tables - a
 * separately chained string table that grows by rehashing, and an
 * open-addressing table of word-id pairs with linear probing - then the most
 * frequent entries by qsort.
 *
 * usage: wordfreq BOOK.TXT REPEAT
 * Words are maximal runs of ASCII letters, folded to lower case.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ string arena */
struct arena {
    char *buf;
    size_t used, cap;
};

static size_t arena_add(struct arena *a, const char *s, size_t n)
{
    size_t at = a->used;
    if (a->used + n + 1 > a->cap) {
        a->cap = (a->used + n + 1) * 2;
        a->buf = realloc(a->buf, a->cap);
    }
    memcpy(a->buf + at, s, n);
    a->buf[at + n] = 0;
    a->used += n + 1;
    return at;
}

/* ------------------------------------------------------------ chained word table */
struct word {
    size_t text;     /* offset in the arena */
    uint32_t len, hash, count, id;
    struct word *next;
};

struct word_table {
    struct word **buckets;
    uint32_t nbuckets, size;
    struct word *pool;
    uint32_t pool_cap;
    struct arena arena;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x01000193u;
    }
    h ^= h >> 15; /* extra mixing for the low bits used as bucket index */
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static void wt_init(struct word_table *t, uint32_t nbuckets)
{
    t->nbuckets = nbuckets;
    t->buckets = calloc(nbuckets, sizeof *t->buckets);
    t->size = 0;
    t->pool_cap = 1024;
    t->pool = malloc(t->pool_cap * sizeof *t->pool);
    memset(&t->arena, 0, sizeof t->arena);
}

static void wt_free(struct word_table *t)
{
    free(t->buckets);
    free(t->pool);
    free(t->arena.buf);
}

static void wt_rehash(struct word_table *t)
{
    uint32_t nb = t->nbuckets * 2, i;
    struct word **nbk = calloc(nb, sizeof *nbk);
    for (i = 0; i < t->size; i++) { /* relink in id order so the chains are deterministic */
        struct word *w = &t->pool[i];
        uint32_t b = w->hash & (nb - 1u);
        w->next = nbk[b];
        nbk[b] = w;
    }
    free(t->buckets);
    t->buckets = nbk;
    t->nbuckets = nb;
}

/* returns the id of the word, inserting it with count 0 if new */
static uint32_t wt_intern(struct word_table *t, const char *s, size_t n)
{
    uint32_t h = hash_bytes(s, n), b = h & (t->nbuckets - 1u);
    struct word *w;
    for (w = t->buckets[b]; w; w = w->next)
        if (w->hash == h && w->len == n && memcmp(t->arena.buf + w->text, s, n) == 0)
            return w->id;
    if (t->size == t->pool_cap) {
        /* the pool moves: rebuild every chain afterwards */
        t->pool_cap *= 2;
        t->pool = realloc(t->pool, t->pool_cap * sizeof *t->pool);
        t->nbuckets /= 2;
        wt_rehash(t);
    }
    w = &t->pool[t->size];
    w->text = arena_add(&t->arena, s, n);
    w->len = (uint32_t)n;
    w->hash = h;
    w->count = 0;
    w->id = t->size++;
    w->next = t->buckets[b];
    t->buckets[b] = w;
    if (t->size > t->nbuckets - t->nbuckets / 4)
        wt_rehash(t);
    return w->id;
}

/* ------------------------------------------------------------ open-addressing pair table */
struct pair_slot {
    uint64_t key; /* (first id + 1) << 32 | (second id + 1); 0 = empty */
    uint32_t count;
};

struct pair_table {
    struct pair_slot *slots;
    uint32_t cap, size;
};

static uint32_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static void pt_insert_count(struct pair_table *t, uint64_t key, uint32_t add);

static void pt_grow(struct pair_table *t)
{
    struct pair_slot *old = t->slots;
    uint32_t oldcap = t->cap, i;
    t->cap = oldcap ? oldcap * 2 : 1024;
    t->slots = calloc(t->cap, sizeof *t->slots);
    t->size = 0;
    for (i = 0; i < oldcap; i++)
        if (old[i].key)
            pt_insert_count(t, old[i].key, old[i].count);
    free(old);
}

static void pt_insert_count(struct pair_table *t, uint64_t key, uint32_t add)
{
    uint32_t i;
    if ((t->size + 1) * 10 > t->cap * 7)
        pt_grow(t);
    i = mix64(key) & (t->cap - 1u);
    while (t->slots[i].key && t->slots[i].key != key)
        i = (i + 1u) & (t->cap - 1u);
    if (!t->slots[i].key) {
        t->slots[i].key = key;
        t->size++;
    }
    t->slots[i].count += add;
}

/* ------------------------------------------------------------ ranking */
struct ranked {
    uint32_t count;
    const char *a, *b;
};

static int cmp_ranked(const void *x, const void *y)
{
    const struct ranked *p = x, *q = y;
    int c;
    if (p->count != q->count)
        return p->count > q->count ? -1 : 1;
    c = strcmp(p->a, q->a);
    if (c)
        return c;
    return strcmp(p->b ? p->b : "", q->b ? q->b : "");
}

int main(int argc, char **argv)
{
    FILE *f;
    char *text, word[64];
    long size;
    size_t len, i;
    int repeat, r, k;
    uint64_t total_words = 0;
    uint32_t hash = 2166136261u;
    struct word_table wt;
    struct pair_table pt;
    struct ranked *top = NULL;
    uint32_t ntop = 0, distinct = 0, distinct_pairs = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s BOOK.TXT REPEAT\n", argv[0]);
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
    text = malloc((size_t)size + 1);
    len = fread(text, 1, (size_t)size, f);
    text[len] = 0;
    fclose(f);

    for (r = 0; r < repeat; r++) {
        uint32_t prev = UINT32_MAX, j;
        /* rounds skip a different prefix so the tables see varied input */
        size_t start = (size_t)r * 997u % (len / 4);
        wt_init(&wt, 256);
        memset(&pt, 0, sizeof pt);
        for (i = start; i < len;) {
            size_t n = 0;
            unsigned char c = (unsigned char)text[i];
            if (!((c | 32u) >= 'a' && (c | 32u) <= 'z')) {
                i++;
                continue;
            }
            while (i < len) {
                c = (unsigned char)text[i];
                if (!((c | 32u) >= 'a' && (c | 32u) <= 'z'))
                    break;
                if (n < sizeof word - 1)
                    word[n++] = (char)(c | 32u);
                i++;
            }
            {
                uint32_t id = wt_intern(&wt, word, n);
                wt.pool[id].count++;
                total_words++;
                if (prev != UINT32_MAX)
                    pt_insert_count(&pt, ((uint64_t)prev + 1u) << 32 | ((uint64_t)id + 1u), 1);
                prev = id;
            }
        }
        /* rank words and pairs together */
        ntop = wt.size + pt.size;
        top = realloc(top, (ntop ? ntop : 1) * sizeof *top);
        for (j = 0; j < wt.size; j++) {
            top[j].count = wt.pool[j].count;
            top[j].a = wt.arena.buf + wt.pool[j].text;
            top[j].b = NULL;
        }
        k = (int)wt.size;
        for (j = 0; j < pt.cap; j++)
            if (pt.slots[j].key) {
                uint64_t key = pt.slots[j].key;
                top[k].count = pt.slots[j].count;
                top[k].a = wt.arena.buf + wt.pool[(key >> 32) - 1u].text;
                top[k].b = wt.arena.buf + wt.pool[(key & 0xffffffffu) - 1u].text;
                k++;
            }
        qsort(top, ntop, sizeof *top, cmp_ranked);
        for (j = 0; j < ntop && j < 50; j++)
            hash = (hash ^ top[j].count ^ hash_bytes(top[j].a, strlen(top[j].a))) * 16777619u;
        distinct = wt.size;
        distinct_pairs = pt.size;
        if (r == repeat - 1) {
            printf("words %llu distinct %lu pairs %lu\n", (unsigned long long)total_words,
                   (unsigned long)distinct, (unsigned long)distinct_pairs);
            for (j = 0; j < ntop && j < 6; j++)
                printf("%6lu %s%s%s\n", (unsigned long)top[j].count, top[j].a, top[j].b ? " " : "",
                       top[j].b ? top[j].b : "");
        }
        wt_free(&wt);
        free(pt.slots);
    }
    printf("hash %08x\n", (unsigned)hash);
    free(top);
    free(text);
    return 0;
}
