/*
 * test_threads.c - many threads on one pool at once.
 *
 * Writers each own a volume and write deterministic content with syncs in
 * between; one writer rewrites whole pages of a shared volume, each page
 * filled with one byte value, while readers read it and check that no page
 * ever comes back torn (mixed values); another thread clones and snapshots
 * the writers' volumes meanwhile, and retention passes run back to back
 * (the writers' windows are 0). At the end every volume equals its
 * writer's reference, every clone equals the state its point had, the pool
 * LSN counts every change exactly once, and vol_check is clean.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

#define PS 4096
#define NPG 16
#define SZ (NPG * PS)
#define NW 3

static struct fx *F;
static vol_id wvol[NW], shared;
static uint8_t ref[NW][SZ];
static unsigned OPS;
static atomic_int stop_readers, stop_retention;
static atomic_ulong passes;
#define MAXSNAP 64
static uint8_t snapdata[MAXSNAP][SZ]; /* what each snapshot read at first */
static int snapvol[MAXSNAP];
static unsigned nsnap;
static atomic_ulong changes;     /* committed changes made by the threads */
static atomic_ulong torn, reads_done;
static char err[256];            /* first failure seen in a thread */
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static void thread_fail(const char *what, vol_status st)
{
	pthread_mutex_lock(&err_mu);
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "%s: %s (%s)", what,
			 vol_strerror(st), vol_errmsg());
	pthread_mutex_unlock(&err_mu);
}

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;
	uint64_t rng = 1000 + (uint64_t)w;
	uint8_t buf[3 * PS];

	for (unsigned i = 0; i < OPS; i++) {
		uint64_t off = tu_rand(&rng) % SZ;
		uint64_t len = 1 + tu_rand(&rng) % (SZ - off < sizeof(buf) ?
						   SZ - off : sizeof(buf));
		tu_fill(buf, len, tu_rand(&rng));
		vol_status st = vol_write(F->p, wvol[w], buf, off, len);
		if (st != VOL_OK) {
			thread_fail("writer", st);
			return NULL;
		}
		memcpy(ref[w] + off, buf, len);
		changes++;
		if (i % 16 == 15 && (st = vol_sync(F->p, wvol[w], NULL))) {
			thread_fail("writer sync", st);
			return NULL;
		}
	}
	return NULL;
}

static void *page_writer(void *arg)
{
	(void)arg;
	static uint8_t buf[4 * PS];
	uint64_t rng = 77;

	for (unsigned i = 1; i <= OPS; i++) {
		uint64_t first = tu_rand(&rng) % NPG;
		uint64_t n = 1 + tu_rand(&rng) % (NPG - first < 4 ? NPG - first
								: 4);
		memset(buf, (int)(i & 0xff), n * PS);
		vol_status st = vol_write(F->p, shared, buf, first * PS,
					  n * PS);
		if (st != VOL_OK) {
			thread_fail("page writer", st);
			return NULL;
		}
		changes++;
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	static _Thread_local uint8_t buf[SZ];

	while (!stop_readers) {
		size_t got = 0;
		vol_status st = vol_read(F->p, shared, buf, 0, SZ, &got);
		if (st != VOL_OK || got != SZ) {
			thread_fail("reader", st);
			return NULL;
		}
		for (size_t pg = 0; pg < NPG; pg++)
			for (size_t b = 1; b < PS; b++)
				if (buf[pg * PS + b] != buf[pg * PS]) {
					torn++;
					break;
				}
		reads_done++;
	}
	return NULL;
}

/* Retention passes back to back while everything else runs: the writers'
 * volumes keep no history (window 0), so every pass deletes versions while
 * snapshots and clones are being taken. */
static void *retainer(void *arg)
{
	(void)arg;
	while (!stop_retention) {
		vol_status st = vol_retention_run(F->p, NULL);
		if (st != VOL_OK) {
			thread_fail("retention", st);
			return NULL;
		}
		passes++;
	}
	return NULL;
}

/* Clones and snapshots of the writers' volumes while they write: each
 * clone must equal the snapshot taken right after it at the same point. */
static void *brancher(void *arg)
{
	(void)arg;
	vol_target now = tu_now();

	for (unsigned i = 0; i < OPS / 50; i++) {
		int w = (int)(i % NW);
		char name[32];
		vol_point pt;
		vol_id c;
		vol_status st;

		snprintf(name, sizeof(name), "snap%u", i);
		if ((st = vol_snapshot_create(F->p, wvol[w], name, &now, &pt))) {
			thread_fail("snapshot", st);
			return NULL;
		}
		changes++;
		vol_target t = tu_at_snap(name);
		snprintf(name, sizeof(name), "clone%u", i);
		if ((st = vol_clone(F->p, wvol[w], &t, name, &c))) {
			thread_fail("clone", st);
			return NULL;
		}
		changes++;
		/* The clone reads what the snapshot point reads. */
		static _Thread_local uint8_t a[SZ], b[SZ];
		size_t ga = 0, gb = 0;
		if ((st = vol_read(F->p, c, a, 0, SZ, &ga)) ||
		    (st = vol_read_point(F->p, wvol[w], &pt, b, 0, SZ, &gb))) {
			thread_fail("clone read", st);
			return NULL;
		}
		if (ga != SZ || gb != SZ || memcmp(a, b, SZ) != 0) {
			thread_fail("clone differs from its snapshot point",
				    VOL_OK);
			return NULL;
		}
		if (nsnap < MAXSNAP) {
			memcpy(snapdata[nsnap], b, SZ);
			snapvol[nsnap++] = w;
		}
		if ((st = vol_delete(F->p, c))) {
			thread_fail("delete", st);
			return NULL;
		}
		changes++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t tw[NW], tp, tr[2], tb;

	OPS = tu_sanitized() ? 400 : 2000;
	F = fx_new(PS);
	F->opts.clock = NULL; /* the wall clock: threads run concurrently */
	OK(vol_pool_close(F->p));
	F->p = NULL;
	OK(vol_pool_open(F->path, &F->opts, &F->p));
	for (int w = 0; w < NW; w++) {
		char name[16];
		snprintf(name, sizeof(name), "w%d", w);
		OK(vol_create(F->p, name, SZ, &wvol[w]));
	}
	OK(vol_create(F->p, "shared", SZ, &shared));
	for (int w = 0; w < NW; w++)
		OK(vol_window_set(F->p, wvol[w], 0));
	uint64_t base = vol_pool_lsn(F->p);
	pthread_t tret;
	assert_int_equal(pthread_create(&tret, NULL, retainer, NULL), 0);

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tr[i], NULL, reader, NULL), 0);
	for (int w = 0; w < NW; w++)
		assert_int_equal(pthread_create(&tw[w], NULL, writer,
						(void *)(intptr_t)w), 0);
	assert_int_equal(pthread_create(&tp, NULL, page_writer, NULL), 0);
	assert_int_equal(pthread_create(&tb, NULL, brancher, NULL), 0);
	for (int w = 0; w < NW; w++)
		pthread_join(tw[w], NULL);
	pthread_join(tp, NULL);
	pthread_join(tb, NULL);
	stop_readers = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(tr[i], NULL);
	stop_retention = 1;
	pthread_join(tret, NULL);

	if (err[0] != '\0')
		fail_msg("%s", err);
	assert_int_equal(torn, 0);
	assert_true(reads_done > 0);
	assert_int_equal(vol_pool_lsn(F->p), base + changes);
	for (int w = 0; w < NW; w++)
		tu_assert_content(F->p, wvol[w], ref[w], SZ);
	/* Snapshots outlive the passes that ran around them. */
	OK(vol_retention_run(F->p, NULL));
	for (unsigned i = 0; i < nsnap; i++) {
		char name[32];
		snprintf(name, sizeof(name), "snap%u", i);
		vol_target t = tu_at_snap(name);
		tu_assert_at(F->p, wvol[snapvol[i]], &t, snapdata[i], SZ);
	}
	fx_reopen(F);
	for (int w = 0; w < NW; w++)
		tu_assert_content(F->p, wvol[w], ref[w], SZ);
	uint64_t problems = 1;
	OK(vol_check(F->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	printf("threads: %lu changes, %lu concurrent reads, %lu retention "
	       "passes, %u snapshots kept, no torn page\n",
	       (unsigned long)changes, (unsigned long)reads_done,
	       (unsigned long)passes, nsnap);
	assert_true(passes > 0);
}

/* After a failure too: close the pool, remove its folder. */
static int threads_teardown(void **state)
{
	(void)state;
	fx_free(F);
	F = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_threads, threads_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
