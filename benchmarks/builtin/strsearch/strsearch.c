/* strsearch: count occurrences of patterns in a text with a naive scan,
 * Knuth-Morris-Pratt, Boyer-Moore-Horspool and a case-insensitive Horspool.
 *
 * usage: strsearch TEXT PATTERNS REPEAT
 * PATTERNS has one pattern per line.  Counts include overlapping matches.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pattern {
    const unsigned char *s;
    size_t len;
    int *fail;          /* KMP failure function */
    size_t shift[256];  /* Horspool bad-character shifts */
    size_t ishift[256]; /* same, on lower-cased bytes */
};

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static void prepare(struct pattern *p)
{
    size_t i;
    int k;
    p->fail = malloc((p->len + 1) * sizeof *p->fail);
    p->fail[0] = -1;
    k = -1;
    for (i = 0; i < p->len; i++) {
        while (k >= 0 && p->s[k] != p->s[i])
            k = p->fail[k];
        k++;
        p->fail[i + 1] = k;
    }
    for (i = 0; i < 256; i++)
        p->shift[i] = p->ishift[i] = p->len;
    for (i = 0; i + 1 < p->len; i++) {
        p->shift[p->s[i]] = p->len - 1 - i;
        p->ishift[lower(p->s[i])] = p->len - 1 - i;
    }
}

static long search_naive(const unsigned char *t, size_t n, const struct pattern *p)
{
    long count = 0;
    size_t i, j;
    if (p->len > n)
        return 0;
    for (i = 0; i + p->len <= n; i++) {
        for (j = 0; j < p->len && t[i + j] == p->s[j]; j++)
            ;
        if (j == p->len)
            count++;
    }
    return count;
}

static long search_kmp(const unsigned char *t, size_t n, const struct pattern *p)
{
    long count = 0;
    int k = 0, m = (int)p->len;
    size_t i;
    for (i = 0; i < n; i++) {
        while (k >= 0 && (k == m || p->s[k] != t[i]))
            k = p->fail[k];
        k++;
        if (k == m)
            count++;
    }
    return count;
}

static long search_horspool(const unsigned char *t, size_t n, const struct pattern *p)
{
    long count = 0;
    size_t m = p->len, pos = 0;
    if (m > n)
        return 0;
    while (pos + m <= n) {
        unsigned char last = t[pos + m - 1];
        if (last == p->s[m - 1] && memcmp(t + pos, p->s, m - 1) == 0)
            count++;
        pos += p->shift[last];
    }
    return count;
}

static long search_horspool_icase(const unsigned char *t, size_t n, const struct pattern *p)
{
    long count = 0;
    size_t m = p->len, pos = 0, j;
    if (m > n)
        return 0;
    while (pos + m <= n) {
        const unsigned char *w = t + pos;
        for (j = m; j > 0 && lower(w[j - 1]) == lower(p->s[j - 1]); j--)
            ;
        if (j == 0)
            count++;
        pos += p->ishift[lower(w[m - 1])];
    }
    return count;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long size;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    size_t tlen, plen, i, np = 0;
    unsigned char *text, *pats;
    struct pattern *pv;
    long total_cs = 0, total_ci = 0;
    uint32_t h = 0;
    int repeat, r, bad = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: %s TEXT PATTERNS REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[3]);
    text = read_all(argv[1], &tlen);
    pats = read_all(argv[2], &plen);

    /* split the pattern file into lines in place */
    for (i = 0, np = 1; i < plen; i++)
        np += pats[i] == '\n';
    pv = calloc(np, sizeof *pv);
    np = 0;
    for (i = 0; i < plen;) {
        size_t start = i;
        while (i < plen && pats[i] != '\n')
            i++;
        if (i > start) {
            pv[np].s = pats + start;
            pv[np].len = i - start;
            prepare(&pv[np]);
            np++;
        }
        i++;
    }

    for (r = 0; r < repeat; r++) {
        /* each round searches a different (rotating) window of the text */
        size_t n = tlen / 3;
        size_t off = ((size_t)r * 40009u) % (tlen - n + 1);
        const unsigned char *t = text + off;
        for (i = 0; i < np; i++) {
            const struct pattern *p = &pv[i];
            long a = search_kmp(t, n, p);
            long b = search_horspool(t, n, p);
            long c = search_horspool_icase(t, n, p);
            if (a != b || c < b)
                bad++;
            if (i % 8 == (size_t)r % 8 && search_naive(t, n, p) != a)
                bad++;
            total_cs += a;
            total_ci += c;
            h = h * 16777619u ^ (uint32_t)a ^ (uint32_t)c << 16;
            if (r == 0 && i < 6)
                printf("%-24.*s %ld %ld\n", (int)p->len, (const char *)p->s, a, c);
        }
    }
    printf("patterns %lu text %lu\n", (unsigned long)np, (unsigned long)tlen);
    printf("matches %ld icase %ld hash %08x bad %d\n", total_cs, total_ci, (unsigned)h, bad);
    for (i = 0; i < np; i++)
        free(pv[i].fail);
    free(pv);
    free(text);
    free(pats);
    return bad != 0;
}
