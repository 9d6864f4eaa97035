/* sorting: quicksort, heapsort, top-down mergesort, shellsort and a generic
 * comparator-driven insertion/merge sort over 32-bit integers read from text.
 *
 * usage: sorting INTS.TXT REPEAT
 * The file holds a count followed by that many decimal integers.  Each round
 * scrambles a copy of the data with a round-dependent key, sorts it with every
 * algorithm, verifies the results agree and accumulates a position-weighted
 * checksum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sort_fn)(int32_t *a, size_t n);
typedef int (*cmp_fn)(const void *, const void *);

/* ------------------------------------------------------------ quicksort */
static void insertion_sort(int32_t *a, size_t n)
{
    size_t i, j;
    for (i = 1; i < n; i++) {
        int32_t v = a[i];
        for (j = i; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static void swap32(int32_t *x, int32_t *y)
{
    int32_t t = *x;
    *x = *y;
    *y = t;
}

static int32_t median3(int32_t a, int32_t b, int32_t c)
{
    if (a < b) {
        if (b < c)
            return b;
        return a < c ? c : a;
    }
    if (a < c)
        return a;
    return b < c ? c : b;
}

static void quick_rec(int32_t *a, size_t lo, size_t hi) /* sorts a[lo..hi) */
{
    while (hi - lo > 16) {
        int32_t pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        size_t i = lo, j = hi - 1;
        /* Hoare partition */
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap32(&a[i], &a[j]);
            i++;
            j--;
        }
        /* recurse into the smaller part, loop on the larger */
        if (j + 1 - lo < hi - (j + 1)) {
            quick_rec(a, lo, j + 1);
            lo = j + 1;
        } else {
            quick_rec(a, j + 1, hi);
            hi = j + 1;
        }
    }
    insertion_sort(a + lo, hi - lo);
}

static void quick_sort(int32_t *a, size_t n)
{
    if (n > 1)
        quick_rec(a, 0, n);
}

/* ------------------------------------------------------------ heapsort */
static void sift_down(int32_t *a, size_t root, size_t n)
{
    int32_t v = a[root];
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            break;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[child] <= v)
            break;
        a[root] = a[child];
        root = child;
    }
    a[root] = v;
}

static void heap_sort(int32_t *a, size_t n)
{
    size_t i;
    if (n < 2)
        return;
    for (i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (i = n - 1; i > 0; i--) {
        swap32(&a[0], &a[i]);
        sift_down(a, 0, i);
    }
}

/* ------------------------------------------------------------ mergesort */
static int32_t *merge_tmp;

static void merge_rec(int32_t *a, size_t n)
{
    size_t mid, i, j, k;
    if (n <= 8) {
        insertion_sort(a, n);
        return;
    }
    mid = n / 2;
    merge_rec(a, mid);
    merge_rec(a + mid, n - mid);
    if (a[mid - 1] <= a[mid])
        return; /* already in order */
    memcpy(merge_tmp, a, mid * sizeof *a);
    i = 0;
    j = mid;
    k = 0;
    while (i < mid && j < n)
        a[k++] = (a[j] < merge_tmp[i]) ? a[j++] : merge_tmp[i++];
    while (i < mid)
        a[k++] = merge_tmp[i++];
}

static void merge_sort(int32_t *a, size_t n)
{
    merge_rec(a, n);
}

/* ------------------------------------------------------------ shellsort */
static void shell_sort(int32_t *a, size_t n)
{
    static const size_t gaps[] = {8929, 3905, 1750, 701, 301, 132, 57, 23, 10, 4, 1};
    size_t g, i, j;
    for (g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        for (i = gap; i < n; i++) {
            int32_t v = a[i];
            for (j = i; j >= gap && a[j - gap] > v; j -= gap)
                a[j] = a[j - gap];
            a[j] = v;
        }
    }
}

/* ------------------------------------------------------------ generic bottom-up mergesort */
static int cmp_int32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static void generic_sort(void *base, size_t n, size_t size, cmp_fn cmp, void *scratch)
{
    unsigned char *src = base, *dst = scratch;
    size_t width, lo;
    int in_scratch = 0;
    for (width = 1; width < n; width *= 2) {
        for (lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (cmp(src + j * size, src + i * size) < 0)
                    memcpy(dst + size * k++, src + size * j++, size);
                else
                    memcpy(dst + size * k++, src + size * i++, size);
            }
            memcpy(dst + size * k, src + size * i, (mid - i) * size);
            k += mid - i;
            memcpy(dst + size * k, src + size * j, (hi - j) * size);
        }
        {
            unsigned char *t = src;
            src = dst;
            dst = t;
        }
        in_scratch = !in_scratch;
    }
    if (in_scratch)
        memcpy(base, scratch, n * size);
}

static void *generic_scratch;

static void generic_int_sort(int32_t *a, size_t n)
{
    generic_sort(a, n, sizeof *a, cmp_int32, generic_scratch);
}

/* ------------------------------------------------------------ driver */
static const struct {
    const char *name;
    sort_fn fn;
} sorts[] = {
    {"quick", quick_sort}, {"heap", heap_sort}, {"merge", merge_sort},
    {"shell", shell_sort}, {"generic", generic_int_sort},
};
#define NSORTS ((int)(sizeof sorts / sizeof sorts[0]))

static int32_t *read_ints(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    long n, i, v;
    int32_t *a;
    if (!f || fscanf(f, "%ld", &n) != 1 || n <= 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    a = malloc((size_t)n * sizeof *a);
    for (i = 0; i < n && fscanf(f, "%ld", &v) == 1; i++)
        a[i] = (int32_t)v;
    fclose(f);
    *count = (size_t)i;
    return a;
}

static uint32_t weighted_sum(const int32_t *a, size_t n)
{
    uint32_t s = 0;
    size_t i;
    for (i = 0; i < n; i++)
        s += (uint32_t)a[i] * (uint32_t)(i + 1);
    return s;
}

int main(int argc, char **argv)
{
    size_t n, i;
    int32_t *data, *work, *ref;
    uint32_t check = 0;
    int repeat, r, s, bad = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s INTS.TXT REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    data = read_ints(argv[1], &n);
    work = malloc(n * sizeof *work);
    ref = malloc(n * sizeof *ref);
    merge_tmp = malloc(n * sizeof *merge_tmp);
    generic_scratch = malloc(n * sizeof(int32_t));

    for (r = 0; r < repeat; r++) {
        uint32_t key = (uint32_t)r * 0x01000193u;
        for (s = 0; s < NSORTS; s++) {
            for (i = 0; i < n; i++) /* xor keeps duplicates duplicate, moves values */
                work[i] = (int32_t)((uint32_t)data[i] ^ (key & 0x7fffu));
            if (r & 1) /* odd rounds: reverse first so inputs differ in order */
                for (i = 0; i < n / 2; i++)
                    swap32(&work[i], &work[n - 1 - i]);
            sorts[s].fn(work, n);
            if (s == 0) {
                memcpy(ref, work, n * sizeof *ref);
                for (i = 1; i < n; i++)
                    if (work[i - 1] > work[i])
                        bad++;
            } else if (memcmp(ref, work, n * sizeof *ref) != 0) {
                bad++;
                printf("round %d: %s disagrees\n", r, sorts[s].name);
            }
        }
        check = check * 33u ^ weighted_sum(ref, n);
    }
    printf("n %lu min %ld median %ld max %ld\n", (unsigned long)n, (long)ref[0], (long)ref[n / 2],
           (long)ref[n - 1]);
    printf("check %08x bad %d\n", (unsigned)check, bad);
    free(data);
    free(work);
    free(ref);
    free(merge_tmp);
    free(generic_scratch);
    return bad != 0;
}
