/*
 * tutil.c - helpers shared by the cmocka tests of volume/ (see tutil.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tutil.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif

int tu_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
	return 1;
#else
	return 0;
#endif
}

void tu_expect(vol_status want, vol_status got, const char *what,
	       const char *file, int line)
{
	if (got == want)
		return;
	fail_msg("%s:%d: %s returned %d (%s: %s), expected %d (%s)", file,
		 line, what, (int)got, vol_strerror(got), vol_errmsg(),
		 (int)want, vol_strerror(want));
}

void tu_i64(int64_t a, int64_t b, int ok, const char *what, const char *file,
	    int line)
{
	if (!ok)
		fail_msg("%s:%d: %s is false (%" PRId64 " vs %" PRId64 ")",
			 file, line, what, a, b);
}

int64_t tu_clock(void *ctx)
{
	return ((struct tclock *)ctx)->now;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void tu_rmrf(const char *path)
{
	if (path != NULL && path[0] != '\0')
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_mkdtemp(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/rewindfs-test-XXXXXX");
	if (mkdtemp(buf) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
}

uint32_t tu_run_group = 16;

struct fx *fx_new(uint32_t ps)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_mkdtemp(f->dir, sizeof(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pool", f->dir);
	f->clk.now = T0;
	f->opts.page_size = ps;
	f->opts.history_budget = 1ULL << 40;
	f->opts.retention_interval_s = 0;
	f->opts.clock = tu_clock;
	f->opts.clock_ctx = &f->clk;
	f->opts.run_group = tu_run_group;
	OK(vol_pool_create(f->path, &f->opts));
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	return f;
}

void fx_free(struct fx *f)
{
	if (f == NULL)
		return;
	vol_pool_close(f->p);
	f->p = NULL;
	tu_rmrf(f->dir);
	free(f);
}

void fx_reopen(struct fx *f)
{
	OK(vol_pool_close(f->p));
	f->p = NULL;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
}

int fx_setup(void **state)
{
	*state = fx_new(0);
	return 0;
}

int fx_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

uint64_t tu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tu_fill(void *buf, size_t n, uint64_t seed)
{
	uint8_t *b = buf;
	uint64_t s = seed, r = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			r = tu_rand(&s);
		b[i] = (uint8_t)(r >> (8 * (i % 8)));
	}
}

uint8_t *tu_read_all(vol_pool *p, vol_id id, uint64_t *size)
{
	vol_info in;
	uint8_t *buf;
	size_t got = 0;

	OK(vol_info_get(p, id, &in));
	buf = malloc(in.size + 1);
	assert_non_null(buf);
	OK(vol_read(p, id, buf, 0, in.size, &got));
	assert_int_equal(got, in.size);
	*size = in.size;
	return buf;
}

uint8_t *tu_read_point_all(vol_pool *p, vol_id id, const vol_point *pt,
			   uint64_t size_hint, uint64_t *size)
{
	uint8_t *buf = malloc(size_hint + 1);
	size_t got = 0;

	assert_non_null(buf);
	/* Ask for one byte more than expected: the read must come back short
	 * exactly at the size the volume had then. */
	OK(vol_read_point(p, id, pt, buf, 0, size_hint + 1, &got));
	*size = got;
	return buf;
}

void tu_assert_content(vol_pool *p, vol_id id, const void *want, uint64_t n)
{
	uint64_t size;
	uint8_t *got = tu_read_all(p, id, &size);

	assert_int_equal(size, n);
	assert_memory_equal(got, want, n);
	free(got);
}

void tu_assert_at(vol_pool *p, vol_id id, const vol_target *t,
		  const void *want, uint64_t n)
{
	vol_point pt;
	uint64_t size;
	uint8_t *got;

	OK(vol_resolve(p, id, t, &pt));
	got = tu_read_point_all(p, id, &pt, n, &size);
	assert_int_equal(size, n);
	assert_memory_equal(got, want, n);
	free(got);
}

vol_target tu_at_time(int64_t ns)
{
	vol_target t = {.kind = VOL_AT_TIME, .time_ns = ns};
	return t;
}

vol_target tu_at_lsn(uint64_t lsn)
{
	vol_target t = {.kind = VOL_AT_LSN, .lsn = lsn};
	return t;
}

vol_target tu_at_snap(const char *name)
{
	vol_target t = {.kind = VOL_AT_SNAPSHOT};
	snprintf(t.snapshot, sizeof(t.snapshot), "%s", name);
	return t;
}

vol_target tu_now(void)
{
	vol_target t = {.kind = VOL_AT_NOW};
	return t;
}

/* The smallest key of the pages CF (seeks need a full-length key: the
 * store has a fixed-prefix extractor). */
static const uint8_t zero_key[24];

/* A data version's value: the page inline (pools of format 1) or a
 * reference into the page log (kind 3, 40 bytes: header, segment, offset). */
static bool is_ref(const uint8_t *v, size_t vn)
{
	return vn == 40 && v[0] == 3;
}

static bool is_data(const uint8_t *v, size_t vn, size_t ps)
{
	return vn >= ps || is_ref(v, vn);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | p[i];
	return x;
}

/* Flip one byte of the page-log record that value v refers to: byte `at`
 * of the record (its 64-byte header, then the page). */
static void flip_record(const char *pool_path, const uint8_t *v, size_t at)
{
	char seg[600];
	snprintf(seg, sizeof(seg), "%s/pages/%016llx.seg", pool_path,
		 (unsigned long long)be64(v + 24));
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	off_t o = (off_t)(be64(v + 32) + at);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, o), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, o), 1);
	close(fd);
}

kv *tu_open_store(const char *pool_path)
{
	char db[512];
	kv *s = NULL;

	snprintf(db, sizeof(db), "%s/db", pool_path);
	OK(kv_rocks_open(db, false, &s));
	return s;
}

void tu_corrupt_page_value(const char *pool_path, unsigned nth,
			   size_t min_len, long pos, uint8_t key_out[24])
{
	tu_corrupt(pool_path, nth, min_len, pos, -1, key_out);
}

void tu_corrupt(const char *pool_path, unsigned nth, size_t ps, long pos,
		long rec_pos, uint8_t key_out[24])
{
	kv *s = tu_open_store(pool_path);
	kv_iter *it;
	unsigned seen = 0;
	bool done = false;
	it = s->ops->iter_new(s, KV_PAGES, KV_BULK); /* a whole-CF scan */
	assert_non_null(it);
	for (s->ops->iter_seek(it, zero_key, sizeof(zero_key));
	     s->ops->iter_valid(it);
	     s->ops->iter_next(it)) {
		size_t kn, vn;
		const void *k = s->ops->iter_key(it, &kn);
		const uint8_t *v = s->ops->iter_value(it, &vn);

		if (!is_data(v, vn, ps) || seen++ != nth)
			continue;
		if (key_out != NULL) {
			assert_true(kn >= 24);
			memcpy(key_out, k, 24);
		}
		/* pos counts in the logical value: 24-byte header + page */
		size_t len = is_ref(v, vn) ? 24 + ps : vn;
		size_t at = pos < 0 ? len - (size_t)(-pos) : (size_t)pos;
		assert_true(at < len);
		if (is_ref(v, vn) && (rec_pos >= 0 || at >= 24)) {
			flip_record(pool_path, v,
				    rec_pos >= 0 ? (size_t)rec_pos
						 : 64 + (at - 24));
			done = true;
			break;
		}
		uint8_t *nv = malloc(vn);
		assert_non_null(nv);
		memcpy(nv, v, vn);
		nv[at] ^= 0x5a;
		kv_batch *b = s->ops->batch_new(s);
		s->ops->batch_put(b, KV_PAGES, k, kn, nv, vn);
		free(nv);
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
	if (!done)
		fail_msg("no data page version #%u to corrupt", nth);
}

unsigned long tu_count_page_values(const char *pool_path, size_t min_len)
{
	kv *s = tu_open_store(pool_path);
	kv_iter *it;
	unsigned long n = 0;
	it = s->ops->iter_new(s, KV_PAGES, KV_BULK); /* a whole-CF scan */
	assert_non_null(it);
	for (s->ops->iter_seek(it, zero_key, sizeof(zero_key));
	     s->ops->iter_valid(it);
	     s->ops->iter_next(it)) {
		size_t vn;

		const uint8_t *v = s->ops->iter_value(it, &vn);
		if (is_data(v, vn, min_len))
			n++;
	}
	OK(s->ops->iter_status(it));
	s->ops->iter_free(it);
	s->ops->close(s);
	return n;
}
