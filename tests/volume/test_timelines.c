/*
 * test_timelines.c - unit tests of points and timelines: resolving times and
 * LSNs, backtrack back and forward, backtrack history, clones (now, past,
 * snapshot, clone of clone), reset, independence both ways, deleting a
 * source, chain depth.
 *
 * Setup used by most tests: volume "a" of 4 pages gets three versions A, B,
 * C of its content, each followed by a barrier (vol_sync) one second later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

#define PS 4096
#define SZ (4 * PS)

struct three {
	vol_id a;
	uint8_t v[3][SZ];    /* content A, B, C                  */
	vol_point bar[3];    /* barrier after each               */
	uint64_t wlsn[3];    /* LSN of each write                */
};

static void make_three(struct fx *f, struct three *t)
{
	OK(vol_create(f->p, "a", SZ, &t->a));
	for (int i = 0; i < 3; i++) {
		tu_fill(t->v[i], SZ, 100 + i);
		f->clk.now += 10 * SEC;
		OK(vol_write(f->p, t->a, t->v[i], 0, SZ));
		t->wlsn[i] = vol_pool_lsn(f->p);
		f->clk.now += SEC;
		OK(vol_sync(f->p, t->a, &t->bar[i]));
		assert_int_equal(t->bar[i].time_ns, f->clk.now);
		assert_true(t->bar[i].lsn >= t->wlsn[i]);
	}
}

static void test_resolve(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_point pt;
	vol_target tg;
	uint8_t zero[SZ] = {0};

	make_three(f, &t);
	/* A time resolves to the last barrier at or before it. */
	for (int i = 0; i < 3; i++) {
		tg = tu_at_time(t.bar[i].time_ns);
		OK(vol_resolve(f->p, t.a, &tg, &pt));
		assert_int_equal(pt.time_ns, t.bar[i].time_ns);
		assert_int_equal(pt.lsn, t.bar[i].lsn);
		tu_assert_at(f->p, t.a, &tg, t.v[i], SZ);
		/* Just before the next write/barrier still resolves here. */
		if (i < 2) {
			tg = tu_at_time(t.bar[i].time_ns + 9 * SEC);
			OK(vol_resolve(f->p, t.a, &tg, &pt));
			assert_int_equal(pt.lsn, t.bar[i].lsn);
		}
		/* An LSN resolves exactly. */
		tg = tu_at_lsn(t.wlsn[i]);
		tu_assert_at(f->p, t.a, &tg, t.v[i], SZ);
	}
	/* The creation barrier: an empty volume. */
	tg = tu_at_time(T0);
	tu_assert_at(f->p, t.a, &tg, zero, SZ);
	/* An unsynced write is not a barrier: a time after it still resolves
	 * to the previous barrier, but its LSN is exact. */
	uint8_t d[SZ];
	memcpy(d, t.v[2], SZ);
	memcpy(d + 5, "unsynced", 8);
	f->clk.now += SEC;
	OK(vol_write(f->p, t.a, "unsynced", 5, 8));
	uint64_t ul = vol_pool_lsn(f->p);
	f->clk.now += SEC;
	tg = tu_at_time(f->clk.now);
	OK(vol_resolve(f->p, t.a, &tg, &pt));
	assert_int_equal(pt.lsn, t.bar[2].lsn);
	tg = tu_at_lsn(ul);
	tu_assert_at(f->p, t.a, &tg, d, SZ);
	tg = tu_now();
	tu_assert_at(f->p, t.a, &tg, d, SZ);
	/* Out of range: the future, before creation, an LSN not yet used. */
	tg = tu_at_time(f->clk.now + SEC);
	ST(VOL_ERANGE, vol_resolve(f->p, t.a, &tg, &pt));
	tg = tu_at_time(T0 - SEC);
	ST(VOL_ERANGE, vol_resolve(f->p, t.a, &tg, &pt));
	tg = tu_at_lsn(vol_pool_lsn(f->p) + 1);
	ST(VOL_ERANGE, vol_resolve(f->p, t.a, &tg, &pt));
	tg = tu_at_snap("none");
	ST(VOL_ENOENT, vol_resolve(f->p, t.a, &tg, &pt));
}

static void test_backtrack_back_and_forward(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_backtrack_rec r;
	vol_info in0, in;
	vol_target tg;

	make_three(f, &t);
	OK(vol_info_get(f->p, t.a, &in0));
	f->clk.now += SEC;
	tg = tu_at_time(t.bar[0].time_ns + 2 * SEC);
	OK(vol_backtrack(f->p, t.a, &tg, &r));
	tu_assert_content(f->p, t.a, t.v[0], SZ);
	OK(vol_info_get(f->p, t.a, &in));
	assert_int_not_equal(in.timeline, in0.timeline);
	assert_int_equal(r.new_timeline, in.timeline);
	assert_int_equal(r.chosen.lsn, t.bar[0].lsn);
	assert_int_equal(r.chosen.time_ns, t.bar[0].time_ns);
	assert_int_equal(r.before.timeline, in0.timeline);
	assert_int_equal(r.before.lsn, in0.lsn);
	assert_int_equal(r.when_ns, f->clk.now);
	assert_int_equal(r.requested.kind, VOL_AT_TIME);
	assert_int_equal(r.requested.time_ns, tg.time_ns);
	assert_int_equal(in.backtracks, 1);
	assert_true(in.chain_depth >= 2);

	/* Write on the new timeline, then go forward to C (abandoned). */
	f->clk.now += SEC;
	OK(vol_write(f->p, t.a, "new", 0, 3));
	f->clk.now += SEC;
	tg = tu_at_time(t.bar[2].time_ns);
	OK(vol_backtrack(f->p, t.a, &tg, &r));
	tu_assert_content(f->p, t.a, t.v[2], SZ);
	/* ... and to B by LSN. */
	f->clk.now += SEC;
	tg = tu_at_lsn(t.wlsn[1]);
	OK(vol_backtrack(f->p, t.a, &tg, &r));
	tu_assert_content(f->p, t.a, t.v[1], SZ);
	assert_int_equal(r.requested.kind, VOL_AT_LSN);
	assert_int_equal(r.requested.lsn, t.wlsn[1]);

	/* The write made on the first new timeline is still reachable. */
	vol_backtrack_rec *h;
	size_t n;
	OK(vol_backtrack_history(f->p, t.a, &h, &n));
	assert_int_equal(n, 3);
	assert_true(h[0].when_ns < h[1].when_ns && h[1].when_ns < h[2].when_ns);
	assert_int_equal(h[2].new_timeline, r.new_timeline);
	uint8_t mid[SZ];
	memcpy(mid, t.v[0], SZ);
	memcpy(mid, "new", 3);
	tg = tu_at_lsn(h[1].before.lsn);
	tu_assert_at(f->p, t.a, &tg, mid, SZ);
	free(h);

	/* A failed backtrack changes nothing. */
	uint64_t l = vol_pool_lsn(f->p);
	tg = tu_at_time(f->clk.now + SEC);
	ST(VOL_ERANGE, vol_backtrack(f->p, t.a, &tg, NULL));
	assert_int_equal(vol_pool_lsn(f->p), l);
	tu_assert_content(f->p, t.a, t.v[1], SZ);

	fx_reopen(f);
	tu_assert_content(f->p, t.a, t.v[1], SZ);
	OK(vol_backtrack_history(f->p, t.a, &h, &n));
	assert_int_equal(n, 3);
	free(h);
	tg = tu_at_lsn(t.wlsn[2]);
	tu_assert_at(f->p, t.a, &tg, t.v[2], SZ);
}

static void test_clone_now_past_snapshot(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_id c1, c2, c3;
	vol_info in, ia;
	vol_target tg;

	make_three(f, &t);
	f->clk.now += SEC;
	OK(vol_write(f->p, t.a, "unsynced", 0, 8)); /* clone from now has it */
	uint8_t cur[SZ];
	memcpy(cur, t.v[2], SZ);
	memcpy(cur, "unsynced", 8);
	tg = tu_now();
	OK(vol_clone(f->p, t.a, &tg, "now", &c1));
	tu_assert_content(f->p, c1, cur, SZ);
	OK(vol_info_get(f->p, c1, &in));
	OK(vol_info_get(f->p, t.a, &ia));
	assert_int_equal(in.source, t.a);
	assert_string_equal(in.source_name, "a");
	assert_int_equal(in.source_timeline, ia.timeline);
	assert_int_equal(in.size, SZ);
	assert_int_equal(in.created_ns, f->clk.now);
	assert_int_equal(in.chain_depth, ia.chain_depth + 1);

	tg = tu_at_time(t.bar[0].time_ns);
	OK(vol_clone(f->p, t.a, &tg, "past", &c2));
	tu_assert_content(f->p, c2, t.v[0], SZ);
	OK(vol_info_get(f->p, c2, &in));
	assert_int_equal(in.source_lsn, t.bar[0].lsn);

	tg = tu_at_time(t.bar[1].time_ns);
	OK(vol_snapshot_create(f->p, t.a, "b", &tg, NULL));
	tg = tu_at_snap("b");
	OK(vol_clone(f->p, t.a, &tg, "fromsnap", &c3));
	tu_assert_content(f->p, c3, t.v[1], SZ);

	uint64_t l = vol_pool_lsn(f->p);
	vol_id x;
	ST(VOL_EEXIST, vol_clone(f->p, t.a, &tg, "past", &x));
	ST(VOL_EINVAL, vol_clone(f->p, t.a, &tg, ".bad", &x));
	tg = tu_at_time(f->clk.now + SEC);
	ST(VOL_ERANGE, vol_clone(f->p, t.a, &tg, "future", &x));
	tg = tu_at_snap("missing");
	ST(VOL_ENOENT, vol_clone(f->p, t.a, &tg, "nosnap", &x));
	assert_int_equal(vol_pool_lsn(f->p), l);
	ST(VOL_ENOENT, vol_lookup(f->p, "future", &x));

	/* The clone's creation is a barrier: its first point reads back. */
	f->clk.now += SEC;
	OK(vol_write(f->p, c2, "later", 0, 5));
	OK(vol_info_get(f->p, c2, &in));
	tg = tu_at_time(in.created_ns);
	tu_assert_at(f->p, c2, &tg, t.v[0], SZ);
}

static void test_independence(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_id c;
	vol_target tg = tu_now();
	uint8_t src[SZ], cl[SZ];

	make_three(f, &t);
	OK(vol_clone(f->p, t.a, &tg, "c", &c));
	memcpy(src, t.v[2], SZ);
	memcpy(cl, t.v[2], SZ);
	/* Writes on either side stay on that side. */
	f->clk.now += SEC;
	OK(vol_write(f->p, t.a, "SRC", 100, 3));
	memcpy(src + 100, "SRC", 3);
	OK(vol_write(f->p, c, "CLONE", PS + 7, 5));
	memcpy(cl + PS + 7, "CLONE", 5);
	OK(vol_discard(f->p, t.a, 2 * PS, PS));
	memset(src + 2 * PS, 0, PS);
	OK(vol_resize(f->p, c, 3 * PS));
	tu_assert_content(f->p, t.a, src, SZ);
	tu_assert_content(f->p, c, cl, 3 * PS);
	/* Backtracking the source does not move the clone, and back. */
	f->clk.now += SEC;
	tg = tu_at_time(t.bar[0].time_ns);
	OK(vol_backtrack(f->p, t.a, &tg, NULL));
	tu_assert_content(f->p, t.a, t.v[0], SZ);
	tu_assert_content(f->p, c, cl, 3 * PS);
	vol_info ic;
	OK(vol_info_get(f->p, c, &ic));
	f->clk.now += SEC;
	tg = tu_at_time(ic.created_ns);
	OK(vol_backtrack(f->p, c, &tg, NULL));
	tu_assert_content(f->p, c, t.v[2], SZ);
	tu_assert_content(f->p, t.a, t.v[0], SZ);
	/* Deleting the source keeps the clone. */
	f->clk.now += SEC;
	OK(vol_delete(f->p, t.a));
	tu_assert_content(f->p, c, t.v[2], SZ);
	OK(vol_info_get(f->p, c, &ic));
	assert_int_equal(ic.source, t.a);
	assert_string_equal(ic.source_name, "");
	ST(VOL_ENOENT, vol_reset(f->p, c, NULL));
	vol_retention_report rep;
	f->clk.now += 48 * 3600 * SEC;
	OK(vol_retention_run(f->p, &rep));
	tu_assert_content(f->p, c, t.v[2], SZ);
	fx_reopen(f);
	tu_assert_content(f->p, c, t.v[2], SZ);
	OK(vol_retention_run(f->p, &rep));
	tu_assert_content(f->p, c, t.v[2], SZ);
}

static void test_clone_of_clone_chain(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_id c1, c2, c3;
	vol_info i0, i1, i2, i3;
	vol_target tg = tu_now();

	make_three(f, &t);
	OK(vol_info_get(f->p, t.a, &i0));
	assert_int_equal(i0.chain_depth, 1);
	OK(vol_clone(f->p, t.a, &tg, "c1", &c1));
	f->clk.now += SEC;
	OK(vol_write(f->p, c1, "one", 0, 3));
	OK(vol_clone(f->p, c1, &tg, "c2", &c2));
	f->clk.now += SEC;
	OK(vol_write(f->p, c2, "two", 10, 3));
	OK(vol_clone(f->p, c2, &tg, "c3", &c3));
	OK(vol_info_get(f->p, c1, &i1));
	OK(vol_info_get(f->p, c2, &i2));
	OK(vol_info_get(f->p, c3, &i3));
	assert_int_equal(i1.chain_depth, 2);
	assert_int_equal(i2.chain_depth, 3);
	assert_int_equal(i3.chain_depth, 4);
	assert_int_equal(i2.source, c1);
	assert_int_equal(i3.source, c2);
	uint8_t want[SZ];
	memcpy(want, t.v[2], SZ);
	memcpy(want, "one", 3);
	memcpy(want + 10, "two", 3);
	tu_assert_content(f->p, c3, want, SZ);
	/* Delete the middle: the ends still read. */
	OK(vol_delete(f->p, c2));
	OK(vol_delete(f->p, c1));
	f->clk.now += 48 * 3600 * SEC;
	OK(vol_retention_run(f->p, NULL));
	tu_assert_content(f->p, c3, want, SZ);
	tu_assert_content(f->p, t.a, t.v[2], SZ);
	fx_reopen(f);
	tu_assert_content(f->p, c3, want, SZ);
}

static void test_reset(void **state)
{
	struct fx *f = *state;
	struct three t;
	vol_id c;
	vol_target tg = tu_at_time(0);
	vol_point pt;
	vol_info ic;

	make_three(f, &t);
	tg = tu_at_time(t.bar[0].time_ns);
	OK(vol_clone(f->p, t.a, &tg, "c", &c));
	f->clk.now += SEC;
	OK(vol_write(f->p, c, "clone-data", 0, 10));
	OK(vol_write(f->p, t.a, "src-unsynced", 50, 12));
	uint8_t want[SZ];
	memcpy(want, t.v[2], SZ);
	memcpy(want + 50, "src-unsynced", 12);
	f->clk.now += SEC;
	uint64_t l = vol_pool_lsn(f->p);
	OK(vol_reset(f->p, c, &pt));
	assert_int_equal(vol_pool_lsn(f->p), l + 1);
	tu_assert_content(f->p, c, want, SZ);
	OK(vol_info_get(f->p, c, &ic));
	assert_int_equal(ic.source, t.a);
	assert_int_equal(ic.source_lsn, l);
	/* Still independent afterwards. */
	OK(vol_write(f->p, t.a, "after", 0, 5));
	tu_assert_content(f->p, c, want, SZ);
	/* Reset is a barrier: the time of the reset reads back. */
	tg = tu_at_time(f->clk.now);
	tu_assert_at(f->p, c, &tg, want, SZ);
	/* Before the reset the clone's own history is still there. */
	uint8_t old[SZ];
	memcpy(old, t.v[0], SZ);
	memcpy(old, "clone-data", 10);
	tg = tu_at_lsn(l - 1);
	tu_assert_at(f->p, c, &tg, old, SZ);
	ST(VOL_EINVAL, vol_reset(f->p, t.a, NULL));
	assert_int_equal(vol_pool_lsn(f->p), l + 2);
}

/* vol_read_point uses the size the volume had at the point. */
static void test_point_size(void **state)
{
	struct fx *f = *state;
	vol_id a;
	vol_point p1;
	uint8_t w[2 * PS];

	OK(vol_create(f->p, "a", 2 * PS, &a));
	tu_fill(w, sizeof(w), 4);
	OK(vol_write(f->p, a, w, 0, sizeof(w)));
	f->clk.now += SEC;
	OK(vol_sync(f->p, a, &p1));
	f->clk.now += SEC;
	OK(vol_resize(f->p, a, 5 * PS));
	OK(vol_write(f->p, a, w, 3 * PS, PS));
	vol_target tg = tu_at_time(p1.time_ns);
	tu_assert_at(f->p, a, &tg, w, sizeof(w));
	f->clk.now += SEC;
	OK(vol_backtrack(f->p, a, &tg, NULL));
	tu_assert_content(f->p, a, w, sizeof(w));
}

/* Every LSN inside the window reads back, even when several changes and a
 * barrier share one clock value (the clock is clamped, not strict): here
 * the creation, a write and a sync all happen at the earliest restorable
 * time. */
static void test_lsn_at_earliest_time(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t zero[PS] = {0}, w[PS];
	vol_target tg;

	f->clk.now += SEC;
	OK(vol_create(f->p, "a", PS, &a));
	uint64_t created = vol_pool_lsn(f->p);
	tu_fill(w, PS, 1);
	OK(vol_write(f->p, a, w, 0, PS));
	OK(vol_sync(f->p, a, NULL));
	vol_info in;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.earliest_ns, f->clk.now);
	tg = tu_at_lsn(created);
	tu_assert_at(f->p, a, &tg, zero, PS);
	tg = tu_at_lsn(created + 1);
	tu_assert_at(f->p, a, &tg, w, PS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_backtrack_back_and_forward,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_clone_now_past_snapshot,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_independence, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_clone_of_clone_chain,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_point_size, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_lsn_at_earliest_time,
						fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
