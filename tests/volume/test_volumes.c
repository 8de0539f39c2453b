/*
 * test_volumes.c - unit tests of volumes: names, create/lookup/list,
 * rename, resize, delete, and the EEXIST/ENOENT/EINVAL contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

static void test_names(void **state)
{
	(void)state;
	char n64[65], n65[66];

	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'b', 65);
	n65[65] = '\0';
	const char *good[] = {"a", "Z", "0", "db-1", "my_vol.v2", "a.", "-x",
			      "_", n64};
	const char *bad[] = {"", ".", "..", ".hidden", "a/b", "a b", "tab\t",
			     "nl\n", "caf\xc3\xa9", "a:b", "a*", n65};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(vol_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(vol_name_valid(bad[i]));
}

static void test_create_lookup_info(void **state)
{
	struct fx *f = *state;
	vol_id id, id2;
	vol_info in;
	char n64[65];

	f->clk.now += 5 * SEC;
	OK(vol_create(f->p, "db", 1 << 20, &id));
	assert_int_not_equal(id, 0);
	OK(vol_lookup(f->p, "db", &id2));
	assert_int_equal(id, id2);
	OK(vol_info_get(f->p, id, &in));
	assert_int_equal(in.id, id);
	assert_string_equal(in.name, "db");
	assert_int_equal(in.size, 1 << 20);
	assert_int_equal(in.lsn, vol_pool_lsn(f->p));
	assert_int_equal(in.created_ns, f->clk.now);
	assert_int_equal(in.window_ns, 24 * 3600 * SEC); /* the default */
	assert_int_equal(in.earliest_ns, f->clk.now);
	assert_int_equal(in.chain_depth, 1);
	assert_int_equal(in.source, 0);
	assert_string_equal(in.source_name, "");
	assert_int_equal(in.snapshots, 0);
	assert_int_equal(in.backtracks, 0);
	assert_int_equal(in.bytes_written, 0);

	memset(n64, 'q', 64);
	n64[64] = '\0';
	OK(vol_create(f->p, n64, 0, &id2));
	OK(vol_info_get(f->p, id2, &in));
	assert_string_equal(in.name, n64);
	assert_int_equal(in.size, 0);

	uint64_t l = vol_pool_lsn(f->p);
	ST(VOL_EEXIST, vol_create(f->p, "db", 4096, &id2));
	assert_true(vol_errmsg()[0] != '\0');
	ST(VOL_EINVAL, vol_create(f->p, ".db", 4096, &id2));
	ST(VOL_EINVAL, vol_create(f->p, "", 4096, &id2));
	ST(VOL_EINVAL, vol_create(f->p, "a/b", 4096, &id2));
	assert_int_equal(vol_pool_lsn(f->p), l);
	ST(VOL_ENOENT, vol_lookup(f->p, "nope", &id2));
	ST(VOL_ENOENT, vol_info_get(f->p, id + id2 + 1000, &in));
	ST(VOL_ENOENT, vol_info_get(f->p, 0, &in));
}

static void test_list_ordered(void **state)
{
	struct fx *f = *state;
	const char *names[] = {"m", "b", "zz", "a1", "a0", "Q"};
	vol_info *list = NULL;
	size_t n = 0;
	vol_id id;

	for (size_t i = 0; i < 6; i++)
		OK(vol_create(f->p, names[i], 4096 * (i + 1), &id));
	OK(vol_list(f->p, &list, &n));
	assert_int_equal(n, 6);
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
	for (size_t i = 0; i < n; i++) {
		vol_info in;
		OK(vol_info_get(f->p, list[i].id, &in));
		assert_string_equal(in.name, list[i].name);
		assert_int_equal(in.size, list[i].size);
	}
	free(list);
}

static void test_rename(void **state)
{
	struct fx *f = *state;
	vol_id a, b, x;
	vol_info in;

	OK(vol_create(f->p, "a", 4096, &a));
	OK(vol_create(f->p, "b", 4096, &b));
	OK(vol_write(f->p, a, "data", 0, 4));
	OK(vol_rename(f->p, a, "c"));
	ST(VOL_ENOENT, vol_lookup(f->p, "a", &x));
	OK(vol_lookup(f->p, "c", &x));
	assert_int_equal(x, a);
	OK(vol_info_get(f->p, a, &in));
	assert_string_equal(in.name, "c");
	uint8_t want[4096] = "data";
	tu_assert_content(f->p, a, want, sizeof(want));

	uint64_t l = vol_pool_lsn(f->p);
	ST(VOL_EEXIST, vol_rename(f->p, a, "b"));
	ST(VOL_EINVAL, vol_rename(f->p, a, ".x"));
	ST(VOL_ENOENT, vol_rename(f->p, a + b + 100, "y"));
	assert_int_equal(vol_pool_lsn(f->p), l);
	OK(vol_lookup(f->p, "b", &x));
	assert_int_equal(x, b);
	/* The old name is free again. */
	OK(vol_create(f->p, "a", 0, &x));
	fx_reopen(f);
	OK(vol_lookup(f->p, "c", &x));
	assert_int_equal(x, a);
	tu_assert_content(f->p, a, want, sizeof(want));
}

static void test_resize(void **state)
{
	struct fx *f = *state;
	vol_id a;
	vol_info in;
	uint8_t buf[4 * 4096], want[6 * 4096];

	OK(vol_create(f->p, "a", sizeof(buf), &a));
	tu_fill(buf, sizeof(buf), 7);
	OK(vol_write(f->p, a, buf, 0, sizeof(buf)));
	OK(vol_resize(f->p, a, 6 * 4096));
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.size, 6 * 4096);
	memset(want, 0, sizeof(want));
	memcpy(want, buf, sizeof(buf));
	tu_assert_content(f->p, a, want, sizeof(want));
	/* Shrink to an unaligned size, then grow: the cut bytes are zeros. */
	OK(vol_resize(f->p, a, 4096 + 100));
	tu_assert_content(f->p, a, buf, 4096 + 100);
	OK(vol_resize(f->p, a, 5 * 4096));
	memset(want, 0, sizeof(want));
	memcpy(want, buf, 4096 + 100);
	tu_assert_content(f->p, a, want, 5 * 4096);
	OK(vol_resize(f->p, a, 0));
	tu_assert_content(f->p, a, want, 0);
	ST(VOL_ENOENT, vol_resize(f->p, a + 1000, 4096));
	fx_reopen(f);
	OK(vol_info_get(f->p, a, &in));
	assert_int_equal(in.size, 0);
}

static void test_delete(void **state)
{
	struct fx *f = *state;
	vol_id a, b, x;
	uint8_t buf[8192], r[16];
	size_t got;
	vol_info *list;
	size_t n;
	vol_target now = tu_now();

	OK(vol_create(f->p, "a", sizeof(buf), &a));
	OK(vol_create(f->p, "b", 4096, &b));
	tu_fill(buf, sizeof(buf), 3);
	OK(vol_write(f->p, a, buf, 0, sizeof(buf)));
	OK(vol_snapshot_create(f->p, a, "s", &now, NULL));
	OK(vol_delete(f->p, a));
	ST(VOL_ENOENT, vol_lookup(f->p, "a", &x));
	vol_info in;
	ST(VOL_ENOENT, vol_info_get(f->p, a, &in));
	ST(VOL_ENOENT, vol_read(f->p, a, r, 0, sizeof(r), &got));
	ST(VOL_ENOENT, vol_write(f->p, a, r, 0, sizeof(r)));
	ST(VOL_ENOENT, vol_delete(f->p, a));
	ST(VOL_ENOENT, vol_sync(f->p, a, NULL));
	ST(VOL_ENOENT, vol_rename(f->p, a, "zz"));
	OK(vol_list(f->p, &list, &n));
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, b);
	free(list);
	/* The name is free; the new volume is a different, empty one with no
	 * snapshots of the old. */
	OK(vol_create(f->p, "a", sizeof(buf), &x));
	assert_int_not_equal(x, a);
	uint8_t zero[sizeof(buf)] = {0};
	tu_assert_content(f->p, x, zero, sizeof(zero));
	vol_snapshot *sn;
	OK(vol_snapshot_list(f->p, x, &sn, &n));
	assert_int_equal(n, 0);
	free(sn);
	vol_target s = tu_at_snap("s");
	vol_point pt;
	ST(VOL_ENOENT, vol_resolve(f->p, x, &s, &pt));
	fx_reopen(f);
	ST(VOL_ENOENT, vol_info_get(f->p, a, &in));
	tu_assert_content(f->p, x, zero, sizeof(zero));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_create_lookup_info,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_ordered, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rename, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_resize, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
