/*
 * test_pool.c - unit tests of the pool: create and open, page sizes, foreign
 * and busy folders, LSN accounting, and a reopen that keeps everything.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tutil.h"

static void test_create_open(void **state)
{
	struct fx *f = *state;
	vol_pool_stats s;
	vol_info *list = NULL;
	size_t n = 99;

	assert_int_equal(vol_pool_page_size(f->p), 4096);
	assert_int_equal(vol_pool_lsn(f->p), 0);
	OK(vol_pool_stats_get(f->p, &s));
	assert_int_equal(s.page_size, 4096);
	assert_int_equal(s.volumes, 0);
	assert_int_equal(s.lsn, 0);
	OK(vol_list(f->p, &list, &n));
	assert_int_equal(n, 0);
	free(list);
	/* The pool folder is private to its owner. */
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	/* A pool cannot be created over an existing pool. */
	ST(VOL_EEXIST, vol_pool_create(f->path, &f->opts));
	assert_int_equal(vol_pool_close(NULL), VOL_OK);
}

static void test_page_sizes(void **state)
{
	struct fx *f = *state;
	static const uint32_t good[] = {0, 4096, 8192, 16384, 32768, 65536};
	static const uint32_t bad[] = {1, 512, 1024, 2048, 4095, 4097,
				       6144, 12288, 65535, 131072, 1u << 31};
	char path[400];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		vol_pool_opts o = f->opts;
		vol_pool *p = NULL;
		vol_id id;
		uint32_t ps = good[i] ? good[i] : 4096;
		uint8_t *w = malloc(3 * ps), *r = malloc(3 * ps);
		size_t got;

		o.page_size = good[i];
		snprintf(path, sizeof(path), "%s/ps%zu", f->dir, i);
		OK(vol_pool_create(path, &o));
		/* Opening ignores opts.page_size: the pool's own counts. */
		o.page_size = 0;
		OK(vol_pool_open(path, &o, &p));
		assert_int_equal(vol_pool_page_size(p), ps);
		OK(vol_create(p, "v", 3 * ps, &id));
		tu_fill(w, 3 * ps, ps);
		OK(vol_write(p, id, w + 100, 100, 2 * ps));
		OK(vol_read(p, id, r, 0, 3 * ps, &got));
		assert_int_equal(got, 3 * ps);
		assert_memory_equal(r + 100, w + 100, 2 * ps);
		for (size_t j = 0; j < 100; j++)
			assert_int_equal(r[j], 0);
		OK(vol_pool_close(p));
		p = NULL;
		o.page_size = 4096; /* wrong on purpose */
		OK(vol_pool_open(path, &o, &p));
		assert_int_equal(vol_pool_page_size(p), ps);
		OK(vol_pool_close(p));
		free(w);
		free(r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vol_pool_opts o = f->opts;
		vol_pool *p = NULL;

		o.page_size = bad[i];
		snprintf(path, sizeof(path), "%s/bad%zu", f->dir, i);
		ST(VOL_EINVAL, vol_pool_create(path, &o));
		assert_true(vol_errmsg()[0] != '\0');
		/* Nothing usable was left behind. */
		assert_int_not_equal(vol_pool_open(path, &o, &p), VOL_OK);
		assert_null(p);
	}
}

static void test_foreign_missing(void **state)
{
	struct fx *f = *state;
	char path[400];
	vol_pool *p = NULL;

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	ST(VOL_ENOENT, vol_pool_open(path, &f->opts, &p));
	assert_null(p);
	assert_true(vol_errmsg()[0] != '\0');

	snprintf(path, sizeof(path), "%s/foreign", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	ST(VOL_ENOTPOOL, vol_pool_open(path, &f->opts, &p));
	assert_null(p);

	char file[500];
	snprintf(file, sizeof(file), "%s/data.txt", path);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("not a pool\n", fp);
	fclose(fp);
	ST(VOL_ENOTPOOL, vol_pool_open(path, &f->opts, &p));
	/* Not empty: cannot become a pool either, and is left alone. */
	ST(VOL_EEXIST, vol_pool_create(path, &f->opts));
	assert_int_equal(access(file, F_OK), 0);
	ST(VOL_ENOTPOOL, vol_pool_open(path, &f->opts, &p));
}

static void test_second_open_busy(void **state)
{
	struct fx *f = *state;
	vol_pool *p2 = NULL;
	vol_id id;

	OK(vol_create(f->p, "a", 4096, &id));
	ST(VOL_EBUSY, vol_pool_open(f->path, &f->opts, &p2));
	assert_null(p2);
	assert_non_null(strstr(vol_errmsg(), "in use"));
	/* The first handle is unharmed. */
	OK(vol_write(f->p, id, "x", 0, 1));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	OK(vol_lookup(f->p, "a", &id));
}

/* Every committed change takes exactly the next pool-wide LSN. */
static void test_lsn_per_change(void **state)
{
	struct fx *f = *state;
	vol_pool *p = f->p;
	vol_id a, c;
	uint64_t l = vol_pool_lsn(p);
	vol_info in;
	vol_target now = tu_now();

#define STEP(call)                                                     \
	do {                                                           \
		f->clk.now += SEC;                                     \
		OK(call);                                              \
		assert_int_equal(vol_pool_lsn(p), l + 1);              \
		l++;                                                   \
	} while (0)
	STEP(vol_create(p, "a", 8192, &a));
	OK(vol_info_get(p, a, &in));
	assert_int_equal(in.lsn, l);
	STEP(vol_write(p, a, "abc", 10, 3));
	OK(vol_info_get(p, a, &in));
	assert_int_equal(in.lsn, l);
	STEP(vol_discard(p, a, 0, 4096));
	STEP(vol_resize(p, a, 12288));
	STEP(vol_snapshot_create(p, a, "s1", &now, NULL));
	STEP(vol_backtrack(p, a, &now, NULL));
	STEP(vol_clone(p, a, &now, "c", &c));
	STEP(vol_reset(p, c, NULL));
	STEP(vol_rename(p, c, "c2"));
	STEP(vol_window_set(p, a, 3600 * SEC));
	STEP(vol_snapshot_delete(p, a, "s1"));
	STEP(vol_delete(p, c));
#undef STEP
	/* Syncs and failed calls take none. */
	OK(vol_pool_sync(p));
	OK(vol_sync(p, a, NULL));
	ST(VOL_EEXIST, vol_create(p, "a", 0, &c));
	ST(VOL_ERANGE, vol_write(p, a, "x", 12288, 1));
	assert_int_equal(vol_pool_lsn(p), l);
	fx_reopen(f);
	assert_int_equal(vol_pool_lsn(f->p), l);
}

struct snapshot_of_pool {
	size_t n;
	vol_info *list;
	uint8_t *data[8];
	vol_snapshot *snaps[8];
	size_t nsnaps[8];
	vol_backtrack_rec *hist[8];
	size_t nhist[8];
	uint64_t lsn;
};

static void capture(vol_pool *p, struct snapshot_of_pool *s)
{
	uint64_t size;

	memset(s, 0, sizeof(*s));
	s->lsn = vol_pool_lsn(p);
	OK(vol_list(p, &s->list, &s->n));
	assert_true(s->n <= 8);
	for (size_t i = 0; i < s->n; i++) {
		s->data[i] = tu_read_all(p, s->list[i].id, &size);
		OK(vol_snapshot_list(p, s->list[i].id, &s->snaps[i],
				     &s->nsnaps[i]));
		OK(vol_backtrack_history(p, s->list[i].id, &s->hist[i],
					 &s->nhist[i]));
	}
}

static void release(struct snapshot_of_pool *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->data[i]);
		free(s->snaps[i]);
		free(s->hist[i]);
	}
	free(s->list);
}

static void assert_same(const struct snapshot_of_pool *a,
			const struct snapshot_of_pool *b)
{
	assert_int_equal(a->lsn, b->lsn);
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const vol_info *x = &a->list[i], *y = &b->list[i];

		assert_int_equal(x->id, y->id);
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->size, y->size);
		assert_int_equal(x->lsn, y->lsn);
		assert_int_equal(x->timeline, y->timeline);
		assert_int_equal(x->chain_depth, y->chain_depth);
		assert_int_equal(x->created_ns, y->created_ns);
		assert_int_equal(x->window_ns, y->window_ns);
		assert_int_equal(x->earliest_ns, y->earliest_ns);
		assert_int_equal(x->source, y->source);
		assert_string_equal(x->source_name, y->source_name);
		assert_int_equal(x->source_timeline, y->source_timeline);
		assert_int_equal(x->source_lsn, y->source_lsn);
		assert_int_equal(x->bytes_written, y->bytes_written);
		assert_int_equal(x->snapshots, y->snapshots);
		assert_int_equal(x->backtracks, y->backtracks);
		assert_memory_equal(a->data[i], b->data[i], x->size);
		assert_int_equal(a->nsnaps[i], b->nsnaps[i]);
		for (size_t j = 0; j < a->nsnaps[i]; j++) {
			assert_string_equal(a->snaps[i][j].name,
					    b->snaps[i][j].name);
			assert_int_equal(a->snaps[i][j].point.lsn,
					 b->snaps[i][j].point.lsn);
			assert_int_equal(a->snaps[i][j].point.timeline,
					 b->snaps[i][j].point.timeline);
			assert_int_equal(a->snaps[i][j].point.time_ns,
					 b->snaps[i][j].point.time_ns);
		}
		assert_int_equal(a->nhist[i], b->nhist[i]);
		for (size_t j = 0; j < a->nhist[i]; j++) {
			const vol_backtrack_rec *r = &a->hist[i][j],
						*q = &b->hist[i][j];
			assert_int_equal(r->when_ns, q->when_ns);
			assert_int_equal(r->chosen.lsn, q->chosen.lsn);
			assert_int_equal(r->chosen.timeline, q->chosen.timeline);
			assert_int_equal(r->before.lsn, q->before.lsn);
			assert_int_equal(r->new_timeline, q->new_timeline);
			assert_int_equal(r->requested.kind, q->requested.kind);
		}
	}
}

static void test_reopen_keeps_everything(void **state)
{
	struct fx *f = *state;
	vol_pool *p = f->p;
	vol_id a, b, c;
	uint8_t buf[3 * 4096];
	vol_target t;
	vol_point pt1;
	struct snapshot_of_pool before, after;

	OK(vol_create(p, "alpha", sizeof(buf), &a));
	OK(vol_create(p, "beta", 4096, &b));
	tu_fill(buf, sizeof(buf), 1);
	f->clk.now += SEC;
	OK(vol_write(p, a, buf, 0, sizeof(buf)));
	OK(vol_sync(p, a, &pt1));
	f->clk.now += SEC;
	OK(vol_write(p, a, "hello", 5000, 5));
	OK(vol_write(p, b, "world", 10, 5));
	t = tu_now();
	OK(vol_snapshot_create(p, a, "snap", &t, NULL));
	f->clk.now += SEC;
	OK(vol_pool_sync(p));
	t = tu_at_time(pt1.time_ns);
	OK(vol_clone(p, a, &t, "gamma", &c));
	OK(vol_write(p, c, "clone", 0, 5));
	f->clk.now += SEC;
	OK(vol_backtrack(p, a, &t, NULL));
	OK(vol_window_set(p, b, 90 * SEC));
	OK(vol_rename(p, b, "beta2"));
	OK(vol_resize(p, b, 8192));
	f->clk.now += SEC;
	OK(vol_pool_sync(p));

	capture(f->p, &before);
	fx_reopen(f);
	capture(f->p, &after);
	assert_same(&before, &after);
	release(&before);
	release(&after);
	/* Past points survive too: the snapshot and the first barrier. */
	vol_target s = tu_at_snap("snap");
	uint8_t want[sizeof(buf)];
	memcpy(want, buf, sizeof(buf));
	memcpy(want + 5000, "hello", 5);
	tu_assert_at(f->p, a, &s, want, sizeof(want));
	tu_assert_at(f->p, a, &t, buf, sizeof(buf));
	vol_pool_stats st;
	OK(vol_pool_stats_get(f->p, &st));
	assert_int_equal(st.volumes, 3);
}

/* ----------------------------------------------- damaged metadata records */

static void build_small(struct fx *f)
{
	vol_id a, b;
	uint8_t w[2 * 4096];
	vol_point pt;
	vol_target now = tu_now(), past;

	OK(vol_create(f->p, "a", sizeof(w), &a));
	tu_fill(w, sizeof(w), 5);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, w, 0, sizeof(w)));
	OK(vol_sync(f->p, a, &pt));
	OK(vol_snapshot_create(f->p, a, "s", &now, NULL));
	f->clk.now += SEC;
	OK(vol_write(f->p, a, "x", 5, 1));
	past = tu_at_time(pt.time_ns);
	OK(vol_backtrack(f->p, a, &past, NULL));
	OK(vol_clone(f->p, a, &now, "b", &b));
	OK(vol_window_set(f->p, b, 60 * SEC));
	OK(vol_pool_sync(f->p));
	OK(vol_pool_close(f->p));
	f->p = NULL;
}

/* Cut value #nth of family cf to half its length; false if no such value. */
static bool truncate_value(const char *pool, enum kv_cf cf, unsigned nth)
{
	static const uint8_t zero[24];
	char db[512];
	kv *s = NULL;
	unsigned i = 0;
	bool done = false;

	snprintf(db, sizeof(db), "%s/db", pool);
	OK(kv_rocks_open(db, false, &s));
	kv_iter *it = s->ops->iter_new(s, cf, KV_BULK);
	for (s->ops->iter_seek(it, zero, cf == KV_PAGES ? 24 : 0);
	     s->ops->iter_valid(it); s->ops->iter_next(it)) {
		if (i++ != nth)
			continue;
		size_t kn, vn;
		const void *k = s->ops->iter_key(it, &kn);
		const void *v = s->ops->iter_value(it, &vn);
		kv_batch *b = s->ops->batch_new(s);
		s->ops->batch_put(b, cf, k, kn, v, vn / 2);
		s->ops->iter_free(it);
		it = NULL;
		OK(s->ops->write(s, b, true));
		s->ops->batch_free(b);
		done = true;
		break;
	}
	if (it != NULL)
		s->ops->iter_free(it);
	s->ops->close(s);
	return done;
}

/* The intact content of volumes "a" and "b" after build_small. */
static uint8_t intact[2][3 * 4096];
static uint64_t intact_size[2];

/* Any call may report the damage, none may crash or misbehave: what a call
 * answers must be right. */
static void exercise(vol_pool *p)
{
	vol_info *list = NULL;
	size_t n = 0;
	vol_status st = vol_list(p, &list, &n);

	if (st != VOL_OK) {
		assert_int_equal(st, VOL_ECORRUPT);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t buf[3 * 4096];
		size_t got;
		vol_snapshot *sn = NULL;
		vol_backtrack_rec *h = NULL;
		size_t m;
		vol_point pt;
		vol_target t = tu_at_snap("s");

		st = vol_read(p, list[i].id, buf, 0, sizeof(buf), &got);
		assert_true(st == VOL_OK || st == VOL_ECORRUPT);
		int k = strcmp(list[i].name, "a") == 0 ? 0 :
			strcmp(list[i].name, "b") == 0 ? 1 : -1;
		if (st == VOL_OK && k >= 0) {
			assert_int_equal(got, intact_size[k]);
			assert_memory_equal(buf, intact[k], got);
		}
		st = vol_snapshot_list(p, list[i].id, &sn, &m);
		assert_true(st == VOL_OK || st == VOL_ECORRUPT);
		free(sn);
		st = vol_backtrack_history(p, list[i].id, &h, &m);
		assert_true(st == VOL_OK || st == VOL_ECORRUPT);
		free(h);
		st = vol_resolve(p, list[i].id, &t, &pt);
		if (st == VOL_OK) {
			st = vol_read_point(p, list[i].id, &pt, buf, 0,
					    sizeof(buf), &got);
			assert_true(st == VOL_OK || st == VOL_ECORRUPT);
		}
	}
	free(list);
	uint64_t problems;
	st = vol_check(p, NULL, NULL, &problems);
	assert_true(st == VOL_OK || st == VOL_ECORRUPT);
}

/* Every metadata and log record cut short in turn: opening reports
 * VOL_ECORRUPT with a message, or opens and every call copes. */
static void test_damaged_records(void **state)
{
	(void)state;
	static const enum kv_cf cfs[] = {KV_META, KV_LOG};
	unsigned total = 0, refused = 0;
	struct fx *g = fx_new(0);

	build_small(g);
	OK(vol_pool_open(g->path, &g->opts, &g->p));
	for (int k = 0; k < 2; k++) {
		vol_id id;
		size_t got;
		OK(vol_lookup(g->p, k ? "b" : "a", &id));
		OK(vol_read(g->p, id, intact[k], 0, sizeof(intact[k]), &got));
		intact_size[k] = got;
	}
	fx_free(g);

	for (size_t c = 0; c < 2; c++) {
		for (unsigned nth = 0;; nth++) {
			struct fx *f = fx_new(0);
			build_small(f);
			if (!truncate_value(f->path, cfs[c], nth)) {
				fx_free(f);
				break;
			}
			total++;
			vol_status st = vol_pool_open(f->path, &f->opts, &f->p);
			if (st != VOL_OK) {
				refused++;
				/* ENOTPOOL: the pool record itself (its magic)
				 * is what was cut. */
				if (st != VOL_ECORRUPT && st != VOL_ENOTPOOL)
					fail_msg("cf %d record %u cut short: "
						 "open returned %s (%s)",
						 (int)cfs[c], nth,
						 vol_strerror(st), vol_errmsg());
				assert_true(vol_errmsg()[0] != '\0');
			} else {
				exercise(f->p);
			}
			fx_free(f);
		}
	}
	printf("damaged records: %u cut short, %u refused at open\n", total,
	       refused);
	assert_true(total >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_open, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_page_sizes, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_missing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_second_open_busy, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_lsn_per_change, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_everything,
						fx_setup, fx_teardown),
		cmocka_unit_test(test_damaged_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
