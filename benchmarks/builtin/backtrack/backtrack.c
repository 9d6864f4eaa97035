/* backtrack: recursive search - N-queens counted two ways (bitmask
 * recursion and an array-based placement with explicit safety checks) and a
 * sudoku solver with candidate bitmasks, most-constrained-cell selection and
 * solution counting.
 *
 * usage: backtrack PUZZLES.TXT REPEAT
 * Lines: "queens N" or "sudoku <81 characters, '.' or 0 for blanks>".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JOBS 64

/* ------------------------------------------------------------ N-queens */
static long queens_bits(int n, uint32_t cols, uint32_t diag1, uint32_t diag2)
{
    uint32_t full = (1u << n) - 1u, free_;
    long count = 0;
    if (cols == full)
        return 1;
    free_ = full & ~(cols | diag1 | diag2);
    while (free_) {
        uint32_t bit = free_ & (0u - free_);
        free_ ^= bit;
        count += queens_bits(n, cols | bit, (diag1 | bit) << 1, (diag2 | bit) >> 1);
    }
    return count;
}

struct board {
    int n;
    int col_of_row[32];
};

static int safe(const struct board *b, int row, int col)
{
    int r;
    for (r = 0; r < row; r++) {
        int c = b->col_of_row[r];
        if (c == col || c - col == row - r || col - c == row - r)
            return 0;
    }
    return 1;
}

/* counts solutions; also folds the first solution found into *signature */
static long queens_array(struct board *b, int row, uint32_t *signature)
{
    long count = 0;
    int col;
    if (row == b->n) {
        if (*signature == 0) {
            int r;
            for (r = 0; r < b->n; r++)
                *signature = *signature * 31u + (uint32_t)b->col_of_row[r] + 1u;
        }
        return 1;
    }
    for (col = 0; col < b->n; col++)
        if (safe(b, row, col)) {
            b->col_of_row[row] = col;
            count += queens_array(b, row + 1, signature);
        }
    return count;
}

/* ------------------------------------------------------------ sudoku */
struct sudoku {
    uint8_t cell[81];
    uint16_t row[9], col[9], box[9]; /* digits used, bit d-1 */
    uint8_t solution[81];
    long solutions;
    long nodes;
};

static int box_of(int i)
{
    return (i / 27) * 3 + (i % 9) / 3;
}

static int popcount16(uint16_t x)
{
    int n = 0;
    while (x) {
        x &= (uint16_t)(x - 1u);
        n++;
    }
    return n;
}

static void place(struct sudoku *s, int i, int d)
{
    uint16_t bit = (uint16_t)(1u << (d - 1));
    s->cell[i] = (uint8_t)d;
    s->row[i / 9] |= bit;
    s->col[i % 9] |= bit;
    s->box[box_of(i)] |= bit;
}

static void unplace(struct sudoku *s, int i)
{
    uint16_t bit = (uint16_t)(1u << (s->cell[i] - 1));
    s->cell[i] = 0;
    s->row[i / 9] &= (uint16_t)~bit;
    s->col[i % 9] &= (uint16_t)~bit;
    s->box[box_of(i)] &= (uint16_t)~bit;
}

static void solve(struct sudoku *s, long limit)
{
    int i, best = -1, best_count = 10, d;
    uint16_t best_mask = 0;
    s->nodes++;
    for (i = 0; i < 81; i++)
        if (!s->cell[i]) {
            uint16_t mask = (uint16_t)(0x1ffu & ~(s->row[i / 9] | s->col[i % 9] | s->box[box_of(i)]));
            int c = popcount16(mask);
            if (c < best_count) {
                best = i;
                best_count = c;
                best_mask = mask;
                if (c <= 1)
                    break;
            }
        }
    if (best < 0) {
        if (s->solutions == 0)
            memcpy(s->solution, s->cell, 81);
        s->solutions++;
        return;
    }
    for (d = 1; d <= 9 && s->solutions < limit; d++)
        if (best_mask & (1u << (d - 1))) {
            place(s, best, d);
            solve(s, limit);
            unplace(s, best);
        }
}

/* first empty cell in scan order, digits in order: many more nodes */
static void solve_naive(struct sudoku *s, int from, long limit)
{
    int i = from, d;
    s->nodes++;
    while (i < 81 && s->cell[i])
        i++;
    if (i == 81) {
        s->solutions++;
        return;
    }
    for (d = 1; d <= 9 && s->solutions < limit; d++) {
        uint16_t bit = (uint16_t)(1u << (d - 1));
        if ((s->row[i / 9] | s->col[i % 9] | s->box[box_of(i)]) & bit)
            continue;
        place(s, i, d);
        solve_naive(s, i + 1, limit);
        unplace(s, i);
    }
}

static int load_sudoku(struct sudoku *s, const char *text)
{
    int i;
    memset(s, 0, sizeof *s);
    if (strlen(text) != 81)
        return -1;
    for (i = 0; i < 81; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= '1' && c <= '9') {
            uint16_t bit = (uint16_t)(1u << (c - '1'));
            if ((s->row[i / 9] | s->col[i % 9] | s->box[box_of(i)]) & bit)
                return -1; /* contradictory clue */
            place(s, i, c - '0');
        } else if (c != '.' && c != '0') {
            return -1;
        }
    }
    return 0;
}

static int valid_solution(const uint8_t *g)
{
    int i, k;
    for (k = 0; k < 9; k++) {
        uint16_t r = 0, c = 0, b = 0;
        for (i = 0; i < 9; i++) {
            r |= (uint16_t)(1u << (g[k * 9 + i] - 1));
            c |= (uint16_t)(1u << (g[i * 9 + k] - 1));
            b |= (uint16_t)(1u << (g[(k / 3 * 3 + i / 3) * 9 + k % 3 * 3 + i % 3] - 1));
        }
        if (r != 0x1ff || c != 0x1ff || b != 0x1ff)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ driver */
enum job_kind { JOB_QUEENS, JOB_SUDOKU };

struct job {
    enum job_kind kind;
    int n;
    char grid[82];
};

int main(int argc, char **argv)
{
    FILE *f;
    struct job jobs[MAX_JOBS];
    char kind[16], arg[128];
    int njobs = 0, repeat, r, j, bad = 0;
    uint32_t hash = 2166136261u;
    long total_nodes = 0, naive_nodes = 0;
    int nsudoku = 0, unique = 0;
    struct sudoku *s = malloc(sizeof *s);

    if (argc < 3) {
        fprintf(stderr, "usage: %s PUZZLES.TXT REPEAT\n", argv[0]);
        return 2;
    }
    repeat = atoi(argv[2]);
    f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    while (njobs < MAX_JOBS && fscanf(f, "%15s %127s", kind, arg) == 2) {
        struct job *jb = &jobs[njobs];
        if (strcmp(kind, "queens") == 0) {
            jb->kind = JOB_QUEENS;
            jb->n = atoi(arg);
            if (jb->n < 1 || jb->n > 14)
                continue;
        } else if (strcmp(kind, "sudoku") == 0 && strlen(arg) == 81) {
            jb->kind = JOB_SUDOKU;
            memcpy(jb->grid, arg, 82);
        } else {
            continue;
        }
        njobs++;
    }
    fclose(f);

    for (r = 0; r < repeat; r++)
        for (j = 0; j < njobs; j++) {
            const struct job *jb = &jobs[j];
            if (jb->kind == JOB_QUEENS) {
                long a = queens_bits(jb->n, 0, 0, 0), b = 0;
                uint32_t sig = 0;
                struct board bd;
                /* the slow array version runs on a rotating subset of rounds */
                if (jb->n <= 9 && ((r + j) % 3 == 0 || r == repeat - 1)) {
                    bd.n = jb->n;
                    b = queens_array(&bd, 0, &sig);
                    if (a != b)
                        bad++;
                }
                hash = (hash ^ (uint32_t)a ^ sig) * 16777619u;
                if (r == repeat - 1)
                    printf("queens %2d: %ld solutions, first %08x\n", jb->n, a, (unsigned)sig);
            } else {
                int i;
                long mrv_solutions;
                uint32_t hs = 0;
                if (load_sudoku(s, jb->grid) != 0) {
                    if (r == 0)
                        printf("sudoku %d: invalid\n", j);
                    continue;
                }
                solve(s, 2);
                total_nodes += s->nodes;
                mrv_solutions = s->solutions;
                if (s->solutions > 0 && !valid_solution(s->solution))
                    bad++;
                for (i = 0; i < 81; i++)
                    hs = hs * 10u + s->solution[i];
                hash = (hash ^ hs ^ (uint32_t)s->solutions) * 16777619u;
                if (r == repeat - 1) {
                    nsudoku++;
                    unique += s->solutions == 1;
                }
                if ((r + j) % 2 == 0) {
                    load_sudoku(s, jb->grid);
                    solve_naive(s, 0, 2);
                    naive_nodes += s->nodes;
                    if (s->solutions != mrv_solutions)
                        bad++;
                }
            }
        }
    printf("sudoku: %d puzzles, %d unique; nodes mrv %ld naive %ld\n", nsudoku, unique,
           total_nodes, naive_nodes);
    printf("hash %08x bad %d\n", (unsigned)hash, bad);
    free(s);
    return bad != 0;
}
