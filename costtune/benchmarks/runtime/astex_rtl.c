/* costtune's runtime for the MILEPOST codelets of a cTuning checkout.
 *
 * Each codelet's wrapper (main) declares and calls these __astex_* functions:
 * it opens the data file named by argv[1], allocates one region per argument
 * and fills it from the file, runs the kernel CT_REPEAT_MAIN times between
 * start/stop_measure, and writes the measured value with write_output.
 *
 * costtune's choices, written for costtune from that interface:
 *  - write_message (progress notes) goes to stdout, write_output to stderr: the
 *    stream the cTuning metadata names as the compared output (tmp-output2.tmp).
 *  - stop_measure takes no time (costtune measures the run itself, and a time
 *    would make the output unrepeatable); it writes, for every region that
 *    memalloc handed out, its size and a 64-bit FNV-1a hash of its bytes, so a
 *    build that computes other results fails the output check. It returns 0.
 *  - regions are zeroed and get a little slack: some wrappers allocate 0 bytes
 *    for a result the kernel then writes.
 *  - a missing or short data file ends the program with a message and exit code 1.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define ASTEX_MAX_REGIONS 256
#define ASTEX_SLACK 64

static unsigned char *astex_region[ASTEX_MAX_REGIONS];
static long astex_region_size[ASTEX_MAX_REGIONS];
static int astex_regions;
static int astex_measure_token;

int __astex_write_message(const char *format, ...)
{
  va_list ap;
  int n;
  va_start(ap, format);
  n = vfprintf(stdout, format, ap);
  va_end(ap);
  return n;
}

int __astex_write_output(const char *format, ...)
{
  va_list ap;
  int n;
  va_start(ap, format);
  n = vfprintf(stderr, format, ap);
  va_end(ap);
  return n;
}

void __astex_exit_on_error(const char *msg, int code, const char *additional_msg)
{
  fflush(stdout);
  fprintf(stderr, "%s%s%s\n", msg, additional_msg ? " " : "", additional_msg ? additional_msg : "");
  exit(code);
}

void *__astex_fopen(const char *name, const char *mode)
{
  FILE *f = fopen(name, mode);
  if (f == NULL)
    __astex_exit_on_error("cannot open the codelet data file", 1, name);
  return f;
}

void __astex_close_file(void *file)
{
  if (file != NULL)
    fclose((FILE *)file);
}

void *__astex_memalloc(long bytes)
{
  unsigned char *p;
  if (bytes < 0)
    __astex_exit_on_error("negative region size", 1, "");
  p = calloc(1, (size_t)bytes + ASTEX_SLACK);
  if (p == NULL)
    __astex_exit_on_error("out of memory", 1, "");
  if (astex_regions < ASTEX_MAX_REGIONS) {
    astex_region[astex_regions] = p;
    astex_region_size[astex_regions] = bytes;
    astex_regions++;
  }
  return p;
}

void __astex_read_from_file(void *dest, long bytes, void *file)
{
  if (bytes > 0 && fread(dest, 1, (size_t)bytes, (FILE *)file) != (size_t)bytes)
    __astex_exit_on_error("the codelet data file is shorter than its regions", 1, "");
}

int __astex_getenv_int(const char *var)
{
  const char *v = getenv(var);
  return v ? atoi(v) : 0;
}

void *__astex_start_measure(void)
{
  return &astex_measure_token;
}

double __astex_stop_measure(void *before)
{
  int i;
  (void)before;
  for (i = 0; i < astex_regions; i++) {
    unsigned long long h = 14695981039346656037ULL; /* FNV-1a offset basis */
    long k;
    for (k = 0; k < astex_region_size[i]; k++)
      h = (h ^ astex_region[i][k]) * 1099511628211ULL; /* FNV prime */
    __astex_write_output("region %d: %ld bytes, fnv1a %016llx\n", i, astex_region_size[i], h);
  }
  return 0.0;
}
