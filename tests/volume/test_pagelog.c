/*
 * test_pagelog.c - the page log (volume/pagelog.c, cleaner.c): damaged and
 * missing records are VOL_ECORRUPT naming the version, a crash that tears
 * the records after the last sync loses only those writes, and the cleaner
 * gives back the space of deleted versions while every readable point
 * (head, snapshots) reads back the same bytes, before and after a reopen;
 * zeros after a segment's records (a prepared segment) are no damage.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "tutil.h"

#define PS 4096
#define SEG (64 * 1024) /* small segments: many roll-overs */
#define REC (64 + PS)

static struct fx *small_pool(uint64_t seg, bool prepare)
{
	struct fx *f = fx_new(0);
	OK(vol_pool_close(f->p));
	f->opts.segment_bytes = seg;
	f->opts.no_prepare = !prepare;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	return f;
}

static int setup_small(void **state)
{
	*state = small_pool(SEG, true);
	return 0;
}

/* Segments fill only as the appends say: no segment prepared ahead, which
 * the log would move on to early, at a time the syncer thread picks. */
static int setup_counted(void **state)
{
	*state = small_pool(SEG, false);
	return 0;
}

/* Segments larger than the steps a removed one's space goes back in. */
static int setup_large(void **state)
{
	*state = small_pool(12 << 20, false);
	return 0;
}

/* Segment files in POOL/pages, and the bytes of their records: a
 * prepared segment's zeros after its last record are not counted. */
static unsigned seg_files(const char *pool, uint64_t *bytes)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/pages", pool);
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned n = 0;
	*bytes = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strstr(e->d_name, ".seg"))
			continue;
		char f[800];
		struct stat sb;
		snprintf(f, sizeof(f), "%s/%.255s", dir, e->d_name);
		assert_int_equal(stat(f, &sb), 0);
		FILE *fp = fopen(f, "rb");
		assert_non_null(fp);
		uint64_t end = 0, at = 0;
		for (int c; (c = fgetc(fp)) != EOF; at++)
			if (c)
				end = at + 1;
		fclose(fp);
		assert_int_equal(at, (uint64_t)sb.st_size);
		*bytes += end;
		n++;
	}
	closedir(d);
	return n;
}

/* The page log's newest segment file. */
static void last_seg(const char *pool, char *out, size_t cap)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/pages", pool);
	DIR *d = opendir(dir);
	assert_non_null(d);
	char best[256] = "";
	for (struct dirent *e; (e = readdir(d));)
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	assert_true(best[0]);
	snprintf(out, cap, "%s/%s", dir, best);
}

static void expect_corrupt_named(vol_pool *p, vol_id a, uint64_t page,
				 uint64_t lsn)
{
	uint8_t r[PS];
	size_t got;
	char page_s[32], lsn_s[32];
	ST(VOL_ECORRUPT, vol_read(p, a, r, page * PS, PS, &got));
	const char *m = vol_errmsg();
	snprintf(page_s, sizeof(page_s), "page %" PRIu64, page);
	snprintf(lsn_s, sizeof(lsn_s), "lsn %" PRIu64, lsn);
	if (!strstr(m, "victim") || !strstr(m, page_s) || !strstr(m, lsn_s))
		fail_msg("\"%s\" does not name volume victim, %s, %s", m,
			 page_s, lsn_s);
}

/* A flipped byte in a record's header (the key it names) or page. */
static void record_damage(struct fx *f, long rec_pos)
{
	vol_id a;
	uint8_t w[2 * PS], r[PS];
	size_t got;
	uint64_t problems = 0;
	OK(vol_create(f->p, "victim", 2 * PS, &a));
	tu_fill(w, PS, 1);
	OK(vol_write(f->p, a, w, 0, PS));
	tu_fill(w + PS, PS, 2);
	OK(vol_write(f->p, a, w + PS, PS, PS));
	uint64_t lsn = vol_pool_lsn(f->p);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	tu_corrupt(f->path, 1, PS, 0, rec_pos, NULL); /* page 1 */
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	OK(vol_read(f->p, a, r, 0, PS, &got));
	assert_memory_equal(r, w, PS);
	expect_corrupt_named(f->p, a, 1, lsn);
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 1);
}

static void test_record_header_damaged(void **state)
{
	record_damage(*state, 20); /* inside the key the header names */
}

static void test_record_page_damaged(void **state)
{
	record_damage(*state, 64 + PS - 1);
}

/* A segment file that is gone: its pages fail, the others read. */
static void test_segment_missing(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t w[64 * PS], r[PS];
	size_t got;
	uint64_t problems = 0;
	OK(vol_create(f->p, "victim", sizeof(w), &a));
	tu_fill(w, sizeof(w), 5);
	for (int i = 0; i < 64; i++) /* one record per change: in order */
		OK(vol_write(f->p, a, w + i * PS, (uint64_t)i * PS, PS));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	char seg[700];
	snprintf(seg, sizeof(seg), "%s/pages/%016x.seg", f->path, 1);
	assert_int_equal(unlink(seg), 0);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	/* Page 0 was the first record of segment 1 (change lsn 2). */
	expect_corrupt_named(f->p, a, 0, 2);
	OK(vol_read(f->p, a, r, 63 * PS, PS, &got));
	assert_memory_equal(r, w + 63 * PS, PS);
	OK(vol_check(f->p, NULL, NULL, &problems));
	unsigned per_seg = SEG / REC;
	assert_int_equal(problems, per_seg);
}

/* The page log's durable point (MT_DURABLE, where an open starts checking
 * records) in the pool's store, moved by hand. */
static void set_durable(const char *pool, uint64_t seg, uint64_t off)
{
	char db[512];
	kv *s;
	snprintf(db, sizeof(db), "%s/db", pool);
	OK(kv_rocks_open(db, false, &s));
	uint8_t k = 'L', v[16];
	for (int i = 0; i < 8; i++) {
		v[i] = (uint8_t)(seg >> (56 - 8 * i));
		v[8 + i] = (uint8_t)(off >> (56 - 8 * i));
	}
	kv_batch *b = s->ops->batch_new(s);
	s->ops->batch_put(b, KV_META, &k, 1, v, sizeof(v));
	OK(s->ops->write(s, b, true));
	s->ops->batch_free(b);
	s->ops->close(s);
}

/* Make the next open take the machine for restarted (power cut
 * semantics: damage after the durable point is a tear). */
static void fake_reboot(const char *pool)
{
	char f[600];
	snprintf(f, sizeof(f), "%s/pages/boot", pool);
	FILE *fp = fopen(f, "w");
	assert_non_null(fp);
	fputs("not-this-boot\n", fp);
	fclose(fp);
}

/* Offset in segment file `seg` of the newest record of type `type`
 * (0 page, 2 commit) and, for pages, of page `page`; -1 if none. */
static long find_record(const char *seg, int type, uint64_t page)
{
	FILE *fp = fopen(seg, "rb");
	assert_non_null(fp);
	static uint8_t h[64];
	long pos = 0, found = -1;
	while (fseek(fp, pos, SEEK_SET) == 0 && fread(h, 1, 64, fp) == 64) {
		uint32_t n = (uint32_t)h[52] | (uint32_t)h[53] << 8 |
			     (uint32_t)h[54] << 16 | (uint32_t)h[55] << 24;
		uint64_t pg = 0;
		for (int i = 16; i < 24; i++)
			pg = pg << 8 | h[i];
		if (h[48] == type && (type != 0 || pg == page))
			found = pos;
		pos += 64 + (long)n;
	}
	fclose(fp);
	return found;
}

static void flip_at(const char *file, long off)
{
	int fd = open(file, O_RDWR);
	assert_true(fd >= 0);
	uint8_t c;
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* Barrier entries of volume `id` in the closed pool's store. */
static unsigned store_barriers(const char *path, vol_id id)
{
	kv *s = tu_open_store(path);
	const struct kv_ops *o = s->ops;
	kv_iter *it = o->iter_new(s, KV_LOG, KV_BULK);
	uint8_t k[16];
	size_t kn = key1(k, LT_BARRIER, id);
	unsigned n = 0;
	for (o->iter_seek(it, k, kn); o->iter_valid(it); o->iter_next(it)) {
		size_t n2;
		const uint8_t *k2 = o->iter_key(it, &n2);
		if (n2 < kn || memcmp(k2, k, kn))
			break;
		n++;
	}
	OK(o->iter_status(it));
	o->iter_free(it);
	s->ops->close(s);
	return n;
}

/* A volume's sync puts its barrier in the page log only; the store gets it
 * with the next page change's batch. Until then it must still be found:
 * by a time target right after the sync, after a deletion of its volume
 * (gone with the volume), and after a kill (replayed from the log). */
static void test_barrier_waits(void **state)
{
	struct fx *f = *state;
	static uint8_t a_[4 * PS], b_[4 * PS], r[4 * PS];
	tu_fill(a_, sizeof(a_), 51);
	tu_fill(b_, sizeof(b_), 52);
	vol_id a, d;
	OK(vol_create(f->p, "kept", sizeof(a_), &a));
	OK(vol_create(f->p, "doomed", sizeof(a_), &d));
	f->clk.now += 1000;
	OK(vol_write(f->p, a, a_, 0, sizeof(a_)));
	vol_point p1, got;
	OK(vol_sync(f->p, a, &p1));
	f->clk.now += 1000;
	vol_target t = tu_at_time(p1.time_ns);
	OK(vol_resolve(f->p, a, &t, &got));
	assert_int_equal(got.lsn, p1.lsn);
	assert_int_equal(got.timeline, p1.timeline);
	ASSERT_I64(got.time_ns, ==, p1.time_ns);

	OK(vol_write(f->p, d, a_, 0, sizeof(a_)));
	OK(vol_sync(f->p, d, NULL));
	OK(vol_delete(f->p, d));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	assert_int_equal(store_barriers(f->path, d), 0);
	assert_int_equal(store_barriers(f->path, a), 2); /* created, p1 */

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vol_pool *p;
		vol_point p2;
		f->clk.now += 1000;
		if (vol_pool_open(f->path, &f->opts, &p) ||
		    vol_write(p, a, b_, 0, sizeof(b_)) ||
		    vol_sync(p, a, &p2) ||
		    write(fds[1], &p2, sizeof(p2)) != (ssize_t)sizeof(p2))
			_exit(1);
		_exit(0); /* killed right after the sync: nothing followed */
	}
	close(fds[1]);
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	vol_point p2;
	assert_int_equal(read(fds[0], &p2, sizeof(p2)), sizeof(p2));
	close(fds[0]);
	f->clk.now += 2000;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	t = tu_at_time(p2.time_ns);
	OK(vol_resolve(f->p, a, &t, &got));
	assert_int_equal(got.lsn, p2.lsn);
	ASSERT_I64(got.time_ns, ==, p2.time_ns);
	size_t n;
	OK(vol_read_point(f->p, a, &got, r, 0, sizeof(r), &n));
	assert_memory_equal(r, b_, sizeof(b_));
	t = tu_at_time(p2.time_ns - 1);
	OK(vol_resolve(f->p, a, &t, &got));
	assert_int_equal(got.lsn, p1.lsn);
}

/* A child writes A, syncs, writes B, syncs and is killed (no close: the
 * store's unsynced batches are lost, the page log has everything). */
static void killed_writer(struct fx *f, vol_id a, const uint8_t *a_,
			  const uint8_t *b_, size_t n)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vol_pool *p;
		if (vol_pool_open(f->path, &f->opts, &p) ||
		    vol_write(p, a, a_, 0, n) || vol_sync(p, a, NULL) ||
		    vol_write(p, a, b_, 0, n) || vol_sync(p, a, NULL))
			_exit(1);
		_exit(0);
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

/* Volume "victim" gets A, then B, both synced, by a killed writer; then
 * byte `at` of the body of B's newest record of `type` (for pages: of page
 * `page`) is flipped. */
static vol_id damaged_after_kill(struct fx *f, const uint8_t *a_,
				 const uint8_t *b_, size_t n, int type,
				 uint64_t page, long at)
{
	vol_id a;
	OK(vol_create(f->p, "victim", n, &a));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	killed_writer(f, a, a_, b_, n);
	char seg[700];
	last_seg(f->path, seg, sizeof(seg));
	long rec = find_record(seg, type, page);
	assert_true(rec >= 0);
	flip_at(seg, rec + 64 + at);
	return a;
}

/* Same machine, no restart: a damaged record of the last synced write is
 * damage, not a tear. The write is replayed; its damaged page reads as an
 * error, the others as written; check names it. */
static void test_damage_after_kill_kept(void **state)
{
	struct fx *f = *state;
	static uint8_t a_[8 * PS], b_[8 * PS], r[PS];
	tu_fill(a_, sizeof(a_), 27);
	tu_fill(b_, sizeof(b_), 28);
	vol_id a = damaged_after_kill(f, a_, b_, sizeof(a_), 0, 3, 100);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	size_t got;
	for (uint64_t pg = 0; pg < 8; pg++) {
		if (pg == 3) {
			ST(VOL_ECORRUPT, vol_read(f->p, a, r, pg * PS, PS,
						  &got));
			continue;
		}
		OK(vol_read(f->p, a, r, pg * PS, PS, &got));
		assert_memory_equal(r, b_ + pg * PS, PS);
	}
	uint64_t problems = 0;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 1);
}

/* The same damage to B's commit record: B cannot be replayed and the open
 * fails (never A's bytes as if B had not been synced); salvage opens the
 * pool read-only as its store has it. */
static void test_commit_damaged_refused(void **state)
{
	struct fx *f = *state;
	static uint8_t a_[8 * PS], b_[8 * PS], r[8 * PS];
	tu_fill(a_, sizeof(a_), 37);
	tu_fill(b_, sizeof(b_), 38);
	/* a byte of its time */
	vol_id a = damaged_after_kill(f, a_, b_, sizeof(a_), 2, 0, 9);
	ST(VOL_ECORRUPT, vol_pool_open(f->path, &f->opts, &f->p));
	if (!strstr(vol_errmsg(), "salvage"))
		fail_msg("\"%s\" does not point at salvage", vol_errmsg());
	f->opts.salvage = true;
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	size_t got;
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	ST(VOL_ECORRUPT, vol_write(f->p, a, r, 0, PS));
	vol_pool_stats st;
	OK(vol_pool_stats_get(f->p, &st));
	assert_true(strstr(st.store_error, "salvage") != NULL);
	f->opts.salvage = false;
}

/* A crash of the machine after the store made B's changes durable (a
 * memtable flush, a later WAL write) but before the sync that would have
 * made B's records durable: the log lost B's last record. The versions
 * that refer to lost records go (as a disk loses unflushed writes); the
 * rest reads back and check finds nothing wrong. */
static void test_torn_tail_recovered(void **state)
{
	struct fx *f = *state;
	static uint8_t a_[8 * PS], b_[8 * PS], want[8 * PS], r[8 * PS];
	tu_fill(a_, sizeof(a_), 7);
	tu_fill(b_, sizeof(b_), 8);
	vol_id a;
	OK(vol_create(f->p, "victim", sizeof(a_), &a));
	OK(vol_write(f->p, a, a_, 0, sizeof(a_))); /* segment 1 */
	OK(vol_sync(f->p, a, NULL));
	OK(vol_write(f->p, a, b_, 0, sizeof(b_))); /* segment 2 */
	OK(vol_pool_close(f->p));
	f->p = NULL;
	char seg[700];
	struct stat sb;
	/* B's sync never happened: the durable point is A's sync's. */
	snprintf(seg, sizeof(seg), "%s/pages/%016x.seg", f->path, 1);
	assert_int_equal(stat(seg, &sb), 0);
	set_durable(f->path, 1, (uint64_t)sb.st_size);
	last_seg(f->path, seg, sizeof(seg));
	assert_int_equal(stat(seg, &sb), 0);
	fake_reboot(f->path);
	/* B's 8 pages, its commit record, the closing sync's barrier */
	assert_true(sb.st_size > 8 * REC && sb.st_size < 8 * REC + 1024);
	assert_int_equal(truncate(seg, 8 * REC - REC / 2), 0);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	memcpy(want, b_, 7 * PS); /* B's first seven pages survived */
	memcpy(want + 7 * PS, a_ + 7 * PS, PS);
	size_t got;
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	assert_memory_equal(r, want, sizeof(r));
	vol_pool_stats st;
	OK(vol_pool_stats_get(f->p, &st));
	if (!strstr(st.store_error, "1 page versions"))
		fail_msg("store_error \"%s\" does not say what was lost",
			 st.store_error);
	uint64_t problems = 9;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	/* Appends go on after the cut. */
	OK(vol_write(f->p, a, a_, 0, PS));
	fx_reopen(f);
	memcpy(want, a_, PS);
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	assert_memory_equal(r, want, sizeof(r));
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
}

/* A killed process: the store's unsynced batches are gone (its WAL is
 * written at syncs of the store only), the page log has every change up
 * to the last sync and replays them at open. A write after the last sync
 * may or may not come back, whole. */
static void test_replay_after_kill(void **state)
{
	struct fx *f = *state;
	/* 40 pages: runs of the 16-page groups 1 (whole) and 0 (cut by B's
	 * zero page), and pages of their own (group 2). */
	static uint8_t a_[40 * PS], b_[40 * PS], c_[40 * PS], r[40 * PS];
	tu_fill(a_, sizeof(a_), 17);
	tu_fill(b_, sizeof(b_), 18);
	tu_fill(c_, sizeof(c_), 19);
	memset(b_ + 2 * PS, 0, PS); /* a zero page: a hole in the commit */
	vol_id a;
	OK(vol_create(f->p, "victim", sizeof(a_), &a));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vol_pool *p;
		vol_point pt;
		if (vol_pool_open(f->path, &f->opts, &p) ||
		    vol_write(p, a, a_, 0, sizeof(a_)) ||
		    vol_sync(p, a, NULL) ||
		    vol_write(p, a, b_, 0, sizeof(b_)) ||
		    vol_discard(p, a, 6 * PS, PS) ||
		    vol_sync(p, a, &pt) ||
		    vol_write(p, a, c_, 0, 3 * PS))
			_exit(1);
		_exit(0); /* killed: no close, no sync of the store */
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	vol_pool_stats st;
	OK(vol_pool_stats_get(f->p, &st));
	assert_true(st.replayed >= 2); /* B, the discard and their sync */
	size_t got;
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	memset(b_ + 6 * PS, 0, PS);
	/* Either the state at the last sync, or with C's write on top. */
	if (memcmp(r, b_, sizeof(r))) {
		memcpy(b_, c_, 3 * PS);
		assert_memory_equal(r, b_, sizeof(r));
	}
	uint64_t problems = 9;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	/* The sync's barrier came back too: a backtrack target resolves. */
	vol_info vi;
	OK(vol_info_get(f->p, a, &vi));
	fx_reopen(f);
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	assert_memory_equal(r, b_, sizeof(r));
	OK(vol_pool_stats_get(f->p, &st));
	assert_int_equal(st.replayed, 0);
}

/* The head of volume a reads back want[0..n) and check finds nothing,
 * before and after a reopen. */
static void expect_clean(struct fx *f, vol_id a, const uint8_t *want,
			 size_t n)
{
	static uint8_t r[16 * PS];
	size_t got;
	uint64_t problems = 9;
	assert_true(n <= sizeof(r));
	for (int i = 0; i < 2; i++) {
		if (i)
			fx_reopen(f);
		OK(vol_read(f->p, a, r, 0, n, &got));
		assert_memory_equal(r, want, n);
		OK(vol_check(f->p, NULL, NULL, &problems));
		assert_int_equal(problems, 0);
	}
}

/* Every segment file padded with zeros to the segment size, as a
 * prepared segment is (pagelog.c: written as zeros ahead when syncs are
 * frequent). */
static void pad_segments(const char *pool)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/pages", pool);
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		char file[800];
		struct stat sb;
		if (!strstr(e->d_name, ".seg"))
			continue;
		snprintf(file, sizeof(file), "%s/%.255s", dir, e->d_name);
		assert_int_equal(stat(file, &sb), 0);
		assert_true(sb.st_size <= SEG);
		assert_int_equal(truncate(file, SEG), 0);
	}
	closedir(d);
}

/* Zeros after a segment's records are space not written yet, not damage:
 * the open keeps them and appends after the last record (not after the
 * zeros), and after a killed writer filled some of them and rolled over
 * to a new segment, the open's scan passes the sealed segment's zeros:
 * the changes are replayed, nothing is reported damaged. */
static void test_zero_tail(void **state)
{
	struct fx *f = *state;
	static uint8_t a_[8 * PS], b_[8 * PS], want[8 * PS], r[8 * PS];
	tu_fill(a_, sizeof(a_), 31);
	tu_fill(b_, sizeof(b_), 32);
	vol_id a;
	size_t got;
	uint64_t problems = 9;
	OK(vol_create(f->p, "victim", sizeof(a_), &a));
	OK(vol_write(f->p, a, a_, 0, sizeof(a_))); /* about half of one */
	OK(vol_sync(f->p, a, NULL));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	pad_segments(f->path);
	char seg1[700];
	struct stat sb;
	snprintf(seg1, sizeof(seg1), "%s/pages/%016x.seg", f->path, 1);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	OK(vol_read(f->p, a, r, 0, sizeof(r), &got));
	assert_memory_equal(r, a_, sizeof(r));
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	OK(vol_pool_close(f->p));
	f->p = NULL;
	assert_int_equal(stat(seg1, &sb), 0);
	assert_int_equal(sb.st_size, SEG); /* the zeros were kept */
	/* A killed writer: a change into the zeros, one that rolls over. */
	killed_writer(f, a, b_, b_, 4 * PS);
	snprintf(seg1, sizeof(seg1), "%s/pages/%016x.seg", f->path, 2);
	assert_int_equal(stat(seg1, &sb), 0); /* it did roll over */
	OK(vol_pool_open(f->path, &f->opts, &f->p));
	vol_pool_stats st;
	OK(vol_pool_stats_get(f->p, &st));
	assert_true(st.replayed >= 2);
	assert_string_equal(st.store_error, "");
	memcpy(want, b_, 4 * PS);
	memcpy(want + 4 * PS, a_ + 4 * PS, 4 * PS);
	expect_clean(f, a, want, sizeof(want));
}

/* Whether segment file `file` was prepared: as long as a segment, ending
 * in zeros (an appended one ends with its last record). */
static bool seg_prepared(const char *file)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return false;
	struct stat sb;
	uint8_t last = 1;
	bool ok = fstat(fd, &sb) == 0 && sb.st_size == SEG &&
		  pread(fd, &last, 1, SEG - 1) == 1 && last == 0;
	close(fd);
	return ok;
}

/* Syncs after every small write (a database's commits): the syncer thread
 * prepares the next segment and the log moves on to it, sealing the
 * active one early; the writes go on in prepared segments, and everything
 * reads back, checks clean and reopens clean; no .pre file is left. The
 * loop ends as soon as a prepared segment is in use: the syncer runs
 * beside it, so how many writes that takes varies, within the bound. */
static void test_prepared_live(void **state)
{
	struct fx *f = *state;
	static uint8_t want[16 * PS], page[PS];
	vol_id a;
	OK(vol_create(f->p, "victim", sizeof(want), &a));
	bool prepared = false;
	char seg[700], first[700];
	last_seg(f->path, first, sizeof(first));
	int i;
	for (i = 0; i < 20000 && !prepared; i++) {
		tu_fill(page, PS, 1000 + (uint64_t)i);
		uint64_t pg = (uint64_t)i % 16;
		OK(vol_write(f->p, a, page, pg * PS, PS));
		OK(vol_sync(f->p, a, NULL));
		memcpy(want + pg * PS, page, PS);
		last_seg(f->path, seg, sizeof(seg));
		prepared = strcmp(seg, first) && seg_prepared(seg);
	}
	assert_true(prepared);
	/* A few more, into it. */
	for (int k = 0; k < 8; k++, i++) {
		tu_fill(page, PS, 1000 + (uint64_t)i);
		OK(vol_write(f->p, a, page, (uint64_t)(i % 16) * PS, PS));
		OK(vol_sync(f->p, a, NULL));
		memcpy(want + (uint64_t)(i % 16) * PS, page, PS);
	}
	expect_clean(f, a, want, sizeof(want));
	OK(vol_pool_close(f->p));
	f->p = NULL;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/pages", f->path);
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		assert_null(strstr(e->d_name, ".pre"));
	closedir(d);
	OK(vol_pool_open(f->path, &f->opts, &f->p));
}

/* Overwrites with no history: the cleaner drops dead segments and moves
 * the live records of mostly dead ones; a snapshot keeps its bytes. */
static void test_cleaner(void **state)
{
	struct fx *f = *state;
	vol_id a;
	static uint8_t w[16 * PS], snap_want[16 * PS], r[16 * PS];
	size_t got;
	vol_retention_report rep;
	OK(vol_create(f->p, "victim", sizeof(w), &a));
	OK(vol_window_set(f->p, a, 0));
	tu_fill(w, sizeof(w), 9);
	OK(vol_write(f->p, a, w, 0, sizeof(w))); /* segment 1: 16 records */
	memcpy(snap_want, w, sizeof(w));
	vol_target now = tu_now();
	OK(vol_snapshot_create(f->p, a, "keep", &now, NULL));
	f->clk.now += 1000000000;
	for (int round = 0; round < 40; round++) {
		/* Pages 2..15 over and over (a segment each); 0 and 1 stay. */
		tu_fill(w + 2 * PS, 14 * PS, 100 + (uint64_t)round);
		OK(vol_write(f->p, a, w + 2 * PS, 2 * PS, 14 * PS));
		OK(vol_sync(f->p, a, NULL)); /* a barrier: older rounds die */
		f->clk.now += 1000000000;
	}
	uint64_t before, after;
	unsigned nbefore = seg_files(f->path, &before);
	assert_int_equal(nbefore, 41);
	OK(vol_retention_run(f->p, &rep));
	/* Rounds 1-39 are dead; the snapshot holds segment 1, the head the
	 * active segment. */
	assert_int_equal(rep.segments_removed, 39);
	assert_int_equal(rep.bytes_moved, 0);
	assert_int_equal(seg_files(f->path, &after), 2);
	tu_assert_content(f->p, a, w, sizeof(w));
	vol_snapshot *sn;
	size_t nsn;
	OK(vol_snapshot_list(f->p, a, &sn, &nsn));
	assert_int_equal(nsn, 1);
	OK(vol_read_point(f->p, a, &sn[0].point, r, 0, sizeof(r), &got));
	free(sn);
	assert_memory_equal(r, snap_want, sizeof(r));
	/* Without the snapshot, segment 1 holds 2 live records of 16: they
	 * are appended to the log (a new segment: the active one is too full
	 * for them) and segment 1 goes. */
	OK(vol_snapshot_delete(f->p, a, "keep"));
	f->clk.now += 1000000000;
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.segments_removed, 1);
	assert_int_equal(rep.bytes_moved, 2 * REC);
	assert_int_equal(seg_files(f->path, &after), 2);
	/* the 16 live pages, and the small commit and barrier records */
	assert_true(after >= 16 * REC && after < 17 * REC);
	expect_clean(f, a, w, sizeof(w));
}

/* A removed segment larger than the steps its space is given back in
 * (pagelog.c, free_space: 4 MiB at a time): the cleaner's removal goes
 * through every step, the file is gone, everything reads back. */
static void test_remove_large(void **state)
{
	struct fx *f = *state;
	enum { MIBS = 10 };
	static uint8_t w[MIBS << 20];
	vol_retention_report rep;
	vol_id a;
	OK(vol_create(f->p, "victim", sizeof(w), &a));
	OK(vol_window_set(f->p, a, 0));
	for (int round = 0; round < 3; round++) { /* a segment each */
		tu_fill(w, sizeof(w), 300 + (uint64_t)round);
		OK(vol_write(f->p, a, w, 0, sizeof(w)));
		OK(vol_sync(f->p, a, NULL));
		f->clk.now += 1000000000;
	}
	uint64_t bytes;
	assert_int_equal(seg_files(f->path, &bytes), 3);
	OK(vol_retention_run(f->p, &rep));
	assert_int_equal(rep.segments_removed, 2);
	assert_int_equal(seg_files(f->path, &bytes), 1);
	tu_assert_content(f->p, a, w, sizeof(w));
	uint64_t problems = 1;
	OK(vol_check(f->p, NULL, NULL, &problems));
	assert_int_equal(problems, 0);
	fx_reopen(f);
	tu_assert_content(f->p, a, w, sizeof(w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_header_damaged,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_record_page_damaged,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_segment_missing,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_recovered,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_replay_after_kill,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_barrier_waits,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_damage_after_kill_kept,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_damaged_refused,
						setup_small, fx_teardown),
		cmocka_unit_test_setup_teardown(test_zero_tail, setup_small,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_prepared_live, setup_small,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_cleaner, setup_counted,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_remove_large, setup_large,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
