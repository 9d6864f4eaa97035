/* costtune's PolyBench/C header for the polybench-cpu-* programs of a cTuning checkout.
 *
 * Written for costtune from the macros the programs use (PolyBench/C 3.2's interface):
 *  - POLYBENCH_1D/2D/3D(var, dims..., ddims...): an array declarator whose sizes are the
 *    compile-time dimensions (the run-time ones with POLYBENCH_USE_C99_PROTO) plus
 *    POLYBENCH_PADDING_FACTOR.
 *  - POLYBENCH_nD_ARRAY_DECL(var, type, dims..., ddims...): declares var as a pointer to
 *    such an array, on the heap (polybench_alloc_data); POLYBENCH_ARRAY(var) is the array,
 *    POLYBENCH_FREE_ARRAY(var) frees it.
 *  - POLYBENCH_LOOP_BOUND(x, y): the compile-time bound x (y with POLYBENCH_USE_SCALAR_LB).
 *  - polybench_start/stop/print_instruments: nothing; costtune measures the run itself and a
 *    printed time would make the output unrepeatable.
 *  - polybench_prevent_dce(call): with POLYBENCH_DUMP_ARRAYS the call always runs (the
 *    programs print their live-out arrays, on stderr); without, it runs only for an argv no
 *    run uses, so the compiler must keep the results but nothing is printed.
 */
#ifndef COSTTUNE_POLYBENCH_H
#define COSTTUNE_POLYBENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef POLYBENCH_PADDING_FACTOR
# define POLYBENCH_PADDING_FACTOR 0
#endif

#ifdef POLYBENCH_USE_C99_PROTO
# define POLYBENCH_DIM(compile_time, run_time) ((run_time) + POLYBENCH_PADDING_FACTOR)
#else
# define POLYBENCH_DIM(compile_time, run_time) ((compile_time) + POLYBENCH_PADDING_FACTOR)
#endif

#define POLYBENCH_1D(var, dim1, ddim1) var[POLYBENCH_DIM(dim1, ddim1)]
#define POLYBENCH_2D(var, dim1, dim2, ddim1, ddim2) var[POLYBENCH_DIM(dim1, ddim1)][POLYBENCH_DIM(dim2, ddim2)]
#define POLYBENCH_3D(var, dim1, dim2, dim3, ddim1, ddim2, ddim3) \
  var[POLYBENCH_DIM(dim1, ddim1)][POLYBENCH_DIM(dim2, ddim2)][POLYBENCH_DIM(dim3, ddim3)]

void *polybench_alloc_data(unsigned long long n, int elt_size);

#define POLYBENCH_1D_ARRAY_DECL(var, type, dim1, ddim1) \
  type POLYBENCH_1D((*var), dim1, ddim1) = \
    polybench_alloc_data((unsigned long long)POLYBENCH_DIM(dim1, ddim1), (int)sizeof(type))
#define POLYBENCH_2D_ARRAY_DECL(var, type, dim1, dim2, ddim1, ddim2) \
  type POLYBENCH_2D((*var), dim1, dim2, ddim1, ddim2) = \
    polybench_alloc_data((unsigned long long)POLYBENCH_DIM(dim1, ddim1) * POLYBENCH_DIM(dim2, ddim2), \
                         (int)sizeof(type))
#define POLYBENCH_3D_ARRAY_DECL(var, type, dim1, dim2, dim3, ddim1, ddim2, ddim3) \
  type POLYBENCH_3D((*var), dim1, dim2, dim3, ddim1, ddim2, ddim3) = \
    polybench_alloc_data((unsigned long long)POLYBENCH_DIM(dim1, ddim1) * POLYBENCH_DIM(dim2, ddim2) * \
                         POLYBENCH_DIM(dim3, ddim3), (int)sizeof(type))

#define POLYBENCH_ARRAY(var) (*var)
#define POLYBENCH_FREE_ARRAY(var) free((void *)(var))

#ifdef POLYBENCH_USE_SCALAR_LB
# define POLYBENCH_LOOP_BOUND(x, y) (y)
#else
# define POLYBENCH_LOOP_BOUND(x, y) (x)
#endif

#define polybench_start_instruments
#define polybench_stop_instruments
#define polybench_print_instruments

#ifdef POLYBENCH_DUMP_ARRAYS
# define polybench_prevent_dce(call) call
#else
# define polybench_prevent_dce(call) if (argc > 42 && !strcmp(argv[0], "")) call
#endif

#endif /* COSTTUNE_POLYBENCH_H */
