// SPDX-License-Identifier: GPL-2.0
/*
 * insn-profile: a QEMU TCG plugin that counts, exactly, the guest
 * instructions executed at every kernel address between two markers
 * that the guest program executes (selftests/bench/profile.sh).
 *
 *   qemu-system-x86_64 -icount shift=0,sleep=off \
 *       -plugin file=insn-profile.so,out=COUNTS[,slots=LOG2]
 *
 * Every instruction at a kernel address (>= 0xffff800000000000) gets an
 * inline 64-bit add into its own counter, in a fixed-size open-addressing
 * table (never rehashed, so the counter pointers compiled into translated
 * blocks stay valid); every user-mode instruction adds to one shared
 * counter. The guest brackets the region to measure with two user-mode
 * 7-byte NOPs, "nopl MAGIC(%rax)" (0f 1f 80 + 32-bit displacement),
 * MARK_START and MARK_STOP below; they do nothing on hardware or
 * without this plugin. At a start marker the plugin snapshots the
 * counters, at a stop marker it adds (now - snapshot) to each address's
 * total; several pairs accumulate. At exit it writes COUNTS:
 *
 *   # insn-profile v1
 *   # pairs P            marker pairs seen (start then stop)
 *   # unpaired U         stops without a start, starts while started
 *   # kernel K           kernel instructions between the markers
 *   # user N             user instructions between the markers
 *   # unattributed X     kernel instructions left out: table full
 *   # slots S/T          addresses recorded / table size
 *   ffffffff81234560 123 one line per kernel address with a non-zero
 *   ...                  total: hex address, decimal count
 *
 * Exact only when one host thread runs all vCPUs in turn, as under
 * -icount (or with one vCPU): the adds are not atomic and the counters
 * are shared by the vCPUs. Then the counts agree with the guest's
 * instruction clock: an instruction is counted once per execution, a
 * "rep" string instruction once per iteration.
 *
 * QEMU 7.2 (plugin API version 1) installs no qemu-plugin.h, so the few
 * declarations used are written out below.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the part of QEMU's plugin ABI (version 1) that this plugin uses ---- */

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

struct qemu_info {
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
};

struct qemu_plugin_tb;
struct qemu_plugin_insn;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
						void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

EXPORT int qemu_plugin_version = 1;
EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info *info, int argc, char **argv);

/* ---- the profile ---- */

#define KERNEL_START 0xffff800000000000ULL
#define USER_END 0x0000800000000000ULL
/* The markers' displacements: "PRF<" and "PRF>" in little-endian order. */
#define MARK_START 0x3c465250U
#define MARK_STOP 0x3e465250U
#define MARK_LEN 7

struct slot {
	uint64_t vaddr;		/* 0: free */
	uint64_t count;		/* the inline add's target */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *table;
static uint64_t nslots, mask, max_used;
/* Dense, in order of first translation: slot index, snapshot, total. */
static uint32_t *used;
static uint64_t *snap, *acc;
static uint64_t nused, snap_nused;
static uint64_t user_count, user_snap, user_acc;
static uint64_t overflow_count, overflow_snap, overflow_acc;
static uint64_t pairs, unpaired, starts;
static bool active;
static const char *out_path;

static uint64_t hash(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v;
}

/* The counter of a kernel address; called with the lock held. */
static uint64_t *counter_of(uint64_t vaddr)
{
	uint64_t i = hash(vaddr) & mask;

	while (table[i].vaddr) {
		if (table[i].vaddr == vaddr)
			return &table[i].count;
		i = (i + 1) & mask;
	}
	if (nused >= max_used)
		return &overflow_count;
	table[i].vaddr = vaddr;
	used[nused++] = (uint32_t)i;
	return &table[i].count;
}

static void on_marker(unsigned int vcpu, void *userdata)
{
	bool start = userdata != NULL;
	uint64_t i;

	(void)vcpu;
	pthread_mutex_lock(&lock);
	if (start) {
		if (active)
			unpaired++;
		for (i = 0; i < nused; i++)
			snap[i] = table[used[i]].count;
		snap_nused = nused;
		user_snap = user_count;
		overflow_snap = overflow_count;
		active = true;
		starts++;
	} else if (!active) {
		unpaired++;
	} else {
		/* Addresses first seen after the start counted from 0. */
		for (i = 0; i < nused; i++)
			acc[i] += table[used[i]].count - (i < snap_nused ? snap[i] : 0);
		user_acc += user_count - user_snap;
		overflow_acc += overflow_count - overflow_snap;
		active = false;
		pairs++;
	}
	pthread_mutex_unlock(&lock);
}

static int marker_kind(const struct qemu_plugin_insn *insn)
{
	const uint8_t *b;
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != MARK_LEN)
		return 0;
	b = qemu_plugin_insn_data(insn);
	if (b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80)
		return 0;
	disp = b[3] | b[4] << 8 | b[5] << 16 | (uint32_t)b[6] << 24;
	return disp == MARK_START ? 1 : disp == MARK_STOP ? 2 : 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), i;

	(void)id;
	pthread_mutex_lock(&lock);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t va = qemu_plugin_insn_vaddr(insn);
		int kind = va < USER_END ? marker_kind(insn) : 0;
		uint64_t *c = va >= KERNEL_START ? counter_of(va) : &user_count;

		if (kind)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
							       kind == 1 ? (void *)1 : NULL);
		qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, c, 1);
	}
	pthread_mutex_unlock(&lock);
}

static void at_exit_cb(qemu_plugin_id_t id, void *userdata)
{
	uint64_t i, kernel = 0;
	char msg[256];
	FILE *f;

	(void)id;
	(void)userdata;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nused; i++)
		kernel += acc[i];
	f = fopen(out_path, "w");
	if (!f) {
		snprintf(msg, sizeof(msg), "insn-profile: cannot write %s\n", out_path);
		qemu_plugin_outs(msg);
		fputs(msg, stderr);
		pthread_mutex_unlock(&lock);
		return;
	}
	fprintf(f, "# insn-profile v1\n");
	fprintf(f, "# pairs %" PRIu64 "\n", pairs);
	fprintf(f, "# unpaired %" PRIu64 "\n", unpaired + (active ? 1 : 0));
	fprintf(f, "# kernel %" PRIu64 "\n", kernel);
	fprintf(f, "# user %" PRIu64 "\n", user_acc);
	fprintf(f, "# unattributed %" PRIu64 "\n", overflow_acc);
	fprintf(f, "# slots %" PRIu64 "/%" PRIu64 "\n", nused, nslots);
	for (i = 0; i < nused; i++)
		if (acc[i])
			fprintf(f, "%" PRIx64 " %" PRIu64 "\n", table[used[i]].vaddr, acc[i]);
	if (fclose(f)) {
		snprintf(msg, sizeof(msg), "insn-profile: error writing %s\n", out_path);
		fputs(msg, stderr);
	}
	snprintf(msg, sizeof(msg), "insn-profile: %" PRIu64 " marker pairs, %" PRIu64 " kernel + %" PRIu64
		 " user instructions, %" PRIu64 " addresses\n", pairs, kernel, user_acc, nused);
	qemu_plugin_outs(msg);
	pthread_mutex_unlock(&lock);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info *info, int argc, char **argv)
{
	unsigned int log2 = 22;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			out_path = argv[i] + 4;
		} else if (!strncmp(argv[i], "slots=", 6)) {
			log2 = (unsigned int)atoi(argv[i] + 6);
			if (log2 < 10 || log2 > 30) {
				fprintf(stderr, "insn-profile: slots=%s: give log2 of the table size, 10 to 30\n",
					argv[i] + 6);
				return -1;
			}
		} else {
			fprintf(stderr, "insn-profile: unknown argument '%s' (out=FILE[,slots=LOG2])\n", argv[i]);
			return -1;
		}
	}
	if (!out_path || !*out_path) {
		fprintf(stderr, "insn-profile: no output file: -plugin file=insn-profile.so,out=FILE\n");
		return -1;
	}
	if (!info->system_emulation || strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "insn-profile: needs qemu-system-x86_64 (got %s%s)\n", info->target_name,
			info->system_emulation ? "" : ", user mode");
		return -1;
	}
	nslots = 1ULL << log2;
	mask = nslots - 1;
	max_used = nslots / 4 * 3;	/* keep probe chains short */
	table = calloc(nslots, sizeof(*table));
	used = calloc(max_used, sizeof(*used));
	snap = calloc(max_used, sizeof(*snap));
	acc = calloc(max_used, sizeof(*acc));
	if (!table || !used || !snap || !acc) {
		fprintf(stderr, "insn-profile: cannot allocate a table of %" PRIu64 " slots\n", nslots);
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, at_exit_cb, NULL);
	return 0;
}
