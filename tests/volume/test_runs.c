/*
 * test_runs.c - unit tests of run entries (pages.c, retention.c, cleaner.c):
 * a long write stores one entry per group it fills instead of one per page,
 * and everything that reads or rewrites page versions sees the same bytes
 * as if each page had its own: reads long and short, aligned or not, across
 * group edges; small overwrites, discards and shrinks on top of runs;
 * points in the past, clones and backtracks; a reopen; retention keeping
 * only the pages a point still reads (a run shrinks or splits into pages,
 * and the cleaner gives back the rest; it moves a run's records together);
 * a damaged record inside a run, named by its page; vol_check; and a pool
 * of format 3 opening as one of format 4.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tutil.h"

#define PS 4096

/* The entries of the closed pool's pages family: runs, and page versions
 * of their own (holes included). The runs' (first, count) go to runs[]. */
struct census {
	unsigned nruns, npages;
	uint64_t first[64], count[64], lsn[64];
};

static struct census census_of(const char *path)
{
	struct census c = {0};
	kv *s = tu_open_store(path);
	const struct kv_ops *o = s->ops;
	uint8_t zero[PKEY_LEN] = {0};
	kv_iter *it = o->iter_new(s, KV_PAGES, KV_BULK);
	for (o->iter_seek(it, zero, PKEY_LEN); o->iter_valid(it);
	     o->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *k = o->iter_key(it, &kn);
		const uint8_t *v = o->iter_value(it, &vn);
		enum pval_kind kind;
		assert_true(pval_check(k, v, vn, PS, &kind, NULL, NULL));
		if (kind != PV_RUN) {
			c.npages++;
			continue;
		}
		assert_true(c.nruns < 64);
		c.first[c.nruns] = rval_first(v);
		c.count[c.nruns] = rval_count(v);
		pkey_parse(k, NULL, NULL, &c.lsn[c.nruns]);
		c.nruns++;
	}
	OK(o->iter_status(it));
	o->iter_free(it);
	s->ops->close(s);
	return c;
}

static struct census census_closed(struct fx *f)
{
	OK(vol_pool_close(f->p));
	f->p = NULL;
	struct census c = census_of(f->path);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	return c;
}

static void expect_clean(struct fx *f)
{
	uint64_t problems = 9;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

/* Every way of reading a volume agrees with want: whole (a walk), page by
 * page (seeks), unaligned pieces across group edges. */
static void expect_reads(vol_pool *p, vol_id a, const uint8_t *want,
			 uint64_t n)
{
	static uint8_t r[128 * PS];
	size_t got;
	tu_assert_content(p, a, want, n);
	for (uint64_t off = 0; off < n; off += PS) {
		OK(vol_read(p, a, r, off, PS, &got));
		assert_memory_equal(r, want + off, PS);
	}
	for (uint64_t off = 1000; off + 3 * PS < n; off += 5 * PS + 123) {
		OK(vol_read(p, a, r, off, 3 * PS, &got));
		assert_memory_equal(r, want + off, 3 * PS);
	}
}

/* 16-page groups (tu_run_group). Pages 3..70 of an 80-page volume: groups
 * 1-3 are runs; 3..15 (13 pages) and 64..70 (7) are pages of their own. */
static void test_one_entry_per_group(void **state)
{
	struct fx *f = *state;
	static uint8_t want[80 * PS], w[80 * PS];
	vol_id a;
	OK(vol_create(f->p, "a", sizeof(want), &a));
	tu_fill(w, 68 * PS, 1);
	OK(vol_write(f->p, a, w, 3 * PS, 68 * PS));
	memcpy(want + 3 * PS, w, 68 * PS);
	expect_reads(f->p, a, want, sizeof(want));
	struct census c = census_closed(f);
	assert_int_equal(c.nruns, 3);
	assert_int_equal(c.npages, 13 + 7);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(c.first[i], 16 * (i + 1));
		assert_int_equal(c.count[i], 16);
	}
	expect_reads(f->p, a, want, sizeof(want));

	/* Small changes on top: pages of their own, newer than the run. */
	tu_fill(w, 4 * PS, 2);
	OK(vol_write(f->p, a, w, 20 * PS, 4 * PS));
	memcpy(want + 20 * PS, w, 4 * PS);
	tu_fill(w, 100, 3);
	OK(vol_write(f->p, a, w, 47 * PS + 4000, 100)); /* across an edge */
	memcpy(want + 47 * PS + 4000, w, 100);
	OK(vol_discard(f->p, a, 30 * PS, 11 * PS)); /* pages 30..40 */
	memset(want + 30 * PS, 0, 11 * PS);
	expect_reads(f->p, a, want, sizeof(want));
	/* A run on top of those pages: newer than them again. */
	tu_fill(w, 16 * PS, 4);
	OK(vol_write(f->p, a, w, 16 * PS, 16 * PS));
	memcpy(want + 16 * PS, w, 16 * PS);
	expect_reads(f->p, a, want, sizeof(want));
	/* Shrink into a run, grow back: zeros past the cut. */
	OK(vol_resize(f->p, a, 50 * PS));
	OK(vol_resize(f->p, a, sizeof(want)));
	memset(want + 50 * PS, 0, 30 * PS);
	expect_reads(f->p, a, want, sizeof(want));
	fx_reopen(f);
	expect_reads(f->p, a, want, sizeof(want));
	expect_clean(f);
}

/* Points before and after a run is overwritten, a clone of the older one
 * written to, and a backtrack to it: runs of ancestors read through the
 * clone's chain. */
static void test_history(void **state)
{
	struct fx *f = *state;
	static uint8_t v1[64 * PS], v2[64 * PS], cw[64 * PS], w[64 * PS];
	vol_id a, c;
	OK(vol_create(f->p, "a", sizeof(v1), &a));
	tu_fill(v1, sizeof(v1), 10);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v1, 0, sizeof(v1)));
	OK(vol_sync(f->p, a, NULL));
	vol_target t1 = tu_at_time(f->clk.now);
	f->clk.now += SEC;
	memcpy(v2, v1, sizeof(v2));
	tu_fill(w, 40 * PS, 11);
	OK(vol_write(f->p, a, w, 8 * PS, 40 * PS)); /* across three groups */
	memcpy(v2 + 8 * PS, w, 40 * PS);
	OK(vol_write(f->p, a, w, 60 * PS + 7, 5)); /* one page of its own */
	memcpy(v2 + 60 * PS + 7, w, 5);
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	tu_assert_at(f->p, a, &t1, v1, sizeof(v1));
	expect_reads(f->p, a, v2, sizeof(v2));

	OK(vol_clone(f->p, a, &t1, "c", &c));
	memcpy(cw, v1, sizeof(cw));
	tu_fill(w, 20 * PS, 12);
	OK(vol_write(f->p, c, w, 30 * PS, 20 * PS));
	memcpy(cw + 30 * PS, w, 20 * PS);
	expect_reads(f->p, c, cw, sizeof(cw));
	expect_reads(f->p, a, v2, sizeof(v2));

	OK(vol_backtrack(f->p, a, &t1, NULL));
	expect_reads(f->p, a, v1, sizeof(v1));
	fx_reopen(f);
	expect_reads(f->p, a, v1, sizeof(v1));
	expect_reads(f->p, c, cw, sizeof(cw));
	expect_clean(f);
}

/* Window 0, 32-page groups: after pages 0..3 and 30 of a run are written
 * again, no point reads them in the run any more. Retention shrinks the run
 * to pages 4..29 (same LSN), page 31 gets a version of its own, and the
 * volume reads the same. Then nothing of the run is left that a point
 * reads: it goes. */
static void test_retention_shrinks(void **state)
{
	(void)state;
	tu_run_group = 32;
	struct fx *f = fx_new(PS);
	tu_run_group = 16;
	static uint8_t want[32 * PS], w[32 * PS];
	vol_id a;
	vol_retention_report rep;
	OK(vol_create(f->p, "a", sizeof(want), &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(want, sizeof(want), 20);
	OK(vol_write(f->p, a, want, 0, sizeof(want)));
	uint64_t run_lsn = vol_pool_lsn(f->p);
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	tu_fill(w, 4 * PS, 21);
	OK(vol_write(f->p, a, w, 0, 4 * PS));
	memcpy(want, w, 4 * PS);
	OK(vol_write(f->p, a, w, 30 * PS, PS));
	memcpy(want + 30 * PS, w, PS);
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.versions_deleted, 5);
	expect_reads(f->p, a, want, sizeof(want));
	struct census c = census_closed(f);
	assert_int_equal(c.nruns, 1);
	assert_int_equal(c.first[0], 4);
	assert_int_equal(c.count[0], 26);
	assert_int_equal(c.lsn[0], run_lsn);
	assert_int_equal(c.npages, 4 + 1 + 1); /* 0..3, 30, 31 */
	expect_reads(f->p, a, want, sizeof(want));
	expect_clean(f);

	/* Every page of the run written again: it goes whole. */
	tu_fill(w, sizeof(w), 22);
	OK(vol_write(f->p, a, w, 4 * PS, 26 * PS));
	memcpy(want + 4 * PS, w, 26 * PS);
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.versions_deleted, 26);
	c = census_closed(f);
	assert_int_equal(c.nruns, 1); /* the new one */
	assert_int_equal(c.first[0], 4);
	assert_true(c.lsn[0] > run_lsn);
	expect_reads(f->p, a, want, sizeof(want));
	expect_clean(f);
	fx_free(f);
}

/* A run that only a snapshot reads stays whole while the snapshot does;
 * a deleted snapshot lets retention split it into the pages still read. */
static void test_snapshot_holds_run(void **state)
{
	struct fx *f = *state;
	static uint8_t v1[32 * PS], v2[32 * PS], w[32 * PS];
	vol_id a;
	vol_retention_report rep;
	OK(vol_create(f->p, "a", sizeof(v1), &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(v1, sizeof(v1), 30);
	OK(vol_write(f->p, a, v1, 0, sizeof(v1))); /* two runs */
	vol_target now = tu_now();
	OK(vol_snapshot_create(f->p, a, "s", &now, NULL));
	f->clk.now += SEC;
	memcpy(v2, v1, sizeof(v2));
	tu_fill(w, 8 * PS, 31);
	for (int i = 0; i < 4; i++) { /* every other pair of pages */
		OK(vol_write(f->p, a, w + 2 * i * PS, 4 * i * PS, 2 * PS));
		memcpy(v2 + 4 * i * PS, w + 2 * i * PS, 2 * PS);
	}
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.versions_deleted, 0);
	tu_assert_at(f->p, a, &(vol_target){.kind = VOL_AT_SNAPSHOT,
					     .snapshot = "s"},
		     v1, sizeof(v1));
	expect_reads(f->p, a, v2, sizeof(v2));
	OK(vol_snapshot_delete(f->p, a, "s"));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.versions_deleted, 8);
	struct census c = census_closed(f);
	/* Group 0: pages 2,3,6,7,10,11,14,15 of the run are read (no stretch
	 * of 16): pages of their own; group 1 stays a run. */
	assert_int_equal(c.nruns, 1);
	assert_int_equal(c.first[0], 16);
	assert_int_equal(c.npages, 8 + 8);
	expect_reads(f->p, a, v2, sizeof(v2));
	expect_clean(f);
}

/* A damaged record in the middle of a run: reading that page fails naming
 * the volume, the page and the LSN; its neighbours read; check finds it. */
static void test_damaged_record(void **state)
{
	struct fx *f = *state;
	static uint8_t want[32 * PS], r[32 * PS];
	vol_id a;
	size_t got;
	OK(vol_create(f->p, "victim-run", sizeof(want), &a));
	tu_fill(want, sizeof(want), 40);
	OK(vol_write(f->p, a, want, 0, sizeof(want)));
	uint64_t lsn = vol_pool_lsn(f->p);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	/* Flip a byte of page 21's record (the run of group 1, its 6th). */
	kv *s = tu_open_store(f->path);
	uint8_t k[PKEY_LEN];
	void *v;
	size_t vn;
	kv_iter *it = s->ops->iter_new(s, KV_PAGES, KV_BULK);
	uint8_t zero[PKEY_LEN] = {0};
	bool found = false;
	for (s->ops->iter_seek(it, zero, PKEY_LEN); s->ops->iter_valid(it);
	     s->ops->iter_next(it)) {
		size_t kn;
		const uint8_t *key = s->ops->iter_key(it, &kn);
		const uint8_t *val = s->ops->iter_value(it, &vn);
		if (val[0] == PV_RUN && rval_first(val) == 16) {
			memcpy(k, key, PKEY_LEN);
			found = true;
			break;
		}
	}
	s->ops->iter_free(it);
	assert_true(found);
	OK(s->ops->get(s, KV_PAGES, k, PKEY_LEN, &v, &vn));
	struct pref ref = pval_ref(v);
	free(v);
	s->ops->close(s);
	char seg[600];
	snprintf(seg, sizeof(seg), "%s/pages/%016llx.seg", f->path,
		 (unsigned long long)ref.seg);
	FILE *fp = fopen(seg, "r+b");
	assert_non_null(fp);
	long at = (long)(ref.off + 5 * (PREC_HDR + PS) + PREC_HDR + 100);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	int ch = fgetc(fp);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	fputc(ch ^ 0x5a, fp);
	fclose(fp);
	OK(vol_pool_open(f->path, &f->opts, &f->p));

	ST(VOL_ECORRUPT, vol_read(f->p, a, r, 0, sizeof(r), &got));
	char lsn_s[32];
	snprintf(lsn_s, sizeof(lsn_s), "lsn %" PRIu64, lsn);
	const char *m = vol_errmsg();
	if (!strstr(m, "victim-run") || !strstr(m, "page 21 ") ||
	    !strstr(m, lsn_s))
		fail_msg("\"%s\" does not name victim-run, page 21 and %s", m,
			 lsn_s);
	ST(VOL_ECORRUPT, vol_read(f->p, a, r, 21 * PS + 10, 10, &got));
	OK(vol_read(f->p, a, r, 20 * PS, PS, &got));
	assert_memory_equal(r, want + 20 * PS, PS);
	OK(vol_read(f->p, a, r, 22 * PS, 10 * PS, &got));
	assert_memory_equal(r, want + 22 * PS, 10 * PS);
	uint64_t problems = 0;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 1);
}

/* The cleaner moves a run's records together: segments of 64 records;
 * pages 0..15 (a run) and 16..47 (two) in the first, then 16..47 written
 * again. With the window at 0 the first segment is a third live: its
 * run's 16 records are appended elsewhere, the run points at the copies
 * (one entry still, the records in order) and the segment goes. */
static void test_cleaner_moves_run(void **state)
{
	(void)state;
	struct fx *f = fx_new(PS);
	OK(vol_pool_close(f->p));
	f->opts.segment_bytes = 64 * (PREC_HDR + PS);
	f->opts.no_prepare = true;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	static uint8_t want[48 * PS], w[32 * PS];
	vol_id a;
	vol_retention_report rep;
	OK(vol_create(f->p, "a", sizeof(want), &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(want, sizeof(want), 60);
	OK(vol_write(f->p, a, want, 0, 16 * PS));
	OK(vol_write(f->p, a, want + 16 * PS, 16 * PS, 32 * PS));
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	tu_fill(w, sizeof(w), 61);
	OK(vol_write(f->p, a, w, 16 * PS, 32 * PS));
	memcpy(want + 16 * PS, w, 32 * PS);
	OK(vol_sync(f->p, a, NULL));
	f->clk.now += SEC;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.bytes_moved, 16 * (PREC_HDR + PS));
	assert_true(rep.segments_removed >= 1);
	expect_reads(f->p, a, want, sizeof(want));
	struct census c = census_closed(f);
	assert_int_equal(c.nruns, 3);
	assert_int_equal(c.first[0], 0);
	assert_int_equal(c.count[0], 16);
	expect_reads(f->p, a, want, sizeof(want));
	expect_clean(f);
	fx_free(f);
}

/* A pool of format 3 (its record without a run group) becomes format 4 at
 * its first writable open, with the default group: a long write then puts
 * runs of up to 256 pages. */
static void test_format3_opens(void **state)
{
	struct fx *f = *state;
	static uint8_t want[300 * PS];
	vol_id a;
	OK(vol_create(f->p, "a", sizeof(want), &a));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	kv *s = tu_open_store(f->path);
	uint8_t mk = MT_POOL;
	void *v;
	size_t vn;
	OK(s->ops->get(s, KV_META, &mk, 1, &v, &vn));
	assert_int_equal(vn, 14 + 6 * 8); /* magic, 5 fields, run group */
	be64_put((uint8_t *)v + 14, 3);
	kv_batch *b = s->ops->batch_new(s);
	s->ops->batch_put(b, KV_META, &mk, 1, v, vn - 8);
	OK(s->ops->write(s, b, true));
	s->ops->batch_free(b);
	free(v);
	s->ops->close(s);

	OK(vol_pool_open(f->path, &f->opts, &f->p));
	tu_fill(want, sizeof(want), 50);
	OK(vol_write(f->p, a, want, 0, sizeof(want)));
	expect_reads(f->p, a, want, sizeof(want));
	struct census c = census_closed(f);
	assert_int_equal(c.nruns, 2);
	assert_int_equal(c.first[0], 0);
	assert_int_equal(c.count[0], 256);
	assert_int_equal(c.first[1], 256);
	assert_int_equal(c.count[1], 44);
	assert_int_equal(c.npages, 0);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	s = tu_open_store(f->path);
	OK(s->ops->get(s, KV_META, &mk, 1, &v, &vn));
	assert_int_equal(vn, 14 + 6 * 8);
	assert_int_equal(be64_get((uint8_t *)v + 14), 4);
	assert_int_equal(be64_get((uint8_t *)v + vn - 8), 256);
	free(v);
	s->ops->close(s);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	expect_reads(f->p, a, want, sizeof(want));
	expect_clean(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_entry_per_group,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_history, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_retention_shrinks),
		cmocka_unit_test_setup_teardown(test_snapshot_holds_run,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_record, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_cleaner_moves_run),
		cmocka_unit_test_setup_teardown(test_format3_opens, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
