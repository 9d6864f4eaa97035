/* costtune's PolyBench/C run-time support (see polybench.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *polybench_alloc_data(unsigned long long n, int elt_size)
{
  /* zeroed and 64-byte aligned, so that every run starts from the same bytes */
  void *p = NULL;
  size_t bytes;
  if (elt_size <= 0 || n > (unsigned long long)(~(size_t)0) / (size_t)elt_size) {
    fprintf(stderr, "polybench: array of %llu elements of %d bytes is too large\n", n, elt_size);
    exit(1);
  }
  bytes = (size_t)n * (size_t)elt_size;
  if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) {
    fprintf(stderr, "polybench: cannot allocate %llu bytes\n", (unsigned long long)bytes);
    exit(1);
  }
  memset(p, 0, bytes);
  return p;
}
