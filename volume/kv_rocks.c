/*
 * kv_rocks.c - the kv interface on RocksDB; the only file that includes
 * <rocksdb/c.h>. Every RocksDB error (a malloc'ed errptr) is turned into a
 * vol_status with its text kept in vol_errmsg(), and freed here.
 *
 * Settings and why:
 * - Column families `pages`, `log`, `meta` (DESIGN.md). `pages` has a fixed
 *   16-byte prefix extractor (timeline|page) with a bloom filter: a page read
 *   is one Seek per timeline of the chain, and a miss in a timeline that
 *   never wrote the page is answered by the filter without reading a block.
 *   Whole-table scans (retention, discard, check) use total-order iterators,
 *   and so do long reads, which step from page to page (KV_WALK).
 * - The log family's memtable inserts start from the last insert of a key
 *   with the same first 10 bytes (names, barriers: see LOG_HINT), not from
 *   the memtable's last insert.
 * - LZ4 for every family: cheap, and keys, references and log records
 *   shrink (zero-heavy or text pages too, in a format-1 pool's blob files).
 * - The WAL is buffered (manual WAL flush) and written and synced on
 *   sync() and on synced writes: vol_sync() and every control command are
 *   durable on return, plain page writes at the next sync. WAL recovery
 *   replays a prefix of changes, which is exactly what the engine
 *   promises; it tolerates a torn last record (a power cut), but a damaged
 *   record inside the WAL fails the open instead of silently ending the
 *   replay there (which would drop synced changes). The info LOG keeps
 *   warnings and errors only.
 * - One 64 MiB block cache for all families (keys, blob references, the
 *   log and meta families) keeps the daemon's memory bounded. Indexes and
 *   filters are partitioned and go through it too, so a large pool's are
 *   read a 4 KiB partition at a time (see cf_options). Page bytes
 *   are not cached by RocksDB: the kernel caches the blob files already,
 *   and a blob cache only churned (20% less CPU per byte of sequential
 *   reads without it). Background jobs = 2 for this 2-core class of
 *   machine.
 * - A full disk: RocksDB 7.8's C API has no Resume(), and after a failed
 *   WAL write another SyncWAL trips an assertion inside RocksDB, so the
 *   first failed write or sync marks the store failed (later writes and
 *   syncs return that error at once) and recover() closes and reopens the
 *   database. A read-write lock makes that safe: every call, and every
 *   batch and iterator for its whole life, holds it shared; recover() holds
 *   it exclusive. glibc's default rwlock prefers readers, so a thread that
 *   already holds it shared (an open iterator) may take it again. Reopening
 *   skips the flush of the recovered WAL (avoid_flush_during_recovery) and
 *   nothing preallocates files (allow_fallocate=false): both need free
 *   space that a full disk does not have.
 */
#include <assert.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"

struct rkv {
	struct kv base;
	char *dir;
	/* Shared by every call, batch and iterator; exclusive in recover().
	 * db is NULL only if a reopen failed. */
	pthread_rwlock_t rw;
	rocksdb_t *db;
	rocksdb_options_t *dbopts;
	rocksdb_options_t *cfopts[KV_NCF + 1];
	rocksdb_block_based_table_options_t *bbto[KV_NCF + 1];
	rocksdb_cache_t *cache;
	rocksdb_filterpolicy_t *filter;
	rocksdb_column_family_handle_t *cf[KV_NCF + 1]; /* [0] = default */
	uint64_t page_buffer; /* write buffer of the pages family */
	rocksdb_readoptions_t *ro, *ro_bulk, *ro_prefix, *ro_walk;
	rocksdb_writeoptions_t *wo, *wo_sync;
	/* Set by the first failed write or sync (the WAL writer may then be
	 * in an error state where another SyncWAL trips an assertion inside
	 * RocksDB): later writes and syncs fail with it until recover(). */
	pthread_mutex_t fail_mu;
	char *failed;
	/* Opened read-only by KV_SALVAGE because its WAL is damaged: failed
	 * for good (recover() does not retry). */
	bool damaged;
	bool read_only; /* KV_READONLY: nothing is ever written */
};

static void rd_lock(struct rkv *s)
{
	pthread_rwlock_rdlock(&s->rw);
}

static void rd_unlock(struct rkv *s)
{
	pthread_rwlock_unlock(&s->rw);
}

/* Under the shared lock: VOL_OK if the database is open. */
static vol_status r_open_now(struct rkv *s)
{
	if (s->db)
		return VOL_OK;
	pthread_mutex_lock(&s->fail_mu);
	vol_status st = vol__fail(vol__store_status(s->failed ? s->failed : ""),
				  "the pool's store is closed after a failed "
				  "reopen: %s", s->failed ? s->failed : "?");
	pthread_mutex_unlock(&s->fail_mu);
	return st;
}

struct kv_batch {
	struct rkv *s;
	rocksdb_writebatch_t *wb;
};

struct kv_iter {
	struct rkv *s;
	rocksdb_iterator_t *it; /* NULL if the database is closed */
};

static const char *const cf_names[KV_NCF + 1] = {"default", "pages", "log",
						 "meta"};

static vol_status rfail(char *err, const char *what)
{
	vol_status st = vol__fail(vol__store_status(err), "rocksdb %s: %s",
				  what, err);
	free(err);
	return st;
}

/* RocksDB's info LOG goes to /dev/shm/rewindfs-UID/ (a tmpfs; RocksDB names
 * it after the pool's path, flattened) when that can be made: on a full
 * pool disk a failed LOG write aborts Debian's assertion-enabled build, and
 * the LOG is diagnostics, not data. Otherwise it stays in the pool's db
 * folder. A clean close removes it (log_dir_clean). */
static void log_dir_name(char *dir, size_t cap)
{
	snprintf(dir, cap, "/dev/shm/rewindfs-%u", (unsigned)getuid());
}

static void set_log_dir(rocksdb_options_t *o)
{
	char dir[64];
	log_dir_name(dir, sizeof dir);
	struct stat sb;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return;
	if (lstat(dir, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
	    (sb.st_mode & 077))
		return; /* not ours alone: keep the LOG in the pool */
	rocksdb_options_set_db_log_dir(o, dir);
}

/* Remove this pool's info LOG files from the tmpfs folder: RocksDB calls
 * them the absolute db path without its first '/', every character other
 * than [A-Za-z0-9.-] made '_', then "_LOG" (and "_LOG.old.N"). */
static void log_dir_clean(const char *db)
{
	char dir[64], *abs = realpath(db, NULL);
	if (!abs)
		return;
	for (char *c = abs; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
			*c = '_';
	log_dir_name(dir, sizeof dir);
	DIR *d = opendir(dir);
	size_t n = strlen(abs + 1);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, abs + 1, n) &&
		    !strncmp(e->d_name + n, "_LOG", 4))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	free(abs);
}

static rocksdb_column_family_handle_t *cfh(struct rkv *s, enum kv_cf cf)
{
	return s->cf[cf + 1];
}

static vol_status r_get(kv *base, enum kv_cf cf, const void *k, size_t kn,
			void **val, size_t *vn)
{
	struct rkv *s = (struct rkv *)base;
	char *err = NULL;
	size_t n = 0;
	rd_lock(s);
	vol_status st = r_open_now(s);
	char *v = st ? NULL
		     : rocksdb_get_cf(s->db, s->ro, cfh(s, cf), k, kn, &n,
				      &err);
	rd_unlock(s);
	if (st)
		return st;
	if (err)
		return rfail(err, "get");
	if (!v)
		return VOL_ENOENT;
	*val = v;
	*vn = n;
	return VOL_OK;
}

static kv_batch *r_batch_new(kv *base)
{
	kv_batch *b = malloc(sizeof *b);
	if (!b)
		return NULL;
	b->s = (struct rkv *)base;
	b->wb = rocksdb_writebatch_create();
	rd_lock(b->s); /* until batch_free: cf handles stay valid */
	return b;
}

static void r_put(kv_batch *b, enum kv_cf cf, const void *k, size_t kn,
		  const void *v, size_t vn)
{
	rocksdb_writebatch_put_cf(b->wb, cfh(b->s, cf), k, kn, v, vn);
}

static void r_del(kv_batch *b, enum kv_cf cf, const void *k, size_t kn)
{
	rocksdb_writebatch_delete_cf(b->wb, cfh(b->s, cf), k, kn);
}

/* The log family's options start from this (no C setter for it). A
 * memtable insert normally starts from where the previous insert into that
 * memtable went; with this, a key of HINT_MIN bytes or more starts from
 * where the previous insert of a key with the same first HINT_MIN bytes
 * went. A page change puts a change record (`C lsn`, 9 bytes: not hinted)
 * and its pages' names (`N tl lsn page`, 25), a sync a barrier (`B vol ns
 * lsn`, 25): each goes in at the end of its own keys, but one after the
 * other they sent every insert through a full skip-list search from the
 * top. Random unsynced 4 KiB writes: 26.3-27.8 against 23.2-23.6 us of CPU
 * per page (volbench, two alternating runs each; BENCHMARKS.md).
 * RocksDB 7.8 uses the same hints for range deletions' own memtable (a
 * bug, fixed in later releases) and then trips an assertion, so no range
 * deletion in the log family may start with a key of HINT_MIN bytes or
 * more (r_del_range asserts it; every one starts with a tag or a key1). */
#define HINT_MIN 10
#define STR_(x) #x
#define STR(x) STR_(x)
#define LOG_HINT "memtable_insert_with_hint_prefix_extractor=" \
		 "rocksdb.FixedPrefix." STR(HINT_MIN)

static void r_del_range(kv_batch *b, enum kv_cf cf, const void *lo, size_t lon,
			const void *hi, size_t hin)
{
	assert(cf != KV_LOG || lon < HINT_MIN); /* see LOG_HINT */
	rocksdb_writebatch_delete_range_cf(b->wb, cfh(b->s, cf), lo, lon, hi,
					   hin);
}

static size_t r_batch_bytes(kv_batch *b)
{
	size_t n = 0;
	rocksdb_writebatch_data(b->wb, &n);
	return n;
}

static void r_batch_free(kv_batch *b)
{
	if (!b)
		return;
	rocksdb_writebatch_destroy(b->wb);
	rd_unlock(b->s);
	free(b);
}

/* VOL_OK, or the store's earlier failure. */
static vol_status r_failed_now(struct rkv *s)
{
	pthread_mutex_lock(&s->fail_mu);
	vol_status st = VOL_OK;
	if (s->failed && s->damaged)
		st = vol__fail(VOL_ECORRUPT, "%s", s->failed);
	else if (s->failed)
		st = vol__fail(vol__store_status(s->failed),
			       "the pool's store failed earlier and refuses "
			       "changes until it is reopened: %s", s->failed);
	pthread_mutex_unlock(&s->fail_mu);
	return st;
}

static vol_status r_failed(kv *base)
{
	return r_failed_now((struct rkv *)base);
}

static vol_status r_fail_change(struct rkv *s, char *err, const char *what)
{
	pthread_mutex_lock(&s->fail_mu);
	if (!s->failed)
		s->failed = strdup(err);
	pthread_mutex_unlock(&s->fail_mu);
	return rfail(err, what);
}

static vol_status r_write(kv *base, kv_batch *b, bool sync)
{
	struct rkv *s = (struct rkv *)base;
	vol_status st = r_failed_now(s);
	if (st)
		return st;
	char *err = NULL;
	rd_lock(s);
	if (!(st = r_open_now(s)))
		rocksdb_write(s->db, sync ? s->wo_sync : s->wo, b->wb, &err);
	rd_unlock(s);
	if (st)
		return st;
	return err ? r_fail_change(s, err, "write") : VOL_OK;
}

static vol_status r_sync(kv *base)
{
	struct rkv *s = (struct rkv *)base;
	vol_status st = r_failed_now(s);
	if (st)
		return st;
	char *err = NULL;
	rd_lock(s);
	if (!(st = r_open_now(s)))
		rocksdb_flush_wal(s->db, 1, &err);
	rd_unlock(s);
	if (st)
		return st;
	return err ? r_fail_change(s, err, "sync WAL") : VOL_OK;
}

static kv_iter *r_iter_new(kv *base, enum kv_cf cf, enum kv_iter_kind kind)
{
	struct rkv *s = (struct rkv *)base;
	kv_iter *it = malloc(sizeof *it);
	if (!it)
		return NULL;
	const rocksdb_readoptions_t *ro =
		kind == KV_BULK	  ? s->ro_bulk
		: kind == KV_WALK ? s->ro_walk
		: cf == KV_PAGES  ? s->ro_prefix
				  : s->ro;
	it->s = s;
	rd_lock(s); /* until iter_free */
	it->it = s->db ? rocksdb_create_iterator_cf(s->db, ro, cfh(s, cf))
		       : NULL;
	return it;
}

static void r_seek(kv_iter *it, const void *k, size_t kn)
{
	if (it->it)
		rocksdb_iter_seek(it->it, k, kn);
}

static void r_seek_prev(kv_iter *it, const void *k, size_t kn)
{
	if (it->it)
		rocksdb_iter_seek_for_prev(it->it, k, kn);
}

static bool r_valid(kv_iter *it)
{
	return it->it && rocksdb_iter_valid(it->it);
}

static void r_next(kv_iter *it)
{
	rocksdb_iter_next(it->it);
}

static void r_prev(kv_iter *it)
{
	rocksdb_iter_prev(it->it);
}

static const void *r_key(kv_iter *it, size_t *kn)
{
	return rocksdb_iter_key(it->it, kn);
}

static const void *r_value(kv_iter *it, size_t *vn)
{
	return rocksdb_iter_value(it->it, vn);
}

static vol_status r_iter_status(kv_iter *it)
{
	if (!it->it)
		return r_open_now(it->s);
	char *err = NULL;
	rocksdb_iter_get_error(it->it, &err);
	return err ? rfail(err, "iterate") : VOL_OK;
}

static void r_iter_free(kv_iter *it)
{
	if (!it)
		return;
	if (it->it)
		rocksdb_iter_destroy(it->it);
	rd_unlock(it->s);
	free(it);
}

static vol_status r_compact(kv *base, enum kv_cf cf)
{
	struct rkv *s = (struct rkv *)base;
	rd_lock(s);
	vol_status st = r_open_now(s);
	if (!st)
		rocksdb_compact_range_cf(s->db, cfh(s, cf), NULL, 0, NULL, 0);
	rd_unlock(s);
	return st;
}

static uint64_t r_disk_bytes(kv *base)
{
	struct rkv *s = (struct rkv *)base;
	uint64_t total = 0, v = 0;
	rd_lock(s);
	if (!s->db) {
		rd_unlock(s);
		return 0;
	}
	for (int i = 0; i <= KV_NCF; i++)
		if (rocksdb_property_int_cf(s->db, s->cf[i],
					    "rocksdb.live-sst-files-size",
					    &v) == 0)
			total += v;
	if (rocksdb_property_int_cf(s->db, s->cf[KV_PAGES + 1],
				    "rocksdb.live-blob-file-size", &v) == 0)
		total += v;
	if (rocksdb_property_int(s->db, "rocksdb.cur-size-all-mem-tables",
				 &v) == 0)
		total += v;
	rd_unlock(s);
	return total;
}

/* Close the database (not the options): under the exclusive lock or at
 * the end. */
static void db_close(struct rkv *s)
{
	for (int i = 0; i <= KV_NCF; i++) {
		if (s->cf[i])
			rocksdb_column_family_handle_destroy(s->cf[i]);
		s->cf[i] = NULL;
	}
	if (s->db)
		rocksdb_close(s->db);
	s->db = NULL;
}

/* Open the database with the options made at kv_rocks_open. */
static vol_status db_open(struct rkv *s)
{
	char *err = NULL;
	s->db = rocksdb_open_column_families(
		s->dbopts, s->dir, KV_NCF + 1, cf_names,
		(const rocksdb_options_t *const *)s->cfopts, s->cf, &err);
	if (!err)
		return VOL_OK;
	vol_status st = vol__store_status(err);
	/* RocksDB's own lock ("While lock file: .../LOCK: Resource
	 * temporarily unavailable"), not "block checksum mismatch". */
	if (strstr(err, "While lock file") || strstr(err, "/LOCK:"))
		st = VOL_EBUSY;
	vol__fail(st, "cannot open the pool's store %s: %s", s->dir, err);
	free(err);
	memset(s->cf, 0, sizeof s->cf);
	s->db = NULL;
	return st;
}

/* Open read-only, writing nothing: with point-in-time WAL recovery (pit),
 * the state up to the first damaged WAL record; without, the open fails on
 * one. On failure vol_errmsg() says why. */
static bool db_open_ro(struct rkv *s, bool pit)
{
	char *err = NULL;
	rocksdb_options_set_wal_recovery_mode(s->dbopts, pit ? 2 : 0);
	s->db = rocksdb_open_for_read_only_column_families(
		s->dbopts, s->dir, KV_NCF + 1, cf_names,
		(const rocksdb_options_t *const *)s->cfopts, s->cf, 0, &err);
	rocksdb_options_set_wal_recovery_mode(s->dbopts, 0);
	if (!err)
		return true;
	vol__fail(vol__store_status(err), "cannot open the pool's store %s "
		  "read-only: %s", s->dir, err);
	free(err);
	memset(s->cf, 0, sizeof s->cf);
	s->db = NULL;
	return false;
}

static vol_status r_recover(kv *base)
{
	struct rkv *s = (struct rkv *)base;
	pthread_rwlock_wrlock(&s->rw);
	vol_status st = VOL_OK;
	pthread_mutex_lock(&s->fail_mu);
	bool failed = s->failed != NULL;
	pthread_mutex_unlock(&s->fail_mu);
	if (s->damaged) {
		st = r_failed_now(s);
		failed = false;
	}
	if (failed) {
		db_close(s);
		st = db_open(s);
		pthread_mutex_lock(&s->fail_mu);
		free(s->failed);
		s->failed = st ? strdup(vol_errmsg()) : NULL;
		pthread_mutex_unlock(&s->fail_mu);
	}
	if (st && !s->db) {
		/* Keep serving reads: read-only needs no space. The store
		 * stays failed; the next recover() tries read-write again. */
		db_open_ro(s, false);
	}
	pthread_rwlock_unlock(&s->rw);
	return st;
}

static void r_close(kv *base)
{
	struct rkv *s = (struct rkv *)base;
	if (!s)
		return;
	if (s->db && !s->failed && !s->read_only) {
		/* A clean close leaves no WAL to replay: the next open is
		 * quick and every page is in its checksummed table or blob
		 * file. Best effort: a failure leaves the WAL, which works. */
		rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
		rocksdb_flushoptions_set_wait(fo, 1);
		for (int i = 1; i <= KV_NCF; i++) {
			char *err = NULL;
			rocksdb_flush_cf(s->db, fo, s->cf[i], &err);
			free(err);
		}
		rocksdb_flushoptions_destroy(fo);
	}
	db_close(s);
	if (s->dir && !s->failed && !s->read_only)
		log_dir_clean(s->dir);
	for (int i = 0; i <= KV_NCF; i++) {
		if (s->cfopts[i])
			rocksdb_options_destroy(s->cfopts[i]);
		if (s->bbto[i])
			rocksdb_block_based_options_destroy(s->bbto[i]);
	}
	if (s->dbopts)
		rocksdb_options_destroy(s->dbopts);
	if (s->cache)
		rocksdb_cache_destroy(s->cache);
	rocksdb_readoptions_destroy(s->ro);
	rocksdb_readoptions_destroy(s->ro_bulk);
	rocksdb_readoptions_destroy(s->ro_prefix);
	rocksdb_readoptions_destroy(s->ro_walk);
	rocksdb_writeoptions_destroy(s->wo);
	rocksdb_writeoptions_destroy(s->wo_sync);
	pthread_mutex_destroy(&s->fail_mu);
	pthread_rwlock_destroy(&s->rw);
	free(s->failed);
	free(s->dir);
	free(s);
}

static const struct kv_ops rocks_ops = {
	.get = r_get,
	.batch_new = r_batch_new,
	.batch_put = r_put,
	.batch_del = r_del,
	.batch_del_range = r_del_range,
	.batch_bytes = r_batch_bytes,
	.batch_free = r_batch_free,
	.write = r_write,
	.sync = r_sync,
	.iter_new = r_iter_new,
	.iter_seek = r_seek,
	.iter_seek_prev = r_seek_prev,
	.iter_valid = r_valid,
	.iter_next = r_next,
	.iter_prev = r_prev,
	.iter_key = r_key,
	.iter_value = r_value,
	.iter_status = r_iter_status,
	.iter_free = r_iter_free,
	.failed = r_failed,
	.recover = r_recover,
	.compact = r_compact,
	.disk_bytes = r_disk_bytes,
	.close = r_close,
};

/* RocksDB's defaults with `spec` ("name=value;...") applied: the options the
 * C API has no setter for. NULL with vol_errmsg() set if RocksDB refuses
 * them. */
static rocksdb_options_t *options_from(const char *spec)
{
	rocksdb_options_t *base = rocksdb_options_create();
	rocksdb_options_t *o = rocksdb_options_create();
	char *err = NULL;
	rocksdb_get_options_from_string(base, spec, o, &err);
	rocksdb_options_destroy(base);
	if (!err)
		return o;
	vol__fail(VOL_EIO, "rocksdb options: %s", err);
	free(err);
	rocksdb_options_destroy(o);
	return NULL;
}

/* A family's options; NULL with vol_errmsg() set if RocksDB refuses them. */
static rocksdb_options_t *cf_options(struct rkv *s, int i)
{
	rocksdb_options_t *o = i == KV_LOG + 1 ? options_from(LOG_HINT)
					       : rocksdb_options_create();
	if (!o)
		return NULL;
	rocksdb_block_based_table_options_t *t =
		rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(t, s->cache);
	/* Index and filter blocks live in the block cache too, so the
	 * daemon's memory does not grow with the pool (tests/stress saw
	 * +44 MB over 7 GB of data without this); L0's stay pinned. */
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
	rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(
		t, 1);
	rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
		t, 1);
	/* Partitioned index and filters: a table's index and bloom filter
	 * are cut into 4 KiB partitions, loaded as a read needs them, with
	 * only a small top level pinned. With one index and one filter per
	 * table, a 64 MiB table's were about 2 MB, more than the cache could
	 * keep for a large pool: after a restart each cold 8 KiB read loaded
	 * (copied, checksummed, decompressed) megabytes of them, 449 reads/s
	 * against 8,780 partitioned (24 GB written over a 4 GiB volume,
	 * daemon restarted, page cache dropped; BENCHMARKS.md). */
	rocksdb_block_based_options_set_index_type(
		t, rocksdb_block_based_table_index_type_two_level_index_search);
	rocksdb_block_based_options_set_partition_filters(t, 1);
	rocksdb_block_based_options_set_metadata_block_size(t, 4096);
	rocksdb_block_based_options_set_pin_top_level_index_and_filter(t, 1);
	if (i == KV_PAGES + 1) {
		rocksdb_options_set_write_buffer_size(o, s->page_buffer);
		rocksdb_block_based_options_set_filter_policy(t, s->filter);
		s->filter = NULL; /* owned by the table options now */
		rocksdb_block_based_options_set_whole_key_filtering(t, 0);
		rocksdb_options_set_prefix_extractor(
			o, rocksdb_slicetransform_create_fixed_prefix(16));
		rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.05);
		/* Page bytes live in blob files (BlobDB): compactions move
		 * only keys and blob references, so a page is written twice
		 * (WAL, blob file) instead of once per LSM level. Hole
		 * markers and run entries (at most RVAL_MAX, 2 KiB) stay
		 * inline: a run is what every read of its pages looks up
		 * first, and from a blob file that cost a read of the file
		 * each (1 MiB reads 2,461 against 3,967 MB/s, 8 KiB random
		 * reads 163k against 311k/s; BENCHMARKS.md, issue 5 session
		 * 13). Blob GC rewrites the oldest blob files as versions
		 * are deleted, giving space back. */
		rocksdb_options_set_enable_blob_files(o, 1);
		rocksdb_options_set_min_blob_size(o, 4096);
		rocksdb_options_set_blob_file_size(o, 256u << 20);
		rocksdb_options_set_blob_compression_type(
			o, rocksdb_lz4_compression);
		rocksdb_options_set_enable_blob_gc(o, 1);
		/* Only the oldest 5% of blob files: by then most of what
		 * they hold left every window, and relocating the rest
		 * (current versions of cold pages) is cheap. At 0.25,
		 * compactions rewrote a quarter of all history again and
		 * again (a third of the daemon's CPU under fio). */
		rocksdb_options_set_blob_gc_age_cutoff(o, 0.05);

	} else if (i == KV_LOG + 1) {
		/* The name entries come about as fast as the pages' keys,
		 * and atomic flush flushes every family when one is full: an
		 * 8 MiB log memtable flushed the pages' 32 MiB one at a quarter
		 * full. Half its size: 6% less CPU for 16 GiB of 1 MiB writes
		 * (three alternating runs each: 22.7-25.0 s against
		 * 24.3-26.2 s), for up to 16 MiB more memory. */
		rocksdb_options_set_write_buffer_size(
			o, s->page_buffer / 2 > (8u << 20) ? s->page_buffer / 2
							   : 8u << 20);
	} else {
		rocksdb_options_set_write_buffer_size(o, 8u << 20);
	}
	/* Eight L0 tables before an L0 compaction, not four: each one then
	 * merges twice as much with L1, and the pages' and log's tables are
	 * rewritten less often (13% less CPU for 16 GiB of 1 MiB writes,
	 * three alternating runs each: 17.8-21.7 s against 21.0-24.5 s).
	 * A read checks a few more L0 tables' bloom filters. */
	if (i == KV_PAGES + 1 || i == KV_LOG + 1)
		rocksdb_options_set_level0_file_num_compaction_trigger(o, 8);
	/* LZ4 for every family (data and index blocks), instead of the
	 * default snappy for the log and meta: it decodes faster, and one
	 * codec is what tests/corrupt/poolfiles.py reads. */
	rocksdb_options_set_compression(o, rocksdb_lz4_compression);
	rocksdb_options_set_block_based_table_factory(o, t);
	s->bbto[i] = t;
	return o;
}

vol_status kv_rocks_open(const char *dir, bool create, kv **out)
{
	return kv_rocks_open_mode(dir, create ? KV_CREATE : KV_OPEN, out);
}

vol_status kv_rocks_open_mode(const char *dir, enum kv_open_mode mode,
			      kv **out)
{
	bool create = mode == KV_CREATE;
	struct rkv *s = calloc(1, sizeof *s);
	if (!s)
		return vol__fail(VOL_ENOMEM, "out of memory");
	s->base.ops = &rocks_ops;
	pthread_mutex_init(&s->fail_mu, NULL);
	pthread_rwlock_init(&s->rw, NULL); /* glibc: prefers readers */
	s->dir = strdup(dir);
	/* Pages memtable: 1/32 of the pool's filesystem, 4 to 32 MiB. Two
	 * of them bound the daemon's memory for pages, and the space a
	 * flush needs, which the engine keeps free (engine.c, full disk). */
	struct statvfs vfs;
	uint64_t total = 0;
	char *parent = strdup(dir), *slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent)
		*slash = 0;
	if (parent && statvfs(parent, &vfs) == 0)
		total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	free(parent);
	s->page_buffer = total / 32;
	if (s->page_buffer < (4u << 20))
		s->page_buffer = 4u << 20;
	if (s->page_buffer > (32u << 20))
		s->page_buffer = 32u << 20;
	s->cache = rocksdb_cache_create_lru(64u << 20);
	s->filter = rocksdb_filterpolicy_create_bloom(10);
	/* Options the C API has no setter for (see the note at the top). */
	s->dbopts = options_from("avoid_flush_during_recovery=true;"
				 "allow_fallocate=false;"
				 "info_log_level=WARN_LEVEL");
	if (s->dbopts && !s->dir)
		vol__fail(VOL_EIO, "rocksdb options: no memory");
	if (!s->dbopts || !s->dir) {
		r_close(&s->base);
		return VOL_EIO;
	}
	set_log_dir(s->dbopts);
	rocksdb_options_set_create_if_missing(s->dbopts, create);
	rocksdb_options_set_error_if_exists(s->dbopts, create);
	rocksdb_options_set_create_missing_column_families(s->dbopts, create);
	rocksdb_options_set_max_background_jobs(s->dbopts, 2);
	rocksdb_options_set_keep_log_file_num(s->dbopts, 3);
	rocksdb_options_set_max_log_file_size(s->dbopts, 4u << 20);
	/* A WAL file lives until every family flushed what it holds: the
	 * families flush together, so the WAL holds about one memtable of
	 * pages, not max_total_wal_size of them (which small disks felt). */
	rocksdb_options_set_atomic_flush(s->dbopts, 1);
	rocksdb_options_set_max_total_wal_size(s->dbopts, 128u << 20);
	/* The WAL is appended from RocksDB's buffer on sync() and synced
	 * writes, not with one write(2) per change: ~25% less CPU per page
	 * here (bench/, BENCHMARKS.md). Unsynced changes may then be lost by
	 * a kill -9 as by a power cut; durability was only ever promised at
	 * sync, and changes are still recovered as a prefix. */
	rocksdb_options_set_manual_wal_flush(s->dbopts, 1);
	/* Page writes never sync the WAL (the page log is their redo log):
	 * write what accumulates back in the background, 1 MiB at a time, so
	 * that the next command's sync has little left to wait for (it grew
	 * with the writes since the last command: 1 ms p50, 11 ms max after
	 * 4 GiB of writes; volbench). */
	rocksdb_options_set_wal_bytes_per_sync(s->dbopts, 1u << 20);
	/* A damaged record inside the WAL does not silently end the replay
	 * there (point-in-time recovery would drop every synced change after
	 * it, and the volumes would read back an older state): the open
	 * fails. An incomplete last record, what a power cut leaves, is
	 * tolerated. KV_SALVAGE opens such a store read-only with what
	 * precedes the damage, for the operator to copy out. */
	rocksdb_options_set_wal_recovery_mode(s->dbopts, 0);
	/* Let the kernel read ahead in blob files: cold sequential reads
	 * went from ~24 to ~95 MB/s. */
	rocksdb_options_set_advise_random_on_open(s->dbopts, 0);
	for (int i = 0; i <= KV_NCF; i++) {
		if (!(s->cfopts[i] = cf_options(s, i))) {
			r_close(&s->base);
			return VOL_EIO;
		}
	}
	s->ro = rocksdb_readoptions_create();
	s->ro_prefix = rocksdb_readoptions_create();
	rocksdb_readoptions_set_prefix_same_as_start(s->ro_prefix, 1);
	s->ro_bulk = rocksdb_readoptions_create();
	rocksdb_readoptions_set_fill_cache(s->ro_bulk, 0);
	rocksdb_readoptions_set_total_order_seek(s->ro_bulk, 1);
	s->ro_walk = rocksdb_readoptions_create();
	rocksdb_readoptions_set_total_order_seek(s->ro_walk, 1);
	s->wo = rocksdb_writeoptions_create();
	s->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wo_sync, 1);

	if (mode == KV_READONLY) {
		s->read_only = true;
		if (!db_open_ro(s, false)) {
			vol_status st = vol__store_status(vol_errmsg());
			r_close(&s->base);
			return st;
		}
		*out = &s->base;
		return VOL_OK;
	}
	vol_status st = db_open(s);
	if (st == VOL_ECORRUPT) {
		char why[300];
		snprintf(why, sizeof why, "%s", vol_errmsg());
		if (mode != KV_SALVAGE) {
			vol__fail(st, "%s (if the write-ahead log is damaged, "
				      "the salvage mode opens the pool "
				      "read-only with what precedes the "
				      "damage: rewindfs -o salvage)", why);
		} else if (db_open_ro(s, true)) {
			char *msg = NULL;
			if (asprintf(&msg, "salvage: opened read-only with "
					   "what precedes the damage: %s",
				     why) < 0)
				msg = NULL;
			s->failed = msg ? msg : strdup(why);
			s->damaged = true;
			st = VOL_OK;
		} else {
			vol__fail(st, "%s", why);
		}
	}
	if (st) {
		r_close(&s->base);
		return st;
	}
	*out = &s->base;
	return VOL_OK;
}
