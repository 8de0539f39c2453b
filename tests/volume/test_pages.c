/*
 * test_pages.c - unit tests of page I/O: aligned, unaligned and cross-page
 * writes, short reads past the end, discard, shrink-then-grow, zero pages
 * that cost no storage, long reads that walk a chain of clones, and
 * checksum failures reported as VOL_ECORRUPT.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutil.h"

#define PS 4096

static void test_aligned_unaligned(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t want[8 * PS], w[3 * PS];

	OK(vol_create(f->p, "a", sizeof(want), &a));
	memset(want, 0, sizeof(want));
	tu_assert_content(f->p, a, want, sizeof(want)); /* new = zeros */

	tu_fill(w, 2 * PS, 1); /* aligned, two pages */
	OK(vol_write(f->p, a, w, PS, 2 * PS));
	memcpy(want + PS, w, 2 * PS);
	tu_assert_content(f->p, a, want, sizeof(want));

	tu_fill(w, 10, 2); /* inside one page */
	OK(vol_write(f->p, a, w, PS + 1000, 10));
	memcpy(want + PS + 1000, w, 10);
	tu_assert_content(f->p, a, want, sizeof(want));

	tu_fill(w, PS + 300, 3); /* across three pages, both edges unaligned */
	OK(vol_write(f->p, a, w, 3 * PS - 100, PS + 300));
	memcpy(want + 3 * PS - 100, w, PS + 300);
	tu_assert_content(f->p, a, want, sizeof(want));

	tu_fill(w, 1, 4); /* last byte of the volume */
	OK(vol_write(f->p, a, w, sizeof(want) - 1, 1));
	want[sizeof(want) - 1] = w[0];
	OK(vol_write(f->p, a, w, 0, 0)); /* empty write */

	/* Partial reads at odd offsets. */
	uint8_t r[PS + 7];
	size_t got;
	OK(vol_read(f->p, a, r, PS - 3, sizeof(r), &got));
	assert_int_equal(got, sizeof(r));
	assert_memory_equal(r, want + PS - 3, sizeof(r));

	/* Writes past the end fail and change nothing. */
	uint64_t l = vol_pool_lsn(f->p);
	ST(VOL_ERANGE, vol_write(f->p, a, w, sizeof(want) - 1, 2));
	ST(VOL_ERANGE, vol_write(f->p, a, w, sizeof(want) + PS, 1));
	ST(VOL_ERANGE, vol_write(f->p, a, w, UINT64_MAX - 1, 4));
	assert_int_equal(vol_pool_lsn(f->p), l);
	tu_assert_content(f->p, a, want, sizeof(want));
	fx_reopen(f);
	tu_assert_content(f->p, a, want, sizeof(want));
	vol_info in;
	OK(vol_info_get(f->p, a, &in));
	assert_true(in.bytes_written >= 2 * PS + 10 + PS + 300 + 1);
}

static void test_read_past_end(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t r[3 * PS];
	size_t got = 12345;

	OK(vol_create(f->p, "a", PS + 10, &a));
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	assert_int_equal(got, PS + 10);
	OK(vol_read(f->p, a, r, PS, sizeof(r), &got));
	assert_int_equal(got, 10);
	OK(vol_read(f->p, a, r, PS + 10, sizeof(r), &got));
	assert_int_equal(got, 0);
	OK(vol_read(f->p, a, r, 100 * PS, sizeof(r), &got));
	assert_int_equal(got, 0);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t want[6 * PS];

	OK(vol_create(f->p, "a", sizeof(want), &a));
	tu_fill(want, sizeof(want), 9);
	OK(vol_write(f->p, a, want, 0, sizeof(want)));
	OK(vol_discard(f->p, a, PS, 2 * PS)); /* whole pages */
	memset(want + PS, 0, 2 * PS);
	tu_assert_content(f->p, a, want, sizeof(want));
	OK(vol_discard(f->p, a, 4 * PS - 50, 200)); /* unaligned */
	memset(want + 4 * PS - 50, 0, 200);
	tu_assert_content(f->p, a, want, sizeof(want));
	OK(vol_discard(f->p, a, 5 * PS + 1, PS - 1)); /* to the end */
	memset(want + 5 * PS + 1, 0, PS - 1);
	tu_assert_content(f->p, a, want, sizeof(want));
	/* A discard reaching past the end zeros up to the end (like a hole
	 * punched past EOF) and keeps the size. */
	OK(vol_write(f->p, a, "tail", 6 * PS - 4, 4));
	OK(vol_discard(f->p, a, 6 * PS - 4, 2 * PS));
	memset(want + 6 * PS - 4, 0, 4);
	tu_assert_content(f->p, a, want, sizeof(want));
	/* Rewriting a discarded page works. */
	OK(vol_write(f->p, a, "xyz", PS + 5, 3));
	memcpy(want + PS + 5, "xyz", 3);
	fx_reopen(f);
	tu_assert_content(f->p, a, want, sizeof(want));
}

/* Long reads find their pages by walking the chain's timelines (pages.c):
 * they must read what page-by-page reads (point seeks) read and what was
 * written, through a chain deeper than the walks it keeps, past pages
 * with more newer versions than a walk steps over, pages never written,
 * holes and pages only an ancestor has. */
#define WALK_PAGES 96
#define WALK_DEPTH 7
static void test_long_reads_walk(void **state)
{
	struct fx *f = *state;
	const uint64_t size = WALK_PAGES * PS;
	vol_id id[WALK_DEPTH];
	uint8_t *want[WALK_DEPTH], page[PS];
	uint64_t seed = 100;

	OK(vol_create(f->p, "v0", size, &id[0]));
	for (int d = 0; d < WALK_DEPTH; d++)
		assert_non_null(want[d] = calloc(1, size));
	/* Volume 0: page i written i % 13 times (never for 0, 13, ...),
	 * every fifth one then discarded. */
	for (int i = 0; i < WALK_PAGES; i++)
		for (int n = 0; n < i % 13; n++) {
			tu_fill(want[0] + i * PS, PS, seed++);
			OK(vol_write(f->p, id[0], want[0] + i * PS,
				     (uint64_t)i * PS, PS));
		}
	for (int i = 0; i < WALK_PAGES; i += 5) {
		OK(vol_discard(f->p, id[0], (uint64_t)i * PS, PS));
		memset(want[0] + i * PS, 0, PS);
	}
	/* Each clone of the last one rewrites a few pages; then its source
	 * writes every third page 12 times more (newer versions that the
	 * clone's walk in that timeline must get past). */
	for (int d = 1; d < WALK_DEPTH; d++) {
		char name[16];
		snprintf(name, sizeof name, "v%d", d);
		vol_target now = tu_now();
		OK(vol_clone(f->p, id[d - 1], &now, name, &id[d]));
		memcpy(want[d], want[d - 1], size);
		for (int i = d; i < WALK_PAGES; i += 7) {
			tu_fill(want[d] + i * PS, PS, seed++);
			OK(vol_write(f->p, id[d], want[d] + i * PS,
				     (uint64_t)i * PS, PS));
		}
		for (int i = 0; i < WALK_PAGES; i += 3)
			for (int n = 0; n < 12; n++) {
				tu_fill(want[d - 1] + i * PS, PS, seed++);
				OK(vol_write(f->p, id[d - 1],
					     want[d - 1] + i * PS,
					     (uint64_t)i * PS, PS));
			}
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int d = 0; d < WALK_DEPTH; d++) {
			tu_assert_content(f->p, id[d], want[d], size);
			/* From an unaligned start: an edge page, then a walk. */
			uint8_t *got = malloc(size);
			size_t n;
			assert_non_null(got);
			OK(vol_read(f->p, id[d], got, 3 * PS + 17,
				    size - 3 * PS - 17, &n));
			assert_int_equal(n, size - 3 * PS - 17);
			assert_memory_equal(got, want[d] + 3 * PS + 17, n);
			free(got);
			for (int i = 0; i < WALK_PAGES; i++) {
				OK(vol_read(f->p, id[d], page, (uint64_t)i * PS,
					    PS, &n));
				assert_memory_equal(page, want[d] + i * PS, PS);
			}
		}
		fx_reopen(f); /* the same from the tables, not the memtables */
	}
	for (int d = 0; d < WALK_DEPTH; d++)
		free(want[d]);
}

/* All-zero pages and holes cost no page storage: no stored value is as
 * long as a page. */
static void test_zero_pages_free(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t z[4 * PS];

	OK(vol_create(f->p, "a", sizeof(z), &a));
	OK(vol_write(f->p, a, z, 0, sizeof(z)));
	OK(vol_discard(f->p, a, 0, 2 * PS));
	OK(vol_write(f->p, a, "x", 3 * PS, 1));
	OK(vol_write(f->p, a, z, 3 * PS, 1)); /* back to all-zero */
	OK(vol_resize(f->p, a, PS));
	OK(vol_resize(f->p, a, 4 * PS));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	/* Exactly one data version: the page that held "x". */
	assert_int_equal(tu_count_page_values(f->path, PS), 1);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	tu_assert_content(f->p, a, z, sizeof(z));
}

static void test_shrink_grow(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t w[4 * PS], want[4 * PS];
	vol_point pt;

	OK(vol_create(f->p, "a", sizeof(w), &a));
	tu_fill(w, sizeof(w), 5);
	OK(vol_write(f->p, a, w, 0, sizeof(w)));
	f->clk.now += SEC;
	OK(vol_sync(f->p, a, &pt));
	f->clk.now += SEC;
	OK(vol_resize(f->p, a, PS + 1));
	tu_assert_content(f->p, a, w, PS + 1);
	f->clk.now += SEC;
	OK(vol_resize(f->p, a, sizeof(w)));
	memset(want, 0, sizeof(want));
	memcpy(want, w, PS + 1);
	tu_assert_content(f->p, a, want, sizeof(want));
	/* The past still reads the old pages, at the old size. */
	vol_target t = tu_at_lsn(pt.lsn);
	tu_assert_at(f->p, a, &t, w, sizeof(w));
	fx_reopen(f);
	tu_assert_content(f->p, a, want, sizeof(want));
}

/* Flip one byte of the only data version on disk: the read fails with
 * VOL_ECORRUPT naming the volume, the page and the LSN; vol_check finds it.
 * pos: which byte of the stored value (negative = from the end). */
static void corrupt_case(struct fx *f, long pos)
{
	vol_id a, b;
	uint8_t w[PS], r[PS];
	size_t got;
	uint64_t lsn, problems = 0;
	char page_s[32], lsn_s[32];

	OK(vol_create(f->p, "other", PS, &b));
	OK(vol_create(f->p, "victim-vol", 16 * PS, &a));
	for (int i = 0; i < 9; i++) /* make the LSN distinctive */
		OK(vol_resize(f->p, b, (uint64_t)(i + 2) * PS));
	tu_fill(w, PS, 11);
	OK(vol_write(f->p, a, w, 13 * PS, PS));
	lsn = vol_pool_lsn(f->p);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	tu_corrupt_page_value(f->path, 0, PS, pos, NULL);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	/* Pages around it still read. */
	OK(vol_read(f->p, a, r, 12 * PS, PS, &got));
	ST(VOL_ECORRUPT, vol_read(f->p, a, r, 13 * PS, PS, &got));
	const char *m = vol_errmsg();
	snprintf(page_s, sizeof(page_s), "%d", 13);
	snprintf(lsn_s, sizeof(lsn_s), "%" PRIu64, lsn);
	if (strstr(m, "victim-vol") == NULL || strstr(m, page_s) == NULL ||
	    strstr(m, lsn_s) == NULL)
		fail_msg("corruption message \"%s\" does not name volume "
			 "victim-vol, page 13 and LSN %s", m, lsn_s);
	/* An unaligned read touching it fails too: never wrong data. */
	ST(VOL_ECORRUPT, vol_read(f->p, a, r, 13 * PS + 100, 10, &got));
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_true(problems >= 1);
}

static void test_corrupt_last_byte(void **state)
{
	corrupt_case(*state, -1);
}

static void test_corrupt_middle_byte(void **state)
{
	corrupt_case(*state, -(PS / 2));
}

static void test_corrupt_header_byte(void **state)
{
	corrupt_case(*state, 0);
}

static void test_check_clean(void **state)
{
	struct fx *f = *state;
	vol_id a;
	uint8_t w[2 * PS];
	uint64_t problems = 77;

	OK(vol_create(f->p, "a", sizeof(w), &a));
	tu_fill(w, sizeof(w), 1);
	OK(vol_write(f->p, a, w, 0, sizeof(w)));
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aligned_unaligned,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_read_past_end, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_discard, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_zero_pages_free, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_long_reads_walk, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_shrink_grow, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_last_byte,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle_byte,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_header_byte,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_check_clean, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
