/*
 * tutil.h - helpers shared by the cmocka tests of volume/.
 *
 * Every test works in its own mkdtemp() folder under /tmp (so tests run in
 * parallel) and drives time by hand through a fake clock: the engine reads
 * opts.clock, so a test decides exactly when each change, barrier and
 * retention pass happens. Nothing here sleeps.
 *
 * Contract of the check macros: OK(call) fails the running cmocka test with
 * the call's text, status and vol_errmsg() unless it returns VOL_OK;
 * ST(want, call) does the same unless it returns `want`.
 */
#ifndef REWINDFS_TUTIL_H
#define REWINDFS_TUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kv.h"
#include "volume.h"

#define SEC ((int64_t)1000000000)
/* A plausible wall-clock start (2026-11-21); any fixed value would do. */
#define T0 ((int64_t)1795000000 * SEC)

#define OK(call) tu_expect(VOL_OK, (call), #call, __FILE__, __LINE__)
#define ST(want, call) tu_expect((want), (call), #call, __FILE__, __LINE__)
void tu_expect(vol_status want, vol_status got, const char *what,
	       const char *file, int line);

/* Signed comparisons with the values in the message. */
#define ASSERT_I64(a, op, b) tu_i64((a), (b), (a)op(b), #a " " #op " " #b, \
				    __FILE__, __LINE__)
void tu_i64(int64_t a, int64_t b, int ok, const char *what, const char *file,
	    int line);

/* True in an AddressSanitizer build: tests scale their op counts down. */
int tu_sanitized(void);

/* The fake clock: opts.clock = tu_clock, opts.clock_ctx = &clk. */
struct tclock {
	int64_t now;
};
int64_t tu_clock(void *ctx);

/* A test's world: a temp folder, a pool folder in it, the open pool. */
struct fx {
	char dir[256];  /* mkdtemp folder                     */
	char path[300]; /* dir/pool: the pool folder          */
	struct tclock clk;
	vol_pool_opts opts; /* used for create and every open */
	vol_pool *p;
};

/* Temp folder + pool (page size ps, 0 = default) created and opened with a
 * large history budget and no background retention. */
/* The run group of the pools fx_new creates (pages): small, so that runs
 * end at group edges in tests' small volumes; the engine's default is 256. */
extern uint32_t tu_run_group;
struct fx *fx_new(uint32_t ps);
/* Close the pool (if open), remove the folder, free. Safe with NULL. */
void fx_free(struct fx *f);
/* Close and open again with the same options. */
void fx_reopen(struct fx *f);
/* cmocka fixtures around fx_new(0)/fx_free. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Remove a folder tree (best effort). */
void tu_rmrf(const char *path);
/* A fresh folder under /tmp, written to buf (>= 64 bytes). */
void tu_mkdtemp(char *buf, size_t cap);

/* Deterministic pseudo-random bytes (splitmix64 of seed). */
void tu_fill(void *buf, size_t n, uint64_t seed);
uint64_t tu_rand(uint64_t *state);

/* Whole current content of a volume (malloc'ed, *size set). */
uint8_t *tu_read_all(vol_pool *p, vol_id id, uint64_t *size);
/* Whole content at a point (malloc'ed, *size = what the read returned). */
uint8_t *tu_read_point_all(vol_pool *p, vol_id id, const vol_point *pt,
			   uint64_t size_hint, uint64_t *size);
/* Assert the volume's current content equals want[0, n). */
void tu_assert_content(vol_pool *p, vol_id id, const void *want, uint64_t n);
/* Assert the content at target t equals want[0, n). */
void tu_assert_at(vol_pool *p, vol_id id, const vol_target *t,
		  const void *want, uint64_t n);

vol_target tu_at_time(int64_t ns);
vol_target tu_at_lsn(uint64_t lsn);
vol_target tu_at_snap(const char *name);
vol_target tu_now(void);

/* Flip one byte of the `nth` (0-based) value in the pages column family
 * whose length is >= min_len, at byte `pos` (negative: from the end). The
 * pool must be closed. Returns the flipped value's key (24 bytes copied to
 * key_out if not NULL); fails the test if there is no such value. */
void tu_corrupt_page_value(const char *pool_path, unsigned nth,
			   size_t min_len, long pos, uint8_t key_out[24]);
/* The same with the page size ps: flips byte `pos` of the logical value
 * (24-byte header, then the page; in the pages family or the page log), or,
 * with rec_pos >= 0, byte rec_pos of the version's page-log record. */
void tu_corrupt(const char *pool_path, unsigned nth, size_t ps, long pos,
		long rec_pos, uint8_t key_out[24]);
/* The store of the closed pool at pool_path, opened (fails the test if it
 * cannot be); close it with ->ops->close. */
kv *tu_open_store(const char *pool_path);
/* Count data page versions (inline of >= min_len bytes, or in the page
 * log) in the pages column family. */
unsigned long tu_count_page_values(const char *pool_path, size_t min_len);

#endif /* REWINDFS_TUTIL_H */
