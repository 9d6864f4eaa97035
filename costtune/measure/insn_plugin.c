/*
 * costtune instruction-counting plugin for qemu-user (TCG plugin API v1, qemu 7.2).
 *
 * Counts executed guest instructions: when a translation block (TB) is
 * translated we register an inline "add n_insns" that runs every time the TB
 * executes, so counting costs a single memory add per block.  At exit the
 * total is written with qemu_plugin_outs, which goes to qemu's log (enable
 * with "-d plugin -D FILE"), never to the guest's stdout.
 *
 * Arguments (qemu 7.2 syntax: -plugin lib.so,blocks=on):
 *   blocks=on|off   also report every block: "block VADDR N_INSNS EXECS"
 *
 * Output lines:
 *   insns TOTAL
 *   blocks COUNT                 (blocks=on only)
 *   block 0xVADDR N_INSNS EXECS  (blocks=on only, one per distinct block)
 *
 * Counting is per vCPU-shared counter: exact for single-threaded guests.
 *
 * QEMU ships no qemu-plugin.h in Debian, so the few declarations we use are
 * written out below from the documented API (include/qemu/qemu-plugin.h,
 * QEMU_PLUGIN_VERSION 1).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_EXPORT __attribute__((visibility("default")))

/* ---- declarations of the QEMU plugin API (version 1) ---- */
typedef uint64_t qemu_plugin_id_t;

typedef struct qemu_info_t {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

struct qemu_plugin_tb;

enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

/* ---- the plugin ---- */
CT_EXPORT int qemu_plugin_version = 1;

static uint64_t total_insns;
static bool want_blocks;

/* Per-block records.  A record's address is baked into translated code, so
 * records are allocated one by one and never move; the hash table only holds
 * pointers.  Key: (vaddr, n_insns) - a block retranslated with the same shape
 * shares its record. */
struct block {
    uint64_t vaddr;
    uint64_t n_insns;
    uint64_t execs;
    struct block *next;
};

#define TABLE_BITS 16
static struct block *table[1u << TABLE_BITS];
static size_t n_blocks;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct block *block_for(uint64_t vaddr, uint64_t n)
{
    uint64_t h = (vaddr ^ (n * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    size_t slot = (size_t)(h >> (64 - TABLE_BITS));
    struct block *b;

    pthread_mutex_lock(&table_lock);
    for (b = table[slot]; b; b = b->next) {
        if (b->vaddr == vaddr && b->n_insns == n) {
            break;
        }
    }
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (b) {
            b->vaddr = vaddr;
            b->n_insns = n;
            b->next = table[slot];
            table[slot] = b;
            n_blocks++;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return b;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;

    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total_insns, n);
    if (want_blocks) {
        struct block *b = block_for(qemu_plugin_tb_vaddr(tb), n);
        if (b) {
            qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->execs, 1);
        }
    }
}

static void report_at_exit(qemu_plugin_id_t id, void *userdata)
{
    char line[128];
    (void)id;
    (void)userdata;

    snprintf(line, sizeof(line), "insns %" PRIu64 "\n", total_insns);
    qemu_plugin_outs(line);
    if (!want_blocks) {
        return;
    }
    snprintf(line, sizeof(line), "blocks %zu\n", n_blocks);
    qemu_plugin_outs(line);
    for (size_t i = 0; i < (1u << TABLE_BITS); i++) {
        for (struct block *b = table[i]; b; b = b->next) {
            if (b->execs) {
                snprintf(line, sizeof(line), "block 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
                         b->vaddr, b->n_insns, b->execs);
                qemu_plugin_outs(line);
            }
        }
    }
}

static int parse_bool(const char *val, bool *out)
{
    if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

CT_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (eq && (size_t)(eq - argv[i]) == strlen("blocks") && !strncmp(argv[i], "blocks", 6)) {
            if (parse_bool(eq + 1, &want_blocks)) {
                fprintf(stderr, "costtune insn plugin: bad value in '%s'\n", argv[i]);
                return -1;
            }
        } else {
            fprintf(stderr, "costtune insn plugin: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, report_at_exit, NULL);
    return 0;
}
