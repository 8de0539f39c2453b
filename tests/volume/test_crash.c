/*
 * test_crash.c - kill -9 of a writer, then reopen: the pool must equal the
 * reference at some LSN at or after the last completed sync.
 *
 * Design
 * The parent creates a pool with two volumes and closes it. Each round it
 * forks a child that opens the pool and runs a deterministic stream of
 * operations: operation i (a write or a discard, chosen from the seed and i
 * alone) takes exactly one LSN, and after a seeded number of operations the
 * child syncs (vol_pool_sync, or vol_sync of each volume) and reports
 * (operations done, LSN) through a pipe; it reports every operation too.
 * The parent SIGKILLs the child after a random number of syncs and then of
 * operations (the child keeps writing meanwhile, so the kill lands anywhere
 * in the loop), drains the pipe for the last report, reopens the pool and
 * checks:
 *   - the open succeeds (the dead child's lock is gone);
 *   - the pool LSN L is at or after the last reported sync;
 *   - both volumes equal the reference after the operations with LSNs up to
 *     L, regenerated from the seed;
 *   - vol_check finds no problem.
 * The next round continues the stream from the recovered state. Several
 * rounds; CRASH_SEED=N reproduces, CRASH_ROUNDS=N sets the count.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tutil.h"

#define PS 4096
#define NPG 16
#define SZ (NPG * PS)
#define NV 2
#define MAXOPS 2000000

struct report {
	uint64_t done; /* operations completed (0-based count)  */
	uint64_t lsn;  /* pool LSN after it                     */
	uint64_t sync; /* 1: a completed sync, 0: one operation */
};

struct opdesc {
	int vol;
	uint64_t off, len;
	bool discard;
	uint64_t data_seed;
};

/* Operation i of the stream: a function of (seed, i) only. */
static struct opdesc op_of(uint64_t seed, uint64_t i)
{
	uint64_t s = seed ^ (i * 0x9e3779b97f4a7c15ULL);
	struct opdesc o;

	o.vol = (int)(tu_rand(&s) % NV);
	if (tu_rand(&s) % 2) { /* aligned pages */
		uint64_t first = tu_rand(&s) % NPG;
		uint64_t n = 1 + tu_rand(&s) % (NPG - first < 4 ? NPG - first
							       : 4);
		o.off = first * PS;
		o.len = n * PS;
	} else {
		o.off = tu_rand(&s) % SZ;
		o.len = 1 + tu_rand(&s) % (SZ - o.off < 3 * PS ? SZ - o.off
							       : 3 * PS);
	}
	o.discard = tu_rand(&s) % 5 == 0;
	o.data_seed = tu_rand(&s);
	return o;
}

/* How many operations before the sync that follows operation i. */
static uint64_t burst_of(uint64_t seed, uint64_t i)
{
	uint64_t s = seed ^ 0xb5ad4eceda1ce2a9ULL ^ i;
	return 1 + tu_rand(&s) % 8;
}

static void ref_apply(uint8_t ref[NV][SZ], const struct opdesc *o,
		      uint8_t *scratch)
{
	if (o->discard) {
		memset(ref[o->vol] + o->off, 0, o->len);
		return;
	}
	tu_fill(scratch, o->len, o->data_seed);
	memcpy(ref[o->vol] + o->off, scratch, o->len);
}

/* The child: never returns. Exit codes tell the parent what went wrong. */
static void child(const char *path, const vol_pool_opts *opts, uint64_t seed,
		  uint64_t start, int fd)
{
	vol_pool *p = NULL;
	vol_id id[NV];
	static uint8_t buf[3 * PS + PS];
	char name[8];

	if (vol_pool_open(path, opts, &p) != VOL_OK)
		_exit(10);
	for (int v = 0; v < NV; v++) {
		snprintf(name, sizeof(name), "v%d", v);
		if (vol_lookup(p, name, &id[v]) != VOL_OK)
			_exit(11);
	}
	uint64_t base = vol_pool_lsn(p) - start; /* op i has LSN base+i+1 */
	uint64_t next_sync = start + burst_of(seed, start);
	for (uint64_t i = start; i < MAXOPS; i++) {
		struct opdesc o = op_of(seed, i);
		vol_status st;
		if (o.discard)
			st = vol_discard(p, id[o.vol], o.off, o.len);
		else {
			tu_fill(buf, o.len, o.data_seed);
			st = vol_write(p, id[o.vol], buf, o.off, o.len);
		}
		if (st != VOL_OK)
			_exit(12);
		if (vol_pool_lsn(p) != base + i + 1)
			_exit(13);
		struct report r = {i + 1, base + i + 1, 0};
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(15);
		if (i + 1 == next_sync) {
			/* Every other sync (by the seed) syncs each volume,
			 * which leaves the store's entries waiting in the
			 * store queue (defer.c); a pool-wide sync writes
			 * them. Either makes every change so far durable. */
			bool each = (seed >> (i % 61)) & 1;
			for (int v = 0; each && v < NV; v++)
				if (vol_sync(p, id[v], NULL) != VOL_OK)
					_exit(14);
			if (!each && vol_pool_sync(p) != VOL_OK)
				_exit(14);
			r = (struct report){i + 1, vol_pool_lsn(p), 1};
			if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
				_exit(15);
			next_sync = i + 1 + burst_of(seed, i + 1);
		}
	}
	_exit(16);
}

/* Read one report; false at EOF. */
static bool read_report(int fd, struct report *r)
{
	size_t got = 0;
	while (got < sizeof(*r)) {
		ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			assert_int_equal(got, 0); /* no torn report */
			return false;
		}
		got += (size_t)n;
	}
	return true;
}

static void test_crash(void **state)
{
	uint64_t seed, rounds = tu_sanitized() ? 4 : 8;
	const char *e = getenv("CRASH_SEED");
	static uint8_t ref[NV][SZ], got[SZ], scratch[4 * PS];
	struct fx *f = fx_new(PS);
	*state = f; /* for crash_teardown */
	vol_id id[NV];
	char name[8];

	if (e != NULL && *e != '\0') {
		seed = strtoull(e, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 24 ^
		       (uint64_t)getpid() << 44;
	}
	if ((e = getenv("CRASH_ROUNDS")) != NULL && *e != '\0')
		rounds = strtoull(e, NULL, 0);
	printf("crash: seed %" PRIu64 " (CRASH_SEED=%" PRIu64
	       " reproduces), %" PRIu64 " rounds\n", seed, seed, rounds);
	fflush(stdout);

	/* The wall clock, as a daemon would use: a forked child cannot
	 * share the parent's fake clock anyway. */
	f->opts.clock = NULL;
	f->opts.clock_ctx = NULL;
	for (int v = 0; v < NV; v++) {
		snprintf(name, sizeof(name), "v%d", v);
		OK(vol_create(f->p, name, SZ, &id[v]));
	}
	OK(vol_pool_close(f->p));
	f->p = NULL;
	memset(ref, 0, sizeof(ref));

	uint64_t done = 0, rng = seed;
	for (uint64_t round = 0; round < rounds; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child(f->path, &f->opts, seed, done, pfd[1]);
		}
		close(pfd[1]);
		/* Kill after `want` syncs and then `extra` more operations
		 * (unsynced, possibly mid-write of the next one). */
		uint64_t want = 1 + tu_rand(&rng) % 40, n = 0;
		uint64_t extra = tu_rand(&rng) % 8, x = 0;
		struct report last = {done, 0, 1}, r;
		while (n < want && read_report(pfd[0], &r)) {
			if (r.sync) {
				last = r;
				n++;
			}
		}
		while (x < extra && read_report(pfd[0], &r))
			x += !r.sync;
		kill(pid, SIGKILL);
		while (read_report(pfd[0], &r)) /* reports sent before death */
			if (r.sync)
				last = r;
		close(pfd[0]);
		int wst = 0;
		assert_int_equal(waitpid(pid, &wst, 0), pid);
		if (!(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL))
			fail_msg("round %" PRIu64 ": the child ended by itself "
				 "(status 0x%x) after %" PRIu64 " reports",
				 round, wst, n);

		vol_pool *p = NULL;
		OK(vol_pool_open(f->path, &f->opts, &p));
		f->p = p;
		uint64_t L = vol_pool_lsn(p);
		/* LSNs: NV creates, then one per operation. */
		uint64_t recovered = L - NV;
		if (last.lsn != 0 && last.lsn != NV + last.done)
			fail_msg("round %" PRIu64 ": report LSN %" PRIu64
				 " for %" PRIu64 " operations", round,
				 last.lsn, last.done);
		if (recovered < last.done)
			fail_msg("round %" PRIu64 ": reopened at LSN %" PRIu64
				 ", before the last completed sync (LSN %"
				 PRIu64 ")", round, L, NV + last.done);
		for (uint64_t i = done; i < recovered; i++) {
			struct opdesc o = op_of(seed, i);
			ref_apply(ref, &o, scratch);
		}
		for (int v = 0; v < NV; v++) {
			size_t gotn = 0;
			OK(vol_read(p, id[v], got, 0, SZ, &gotn));
			assert_int_equal(gotn, SZ);
			if (memcmp(got, ref[v], SZ) != 0) {
				size_t b = 0;
				while (got[b] == ref[v][b])
					b++;
				fail_msg("round %" PRIu64 ": volume v%d differs "
					 "from the reference at LSN %" PRIu64
					 " (byte %zu, page %zu)", round, v, L,
					 b, b / PS);
			}
		}
		uint64_t problems = 1;
		OK(vol_check(p, NULL, NULL, &problems));
		assert_int_equal(problems, 0);
		printf("crash: round %" PRIu64 ": killed after %" PRIu64
		       " syncs + %" PRIu64 " ops, last sync at LSN %" PRIu64
		       ", recovered LSN %" PRIu64 "\n", round, n, x,
		       NV + last.done, L);
		done = recovered;
		OK(vol_pool_close(p));
		f->p = NULL;
	}
}

/* After a failure too: close the pool, remove its folder. */
static int crash_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crash, crash_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
