/*
 * test_snapshots.c - unit tests of snapshots: create at now and in the past,
 * list order, names, delete, backtrack/clone to one, and survival past the
 * window through retention passes and reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

#define PS 4096
#define SZ (2 * PS)

static void test_create_list_delete(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t v1[SZ], v2[SZ];
	vol_point b1, sp, pt;
	vol_target tg;
	vol_snapshot *l;
	size_t n;

	OK(vol_create(f->p, "a", SZ, &a));
	tu_fill(v1, SZ, 1);
	tu_fill(v2, SZ, 2);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v1, 0, SZ));
	OK(vol_sync(f->p, a, &b1));
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v2, 0, SZ));
	uint64_t l2 = vol_pool_lsn(f->p);

	/* "late" at now (unsynced state included), "early" in the past. */
	f->clk.now += SEC;
	tg = tu_now();
	OK(vol_snapshot_create(f->p, a, "late", &tg, &sp));
	assert_int_equal(sp.lsn, l2);
	tg = tu_at_time(b1.time_ns);
	OK(vol_snapshot_create(f->p, a, "early", &tg, &pt));
	assert_int_equal(pt.lsn, b1.lsn);
	OK(vol_snapshot_list(f->p, a, &l, &n));
	assert_int_equal(n, 2);
	assert_string_equal(l[0].name, "early"); /* ordered by point LSN */
	assert_string_equal(l[1].name, "late");
	assert_int_equal(l[0].point.lsn, b1.lsn);
	assert_int_equal(l[1].point.lsn, l2);
	assert_int_equal(l[1].created_ns, f->clk.now);
	free(l);
	vol_info in;
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.snapshots, 2);

	tg = tu_at_snap("early");
	tu_assert_at(f->p, a, &tg, v1, SZ);
	tg = tu_at_snap("late");
	tu_assert_at(f->p, a, &tg, v2, SZ);

	uint64_t lsn = vol_pool_lsn(f->p);
	tg = tu_now();
	ST(VOL_EEXIST, vol_snapshot_create(f->p, a, "late", &tg, NULL));
	ST(VOL_EINVAL, vol_snapshot_create(f->p, a, ".x", &tg, NULL));
	ST(VOL_EINVAL, vol_snapshot_create(f->p, a, "", &tg, NULL));
	ST(VOL_ENOENT, vol_snapshot_delete(f->p, a, "nope"));
	tg = tu_at_time(f->clk.now + SEC);
	ST(VOL_ERANGE, vol_snapshot_create(f->p, a, "future", &tg, NULL));
	assert_int_equal(vol_pool_lsn(f->p), lsn);

	OK(vol_snapshot_delete(f->p, a, "early"));
	tg = tu_at_snap("early");
	ST(VOL_ENOENT, vol_resolve(f->p, a, &tg, &pt));
	fx_reopen(f);
	OK(vol_snapshot_list(f->p, a, &l, &n));
	assert_int_equal(n, 1);
	assert_string_equal(l[0].name, "late");
	free(l);
	tg = tu_at_snap("late");
	tu_assert_at(f->p, a, &tg, v2, SZ);
	/* Snapshot names are per volume. */
	vol_id b;
	OK(vol_create(f->p, "b", SZ, &b));
	tg = tu_now();
	OK(vol_snapshot_create(f->p, b, "late", &tg, NULL));
}

static void test_backtrack_to_snapshot(void **state)
{
	struct fx *f = *state;
	vol_id a, c;
	uint8_t v1[SZ], v2[SZ];
	vol_target tg = tu_now();

	OK(vol_create(f->p, "a", SZ, &a));
	tu_fill(v1, SZ, 1);
	tu_fill(v2, SZ, 2);
	OK(vol_write(f->p, a, v1, 0, SZ));
	OK(vol_snapshot_create(f->p, a, "s", &tg, NULL));
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v2, 0, SZ));
	f->clk.now += SEC;
	tg = tu_at_snap("s");
	vol_backtrack_rec r;
	OK(vol_backtrack(f->p, a, &tg, &r));
	assert_int_equal(r.requested.kind, VOL_AT_SNAPSHOT);
	assert_string_equal(r.requested.snapshot, "s");
	tu_assert_content(f->p, a, v1, SZ);
	OK(vol_clone(f->p, a, &tg, "c", &c));
	tu_assert_content(f->p, c, v1, SZ);
	/* The snapshot is the volume's, not the clone's. */
	vol_point pt;
	ST(VOL_ENOENT, vol_resolve(f->p, c, &tg, &pt));
}

/* A snapshot outlives the window; the times around it do not. */
static void test_survives_retention(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t v[4][SZ];
	vol_point b0;
	vol_target tg;
	vol_retention_report rep;

	OK(vol_create(f->p, "a", SZ, &a));
	OK(vol_window_set(f->p, a, 60 * SEC));
	for (int i = 0; i < 4; i++)
		tu_fill(v[i], SZ, 20 + i);
	f->clk.now += SEC;
	OK(vol_write(f->p, a, v[0], 0, SZ));
	OK(vol_sync(f->p, a, &b0));
	tg = tu_now();
	OK(vol_snapshot_create(f->p, a, "keep", &tg, NULL));
	/* Overwrite it many times over ten minutes. */
	for (int i = 1; i < 40; i++) {
		f->clk.now += 15 * SEC;
		OK(vol_write(f->p, a, v[1 + i % 3], 0, SZ));
		OK(vol_sync(f->p, a, NULL));
		if (i % 10 == 0)
			OK(vol_retention_run(f->p, &rep));
	}
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.versions_deleted > 0);
	tg = tu_at_time(b0.time_ns);
	vol_point pt;
	ST(VOL_ERANGE, vol_resolve(f->p, a, &tg, &pt));
	tg = tu_at_snap("keep");
	tu_assert_at(f->p, a, &tg, v[0], SZ);
	vol_snapshot *l;
	size_t n;
	OK(vol_snapshot_list(f->p, a, &l, &n));
	assert_int_equal(n, 1);
	assert_int_equal(l[0].point.lsn, b0.lsn);
	free(l);
	fx_reopen(f);
	f->clk.now += 3600 * SEC;
	OK(vol_retention_run(f->p, &rep));
	tu_assert_at(f->p, a, &tg, v[0], SZ);
	/* Deleting it lets retention drop the version. */
	OK(vol_snapshot_delete(f->p, a, "keep"));
	OK(vol_retention_run(f->p, &rep));
	assert_true(rep.versions_deleted >= 1);
	tu_assert_content(f->p, a, v[1 + 39 % 3], SZ);
	uint64_t problems = 1;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_list_delete,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_backtrack_to_snapshot,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_survives_retention,
						fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
