/* sortcheck - a self-checking program: each round sorts pseudo-random keys with a bottom-up
 * merge sort and checks its own result (the keys come out in order, and their sum and xor
 * are those of the input). It prints nothing: the exit status says whether it is right
 * (0: correct, 1: wrong), which is how a miscompiled candidate shows. */
#include <stdint.h>
#include <stdlib.h>

#define KEYS 4096

static uint32_t next_key(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void merge_sort(uint32_t *a, uint32_t *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        for (int k = 0; k < n; k++)
            a[k] = tmp[k];
    }
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 4;
    static uint32_t keys[KEYS], tmp[KEYS];
    uint32_t state = 12345;
    for (int r = 0; r < rounds; r++) {
        uint64_t sum = 0;
        uint32_t x = 0;
        for (int k = 0; k < KEYS; k++) {
            keys[k] = next_key(&state);
            sum += keys[k];
            x ^= keys[k];
        }
        merge_sort(keys, tmp, KEYS);
        for (int k = 0; k < KEYS; k++) {
            sum -= keys[k];
            x ^= keys[k];
            if (k && keys[k - 1] > keys[k])
                return 1;
        }
        if (sum || x)
            return 1;
    }
    return 0;
}
