/*
 * test_fault.c - every engine call under injected store failures.
 *
 * Design
 * The pool runs over kv_fault_wrap(kv_rocks_open(POOL/db)) (vol_pool_opts.kv).
 * For each kind of failure (reads, syncs, writes) a fresh pool is built the
 * same way and a fixed sequence of engine calls is run over it. Each call is
 * first made to fail at its 1st store call of that kind, then its 2nd, and
 * so on, until it runs without reaching the failure point (then it has
 * succeeded and the sequence moves on). Every failing run must:
 *   - return a non-OK status and leave its own message in vol_errmsg();
 *   - leave the pool exactly as before: pool LSN, every volume's vol_info,
 *     content, snapshot list and backtrack history (compared with a capture
 *     taken just before); after an injected write or sync failure also
 *     after close + reopen (what is on disk is unchanged).
 * A call that sees its write or sync fail and still returns VOL_OK is a bug
 * (a change or a durability promise was lost). After each call's success
 * the pool is closed and reopened and must read back the same state, with
 * vol_check clean.
 * test_write_entries uses the wrapper's entry counts instead: what a small
 * write puts into the store. These pools write the store queue's changes
 * in the calling thread (vol_pool_opts.store_inline: defer.c), so that
 * each failure lands in a known call; test_writer_fault runs the store
 * writer thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tutil.h"

#define PS 4096
#define MAXTRY 20000

static struct fx *current; /* freed by fault_teardown, even on failure */

enum mode { M_READS, M_SYNCS, M_WRITES };
static const char *mode_name[] = {"read", "sync", "write"};

struct ctx {
	struct fx *f;
	kv_fault_ctl ctl;
	vol_id a, b, victim, c1, n1;
	int64_t bar_ns; /* a barrier of volume a from the setup */
	bool writer;    /* run the store writer thread */
};

/* ------------------------------------------------------------- the pool */

static void open_faulty(struct ctx *c)
{
	char db[400];
	kv *inner = NULL;

	memset(&c->ctl, 0, sizeof(c->ctl));
	snprintf(db, sizeof(db), "%s/db", c->f->path);
	OK(kv_rocks_open(db, false, &inner));
	c->f->opts.kv = kv_fault_wrap(inner, &c->ctl);
	c->f->opts.store_inline = !c->writer;
	assert_non_null(c->f->opts.kv);
	OK(vol_pool_open(c->f->path, &c->f->opts, &c->f->p));
	c->f->opts.kv = NULL; /* the pool owns it now */
}

static void reopen_faulty(struct ctx *c)
{
	OK(vol_pool_close(c->f->p));
	c->f->p = NULL;
	open_faulty(c);
}

/* A fresh pool (the tests' fixture) reopened over the wrapper. */
static void new_faulty(struct ctx *c)
{
	c->f = current = fx_new(PS);
	OK(vol_pool_close(c->f->p));
	c->f->p = NULL;
	open_faulty(c);
}

static void setup_pool(struct ctx *c)
{
	uint8_t w[4 * PS];
	vol_point pt;
	vol_target now = tu_now();

	new_faulty(c);
	struct fx *f = c->f;
	OK(vol_create(f->p, "a", sizeof(w), &c->a));
	tu_fill(w, sizeof(w), 1);
	f->clk.now += SEC;
	OK(vol_write(f->p, c->a, w, 0, sizeof(w)));
	OK(vol_sync(f->p, c->a, &pt));
	c->bar_ns = pt.time_ns;
	f->clk.now += SEC;
	OK(vol_write(f->p, c->a, w + 7, 50, 3000));
	OK(vol_snapshot_create(f->p, c->a, "s1", &now, NULL));
	f->clk.now += SEC;
	OK(vol_clone(f->p, c->a, &now, "b", &c->b));
	OK(vol_write(f->p, c->b, w + 99, PS - 10, 20));
	OK(vol_create(f->p, "victim", 2 * PS, &c->victim));
	OK(vol_write(f->p, c->victim, w, 0, 2 * PS));
	f->clk.now += SEC;
	OK(vol_pool_sync(f->p));
}

/* --------------------------------------------------------- state capture */

#define MAXVOLS 8

struct cap {
	uint64_t lsn;
	size_t n;
	vol_info info[MAXVOLS];
	uint8_t *data[MAXVOLS];
	vol_snapshot *snaps[MAXVOLS];
	size_t nsnaps[MAXVOLS];
	vol_backtrack_rec *hist[MAXVOLS];
	size_t nhist[MAXVOLS];
};

static void capture(vol_pool *p, struct cap *c)
{
	vol_info *list = NULL;
	uint64_t size;

	memset(c, 0, sizeof(*c));
	c->lsn = vol_pool_lsn(p);
	OK(vol_list(p, &list, &c->n));
	assert_true(c->n <= MAXVOLS);
	memcpy(c->info, list, c->n * sizeof(vol_info));
	free(list);
	for (size_t i = 0; i < c->n; i++) {
		c->data[i] = tu_read_all(p, c->info[i].id, &size);
		OK(vol_snapshot_list(p, c->info[i].id, &c->snaps[i],
				     &c->nsnaps[i]));
		OK(vol_backtrack_history(p, c->info[i].id, &c->hist[i],
					 &c->nhist[i]));
	}
}

static void release(struct cap *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->data[i]);
		free(c->snaps[i]);
		free(c->hist[i]);
	}
}

#define SAME(field)                                                        \
	do {                                                               \
		if (x->field != y->field)                                  \
			fail_msg("%s: volume %s: " #field " %" PRId64      \
				 " became %" PRId64, what, x->name,        \
				 (int64_t)x->field, (int64_t)y->field);    \
	} while (0)

/* stats: also compare the byte counts of the last retention pass (not
 * required to survive a reopen). */
static void same(const struct cap *a, const struct cap *b, bool stats,
		 const char *what)
{
	if (a->lsn != b->lsn)
		fail_msg("%s: pool LSN %" PRIu64 " became %" PRIu64, what,
			 a->lsn, b->lsn);
	if (a->n != b->n)
		fail_msg("%s: %zu volumes became %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const vol_info *x = &a->info[i], *y = &b->info[i];
		if (strcmp(x->name, y->name) != 0)
			fail_msg("%s: volume %s became %s", what, x->name,
				 y->name);
		SAME(id);
		SAME(size);
		SAME(lsn);
		SAME(timeline);
		SAME(chain_depth);
		SAME(created_ns);
		SAME(window_ns);
		SAME(actual_window_ns);
		SAME(earliest_ns);
		SAME(source);
		SAME(source_timeline);
		SAME(source_lsn);
		SAME(bytes_written);
		SAME(snapshots);
		SAME(backtracks);
		if (stats) {
			SAME(budget_alert);
			SAME(bytes_counted_ns);
			SAME(bytes_stored);
			SAME(bytes_unique);
			SAME(bytes_shared);
			SAME(bytes_history);
		}
		if (strcmp(x->source_name, y->source_name) != 0)
			fail_msg("%s: volume %s: source name changed", what,
				 x->name);
		if (memcmp(a->data[i], b->data[i], x->size) != 0)
			fail_msg("%s: volume %s: content changed", what,
				 x->name);
		if (a->nsnaps[i] != b->nsnaps[i])
			fail_msg("%s: volume %s: %zu snapshots became %zu",
				 what, x->name, a->nsnaps[i], b->nsnaps[i]);
		for (size_t j = 0; j < a->nsnaps[i]; j++) {
			const vol_snapshot *s = &a->snaps[i][j],
					   *t = &b->snaps[i][j];
			if (strcmp(s->name, t->name) != 0 ||
			    s->point.lsn != t->point.lsn ||
			    s->point.timeline != t->point.timeline ||
			    s->point.time_ns != t->point.time_ns ||
			    s->created_ns != t->created_ns)
				fail_msg("%s: volume %s: snapshot %s changed",
					 what, x->name, s->name);
		}
		if (a->nhist[i] != b->nhist[i])
			fail_msg("%s: volume %s: %zu backtrack records "
				 "became %zu", what, x->name, a->nhist[i],
				 b->nhist[i]);
		for (size_t j = 0; j < a->nhist[i]; j++) {
			const vol_backtrack_rec *r = &a->hist[i][j],
						*q = &b->hist[i][j];
			if (r->when_ns != q->when_ns ||
			    r->chosen.lsn != q->chosen.lsn ||
			    r->new_timeline != q->new_timeline)
				fail_msg("%s: volume %s: backtrack record %zu "
					 "changed", what, x->name, j);
		}
	}
}

/* ------------------------------------------------------- the calls */

static vol_status op_write(struct ctx *c)
{
	uint8_t w[2 * PS];
	tu_fill(w, sizeof(w), 42);
	return vol_write(c->f->p, c->a, w, 100, sizeof(w));
}

static vol_status op_discard(struct ctx *c)
{
	return vol_discard(c->f->p, c->a, PS, PS + 10);
}

static vol_status op_resize(struct ctx *c)
{
	return vol_resize(c->f->p, c->a, 6 * PS);
}

static vol_status op_sync(struct ctx *c)
{
	return vol_sync(c->f->p, c->a, NULL);
}

static vol_status op_write_b(struct ctx *c)
{
	return vol_write(c->f->p, c->b, "0123456789", 5, 10);
}

static vol_status op_pool_sync(struct ctx *c)
{
	return vol_pool_sync(c->f->p);
}

static vol_status op_backtrack(struct ctx *c)
{
	vol_target t = tu_at_time(c->bar_ns);
	return vol_backtrack(c->f->p, c->a, &t, NULL);
}

static vol_status op_clone(struct ctx *c)
{
	vol_target t = tu_now();
	return vol_clone(c->f->p, c->a, &t, "c1", &c->c1);
}

static vol_status op_reset(struct ctx *c)
{
	return vol_reset(c->f->p, c->b, NULL);
}

static vol_status op_snapshot(struct ctx *c)
{
	vol_target t = tu_at_time(c->bar_ns);
	return vol_snapshot_create(c->f->p, c->a, "s2", &t, NULL);
}

static vol_status op_snapshot_delete(struct ctx *c)
{
	return vol_snapshot_delete(c->f->p, c->a, "s1");
}

static vol_status op_rename(struct ctx *c)
{
	return vol_rename(c->f->p, c->b, "b2");
}

static vol_status op_window(struct ctx *c)
{
	return vol_window_set(c->f->p, c->a, 60 * SEC);
}

static vol_status op_delete(struct ctx *c)
{
	return vol_delete(c->f->p, c->victim);
}

static vol_status op_retention(struct ctx *c)
{
	return vol_retention_run(c->f->p, NULL);
}

static vol_status op_create(struct ctx *c)
{
	return vol_create(c->f->p, "n1", 3 * PS, &c->n1);
}

static vol_status op_write_clone(struct ctx *c)
{
	return vol_write(c->f->p, c->c1, "clone", PS - 2, 5);
}

/* Reads only: each must fail cleanly or succeed with the right data. */
static vol_status op_reads(struct ctx *c)
{
	uint8_t buf[6 * PS];
	size_t got;
	vol_point pt;
	vol_target t = tu_at_snap("s2");
	vol_status st;

	if ((st = vol_read(c->f->p, c->a, buf, 0, sizeof(buf), &got)))
		return st;
	if ((st = vol_resolve(c->f->p, c->a, &t, &pt)))
		return st;
	return vol_read_point(c->f->p, c->a, &pt, buf, 0, sizeof(buf), &got);
}

struct call {
	const char *name;
	vol_status (*fn)(struct ctx *c);
	int64_t advance; /* clock step before the call */
};

static const struct call calls[] = {
	{"write", op_write, SEC},
	{"discard", op_discard, SEC},
	{"resize", op_resize, SEC},
	{"sync", op_sync, SEC},
	{"write b", op_write_b, SEC},
	{"pool sync", op_pool_sync, SEC},
	{"backtrack", op_backtrack, SEC},
	{"clone", op_clone, SEC},
	{"write clone", op_write_clone, SEC},
	{"reset", op_reset, SEC},
	{"snapshot create", op_snapshot, SEC},
	{"snapshot delete", op_snapshot_delete, SEC},
	{"rename", op_rename, SEC},
	{"window set", op_window, SEC},
	{"delete", op_delete, SEC},
	{"retention", op_retention, 3600 * SEC},
	{"create", op_create, SEC},
	{"reads", op_reads, 0},
};

static unsigned *counter(kv_fault_ctl *ctl, enum mode m)
{
	return m == M_READS ? &ctl->reads_until_fail :
	       m == M_SYNCS ? &ctl->syncs_until_fail : &ctl->writes_until_fail;
}

static void run_mode(enum mode m)
{
	struct ctx c = {0};
	unsigned long failures = 0;

	setup_pool(&c);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const struct call *k = &calls[i];
		char what[160];
		unsigned n;
		bool done = false;

		c.f->clk.now += k->advance;
		for (n = 1; !done; n++) {
			struct cap before, after;
			vol_id x;

			if (n > MAXTRY)
				fail_msg("%s: still failing after %u injected "
					 "%s failures", k->name, MAXTRY,
					 mode_name[m]);
			capture(c.f->p, &before);
			/* A known message, to see the call set its own. */
			ST(VOL_ENOENT, vol_lookup(c.f->p, "zz-sentinel", &x));
			*counter(&c.ctl, m) = n;
			vol_status st = k->fn(&c);
			bool fired = *counter(&c.ctl, m) == 0;
			*counter(&c.ctl, m) = 0;
			snprintf(what, sizeof(what),
				 "%s with %s #%u failing", k->name,
				 mode_name[m], n);
			if (!fired) {
				/* Fewer than n calls of that kind: the call
				 * ran whole and must have succeeded. */
				if (st != VOL_OK)
					fail_msg("%s (not reached): %s: %s",
						 what, vol_strerror(st),
						 vol_errmsg());
				release(&before);
				done = true;
				break;
			}
			if (st == VOL_OK) {
				if (m != M_READS)
					fail_msg("%s: returned OK", what);
				/* A read failure it could do without. */
				release(&before);
				done = true;
				break;
			}
			failures++;
			const char *msg = vol_errmsg();
			if (msg[0] == '\0' || strstr(msg, "zz-sentinel"))
				fail_msg("%s: %s without a message of its own",
					 what, vol_strerror(st));
			capture(c.f->p, &after);
			same(&before, &after, true, what);
			release(&after);
			if (m != M_READS) {
				char w2[200];
				snprintf(w2, sizeof(w2), "%s, after reopen",
					 what);
				reopen_faulty(&c);
				capture(c.f->p, &after);
				same(&before, &after, false, w2);
				release(&after);
			}
			release(&before);
		}
		/* The call succeeded: what it did survives a reopen. */
		struct cap s1, s2;
		uint64_t problems = 1;
		capture(c.f->p, &s1);
		reopen_faulty(&c);
		capture(c.f->p, &s2);
		snprintf(what, sizeof(what), "%s: reopen after success",
			 k->name);
		same(&s1, &s2, false, what);
		release(&s1);
		release(&s2);
		OK(vol_check(c.f->p, NULL, NULL, &problems));
		assert_int_equal(problems, 0);
		printf("fault: %-16s %-5s failure points: %u\n", k->name,
		       mode_name[m], n - 1);
	}
	printf("fault: %s failures injected: %lu, every one clean\n",
	       mode_name[m], failures);
	fx_free(c.f);
	current = NULL;
}

static void test_read_faults(void **state)
{
	(void)state;
	run_mode(M_READS);
}

static void test_sync_faults(void **state)
{
	(void)state;
	run_mode(M_SYNCS);
}

static void test_write_faults(void **state)
{
	(void)state;
	run_mode(M_WRITES);
}

/* Opening a pool whose store fails reads at the 1st, 2nd, ... read: every
 * failing open returns a status with a message (and frees the store it was
 * given: ASan checks), and the open that gets through sees the pool whole. */
static void test_open_faults(void **state)
{
	(void)state;
	struct ctx c = {0};
	struct cap before, after;
	unsigned n;
	kv_fault_ctl ctl; /* outlives the pool that opens over it */

	setup_pool(&c);
	capture(c.f->p, &before);
	OK(vol_pool_close(c.f->p));
	c.f->p = NULL;
	for (n = 1; n < MAXTRY; n++) {
		char db[400];
		kv *inner = NULL;

		memset(&ctl, 0, sizeof(ctl));
		ctl.reads_until_fail = n;

		snprintf(db, sizeof(db), "%s/db", c.f->path);
		OK(kv_rocks_open(db, false, &inner));
		c.f->opts.kv = kv_fault_wrap(inner, &ctl);
		vol_status st = vol_pool_open(c.f->path, &c.f->opts, &c.f->p);
		c.f->opts.kv = NULL;
		if (ctl.reads_until_fail != 0) { /* not reached: opened */
			OK(st);
			break;
		}
		if (st == VOL_OK) /* a read it could do without */
			break;
		assert_null(c.f->p);
		assert_true(vol_errmsg()[0] != '\0');
	}
	printf("fault: open             read  failure points: %u\n", n - 1);
	OK(vol_pool_close(c.f->p));
	c.f->p = NULL;
	open_faulty(&c);
	capture(c.f->p, &after);
	same(&before, &after, false, "open after failed opens");
	release(&before);
	release(&after);
	fx_free(c.f);
	current = NULL;
}

/* kv_fault on its own, over a bare RocksDB store: countdowns, counters,
 * iterators invalid after a failed seek, batches forwarded. */
static void test_wrapper(void **state)
{
	(void)state;
	char dir[128], db[200];
	kv *inner = NULL, *s;
	kv_fault_ctl ctl = {0};
	uint8_t k[24] = {0}, k2[24] = {0};
	void *v = NULL;
	size_t vn = 0;

	tu_mkdtemp(dir, sizeof(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	OK(kv_rocks_open(db, true, &inner));
	s = kv_fault_wrap(inner, &ctl);
	assert_non_null(s);
	k2[23] = 1;
	kv_batch *b = s->ops->batch_new(s);
	s->ops->batch_put(b, KV_META, k, sizeof(k), "one", 3);
	s->ops->batch_put(b, KV_META, k2, sizeof(k2), "two", 3);
	assert_true(s->ops->batch_bytes(b) > 0);
	ctl.writes_until_fail = 1;
	ST(VOL_EIO, s->ops->write(s, b, false));
	assert_int_equal(ctl.writes, 0);
	ST(VOL_ENOENT, s->ops->get(s, KV_META, k, sizeof(k), &v, &vn));
	ctl.syncs_until_fail = 1; /* a synced write is a sync too */
	ctl.status = VOL_ENOSPC;
	ST(VOL_ENOSPC, s->ops->write(s, b, true));
	ctl.status = 0;
	OK(s->ops->write(s, b, true));
	assert_int_equal(ctl.writes, 1);
	assert_int_equal(ctl.syncs, 1);
	s->ops->batch_free(b);
	ctl.syncs_until_fail = 2;
	OK(s->ops->sync(s));
	ST(VOL_EIO, s->ops->sync(s));
	assert_int_equal(ctl.syncs, 2);

	ctl.reads_until_fail = 2;
	OK(s->ops->get(s, KV_META, k, sizeof(k), &v, &vn));
	assert_int_equal(vn, 3);
	assert_memory_equal(v, "one", 3);
	free(v);
	ST(VOL_EIO, s->ops->get(s, KV_META, k, sizeof(k), &v, &vn));
	assert_int_equal(ctl.reads, 2); /* the ENOENT get and this one */

	kv_iter *it = s->ops->iter_new(s, KV_META, KV_POINT);
	ctl.reads_until_fail = 1;
	s->ops->iter_seek(it, k, sizeof(k));
	assert_false(s->ops->iter_valid(it));
	ST(VOL_EIO, s->ops->iter_status(it));
	s->ops->iter_seek(it, k, sizeof(k)); /* the next seek works */
	assert_true(s->ops->iter_valid(it));
	OK(s->ops->iter_status(it));
	s->ops->iter_next(it);
	assert_true(s->ops->iter_valid(it));
	size_t kn;
	assert_memory_equal(s->ops->iter_key(it, &kn), k2, 24);
	ctl.fail_reads = true;
	s->ops->iter_seek_prev(it, k2, sizeof(k2));
	assert_false(s->ops->iter_valid(it));
	assert_int_not_equal(s->ops->iter_status(it), VOL_OK);
	ctl.fail_reads = false;
	s->ops->iter_seek_prev(it, k2, sizeof(k2));
	assert_true(s->ops->iter_valid(it));
	s->ops->iter_free(it);
	s->ops->close(s);
	tu_rmrf(dir);
}

/* "The pool takes ownership" of opts.kv: also when the open fails early
 * (no folder, not a folder). The store is reopened in between: RocksDB's
 * lock would refuse that if the failed open had kept it. */
static void test_open_owns_kv(void **state)
{
	(void)state;
	char db[400], path[400];
	const char *bad[2];
	vol_status want[2] = {VOL_ENOENT, VOL_ENOTPOOL};
	kv_fault_ctl ctl = {0};
	struct fx *f = current = fx_new(PS);

	OK(vol_pool_close(f->p));
	f->p = NULL;
	snprintf(db, sizeof(db), "%s/db", f->path);
	snprintf(path, sizeof(path), "%s/rewindfs-pool", f->path); /* a file */
	bad[0] = "/tmp/rewindfs-test-no-such-pool";
	bad[1] = path;
	for (int i = 0; i < 2; i++) {
		kv *inner = NULL;
		vol_pool *p = NULL;

		OK(kv_rocks_open(db, false, &inner));
		f->opts.kv = kv_fault_wrap(inner, &ctl);
		ST(want[i], vol_pool_open(bad[i], &f->opts, &p));
		f->opts.kv = NULL;
		assert_null(p);
	}
	fx_free(f);
	current = NULL;
}

/* The wrapper itself: "always" flags and the configured status. */
static void test_fault_always(void **state)
{
	(void)state;
	struct ctx c = {0};
	uint8_t buf[PS];
	size_t got;
	vol_id a;

	setup_pool(&c);
	c.ctl.fail_writes = true;
	c.ctl.status = VOL_ENOSPC;
	/* A page write waits for the store (defer.c); the sync that must
	 * write it fails. */
	OK(vol_write(c.f->p, c.a, buf, 0, 10));
	ST(VOL_ENOSPC, vol_pool_sync(c.f->p));
	ST(VOL_ENOSPC, vol_create(c.f->p, "full", PS, &a));
	c.ctl.fail_writes = false;
	c.ctl.fail_reads = true;
	c.ctl.status = 0;
	/* (page 0's newest version waits in the queue: not a store read) */
	assert_int_not_equal(vol_read(c.f->p, c.a, buf, 3 * PS, PS, &got),
			     VOL_OK);
	c.ctl.fail_reads = false;
	OK(vol_read(c.f->p, c.a, buf, 0, PS, &got));
	OK(vol_write(c.f->p, c.a, buf, 0, 10));
	fx_free(c.f);
	current = NULL;
}

static unsigned long puts_in(const kv_fault_ctl *ctl, enum kv_cf cf)
{
	unsigned long n = 0;
	for (int i = 0; i < 256; i++)
		n += ctl->puts[cf][i];
	return n;
}

/* What a small page write puts into the store: nothing at once (its
 * entries wait in the store queue: defer.c). A volume's sync leaves its
 * barrier waiting too; a pool-wide sync then writes, in one batch, the
 * pages' versions and names, the change record, the barrier (with the
 * volume's record and the durable point), and the page log's applied
 * position once. A discard of whole pages first writes what waits (its
 * scan reads the store). */
static void test_write_entries(void **state)
{
	(void)state;
	struct ctx c = {0};
	uint8_t w[2 * PS];
	vol_id a;

	new_faulty(&c);
	OK(vol_create(c.f->p, "a", 4 * PS, &a));
	tu_fill(w, sizeof(w), 3);
	OK(vol_write(c.f->p, a, w, 0, sizeof(w)));
	OK(vol_pool_sync(c.f->p));

	memset(c.ctl.puts, 0, sizeof(c.ctl.puts));
	unsigned long writes = c.ctl.writes;
	OK(vol_write(c.f->p, a, w, 2 * PS, sizeof(w)));
	OK(vol_sync(c.f->p, a, NULL));
	assert_int_equal(c.ctl.writes, writes);
	assert_int_equal(puts_in(&c.ctl, KV_PAGES) + puts_in(&c.ctl, KV_LOG) +
				 puts_in(&c.ctl, KV_META),
			 0);
	OK(vol_pool_sync(c.f->p)); /* no volume changed since: no barrier */
	assert_int_equal(c.ctl.writes, writes + 1);
	assert_int_equal(puts_in(&c.ctl, KV_PAGES), 2);
	assert_int_equal(c.ctl.puts[KV_LOG][LT_NAME], 2);
	assert_int_equal(c.ctl.puts[KV_LOG][LT_CHANGE], 1);
	assert_int_equal(c.ctl.puts[KV_LOG][LT_BARRIER], 1);
	assert_int_equal(puts_in(&c.ctl, KV_LOG), 4);
	assert_int_equal(c.ctl.puts[KV_META][MT_APPLIED], 1);
	assert_int_equal(c.ctl.puts[KV_META][MT_VOL], 1);
	assert_int_equal(c.ctl.puts[KV_META][MT_DURABLE], 1);
	assert_int_equal(puts_in(&c.ctl, KV_META), 3);

	OK(vol_write(c.f->p, a, w, 0, sizeof(w)));
	OK(vol_sync(c.f->p, a, NULL));
	memset(c.ctl.puts, 0, sizeof(c.ctl.puts));
	OK(vol_discard(c.f->p, a, 0, 2 * PS));
	assert_int_equal(c.ctl.puts[KV_LOG][LT_BARRIER], 1);
	assert_int_equal(c.ctl.puts[KV_META][MT_APPLIED], 1);
	assert_int_equal(c.ctl.puts[KV_LOG][LT_CHANGE], 1); /* the write's */

	/* Both changes read back after a reopen (the page log's replay
	 * starts at the applied position). */
	uint8_t want[4 * PS] = {0};
	memcpy(want + 2 * PS, w, sizeof(w));
	reopen_faulty(&c);
	tu_assert_content(c.f->p, a, want, sizeof(want));
	fx_free(c.f);
	current = NULL;
}

/* Reads of versions that wait in the store queue (nothing writes them
 * here until a command or a pool-wide sync): the head, with a partial
 * write over a waiting page and a waiting hole; a point between two
 * waiting versions of the same pages; then a clone (a command: what waits
 * is written first) reads the same; all of it after a reopen. */
static void test_queue_reads(void **state)
{
	(void)state;
	struct ctx c = {0};
	uint8_t v1[4 * PS], v2[PS], zero[PS] = {0}, want[4 * PS], r[4 * PS];
	vol_id a, b;
	vol_point p1;
	size_t got;

	new_faulty(&c);
	vol_pool *p = c.f->p;
	OK(vol_create(p, "a", sizeof(v1), &a));
	tu_fill(v1, sizeof(v1), 7);
	tu_fill(v2, sizeof(v2), 8);
	unsigned long writes = c.ctl.writes;
	OK(vol_write(p, a, v1, 0, sizeof(v1)));
	OK(vol_sync(p, a, &p1));
	OK(vol_write(p, a, v2, PS, PS));
	OK(vol_write(p, a, "xyz", 2 * PS + 5, 3));
	OK(vol_write(p, a, zero, 3 * PS, PS));
	assert_int_equal(c.ctl.writes, writes); /* all of it waits */
	memcpy(want, v1, sizeof(want));
	memcpy(want + PS, v2, PS);
	memcpy(want + 2 * PS + 5, "xyz", 3);
	memset(want + 3 * PS, 0, PS);
	tu_assert_content(p, a, want, sizeof(want));
	OK(vol_read_point(p, a, &p1, r, 0, sizeof(r), &got));
	assert_int_equal(got, sizeof(r));
	assert_memory_equal(r, v1, sizeof(r));
	assert_int_equal(c.ctl.writes, writes);

	vol_target now = tu_now();
	OK(vol_clone(p, a, &now, "b", &b));
	assert_true(c.ctl.writes > writes);
	tu_assert_content(p, b, want, sizeof(want));
	OK(vol_read_point(p, a, &p1, r, 0, sizeof(r), &got));
	assert_memory_equal(r, v1, sizeof(r));
	reopen_faulty(&c);
	tu_assert_content(c.f->p, a, want, sizeof(want));
	tu_assert_content(c.f->p, b, want, sizeof(want));
	fx_free(c.f);
	current = NULL;
}

/* The store writer thread: a page write returns before its entries are in
 * the store. While the store fails they wait, readable; a sync that must
 * write them (pool-wide) and a command fail, changing nothing, whichever
 * thread's write met the failure; once the store works they go in and
 * survive a reopen. */
static void test_writer_fault(void **state)
{
	(void)state;
	struct ctx c = {.writer = true};
	uint8_t w[3 * PS];
	vol_id a;
	uint64_t problems = 1;

	new_faulty(&c);
	vol_pool *p = c.f->p;
	OK(vol_create(p, "a", sizeof(w), &a));
	tu_fill(w, sizeof(w), 5);
	c.ctl.status = VOL_EIO;
	c.ctl.fail_writes = true;
	OK(vol_write(p, a, w, 0, sizeof(w)));
	OK(vol_sync(p, a, NULL)); /* the page log holds it: durable */
	tu_assert_content(p, a, w, sizeof(w));
	ST(VOL_EIO, vol_pool_sync(p));
	tu_assert_content(p, a, w, sizeof(w));
	vol_target now = tu_now();
	ST(VOL_EIO, vol_snapshot_create(p, a, "s", &now, NULL));
	vol_snapshot *snaps = NULL;
	size_t n = 1;
	OK(vol_snapshot_list(p, a, &snaps, &n));
	free(snaps);
	assert_int_equal(n, 0);
	c.ctl.fail_writes = false;
	OK(vol_pool_sync(p));
	OK(vol_snapshot_create(p, a, "s", &now, NULL));
	reopen_faulty(&c);
	tu_assert_content(c.f->p, a, w, sizeof(w));
	OK(vol_check(c.f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	fx_free(c.f);
	current = NULL;
}

/* A pass that enforces the history budget deletes in many batches (here
 * one per deletion: retention_batch_bytes = 1). Whichever of its writes
 * fails, and whether or not the pool is reopened after it (a killed
 * daemon), every time the volume still resolves reads back what the
 * volume held then: the cut's floor is recorded before any deletion.
 * (Before, the floor was written last: a pass that stopped half way left
 * times resolvable whose versions were gone.) */
static void test_budget_cut_faults(void **state)
{
	(void)state;
	enum { ROUNDS = 6, PAGES = 8 };
	struct ctx c = {0};
	static uint8_t want[ROUNDS][PAGES * PS], r[PAGES * PS];
	int64_t at[ROUNDS];
	vol_id v;
	unsigned n;

	c.f = current = fx_new(PS);
	OK(vol_pool_close(c.f->p));
	c.f->p = NULL;
	c.f->opts.retention_batch_bytes = 1;
	/* Room for two rounds of history of the five: the cut frees three.
	 * (Set at every open: the reopens below keep it.) */
	c.f->opts.history_budget = 2 * PAGES * PS;
	open_faulty(&c);
	OK(vol_create(c.f->p, "v", sizeof(r), &v));
	for (int i = 0; i < ROUNDS; i++) {
		c.f->clk.now += SEC;
		tu_fill(want[i], sizeof(want[i]), 100 + (uint64_t)i);
		OK(vol_write(c.f->p, v, want[i], 0, sizeof(want[i])));
		OK(vol_sync(c.f->p, v, NULL));
		at[i] = c.f->clk.now;
	}
	c.f->clk.now += SEC;
	for (n = 1; n < MAXTRY; n++) {
		vol_retention_report rep;
		c.ctl.writes_until_fail = n;
		vol_status st = vol_retention_run(c.f->p, &rep);
		bool fired = c.ctl.writes_until_fail == 0;
		c.ctl.writes_until_fail = 0;
		for (int reopen = 0; reopen < 2; reopen++) {
			if (reopen)
				reopen_faulty(&c);
			for (int i = 0; i < ROUNDS; i++) {
				vol_target t = {.kind = VOL_AT_TIME,
						.time_ns = at[i]};
				vol_point pt;
				size_t got;
				vol_status rs = vol_resolve(c.f->p, v, &t, &pt);
				if (rs == VOL_ERANGE)
					continue;
				OK(rs);
				OK(vol_read_point(c.f->p, v, &pt, r, 0,
						  sizeof(r), &got));
				if (memcmp(r, want[i], sizeof(r)))
					fail_msg("write #%u failing%s: round "
						 "%d's time resolves but reads "
						 "other bytes", n,
						 reopen ? ", reopened" : "", i);
			}
		}
		if (!fired) { /* every write went through */
			OK(st);
			break;
		}
		assert_int_not_equal(st, VOL_OK);
	}
	printf("fault: budget cut       write failure points: %u\n", n - 1);
	/* The case is the one it means to be: the budget cut history. */
	vol_pool_stats ps;
	OK(vol_pool_stats_get(c.f->p, &ps));
	assert_true(ps.bytes_history <= 2 * PAGES * PS);
	vol_target t = {.kind = VOL_AT_TIME, .time_ns = at[0]};
	vol_point pt;
	ST(VOL_ERANGE, vol_resolve(c.f->p, v, &t, &pt));
	tu_assert_content(c.f->p, v, want[ROUNDS - 1], sizeof(r));
	fx_free(c.f);
	current = NULL;
}

static int fault_teardown(void **state)
{
	(void)state;
	fx_free(current);
	current = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_wrapper, fault_teardown),
		cmocka_unit_test_teardown(test_fault_always, fault_teardown),
		cmocka_unit_test_teardown(test_open_faults, fault_teardown),
		cmocka_unit_test_teardown(test_open_owns_kv, fault_teardown),
		cmocka_unit_test_teardown(test_read_faults, fault_teardown),
		cmocka_unit_test_teardown(test_sync_faults, fault_teardown),
		cmocka_unit_test_teardown(test_write_faults, fault_teardown),
		cmocka_unit_test_teardown(test_write_entries, fault_teardown),
		cmocka_unit_test_teardown(test_queue_reads, fault_teardown),
		cmocka_unit_test_teardown(test_writer_fault, fault_teardown),
		cmocka_unit_test_teardown(test_budget_cut_faults,
					  fault_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
