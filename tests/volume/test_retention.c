/*
 * test_retention.c - unit tests of the window and retention: window 0 keeps
 * no history, points inside the window stay readable after a pass and points
 * before it are VOL_ERANGE, the earliest restorable time follows
 * max(created, now - window, what passes dropped), deleted volumes' timelines
 * are dropped, and a tiny history budget shrinks the actual window; every
 * page version keeps exactly one name entry through writes, discards,
 * passes and dropped timelines, and a pool of format 2 (version entries)
 * gets its names (format 3) and then format 4 (run entries) when it opens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tutil.h"

#define PS 4096
#define NP 4
#define SZ (NP * PS)

static void test_window_zero(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t v1[SZ], v2[SZ];
	vol_point b1, pt;
	vol_retention_report rep;
	vol_info in;

	OK(vol_create(f->p, "a", SZ, &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(v1, SZ, 1);
	tu_fill(v2, SZ, 2);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v1, 0, SZ));
	OK(vol_sync(f->p, a, &b1));
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v2, 0, SZ));
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.window_ns, 0);
	assert_int_equal(in.earliest_ns, f->clk.now);
	vol_target tg = tu_at_time(b1.time_ns);
	ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	ST(VOL_ERANGE, vol_backtrack(f->p, a, &tg, NULL));
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.versions_deleted >= NP); /* every page of v1 */
	tu_assert_content(f->p, a, v2, SZ);
	tg = tu_at_lsn(b1.lsn);
	ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	/* Clone from now still works. */
	vol_id c;
	tg = tu_now();
	OK(vol_clone(f->p, a, &tg, "c", &c));
	tu_assert_content(f->p, c, v2, SZ);
	fx_reopen(f);
	tu_assert_content(f->p, a, v2, SZ);
	tu_assert_content(f->p, c, v2, SZ);
}

static void test_inside_window(void **state)
{
	struct fx *f = *state;
	vol_id a;
	enum { N = 30 };
	static uint8_t v[N][SZ];
	vol_point bar[N];
	uint64_t wl[N];
	const int64_t win = 100 * SEC;
	vol_retention_report rep;
	vol_info in;

	OK(vol_create(f->p, "a", SZ, &a));
	OK(vol_window_set(f->p, a, win));
	for (int i = 0; i < N; i++) {
		memset(v[i], 0, SZ);
		if (i > 0)
			memcpy(v[i], v[i - 1], SZ);
		/* Each step changes one page: old versions of the others must
		 * stay while a point in the window needs them. */
		tu_fill(v[i] + (i % NP) * PS, PS, 1000 + i);
		f->clk.now += 10 * SEC;
		OK(vol_write(f->p, a, v[i] + (i % NP) * PS, (i % NP) * PS,
			     PS));
		wl[i] = vol_pool_lsn(f->p);
		f->clk.now += SEC;
		OK(vol_sync(f->p, a, &bar[i]));
	}
	f->clk.now += 5 * SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.versions_scanned > 0);
	assert_true(rep.versions_deleted > 0);
	int64_t earliest = f->clk.now - win;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, earliest);
	assert_int_equal(in.actual_window_ns, win);
	assert_false(in.budget_alert);
	int inside = 0, outside = 0;
	for (int i = 0; i < N; i++) {
		vol_target tg = tu_at_time(bar[i].time_ns);
		vol_point pt;
		if (bar[i].time_ns >= earliest) {
			inside++;
			tu_assert_at(f->p, a, &tg, v[i], SZ);
			tg = tu_at_lsn(wl[i]);
			tu_assert_at(f->p, a, &tg, v[i], SZ);
		} else if (bar[i].time_ns + 11 * SEC < earliest) {
			/* well before the window (the last one before it may
			 * still be the state at the window's start) */
			outside++;
			ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
			tg = tu_at_lsn(wl[i]);
			ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
		}
	}
	assert_true(inside >= 8 && outside >= 15);
	/* An LSN taken by another volume reads this volume's state then. */
	vol_id b;
	OK(vol_create(f->p, "b", 0, &b));
	vol_target tg = tu_at_lsn(vol_pool_lsn(f->p));
	tu_assert_at(f->p, a, &tg, v[N - 1], SZ);
	fx_reopen(f);
	for (int i = 0; i < N; i++) {
		if (bar[i].time_ns >= earliest) {
			tg = tu_at_time(bar[i].time_ns);
			tu_assert_at(f->p, a, &tg, v[i], SZ);
		}
	}
	uint64_t problems = 1;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

static void test_earliest_formula(void **state)
{
	struct fx *f = *state;
	vol_id a;
	vol_info in;

	f->clk.now += 7 * SEC;
	int64_t created = f->clk.now;
	OK(vol_create(f->p, "a", PS, &a));
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, created);
	OK(vol_window_set(f->p, a, 50 * SEC));
	f->clk.now += 20 * SEC;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, created); /* max(created, now-w) */
	f->clk.now += 100 * SEC;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, f->clk.now - 50 * SEC);
	assert_int_equal(in.actual_window_ns, 50 * SEC);
	OK(vol_retention_run(f->p, NULL));
	int64_t dropped = f->clk.now - 50 * SEC;
	/* A wider window cannot bring back what a pass dropped. */
	OK(vol_window_set(f->p, a, 1000 * SEC));
	f->clk.now += SEC;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.window_ns, 1000 * SEC);
	assert_int_equal(in.earliest_ns, dropped);
	fx_reopen(f);
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, dropped);
	/* The clock clamp: a clock going backwards does not move time back. */
	f->clk.now -= 500 * SEC;
	OK(vol_write(f->p, a, "x", 0, 1));
	vol_point pt;
	OK(vol_sync(f->p, a, &pt));
	ASSERT_I64(pt.time_ns, >=, dropped + 51 * SEC);
}

static void test_deleted_timelines_dropped(void **state)
{
	struct fx *f = *state;
	vol_id a, b, c;
	uint8_t w[SZ];
	vol_retention_report rep;
	vol_pool_stats s0, s1;

	OK(vol_create(f->p, "keep", SZ, &a));
	tu_fill(w, SZ, 3);
	OK(vol_write(f->p, a, w, 0, SZ));
	OK(vol_retention_run(f->p, &rep));
	OK(vol_pool_stats_get(f->p, &s0));
	OK(vol_create(f->p, "gone", SZ, &b));
	OK(vol_write(f->p, b, w, 0, SZ));
	vol_target tg = tu_now();
	OK(vol_backtrack(f->p, b, &tg, NULL)); /* a second timeline */
	OK(vol_write(f->p, b, w, 0, PS));
	/* A clone of the kept volume, then deleted too. */
	OK(vol_clone(f->p, a, &tg, "tmpclone", &c));
	OK(vol_write(f->p, c, w, PS, PS));
	f->clk.now += SEC;
	OK(vol_delete(f->p, b));
	OK(vol_delete(f->p, c));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.timelines_dropped >= 3);
	OK(vol_pool_stats_get(f->p, &s1));
	assert_int_equal(s1.timelines, s0.timelines);
	assert_int_equal(s1.volumes, 1);
	tu_assert_content(f->p, a, w, SZ);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	/* Only the kept volume's NP data versions remain. */
	assert_int_equal(tu_count_page_values(f->path, PS), NP);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	tu_assert_content(f->p, a, w, SZ);
}

/* A deleted source's timeline stays while a clone reads through it. */
static void test_clone_keeps_source_timeline(void **state)
{
	struct fx *f = *state;
	vol_id a, c;
	uint8_t w[SZ];

	OK(vol_create(f->p, "a", SZ, &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(w, SZ, 8);
	OK(vol_write(f->p, a, w, 0, SZ));
	vol_target tg = tu_now();
	OK(vol_clone(f->p, a, &tg, "c", &c));
	OK(vol_window_set(f->p, c, 0));
	f->clk.now += SEC;
	OK(vol_write(f->p, a, "overwrite", 0, 9)); /* source moves on */
	OK(vol_delete(f->p, a));
	f->clk.now += 3600 * SEC;
	OK(vol_retention_run(f->p, NULL));
	tu_assert_content(f->p, c, w, SZ);
	fx_reopen(f);
	OK(vol_retention_run(f->p, NULL));
	tu_assert_content(f->p, c, w, SZ);
}

static void test_budget(void **state)
{
	struct fx *f = *state;
	vol_id a;
	enum { ROUNDS = 24 };
	static uint8_t v[ROUNDS][SZ];
	vol_point bar[ROUNDS];
	vol_retention_report rep;
	vol_info in;
	vol_pool_stats st;
	const uint64_t budget = 4 * SZ; /* about four rounds of history */

	OK(vol_pool_set_budget(f->p, budget));
	OK(vol_pool_stats_get(f->p, &st));
	assert_int_equal(st.history_budget, budget);
	OK(vol_create(f->p, "a", SZ, &a));
	int64_t created = f->clk.now;
	tu_fill(v[0], SZ, 77);
	vol_target tg = tu_now();
	for (int i = 0; i < ROUNDS; i++) {
		tu_fill(v[i], SZ, 500 + i);
		f->clk.now += 10 * SEC;
		OK(vol_write(f->p, a, v[i], 0, SZ));
		OK(vol_sync(f->p, a, &bar[i]));
		if (i == 2)
			OK(vol_snapshot_create(f->p, a, "s2", &tg, NULL));
	}
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.budget_alert);
	assert_true(rep.cutoff_ns > created);
	assert_true(rep.bytes_history <= budget + SZ);
	OK(vol_info_get(f->p, a, &in));
	assert_true(in.budget_alert);
	assert_int_equal(in.window_ns, 24 * 3600 * SEC);
	ASSERT_I64(in.actual_window_ns, <, in.window_ns);
	ASSERT_I64(in.earliest_ns, >, created);
	ASSERT_I64(in.earliest_ns, >=, rep.cutoff_ns);
	OK(vol_pool_stats_get(f->p, &st));
	assert_true(st.budget_alert);
	/* Oldest first: early points are gone, recent ones and the snapshot
	 * read back, the current state is whole. */
	vol_point pt;
	tg = tu_at_time(bar[0].time_ns);
	ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	tg = tu_at_time(bar[ROUNDS - 1].time_ns);
	tu_assert_at(f->p, a, &tg, v[ROUNDS - 1], SZ);
	/* The cut frees what died before it: the window starts just after
	 * the first barrier at or after the cut (retention.c, budget). */
	int cut_at = -1;
	for (int i = 0; i < ROUNDS; i++)
		if (in.earliest_ns == bar[i].time_ns + 1)
			cut_at = i;
	assert_true(cut_at >= 0);
	ASSERT_I64(bar[cut_at].time_ns, >=, rep.cutoff_ns);
	if (cut_at > 0)
		ASSERT_I64(bar[cut_at - 1].time_ns, <, rep.cutoff_ns);
	tg = tu_at_snap("s2");
	tu_assert_at(f->p, a, &tg, v[2], SZ);
	tu_assert_content(f->p, a, v[ROUNDS - 1], SZ);
	for (int i = 0; i < ROUNDS; i++) {
		tg = tu_at_time(bar[i].time_ns);
		if (bar[i].time_ns >= in.earliest_ns)
			tu_assert_at(f->p, a, &tg, v[i], SZ);
		else
			ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	}
	uint64_t problems = 1;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

/* A pass gives the write path back to the pool's writers (pacer_yield):
 * after a stretch of work it waits RETENTION_YIELD times the stretch if
 * the pool was written meanwhile, not at all if it was not, and stops
 * waiting once the pool is closing. A wait that never ends fails the test
 * by its timeout. */
static void test_pacer(void **state)
{
	struct fx *f = *state;
	vol_pool *p = f->p;
	vol_id a;
	uint8_t buf[4096];
	struct pacer pc;
	const int64_t hour = 3600 * SEC;

	OK(vol_create(p, "a", SZ, &a));
	tu_fill(buf, sizeof buf, 3);
	/* Not written: an hour-long stretch costs no wait. */
	pacer_start(p, &pc);
	pc.since -= hour;
	pacer_yield(p, &pc);
	ASSERT_I64(p->retention_yielded_ns, ==, 0);
	/* Written during a 2 ms stretch: at least 6 ms of waiting, counted
	 * apart from the pass's work (the schedule's length of a pass). */
	pacer_start(p, &pc);
	pc.since -= 2000000;
	OK(vol_write(p, a, buf, 0, sizeof buf));
	int64_t t0 = mono_ns();
	pacer_yield(p, &pc);
	ASSERT_I64(mono_ns() - t0, >=, 2000000 * RETENTION_YIELD);
	ASSERT_I64(p->retention_yielded_ns, >=, 2000000 * RETENTION_YIELD);
	/* Closing: an hour-long stretch with writes ends at once. */
	pacer_start(p, &pc);
	pc.since -= hour;
	OK(vol_write(p, a, buf, 0, sizeof buf));
	pthread_mutex_lock(&p->mu);
	p->retention_stop = true;
	pthread_mutex_unlock(&p->mu);
	pacer_yield(p, &pc);
	pthread_mutex_lock(&p->mu);
	p->retention_stop = false;
	pthread_mutex_unlock(&p->mu);
}

/* A bulk load syncs rarely: the history a budget's cut must free died
 * between two barriers far apart. The cut still frees it (the window then
 * starts after the barrier that follows the cut), not nothing. */
static void test_budget_sparse_barriers(void **state)
{
	struct fx *f = *state;
	vol_id a;
	enum { ROUNDS = 8 };
	static uint8_t v[ROUNDS][SZ];
	vol_point first, late;
	vol_retention_report rep;
	const uint64_t budget = 4 * SZ; /* v0..v2 must go */

	OK(vol_pool_set_budget(f->p, budget));
	OK(vol_create(f->p, "a", SZ, &a));
	for (int i = 0; i < ROUNDS; i++) {
		tu_fill(v[i], SZ, 900 + i);
		f->clk.now += 10 * SEC;
		OK(vol_write(f->p, a, v[i], 0, SZ));
		if (i == 0)
			OK(vol_sync(f->p, a, &first));
		if (i == ROUNDS - 2)
			OK(vol_sync(f->p, a, &late));
	}
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.budget_alert);
	ASSERT_I64(rep.cutoff_ns, >, first.time_ns);
	ASSERT_I64(rep.cutoff_ns, <=, late.time_ns);
	assert_true(rep.bytes_history <= budget);
	vol_info in;
	OK(vol_info_get(f->p, a, &in));
	ASSERT_I64(in.earliest_ns, ==, late.time_ns + 1);
	vol_target tg = tu_at_time(first.time_ns);
	vol_point pt;
	ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	tg = tu_at_time(late.time_ns + 1);
	tu_assert_at(f->p, a, &tg, v[ROUNDS - 2], SZ);
	tu_assert_content(f->p, a, v[ROUNDS - 1], SZ);
	fx_reopen(f);
	tu_assert_at(f->p, a, &tg, v[ROUNDS - 2], SZ);
	tu_assert_content(f->p, a, v[ROUNDS - 1], SZ);
	uint64_t problems = 1;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

static int pkey_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PKEY_LEN);
}

/* The closed pool at path: every entry of the pages family (a page's
 * version or a run of them) has its LT_NAME entry and every name an
 * entry, no LT_VERSION entry is left, and the pool record says format
 * `format`. Returns the number of page versions (a run's pages count). */
static size_t assert_names_match(const char *path, uint64_t format)
{
	kv *s = tu_open_store(path);
	const struct kv_ops *o = s->ops;
	size_t np = 0, nn = 0, cap = 4096, versions = 0;
	uint8_t(*pk)[PKEY_LEN] = malloc(cap * PKEY_LEN);
	uint8_t(*nm)[PKEY_LEN] = malloc(cap * PKEY_LEN);
	assert_non_null(pk);
	assert_non_null(nm);
	uint8_t zero[PKEY_LEN] = {0};
	kv_iter *it = o->iter_new(s, KV_PAGES, KV_BULK);
	for (o->iter_seek(it, zero, PKEY_LEN); o->iter_valid(it);
	     o->iter_next(it)) {
		size_t kn;
		const uint8_t *k = o->iter_key(it, &kn);
		size_t vn;
		const uint8_t *v = o->iter_value(it, &vn);
		assert_int_equal(kn, PKEY_LEN);
		assert_true(np < cap);
		memcpy(pk[np++], k, PKEY_LEN);
		versions += v[0] == PV_RUN ? rval_count(v) : 1;
	}
	OK(o->iter_status(it));
	o->iter_free(it);
	it = o->iter_new(s, KV_LOG, KV_BULK);
	uint8_t tag = LT_NAME;
	for (o->iter_seek(it, &tag, 1); o->iter_valid(it); o->iter_next(it)) {
		size_t kn;
		const uint8_t *k = o->iter_key(it, &kn);
		if (k[0] != LT_NAME)
			break;
		assert_int_equal(kn, NKEY_LEN);
		assert_true(nn < cap);
		nkey_pkey(k, nm[nn++]);
	}
	OK(o->iter_status(it));
	tag = LT_VERSION;
	o->iter_seek(it, &tag, 1);
	if (o->iter_valid(it)) {
		size_t kn;
		assert_int_not_equal(((const uint8_t *)o->iter_key(it, &kn))[0],
				     LT_VERSION);
	}
	o->iter_free(it);
	qsort(nm, nn, PKEY_LEN, pkey_cmp);
	assert_int_equal(nn, np);
	assert_memory_equal(nm, pk, np * PKEY_LEN);
	void *v;
	size_t vn;
	uint8_t mk = MT_POOL;
	OK(o->get(s, KV_META, &mk, 1, &v, &vn));
	assert_true(vn >= 22);
	assert_int_equal(be64_get((uint8_t *)v + 14), format); /* after magic */
	free(v);
	free(pk);
	free(nm);
	s->ops->close(s);
	return versions;
}

/* Turn the closed pool at path into one of format 2: a version entry for
 * every name (the value as format 2 wrote it), no names, record version 2. */
static void make_format2(const char *path, uint32_t ps)
{
	kv *s = tu_open_store(path);
	const struct kv_ops *o = s->ops;
	kv_batch *b = o->batch_new(s);
	kv_iter *it = o->iter_new(s, KV_LOG, KV_BULK);
	uint8_t tag[2] = {LT_NAME, LT_NAME + 1};
	for (o->iter_seek(it, tag, 1); o->iter_valid(it); o->iter_next(it)) {
		size_t kn;
		const uint8_t *k = o->iter_key(it, &kn);
		if (k[0] != LT_NAME)
			break;
		uint8_t vk[1 + PKEY_LEN] = {LT_VERSION}, v[16] = {0};
		nkey_pkey(k, vk + 1);
		be64_put(v + 8, PKEY_LEN + PVAL_REF + 64 + ps);
		o->batch_put(b, KV_LOG, vk, sizeof vk, v, sizeof v);
	}
	OK(o->iter_status(it));
	o->iter_free(it);
	o->batch_del_range(b, KV_LOG, tag, 1, tag + 1, 1);
	void *v;
	size_t vn;
	uint8_t mk = MT_POOL;
	OK(o->get(s, KV_META, &mk, 1, &v, &vn));
	be64_put((uint8_t *)v + 14, 2);
	o->batch_put(b, KV_META, &mk, 1, v, vn);
	free(v);
	OK(o->write(s, b, true));
	o->batch_free(b);
	s->ops->close(s);
}

static void test_names_follow_versions(void **state)
{
	struct fx *f = *state;
	vol_id a, c;
	uint8_t w[SZ];
	vol_retention_report rep;

	OK(vol_create(f->p, "a", SZ, &a));
	OK(vol_window_set(f->p, a, 0));
	for (int i = 0; i < 4; i++) {
		tu_fill(w, SZ, 20 + i);
		f->clk.now += SEC;
		OK(vol_write(f->p, a, w, 0, SZ));
		OK(vol_sync(f->p, a, NULL));
	}
	OK(vol_discard(f->p, a, PS, PS)); /* a hole */
	memset(w + PS, 0, PS);
	vol_target tg = tu_now();
	OK(vol_clone(f->p, a, &tg, "c", &c));
	OK(vol_write(f->p, c, w, 0, SZ)); /* a timeline retention drops */
	f->clk.now += SEC;
	OK(vol_delete(f->p, c));
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.versions_deleted >= 3 * NP);
	assert_true(rep.timelines_dropped >= 1);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	assert_int_equal(assert_names_match(f->path, 4), NP);

	/* Format 2: the open converts, and retention goes on deleting. */
	make_format2(f->path, PS);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	tu_assert_content(f->p, a, w, SZ);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	assert_int_equal(assert_names_match(f->path, 4), NP);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	uint8_t w2[SZ];
	tu_fill(w2, SZ, 30);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, w2, 0, SZ));
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.versions_deleted, NP);
	tu_assert_content(f->p, a, w2, SZ);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	assert_int_equal(assert_names_match(f->path, 4), NP);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_window_zero, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_inside_window, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_earliest_formula, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_timelines_dropped,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_clone_keeps_source_timeline, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_pacer, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget_sparse_barriers,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_names_follow_versions,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_budget, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
