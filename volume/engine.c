/*
 * engine.c - pools, volumes, the commit step, sync and barriers.
 *
 * DESIGN
 * A pool is a folder: the marker file `rewindfs-pool` (also the lock: an
 * exclusive flock held while open, so a second opener gets VOL_EBUSY instead
 * of racing RocksDB) and `db/`, one RocksDB database with the families of
 * DESIGN.md. All metadata is loaded into memory at open; RocksDB is written
 * first and memory is updated only after the batch committed, so a failed
 * call changes nothing (invariant 4).
 *
 * Invariants kept here:
 *  I1  LSNs are assigned under pool->mu, and the store gets the changes'
 *      batches in LSN order: a command's batch is written before pool->mu
 *      is released, after what waits in the store queue (store_flush), and
 *      page changes go in through that queue, in order (defer.c). So the
 *      store holds a prefix of the changes and a crash leaves a prefix of
 *      them (the WAL replays a prefix; the page log replays the rest).
 *  I2  Every change writes its log record `C|lsn` in the same batch as its
 *      effects; the newest log record is the pool's LSN after a restart.
 *  I3  Times are clamped to be non-decreasing in LSN order, so barriers keyed
 *      `B|vol|time|lsn` sort by time and by LSN alike, and "the last barrier
 *      at or before T" is one SeekForPrev.
 *  I4  Page versions and sizes are versioned per timeline; a volume is just
 *      (current timeline, segments it presented, snapshots): branching costs
 *      one timeline record whatever the size of the volume or its history.
 *
 * Barriers: vol_sync records a barrier for the volume (its record in the
 * page log; its store entries wait in the store queue, see bar_put) and
 * syncs the page log; RocksDB's WAL only when a record could
 * not go into the page log (pagelog.c). Concurrent syncs share one
 * fdatasync (plog_sync's queue).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>


#include "internal.h"

#define RESERVE_FILE "reserve"

static char *path_join(const char *a, const char *b);

/* ------------------------------------------------------------ errors */

static _Thread_local char errbuf[512];

vol_status vol__fail(vol_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return st;
}

const char *vol_errmsg(void)
{
	return errbuf;
}

vol_status vol__store_status(const char *msg)
{
	if (strstr(msg, "No space left") || strstr(msg, "NoSpace"))
		return VOL_ENOSPC;
	if (strstr(msg, "Corruption"))
		return VOL_ECORRUPT;
	return VOL_EIO;
}

const char *vol_strerror(vol_status st)
{
	switch (st) {
	case VOL_OK: return "ok";
	case VOL_EINVAL: return "invalid argument";
	case VOL_ENOENT: return "no such volume, snapshot or pool";
	case VOL_EEXIST: return "name already exists";
	case VOL_EBUSY: return "pool is in use";
	case VOL_ERANGE: return "out of range";
	case VOL_ENOSPC: return "no space left on the pool's disk";
	case VOL_EIO: return "storage error";
	case VOL_ECORRUPT: return "corrupted data";
	case VOL_ENOMEM: return "out of memory";
	case VOL_ENOTPOOL: return "not a rewindfs pool";
	}
	return "unknown error";
}

/* ------------------------------------------------------------ helpers */

bool vol_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > VOL_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static int64_t wall_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t pool_now(vol_pool *p)
{
	int64_t t = p->clock(p->clock_ctx);
	if (t < p->last_ns)
		t = p->last_ns;
	p->last_ns = t;
	return t;
}

uint64_t pool_budget(const vol_pool *p)
{
	return p->budget_set ? p->budget_set : p->budget_default;
}

int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns)
{
	/* The engine's condition variables wait on the realtime clock. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t at = ts.tv_nsec + (ns > 0 ? ns : 0);
	ts.tv_sec += at / 1000000000;
	ts.tv_nsec = at % 1000000000;
	pthread_cond_timedwait(cv, mu, &ts);
}

struct vol *vol_find(vol_pool *p, vol_id id)
{
	for (size_t i = 0; i < p->nvols; i++)
		if (p->vols[i]->id == id)
			return p->vols[i];
	return NULL;
}

struct vol *vol_find_name(vol_pool *p, const char *name)
{
	for (size_t i = 0; i < p->nvols; i++)
		if (!strcmp(p->vols[i]->name, name))
			return p->vols[i];
	return NULL;
}

struct tl *tl_find(vol_pool *p, uint64_t id)
{
	size_t lo = 0, hi = p->ntls;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->tls[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->ntls && p->tls[lo]->id == id ? p->tls[lo] : NULL;
}

vol_status grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return VOL_OK;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*arr, nc * elem);
	if (!n)
		return vol__fail(VOL_ENOMEM, "out of memory");
	*arr = n;
	*cap = nc;
	return VOL_OK;
}

struct tl *tl_new(uint64_t id, uint64_t anc_id, uint64_t anc_lsn,
		  uint64_t created_lsn, int64_t ns, vol_id owner)
{
	struct tl *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->id = id;
	t->anc_id = anc_id;
	t->anc_lsn = anc_lsn;
	t->created_lsn = created_lsn;
	t->created_ns = ns;
	t->owner = owner;
	return t;
}

static void tl_free(struct tl *t)
{
	if (t) {
		free(t->sizes);
		free(t);
	}
}

vol_status tl_insert(vol_pool *p, struct tl *t)
{
	vol_status st = grow((void **)&p->tls, &p->captls, p->ntls + 1,
			     sizeof *p->tls);
	if (st)
		return st;
	size_t i = p->ntls;
	while (i > 0 && p->tls[i - 1]->id > t->id) {
		p->tls[i] = p->tls[i - 1];
		i--;
	}
	p->tls[i] = t;
	p->ntls++;
	if (t->anc_id)
		t->anc = tl_find(p, t->anc_id);
	return VOL_OK;
}

vol_status tl_size_push(struct tl *t, uint64_t lsn, uint64_t size)
{
	vol_status st = grow((void **)&t->sizes, &t->capsizes, t->nsizes + 1,
			     sizeof *t->sizes);
	if (st)
		return st;
	size_t i = t->nsizes;
	while (i > 0 && t->sizes[i - 1].lsn > lsn) {
		t->sizes[i] = t->sizes[i - 1];
		i--;
	}
	t->sizes[i] = (struct szrec){lsn, size};
	t->nsizes++;
	return VOL_OK;
}

uint64_t size_at(const struct tl *t, uint64_t bound)
{
	for (; t; bound = bound < t->anc_lsn ? bound : t->anc_lsn, t = t->anc) {
		for (size_t i = t->nsizes; i > 0; i--)
			if (t->sizes[i - 1].lsn <= bound)
				return t->sizes[i - 1].size;
	}
	return 0;
}

uint32_t chain_depth(const struct tl *t)
{
	uint32_t d = 0;
	for (; t; t = t->anc)
		d++;
	return d;
}

vol_status seg_push(struct vol *v, uint64_t lsn, int64_t ns, uint64_t tl)
{
	vol_status st = grow((void **)&v->segs, &v->capsegs, v->nsegs + 1,
			     sizeof *v->segs);
	if (st)
		return st;
	v->segs[v->nsegs++] = (struct seg){lsn, ns, tl};
	return VOL_OK;
}

struct vol *vol_alloc(void)
{
	struct vol *v = calloc(1, sizeof *v);
	if (v)
		pthread_mutex_init(&v->wmu, NULL);
	return v;
}

static void vol_free(struct vol *v)
{
	if (!v)
		return;
	pthread_mutex_destroy(&v->wmu);
	free(v->segs);
	free(v->snaps);
	free(v);
}

vol_status pool_reserve(vol_pool *p, size_t vols, size_t tls)
{
	vol_status st = grow((void **)&p->vols, &p->capvols, p->nvols + vols,
			     sizeof *p->vols);
	return st ? st
		  : grow((void **)&p->tls, &p->captls, p->ntls + tls,
			 sizeof *p->tls);
}

vol_status vols_insert(vol_pool *p, struct vol *v)
{
	vol_status st = grow((void **)&p->vols, &p->capvols, p->nvols + 1,
			     sizeof *p->vols);
	if (st)
		return st;
	p->vols[p->nvols++] = v;
	return VOL_OK;
}

void vols_remove(vol_pool *p, struct vol *v)
{
	for (size_t i = 0; i < p->nvols; i++)
		if (p->vols[i] == v) {
			memmove(p->vols + i, p->vols + i + 1,
				(p->nvols - i - 1) * sizeof *p->vols);
			p->nvols--;
			break;
		}
	v->deleted = true;
	v->grave_next = p->grave;
	p->grave = v;
}

vol_status vol_begin(vol_pool *p, vol_id id, struct vol **out)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	pthread_mutex_unlock(&p->mu);
	if (!v)
		return vol__fail(VOL_ENOENT, "no volume with id %llu",
				 (unsigned long long)id);
	pthread_mutex_lock(&v->wmu);
	if (v->deleted) {
		pthread_mutex_unlock(&v->wmu);
		return vol__fail(VOL_ENOENT, "volume %s was deleted", v->name);
	}
	*out = v;
	return VOL_OK;
}

void vol_end(struct vol *v)
{
	pthread_mutex_unlock(&v->wmu);
}

vol_status change_begin(vol_pool *p, vol_id id, struct vol **v, kv_batch **b)
{
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	st = vol_begin(p, id, v);
	if (st)
		return st;
	if (!(*b = p->kv->ops->batch_new(p->kv))) {
		vol_end(*v);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->mu);
	/* A command's batch may delete barriers or put volume records, and
	 * its LSN follows the page changes': what waits goes in first. */
	if ((st = store_flush(p))) {
		change_end(p, *v, *b);
		return st;
	}
	return VOL_OK;
}

void change_end(vol_pool *p, struct vol *v, kv_batch *b)
{
	pthread_mutex_unlock(&p->mu);
	p->kv->ops->batch_free(b);
	vol_end(v);
}

int64_t vol_earliest(vol_pool *p, const struct vol *v, int64_t now)
{
	(void)p;
	int64_t e = now - v->window_ns;
	if (e < v->created_ns)
		e = v->created_ns;
	if (e < v->floor_ns)
		e = v->floor_ns;
	return e;
}

/* ------------------------------------------------------------ full disk
 *
 * RocksDB needs free space to flush its memtables and to reopen, and
 * deleting needs it too, so the pool never lets page writes fill its disk:
 * with R = 1/16 of the filesystem (8 to 128 MiB), page writes fail at once
 * with VOL_ENOSPC ("low on space") when less than R is free (checked with
 * statvfs at least every R/4 bytes written), and resume once 2R is free.
 * Everything that frees space (deleting snapshots and volumes, shorter
 * windows, retention passes, discards) and syncs keep working meanwhile.
 * In case something else fills the disk, the pool also keeps a reserve
 * file POOL/reserve of R bytes that is deleted when the store itself fails
 * with a full disk; the store is then reopened (kv.h). So freeing space
 * never needs free space.
 */

/* 1/div of the size of path's filesystem, clamped to [lo, hi]. */
static uint64_t disk_share(const char *path, uint64_t div, uint64_t lo,
			   uint64_t hi)
{
	struct statvfs vfs;
	uint64_t total = 0;
	if (statvfs(path, &vfs) == 0)
		total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	uint64_t b = total / div;
	return b < lo ? lo : b > hi ? hi : b;
}

static uint64_t disk_free_bytes(const char *path)
{
	struct statvfs vfs;
	if (statvfs(path, &vfs))
		return 0;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize;
}

/* Make POOL/reserve hold p->reserve_bytes (under heal_mu). */
static bool reserve_make(vol_pool *p)
{
	char *f = path_join(p->path, RESERVE_FILE);
	if (!f)
		return false;
	bool ok = false;
	int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ok = posix_fallocate(fd, 0, (off_t)p->reserve_bytes) == 0 &&
		     fsync(fd) == 0;
		close(fd);
		if (!ok)
			unlink(f);
	}
	free(f);
	return ok;
}

static void space_short(vol_pool *p);

void pool_space_short(vol_pool *p)
{
	pthread_mutex_lock(&p->heal_mu);
	space_short(p);
	pthread_mutex_unlock(&p->heal_mu);
}

/* The store said the disk is full (under heal_mu). */
static void space_short(vol_pool *p)
{
	if (p->low_space)
		return;
	char *f = path_join(p->path, RESERVE_FILE);
	if (f) {
		unlink(f);
		free(f);
	}
	__atomic_store_n(&p->low_space, true, __ATOMIC_RELEASE);
}

/* Under heal_mu: leave low-space mode if 2R is free (and the reserve is
 * back), enter it if less than R is free. */
static void space_check(vol_pool *p, uint64_t free_b)
{
	if (p->low_space) {
		if (free_b >= 2 * p->reserve_bytes && reserve_make(p))
			__atomic_store_n(&p->low_space, false, __ATOMIC_RELEASE);
	} else if (free_b < p->reserve_bytes) {
		__atomic_store_n(&p->low_space, true, __ATOMIC_RELEASE);
	}
}

vol_status pool_enter(vol_pool *p, uint64_t data)
{
	kv *s = p->kv;
	if (p->read_only)
		return vol__fail(VOL_EINVAL, "the pool was opened read-only");
	if (p->damaged[0])
		return vol__fail(VOL_ECORRUPT,
				 "the pool is damaged, so it is read-only (read "
				 "or copy its volumes out; `rewindctl check` "
				 "lists the damage): %s", p->damaged);
	vol_status st = s->ops->failed(s);
	if (st) {
		char why[sizeof p->store_error];
		snprintf(why, sizeof why, "%s", vol_errmsg());
		pthread_mutex_lock(&p->heal_mu);
		if (st == VOL_ENOSPC)
			space_short(p);
		int64_t now = mono_ns();
		/* Reopen at most once a second (each costs a WAL replay). */
		if (s->ops->failed(s) && now - p->heal_ns >= 1000000000) {
			p->heal_ns = now;
			vol_status rst = s->ops->recover(s);
			snprintf(p->store_error, sizeof p->store_error,
				 rst ? "%s; reopening the store failed too: %s"
				     : "%s; the store was reopened (writes not "
				       "yet synced then may be lost)",
				 why, rst ? vol_errmsg() : "");
		}
		st = s->ops->failed(s);
		pthread_mutex_unlock(&p->heal_mu);
		if (st)
			return st; /* its message is in vol_errmsg() */
	}
	if (!data)
		return VOL_OK;
	bool low = __atomic_load_n(&p->low_space, __ATOMIC_ACQUIRE);
	if (!low && __atomic_add_fetch(&p->unchecked, data, __ATOMIC_RELAXED) <
			    p->reserve_bytes / 4)
		return VOL_OK;
	pthread_mutex_lock(&p->heal_mu);
	__atomic_store_n(&p->unchecked, 0, __ATOMIC_RELAXED);
	uint64_t free_b = disk_free_bytes(p->path);
	space_check(p, free_b);
	if (p->low_space)
		st = vol__fail(VOL_ENOSPC,
			       "the pool's disk is full: %llu bytes free, "
			       "page writes resume at %llu (delete snapshots "
			       "or volumes, or shorten windows: retention "
			       "then frees the space)",
			       (unsigned long long)free_b,
			       (unsigned long long)(2 * p->reserve_bytes));
	pthread_mutex_unlock(&p->heal_mu);
	return st;
}

/* At open, before the store: size the reserve. With less than R free, give
 * the reserve back first: RocksDB needs room to open (its MANIFEST, and its
 * info LOG, whose failed write aborts Debian's assertion-enabled build),
 * and the pool starts low on space. Otherwise make sure the reserve is
 * there (when 2R is free; else start low on space without it). */
static void reserve_open(vol_pool *p)
{
	uint64_t r = disk_share(p->path, 16, 8u << 20, 128u << 20);
	p->reserve_bytes = r;
	p->unchecked = r; /* check at the first page write */
	uint64_t free_b = disk_free_bytes(p->path);
	char *f = path_join(p->path, RESERVE_FILE);
	struct stat sb;
	bool have = f && stat(f, &sb) == 0 && (uint64_t)sb.st_blocks * 512 >= r;
	free(f);
	if (free_b < r)
		space_short(p);
	else if (!have && (free_b < 2 * r || !reserve_make(p)))
		p->low_space = true;
}

/* ------------------------------------------------------------ records */

/* Pool record: magic, version, page size, created, budget, next id. */
void put_pool_record(vol_pool *p, kv_batch *b)
{
	struct buf r = {0};
	buf_str(&r, VOL_POOL_MAGIC);
	buf_u64(&r, VOL_POOL_VERSION);
	buf_u64(&r, p->page_size);
	buf_u64(&r, (uint64_t)p->created_ns);
	buf_u64(&r, p->budget_set);
	buf_u64(&r, p->next_id);
	buf_u64(&r, p->run_group);
	uint8_t k[1] = {MT_POOL};
	p->kv->ops->batch_put(b, KV_META, k, 1, r.d, r.n);
}

void put_vol_record(vol_pool *p, kv_batch *b, const struct vol *v)
{
	struct buf r = {0};
	buf_u64(&r, 1); /* record version */
	buf_str(&r, v->name);
	buf_u64(&r, v->tl->id);
	buf_u64(&r, v->lsn);
	buf_u64(&r, (uint64_t)v->created_ns);
	buf_u64(&r, v->created_lsn);
	buf_u64(&r, (uint64_t)v->window_ns);
	buf_u64(&r, (uint64_t)v->floor_ns);
	buf_u64(&r, v->source);
	buf_u64(&r, v->src_tl);
	buf_u64(&r, v->src_lsn);
	buf_u64(&r, v->bytes_written);
	buf_u64(&r, v->budget_alert);
	uint8_t k[16];
	p->kv->ops->batch_put(b, KV_META, k, key1(k, MT_VOL, v->id), r.d, r.n);
}

void put_tl_record(kv_batch *b, kv *s, const struct tl *t)
{
	struct buf r = {0};
	buf_u64(&r, t->anc_id);
	buf_u64(&r, t->anc_lsn);
	buf_u64(&r, t->created_lsn);
	buf_u64(&r, (uint64_t)t->created_ns);
	buf_u64(&r, t->owner);
	uint8_t k[16];
	s->ops->batch_put(b, KV_META, k, key1(k, MT_TL, t->id), r.d, r.n);
}

void put_barrier(kv *s, kv_batch *b, vol_id vol, int64_t ns, uint64_t lsn,
		 uint64_t tl)
{
	uint8_t k[32], v[8];
	be64_put(v, tl);
	s->ops->batch_put(b, KV_LOG, k,
			  key3(k, LT_BARRIER, vol, (uint64_t)ns, lsn), v, 8);
}

void put_change(vol_pool *p, kv_batch *b, uint64_t lsn, int64_t time_ns,
		enum change_kind kind, vol_id vol, uint64_t tl, uint64_t first,
		uint64_t count)
{
	struct buf r = {0};
	buf_u64(&r, (uint64_t)time_ns);
	buf_u64(&r, kind);
	buf_u64(&r, vol);
	buf_u64(&r, tl);
	buf_u64(&r, first);
	buf_u64(&r, count);
	uint8_t k[16];
	p->kv->ops->batch_put(b, KV_LOG, k, key1(k, LT_CHANGE, lsn), r.d, r.n);
}

vol_status pool_commit(vol_pool *p, kv_batch *b, uint64_t lsn,
		       int64_t time_ns, enum change_kind kind, vol_id vol,
		       uint64_t tl, uint64_t first, uint64_t count)
{
	put_change(p, b, lsn, time_ns, kind, vol, tl, first, count);
	/* Page changes are durable at the next sync, like a disk's writes
	 * (through the page log, which can replay them: pagelog.c); every
	 * other change (branching, names, snapshots, sizes, windows) answers
	 * a command and is durable when it returns. */
	bool sync = kind != CH_WRITE && kind != CH_DISCARD;
	vol_status st = p->kv->ops->write(p->kv, b, sync);
	if (st == VOL_OK)
		p->lsn = lsn;
	return st;
}

/* ------------------------------------------------------------ load */

/* Pages per run group: a power of two in [RUN_MIN, RUN_GROUP_MAX]. */
static bool run_group_ok(uint32_t g)
{
	return g >= RUN_MIN && g <= RUN_GROUP_MAX && (g & (g - 1)) == 0;
}

static vol_status read_pool_record(vol_pool *p)
{
	uint8_t k[1] = {MT_POOL};
	void *v;
	size_t n;
	vol_status st = p->kv->ops->get(p->kv, KV_META, k, 1, &v, &n);
	if (st == VOL_ENOENT)
		return vol__fail(VOL_ENOTPOOL, "%s: no pool record", p->path);
	if (st)
		return st;
	struct rd r = {v, n, false};
	char magic[32];
	rd_str(&r, magic, sizeof magic);
	uint64_t ver = rd_u64(&r);
	p->page_size = (uint32_t)rd_u64(&r);
	p->created_ns = (int64_t)rd_u64(&r);
	p->budget_set = rd_u64(&r);
	p->next_id = rd_u64(&r);
	/* Format 4 added it; a record without it had no runs. */
	p->run_group = r.n >= 8 ? (uint32_t)rd_u64(&r) : RUN_GROUP_MAX;
	free(v);
	if (strcmp(magic, VOL_POOL_MAGIC))
		return vol__fail(VOL_ENOTPOOL, "%s: not a rewindfs pool",
				 p->path);
	if (r.bad)
		return vol__fail(VOL_ECORRUPT, "%s: the pool record is damaged",
				 p->path);
	p->format = ver;
	if (ver < 1 || ver > VOL_POOL_VERSION)
		return vol__fail(VOL_ENOTPOOL,
				 "%s: pool format %llu is not supported",
				 p->path, (unsigned long long)ver);
	if (!run_group_ok(p->run_group))
		return vol__fail(VOL_ECORRUPT, "%s: the pool record's run "
				 "group (%u pages) is not valid", p->path,
				 p->run_group);
	return VOL_OK;
}

typedef vol_status (*load_fn)(vol_pool *p, const uint8_t *k, size_t kn,
			      const uint8_t *v, size_t vn);

static vol_status scan_tag(vol_pool *p, enum kv_cf cf, uint8_t tag, load_fn fn)
{
	kv *s = p->kv;
	kv_iter *it = s->ops->iter_new(s, cf, KV_BULK);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	vol_status st = VOL_OK;
	for (s->ops->iter_seek(it, &tag, 1); s->ops->iter_valid(it);
	     s->ops->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *k = s->ops->iter_key(it, &kn);
		if (kn < 1 || k[0] != tag)
			break;
		const uint8_t *v = s->ops->iter_value(it, &vn);
		if ((st = fn(p, k, kn, v, vn)))
			break;
	}
	if (!st)
		st = s->ops->iter_status(it);
	s->ops->iter_free(it);
	return st;
}

static vol_status load_tl(vol_pool *p, const uint8_t *k, size_t kn,
			  const uint8_t *v, size_t vn)
{
	struct rd r = {v, vn, false};
	uint64_t anc = rd_u64(&r), anc_lsn = rd_u64(&r), clsn = rd_u64(&r);
	int64_t ns = (int64_t)rd_u64(&r);
	uint64_t owner = rd_u64(&r);
	if (r.bad || kn != 9)
		return vol__fail(VOL_ECORRUPT, "bad timeline record");
	struct tl *t = tl_new(be64_get(k + 1), anc, anc_lsn, clsn, ns, owner);
	if (!t)
		return vol__fail(VOL_ENOMEM, "out of memory");
	vol_status st = tl_insert(p, t);
	if (st)
		tl_free(t);
	return st;
}

static vol_status load_size(vol_pool *p, const uint8_t *k, size_t kn,
			    const uint8_t *v, size_t vn)
{
	if (kn != 17 || vn != 8)
		return vol__fail(VOL_ECORRUPT, "bad size record");
	struct tl *t = tl_find(p, be64_get(k + 1));
	if (!t)
		return vol__fail(VOL_ECORRUPT,
				 "size record of missing timeline %llu",
				 (unsigned long long)be64_get(k + 1));
	return tl_size_push(t, be64_get(k + 9), be64_get(v));
}

static vol_status load_vol(vol_pool *p, const uint8_t *k, size_t kn,
			   const uint8_t *val, size_t vn)
{
	struct rd r = {val, vn, false};
	struct vol *v = vol_alloc();
	if (!v)
		return vol__fail(VOL_ENOMEM, "out of memory");
	rd_u64(&r);
	rd_str(&r, v->name, sizeof v->name);
	uint64_t tl = rd_u64(&r);
	v->lsn = rd_u64(&r);
	v->created_ns = (int64_t)rd_u64(&r);
	v->created_lsn = rd_u64(&r);
	v->window_ns = (int64_t)rd_u64(&r);
	v->floor_ns = (int64_t)rd_u64(&r);
	v->source = rd_u64(&r);
	v->src_tl = rd_u64(&r);
	v->src_lsn = rd_u64(&r);
	v->bytes_written = rd_u64(&r);
	v->budget_alert = rd_u64(&r) != 0;
	v->id = kn == 9 ? be64_get(k + 1) : 0;
	v->tl = tl_find(p, tl);
	if (r.bad || !v->id || !v->tl) {
		vol_free(v);
		return vol__fail(VOL_ECORRUPT, "bad volume record");
	}
	v->size = size_at(v->tl, LSN_MAX);
	vol_status st = vols_insert(p, v);
	if (st)
		vol_free(v);
	return st;
}

static vol_status load_seg(vol_pool *p, const uint8_t *k, size_t kn,
			   const uint8_t *v, size_t vn)
{
	struct vol *vo = kn == 17 ? vol_find(p, be64_get(k + 1)) : NULL;
	if (!vo || vn != 16)
		return vol__fail(VOL_ECORRUPT, "bad segment record");
	return seg_push(vo, be64_get(k + 9), (int64_t)be64_get(v + 8),
			be64_get(v));
}

static vol_status load_snap(vol_pool *p, const uint8_t *k, size_t kn,
			    const uint8_t *v, size_t vn)
{
	struct vol *vo = kn > 9 ? vol_find(p, be64_get(k + 1)) : NULL;
	if (!vo || vn != 32 || kn - 9 > VOL_NAME_MAX)
		return vol__fail(VOL_ECORRUPT, "bad snapshot record");
	vol_status st = grow((void **)&vo->snaps, &vo->capsnaps,
			     vo->nsnaps + 1, sizeof *vo->snaps);
	if (st)
		return st;
	struct snap *s = &vo->snaps[vo->nsnaps++];
	memset(s, 0, sizeof *s);
	memcpy(s->name, k + 9, kn - 9);
	s->pt.timeline = be64_get(v);
	s->pt.lsn = be64_get(v + 8);
	s->pt.time_ns = (int64_t)be64_get(v + 16);
	s->created_ns = (int64_t)be64_get(v + 24);
	return VOL_OK;
}

static vol_status load_hist(vol_pool *p, const uint8_t *k, size_t kn,
			    const uint8_t *v, size_t vn)
{
	(void)v;
	(void)vn;
	struct vol *vo = kn == 17 ? vol_find(p, be64_get(k + 1)) : NULL;
	if (!vo)
		return vol__fail(VOL_ECORRUPT, "bad backtrack record");
	vo->nhist = be64_get(k + 9) + 1;
	return VOL_OK;
}

static vol_status load_last_lsn(vol_pool *p)
{
	kv *s = p->kv;
	kv_iter *it = s->ops->iter_new(s, KV_LOG, KV_BULK);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	uint8_t k[16];
	key1(k, LT_CHANGE, LSN_MAX);
	s->ops->iter_seek_prev(it, k, 9);
	if (s->ops->iter_valid(it)) {
		size_t kn, vn;
		const uint8_t *kk = s->ops->iter_key(it, &kn);
		const uint8_t *v = s->ops->iter_value(it, &vn);
		if (kn == 9 && kk[0] == LT_CHANGE && vn >= 8) {
			p->lsn = be64_get(kk + 1);
			p->last_ns = (int64_t)be64_get(v);
		}
	}
	vol_status st = s->ops->iter_status(it);
	s->ops->iter_free(it);
	return st;
}

static vol_status load_all(vol_pool *p)
{
	vol_status st;
	if ((st = read_pool_record(p)))
		return st;
	/* A damaged change log (its newest records are what gives the pool
	 * its LSN) leaves the pages and the metadata readable: open
	 * read-only, so the volumes can be read, copied out and checked. */
	if ((st = load_last_lsn(p)) == VOL_ECORRUPT)
		snprintf(p->damaged, sizeof p->damaged, "%s", vol_errmsg());
	else if (st)
		return st;
	if ((st = scan_tag(p, KV_META, MT_TL, load_tl)) ||
	    (st = scan_tag(p, KV_META, MT_SIZE, load_size)) ||
	    (st = scan_tag(p, KV_META, MT_VOL, load_vol)) ||
	    (st = scan_tag(p, KV_META, MT_SEG, load_seg)) ||
	    (st = scan_tag(p, KV_META, MT_SNAP, load_snap)) ||
	    (st = scan_tag(p, KV_META, MT_HIST, load_hist)))
		return st;
	for (size_t i = 0; i < p->ntls; i++) {
		struct tl *t = p->tls[i];
		if (t->anc_id && !t->anc)
			return vol__fail(VOL_ECORRUPT,
					 "timeline %llu: ancestor %llu missing",
					 (unsigned long long)t->id,
					 (unsigned long long)t->anc_id);
	}
	for (size_t i = 0; i < p->nvols; i++) {
		struct vol *v = p->vols[i];
		if (!v->nsegs)
			return vol__fail(VOL_ECORRUPT,
					 "volume %s has no history", v->name);
		/* After a restart the next sync records a fresh barrier. */
		v->barrier_lsn = 0;
		if (v->lsn < v->segs[v->nsegs - 1].start_lsn)
			v->lsn = v->segs[v->nsegs - 1].start_lsn;
		if (p->damaged[0] && p->lsn < v->lsn)
			p->lsn = v->lsn; /* for the record: nothing changes */
	}
	return VOL_OK;
}

/* ------------------------------------------------------------ pool */

static char *path_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

/* The pool holds whole filesystem images: only its owner may read it,
 * whatever the umask of whoever created it (RocksDB creates its files with
 * the process umask). Folders 0700, files 0600; best effort. */
static void tighten_modes(const char *path)
{
	chmod(path, 0700);
	char *db = path_join(path, VOL_DB_DIR);
	if (!db)
		return;
	chmod(db, 0700);
	DIR *d = opendir(db);
	if (d) {
		int fd = dirfd(d);
		struct dirent *e;
		struct stat sb;
		while ((e = readdir(d)))
			if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) ==
				    0 &&
			    S_ISREG(sb.st_mode) && (sb.st_mode & 077))
				fchmodat(fd, e->d_name, 0600, 0);
		closedir(d);
	}
	free(db);
}

static bool page_size_ok(uint32_t ps)
{
	return ps >= 4096 && ps <= PAGE_SIZE_MAX && (ps & (ps - 1)) == 0;
}

vol_status vol_pool_create(const char *path, const vol_pool_opts *opts)
{
	uint32_t ps = opts && opts->page_size ? opts->page_size : 4096;
	if (!page_size_ok(ps))
		return vol__fail(VOL_EINVAL,
				 "page size %u: must be a power of two from "
				 "4096 to 65536", ps);
	uint32_t rg = opts && opts->run_group ? opts->run_group
					      : RUN_GROUP_MAX;
	if (!run_group_ok(rg))
		return vol__fail(VOL_EINVAL, "run group %u: must be a power "
				 "of two from %d to %d", rg, RUN_MIN,
				 RUN_GROUP_MAX);
	if (mkdir(path, 0700) && errno != EEXIST)
		return vol__fail(errno == ENOSPC ? VOL_ENOSPC : VOL_EIO,
				 "cannot create %s: %s", path, strerror(errno));
	if (!dir_empty(path))
		return vol__fail(VOL_EEXIST, "%s exists and is not empty", path);
	chmod(path, 0700);

	vol_status st = VOL_ENOMEM;
	char *db = path_join(path, VOL_DB_DIR);
	char *marker = path_join(path, VOL_MARKER_FILE);
	kv *s = NULL;
	kv_batch *b = NULL;
	if (!db || !marker)
		goto out;
	if ((st = kv_rocks_open(db, true, &s)))
		goto out;
	vol_pool tmp = {.kv = s, .page_size = ps, .next_id = 1,
			.created_ns = wall_ns(NULL), .run_group = rg};
	if (opts)
		tmp.budget_set = opts->history_budget;
	if (!(b = s->ops->batch_new(s))) {
		st = vol__fail(VOL_ENOMEM, "out of memory");
		goto out;
	}
	put_pool_record(&tmp, b);
	if ((st = s->ops->write(s, b, true)))
		goto out;
	/* The marker is written last: a half-created pool is not a pool. */
	int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		st = vol__fail(VOL_EIO, "cannot create %s: %s", marker,
			       strerror(errno));
		goto out;
	}
	char text[128];
	int n = snprintf(text, sizeof text, "%s %d\npage_size %u\n",
			 VOL_POOL_MAGIC, VOL_POOL_VERSION, ps);
	if (write(fd, text, (size_t)n) != n || fsync(fd)) {
		st = vol__fail(VOL_EIO, "cannot write %s: %s", marker,
			       strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	st = VOL_OK;
out:
	if (s) {
		s->ops->batch_free(b);
		s->ops->close(s);
	}
	if (st == VOL_OK)
		tighten_modes(path);
	free(db);
	free(marker);
	return st;
}

static void stop_retention(vol_pool *p)
{
	if (!p->retention_running)
		return;
	pthread_mutex_lock(&p->mu);
	p->retention_stop = true;
	pthread_cond_broadcast(&p->retention_cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->retention_thread, NULL);
	p->retention_running = false;
}

static void pool_free(vol_pool *p)
{
	dq_stop(p); /* a failed open may have started it */
	if (p->kv)
		p->kv->ops->close(p->kv);
	plog_close(p->plog);
	for (size_t i = 0; i < p->nvols; i++)
		vol_free(p->vols[i]);
	for (struct vol *v = p->grave, *n; v; v = n) {
		n = v->grave_next;
		vol_free(v);
	}
	for (size_t i = 0; i < p->ntls; i++)
		tl_free(p->tls[i]);
	free(p->vols);
	free(p->tls);
	free(p->replayed.v);
	free(p->pend);
	free(p->bar);
	dq_free(p);
	if (p->lockfd >= 0)
		close(p->lockfd);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->retention_mu);
	pthread_mutex_destroy(&p->heal_mu);
	pthread_cond_destroy(&p->retention_cv);
	free(p->path);
	free(p);
}

/* The page log's segment size: 1/64 of the disk, 4-64 MiB (a cleaned
 * segment needs at most half of it free, less than the headroom). */
static uint64_t seg_bytes_default(const char *path)
{
	return disk_share(path, 64, 4u << 20, 64u << 20);
}

/* A page-log position stored under meta key `tag`; {0, 0} if none. */
static vol_status get_pref(vol_pool *p, uint8_t tag, struct pref *out)
{
	void *v;
	size_t vn;
	vol_status st = p->kv->ops->get(p->kv, KV_META, &tag, 1, &v, &vn);
	if (st == VOL_ENOENT)
		return VOL_OK;
	if (st)
		return st;
	if (vn == 16)
		*out = (struct pref){be64_get(v), be64_get(v + 8)};
	free(v);
	return VOL_OK;
}

void put_pref(kv *s, kv_batch *b, uint8_t tag, struct pref at)
{
	uint8_t v[16];
	be64_put(v, at.seg);
	be64_put(v + 8, at.off);
	s->ops->batch_put(b, KV_META, &tag, 1, v, 16);
}

struct pref plog_check_from(vol_pool *p)
{
	struct pref applied = {0, 0}, durable = {0, 0};
	if (get_pref(p, MT_APPLIED, &applied) ||
	    get_pref(p, MT_DURABLE, &durable))
		return (struct pref){0, 0};
	/* The store may be ahead of the durable point (its batches are not
	 * synced with the log), or behind it (the WAL is not synced). */
	return pref_lt(durable, applied) ? durable : applied;
}

bool plog_unfinished(vol_pool *p, struct pref at, uint64_t end)
{
	struct pref last = plog_end(p->plog);
	return plog_same_boot(p->plog) && !pref_lt(at, p->durable) &&
	       at.seg == last.seg && end >= last.off;
}

/* The open fails: the page log lost a change the store does not have. */
static vol_status log_corrupt(vol_pool *p, struct pref at, const char *what)
{
	return vol__fail(VOL_ECORRUPT,
			 "pool %s: the page log is corrupt near segment %016llx "
			 "offset %llu: %s (`rewindctl check` lists the damage; "
			 "`rewindfs -o salvage` mounts the pool read-only as "
			 "its store has it)", p->path,
			 (unsigned long long)at.seg,
			 (unsigned long long)at.off, what);
}

/* After the replay: decide what the damage found in the page log is.
 * On a machine that restarted, damage after the durable point is what a
 * power cut leaves of unsynced writes: the log is cut there and the
 * versions that refer past the cut are dropped (a disk loses its cache).
 * Anything else is damage: kept (reads of what is stored there fail),
 * except the tail of an append a kill cut short; a change whose commit
 * record it destroyed makes the open fail (salvage mounts the store's
 * state read-only). */
static vol_status plog_settle(vol_pool *p, struct replay_out *o,
			      struct pref applied, struct pref durable)
{
	bool same = plog_same_boot(p->plog);
	struct pref cut = {UINT64_MAX, 0};
	size_t kept = 0;
	const struct prange *lost = NULL; /* may have held a commit record */
	for (size_t i = 0; i < o->ndamage; i++) {
		struct prange *d = &o->damage[i];
		/* Below the durable point nothing can be a tear. */
		if ((!same && !pref_lt(d->at, durable)) ||
		    plog_unfinished(p, d->at, d->end)) {
			if (pref_lt(d->at, cut))
				cut = d->at;
		} else if (pref_lt(d->at, cut)) {
			kept++;
			/* after what the store has, and not only pages or a
			 * barrier: a change the store lacks may be lost */
			if (!lost && i >= o->proven &&
			    !pref_lt(d->at, applied) &&
			    (d->type < 0 || d->type == PREC_COMMIT))
				lost = d;
		}
	}
	char what[64];
	if (lost && pref_lt(lost->at, cut))
		return log_corrupt(p, lost->at, "a change after what the "
				   "store holds may be lost there");
	if (o->gap_lsn && !pref_lt(cut, o->gap_at)) {
		snprintf(what, sizeof what, "change %llu is missing before it",
			 (unsigned long long)o->gap_lsn);
		return log_corrupt(p, o->gap_at, what);
	}
	/* The store refers past the intact records: lost by a power cut. */
	if (!same && pref_lt(o->valid_end, applied) &&
	    !pref_lt(o->valid_end, durable) && pref_lt(o->valid_end, cut))
		cut = o->valid_end;
	vol_status st = VOL_OK;
	uint64_t dropped = 0;
	if (cut.seg != UINT64_MAX &&
	    (!(st = pages_drop_dangling(p, cut, &dropped))))
		st = plog_truncate(p->plog, cut);
	if (st)
		return st;
	if (dropped)
		snprintf(p->store_error, sizeof p->store_error,
			 "recovered from a crash: %llu page versions written "
			 "after the last sync were lost",
			 (unsigned long long)dropped);
	else if (kept)
		snprintf(p->store_error, sizeof p->store_error,
			 "the page log has %zu damaged stretches: pages stored "
			 "there read as errors (`rewindctl check` lists them)",
			 kept);
	return VOL_OK;
}

/* Pools of format 1 and 2 become format 3: an LT_NAME entry for every
 * page version (from the pages family itself, in batches), then one synced
 * batch removes the LT_VERSION entries and writes the pool record of
 * format 3. An open stopped half-way does it all again (the puts are the
 * same). */
static vol_status names_from_versions(vol_pool *p)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	kv_iter *it = o->iter_new(s, KV_PAGES, KV_BULK);
	kv_batch *b = o->batch_new(s);
	vol_status st = it && b ? VOL_OK : vol__fail(VOL_ENOMEM, "out of memory");
	uint8_t from[PKEY_LEN] = {0}; /* a whole key: see retention.c */
	if (!st)
		o->iter_seek(it, from, PKEY_LEN);
	for (; !st && o->iter_valid(it); o->iter_next(it)) {
		size_t kn;
		const uint8_t *k = o->iter_key(it, &kn);
		if (kn != PKEY_LEN)
			continue;
		uint8_t nk[NKEY_LEN];
		nkey_make(nk, k);
		o->batch_put(b, KV_LOG, nk, NKEY_LEN, "", 0);
		if (o->batch_bytes(b) >= (4u << 20)) {
			st = o->write(s, b, false);
			o->batch_free(b);
			b = NULL;
			if (!st && !(b = o->batch_new(s)))
				st = vol__fail(VOL_ENOMEM, "out of memory");
		}
	}
	if (!st)
		st = o->iter_status(it);
	if (!st) {
		uint8_t tag[2] = {LT_VERSION, LT_VERSION + 1};
		o->batch_del_range(b, KV_LOG, tag, 1, tag + 1, 1);
		put_pool_record(p, b);
		st = o->write(s, b, true);
	}
	if (it)
		o->iter_free(it);
	if (b)
		o->batch_free(b);
	return st;
}

/* A pool of format 3 becomes format 4: only its record changes (run
 * entries are new keys; the pool has none yet). */
static vol_status format_record(vol_pool *p)
{
	kv *s = p->kv;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	put_pool_record(p, b);
	vol_status st = s->ops->write(s, b, true);
	s->ops->batch_free(b);
	return st;
}

/* Open the page log and bring the store up to date with it: replay the
 * page changes and barriers the store lost in a crash, and drop the
 * versions whose records a crash of the machine lost (pagelog.c). A pool
 * of format 1 or 2 gets its names; any older pool becomes format 4. Before
 * load_all (which then sees the replayed changes); p->replayed is applied
 * after it. */
static vol_status plog_start(vol_pool *p, const vol_pool_opts *opts)
{
	bool ro = p->read_only || p->damaged[0];
	uint64_t seg_bytes = opts->segment_bytes;
	vol_status st = plog_open(p->path, p->page_size,
				  seg_bytes ? seg_bytes
					    : seg_bytes_default(p->path),
				  (ro ? PLOG_READ_ONLY : 0) |
					  (opts->no_prepare ? PLOG_NO_PREPARE
							    : 0),
				  &p->plog);
	if (st)
		return st;
	struct pref applied = {0, 0}, durable = {0, 0};
	if ((st = get_pref(p, MT_APPLIED, &applied)) ||
	    (st = get_pref(p, MT_DURABLE, &durable)))
		return ro ? VOL_OK : st; /* damaged metadata: check says so */
	p->durable = p->synced = durable;
	if (ro)
		return VOL_OK;
	/* A damaged change log: load_all makes the pool read-only. */
	if ((st = load_last_lsn(p)) == VOL_ECORRUPT)
		return VOL_OK;
	if (st)
		return st;
	struct replay_out o = {0};
	if ((st = pages_replay(p, plog_check_from(p), p->lsn, &o,
			       &p->replayed))) {
		free(o.damage);
		return st;
	}
	st = plog_settle(p, &o, applied, durable);
	free(o.damage);
	if (st)
		return st;
	if (p->format < 2)
		p->inline_pages = true;
	if (p->format < 3)
		st = names_from_versions(p);
	else if (p->format < VOL_POOL_VERSION)
		st = format_record(p);
	if (!st)
		p->format = VOL_POOL_VERSION;
	return st;
}

/* After load_all: what the replay changed in the volumes' records. */
static void replayed_apply(vol_pool *p)
{
	for (size_t i = 0; i < p->replayed.n; i++) {
		struct vol *v = vol_find(p, p->replayed.v[i].vol);
		if (!v)
			continue;
		if (v->lsn < p->replayed.v[i].lsn)
			v->lsn = p->replayed.v[i].lsn;
		v->bytes_written += p->replayed.v[i].payload;
	}
	p->nreplayed = p->replayed.changes;
	free(p->replayed.v);
	memset(&p->replayed, 0, sizeof p->replayed);
}

vol_status vol_pool_open(const char *path, const vol_pool_opts *opts,
			 vol_pool **out)
{
	vol_pool_opts none = {0};
	if (!opts)
		opts = &none;
	*out = NULL;
	struct stat sb;
	vol_status bad = VOL_OK;
	if (stat(path, &sb))
		bad = vol__fail(VOL_ENOENT, "pool %s: %s", path,
				strerror(errno));
	else if (!S_ISDIR(sb.st_mode))
		bad = vol__fail(VOL_ENOTPOOL, "pool %s: not a folder", path);
	if (bad) {
		if (opts->kv) /* the pool owns it, even when it fails */
			opts->kv->ops->close(opts->kv);
		return bad;
	}

	vol_pool *p = calloc(1, sizeof *p);
	if (!p) {
		if (opts->kv)
			opts->kv->ops->close(opts->kv);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	p->lockfd = -1;
	p->kv = opts->kv;
	pthread_mutex_init(&p->mu, NULL);
	dq_init(p);
	pthread_mutex_init(&p->retention_mu, NULL);
	pthread_mutex_init(&p->heal_mu, NULL);
	pthread_cond_init(&p->retention_cv, NULL);
	p->clock = opts->clock ? opts->clock : wall_ns;
	p->clock_ctx = opts->clock_ctx;
	p->retention_interval_s = opts->retention_interval_s;
	p->retention_batch_bytes = opts->retention_batch_bytes
					   ? opts->retention_batch_bytes
					   : RETENTION_BATCH_BYTES;

	vol_status st = VOL_ENOMEM;
	char *marker = path_join(path, VOL_MARKER_FILE);
	char *db = path_join(path, VOL_DB_DIR);
	p->path = strdup(path);
	if (!marker || !db || !p->path)
		goto fail;
	p->lockfd = open(marker, O_RDONLY | O_CLOEXEC);
	if (p->lockfd < 0) {
		st = vol__fail(VOL_ENOTPOOL,
			       "%s is not a rewindfs pool (no %s; create one "
			       "with `rewindctl init`)", path, VOL_MARKER_FILE);
		goto fail;
	}
	if (flock(p->lockfd, LOCK_EX | LOCK_NB)) {
		st = vol__fail(VOL_EBUSY,
			       "pool %s is in use by another process", path);
		goto fail;
	}
	p->read_only = opts->read_only;
	if (!p->read_only)
		reserve_open(p);
	if (!p->kv &&
	    (st = kv_rocks_open_mode(db, opts->read_only ? KV_READONLY
				     : opts->salvage ? KV_SALVAGE : KV_OPEN,
				     &p->kv)))
		goto fail;
	if (p->kv->ops->failed(p->kv) == VOL_ECORRUPT) /* damaged WAL */
		snprintf(p->damaged, sizeof p->damaged, "%s", vol_errmsg());
	else if (opts->salvage) /* read-only whatever the damage */
		snprintf(p->damaged, sizeof p->damaged,
			 "salvage: opened read-only as asked, as the store has "
			 "it (the page log is not replayed)");
	if ((st = read_pool_record(p)))
		goto fail;
	if (!page_size_ok(p->page_size)) {
		st = vol__fail(VOL_ECORRUPT, "pool %s: bad page size %u", path,
			       p->page_size);
		goto fail;
	}
	if ((st = plog_start(p, opts)) || (st = load_all(p)))
		goto fail;
	replayed_apply(p);
	p->budget_default = disk_free_bytes(path) / 4;
	if (!p->read_only)
		tighten_modes(path);
	if (opts->history_budget)
		p->budget_set = opts->history_budget;
	if (!p->read_only && !p->damaged[0] && !opts->store_inline &&
	    (st = dq_start(p)))
		goto fail;
	if (p->retention_interval_s) {
		if (pthread_create(&p->retention_thread, NULL, retention_main,
				   p)) {
			st = vol__fail(VOL_ENOMEM,
				       "cannot start the retention thread");
			goto fail;
		}
		p->retention_running = true;
	}
	free(marker);
	free(db);
	*out = p;
	return VOL_OK;
fail:
	free(marker);
	free(db);
	pool_free(p);
	return st;
}

/* At a clean close: the final durable point (the next open then checks no
 * record: a damaged one is reported, not taken for a crash's tear). */
static vol_status record_durable(vol_pool *p)
{
	kv *s = p->kv;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	put_pref(s, b, MT_DURABLE, p->synced);
	vol_status st = s->ops->write(s, b, true);
	s->ops->batch_free(b);
	return st;
}

vol_status vol_pool_close(vol_pool *p)
{
	if (!p)
		return VOL_OK;
	stop_retention(p);
	dq_stop(p); /* the final sync writes what waits itself */
	/* A read-only or damaged pool has nothing to sync. */
	vol_status st = p->read_only || p->damaged[0] ? VOL_OK
						      : vol_pool_sync(p);
	if (!st && !p->read_only && !p->damaged[0])
		st = record_durable(p);
	pool_free(p);
	return st;
}

uint32_t vol_pool_page_size(const vol_pool *p)
{
	return p->page_size;
}

uint64_t vol_pool_lsn(vol_pool *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t l = p->lsn;
	pthread_mutex_unlock(&p->mu);
	return l;
}

/* Append a barrier record for the n barriers in e (vol, time, lsn, tl
 * each): false if it could not be (the caller syncs the WAL instead). */
static bool barrier_record(vol_pool *p, const uint64_t *e, size_t n,
			   int64_t now, struct pref *end)
{
	size_t bn = 8 + 32 * n;
	uint8_t *body = bn <= PREC_BODY_MAX ? malloc(bn) : NULL;
	if (!body)
		return false;
	be64_put(body, n);
	for (size_t i = 0; i < 4 * n; i++)
		be64_put(body + 8 + 8 * i, e[i]);
	vol_status st = plog_append_body(p->plog, pend_lead(p), PREC_BARRIER,
					 now, body, (uint32_t)bn, end);
	pend_done(p, st);
	free(body);
	return !st;
}

/* Barriers wait for the store (p->bar) with the page changes (defer.c):
 * the store writer writes them with the changes that wait, in the
 * background, or store_flush does before anything reads barriers or
 * writes a command's batch. A volume's sync costs the page log's append
 * and flush, and no store write of its own (measured: about 25 us of the
 * daemon's CPU per fsync; BENCHMARKS.md, issue 5 session 14). The page log
 * makes them durable: replay puts them back after a crash. More than
 * BAR_WAIT_MAX waiting are written at once. */
#define BAR_WAIT_MAX 64

/* Under mu: queue n barriers (e) whose record ends at end; false if out
 * of memory. */
static bool bar_add(vol_pool *p, const uint64_t *e, size_t n, struct pref end)
{
	if (grow((void **)&p->bar, &p->capbar, 4 * (p->nbar + n),
		 sizeof *p->bar))
		return false;
	memcpy(p->bar + 4 * p->nbar, e, 4 * n * sizeof *e);
	p->nbar += n;
	p->bar_end = end;
	return true;
}

void bar_put(vol_pool *p, kv_batch *b)
{
	kv *s = p->kv;
	for (size_t i = 0; i < p->nbar; i++) {
		const uint64_t *e = p->bar + 4 * i;
		put_barrier(s, b, e[0], (int64_t)e[1], e[2], e[3]);
		bool later = false; /* the record once per volume: the last */
		for (size_t j = i + 1; j < p->nbar && !later; j++)
			later = p->bar[4 * j] == e[0];
		struct vol *v = later ? NULL : vol_find(p, e[0]);
		if (v)
			put_vol_record(p, b, v);
	}
	if (!pref_eq(p->synced, p->durable))
		put_pref(s, b, MT_DURABLE, p->synced);
}

/* Write barriers for `only` (or every changed volume) and sync: the
 * barriers go into the page log, and one flush of it makes them and every
 * page change before them durable (pagelog.c). Their store entries wait
 * (bar_put) after a volume's sync, for the store writer; a pool-wide one
 * writes them and all that waits (store_flush). The WAL is
 * synced too when something the log cannot replay is waiting
 * (p->kv_unsynced), or with nothing to record. */
static vol_status sync_barriers(vol_pool *p, struct vol *only, vol_point *out)
{
	kv *s = p->kv;
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	pthread_mutex_lock(&p->mu);
	uint64_t *e = malloc((p->nvols + 1) * 4 * sizeof *e);
	if (!e) {
		pthread_mutex_unlock(&p->mu);
		s->ops->batch_free(b);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	if (only && only->deleted) {
		pthread_mutex_unlock(&p->mu);
		s->ops->batch_free(b);
		free(e);
		return vol__fail(VOL_ENOENT, "volume %s was deleted",
				 only->name);
	}
	int64_t now = pool_now(p);
	uint64_t lsn = p->lsn;
	size_t n = 0;
	for (size_t i = 0; i < p->nvols; i++) {
		struct vol *v = p->vols[i];
		/* vol_sync always records one, so the point it returns is a
		 * barrier; a pool-wide sync only for volumes that changed. */
		if (only ? v != only : v->barrier_lsn >= v->lsn)
			continue;
		e[4 * n] = v->id;
		e[4 * n + 1] = (uint64_t)now;
		e[4 * n + 2] = lsn;
		e[4 * n + 3] = v->tl->id;
		n++;
	}
	if (out && only)
		*out = (vol_point){only->tl->id, lsn, now};
	struct pref end;
	bool logged = n && barrier_record(p, e, n, now, &end);
	bool queued = logged && bar_add(p, e, n, end);
	if (n && !queued) {
		for (size_t i = 0; i < n; i++) {
			put_barrier(s, b, e[4 * i], now, lsn, e[4 * i + 3]);
			put_vol_record(p, b, vol_find(p, e[4 * i]));
		}
		if (logged)
			put_pref(s, b, MT_APPLIED, end);
		else
			p->kv_unsynced = true;
	}
	bool wal = p->kv_unsynced || !n;
	if (wal || !only || !queued || p->nbar > BAR_WAIT_MAX) {
		st = store_flush(p);
		if (!st && n && !queued)
			st = s->ops->write(s, b, false);
	}
	wal = wal && !st;
	if (wal)
		p->kv_unsynced = false;
	pthread_mutex_unlock(&p->mu);
	s->ops->batch_free(b);
	free(e);
	if (st)
		return st;
	struct pref durable;
	uint64_t ticket = plog_sync_begin(p->plog, &durable);
	vol_status wst = wal ? s->ops->sync(s) : VOL_OK;
	char why[256] = "";
	if (wst) {
		snprintf(why, sizeof why, "%s", vol_errmsg());
		pthread_mutex_lock(&p->mu);
		p->kv_unsynced = true;
		pthread_mutex_unlock(&p->mu);
	}
	if ((st = plog_sync_end(p->plog, ticket)))
		return st;
	pthread_mutex_lock(&p->mu);
	if (pref_lt(p->synced, durable))
		p->synced = durable;
	pthread_mutex_unlock(&p->mu);
	if (wst)
		return vol__fail(wst, "%s", why);
	if (n) {
		pthread_mutex_lock(&p->mu);
		for (size_t i = 0; i < p->nvols; i++) {
			struct vol *v = p->vols[i];
			if ((!only || v == only) && v->barrier_lsn < lsn)
				v->barrier_lsn = lsn;
		}
		pthread_mutex_unlock(&p->mu);
	}
	return VOL_OK;
}

vol_status vol_pool_sync(vol_pool *p)
{
	return sync_barriers(p, NULL, NULL);
}

vol_status vol_sync(vol_pool *p, vol_id id, vol_point *out)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	pthread_mutex_unlock(&p->mu);
	if (!v)
		return vol__fail(VOL_ENOENT, "no volume with id %llu",
				 (unsigned long long)id);
	vol_point pt;
	vol_status st = sync_barriers(p, v, &pt);
	if (st)
		return st;
	if (out)
		*out = pt;
	return VOL_OK;
}

vol_status vol_pool_set_budget(vol_pool *p, uint64_t bytes)
{
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	kv_batch *b = p->kv->ops->batch_new(p->kv);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	pthread_mutex_lock(&p->mu);
	uint64_t old = p->budget_set;
	p->budget_set = bytes;
	put_pool_record(p, b);
	/* A command: durable when it returns (syncs only do the page log). */
	st = p->kv->ops->write(p->kv, b, true);
	if (st)
		p->budget_set = old;
	pthread_mutex_unlock(&p->mu);
	p->kv->ops->batch_free(b);
	return st;
}

vol_status vol_pool_stats_get(vol_pool *p, vol_pool_stats *out)
{
	memset(out, 0, sizeof *out);
	struct statvfs vfs;
	if (statvfs(p->path, &vfs) == 0) {
		out->disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		out->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	}
	out->db_bytes = p->kv->ops->disk_bytes(p->kv);
	if (p->plog)
		out->db_bytes += plog_bytes(p->plog);
	pthread_mutex_lock(&p->heal_mu);
	out->disk_full = p->low_space;
	out->reserve_bytes = p->reserve_bytes;
	memcpy(out->store_error, p->store_error, sizeof out->store_error);
	if (p->damaged[0])
		snprintf(out->store_error, sizeof out->store_error,
			 "read-only, damaged: %.170s", p->damaged);
	pthread_mutex_unlock(&p->heal_mu);
	pthread_mutex_lock(&p->mu);
	out->page_size = p->page_size;
	out->lsn = p->lsn;
	out->replayed = p->nreplayed;
	out->volumes = p->nvols;
	for (size_t i = 0; i < p->ntls; i++)
		out->timelines += !p->tls[i]->dead;
	out->history_budget = pool_budget(p);
	out->bytes_pages = p->bytes_pages;
	out->bytes_history = p->bytes_history;
	out->last_retention_ns = p->last_retention_ns;
	out->budget_alert = p->budget_alert;
	memcpy(out->retention_error, p->retention_error,
	       sizeof out->retention_error);
	pthread_mutex_unlock(&p->mu);
	return VOL_OK;
}

/* ------------------------------------------------------------ volumes */

void fill_info(vol_pool *p, const struct vol *v, vol_info *out)
{
	memset(out, 0, sizeof *out);
	int64_t now = pool_now(p);
	out->id = v->id;
	snprintf(out->name, sizeof out->name, "%s", v->name);
	out->size = v->size;
	out->lsn = v->lsn;
	out->timeline = v->tl->id;
	out->chain_depth = chain_depth(v->tl);
	out->created_ns = v->created_ns;
	out->window_ns = v->window_ns;
	out->earliest_ns = vol_earliest(p, v, now);
	out->actual_window_ns = now - out->earliest_ns;
	out->budget_alert = v->budget_alert;
	out->source = v->source;
	struct vol *src = v->source ? vol_find(p, v->source) : NULL;
	if (src)
		snprintf(out->source_name, sizeof out->source_name, "%s",
			 src->name);
	out->source_timeline = v->src_tl;
	out->source_lsn = v->src_lsn;
	out->bytes_written = v->bytes_written;
	out->bytes_counted_ns = p->counted_ns;
	out->bytes_stored = v->bytes_stored;
	out->bytes_unique = v->bytes_unique;
	out->bytes_shared = v->bytes_shared;
	out->bytes_history = v->bytes_history;
	out->snapshots = v->nsnaps;
	out->backtracks = v->nhist;
}

#define DEFAULT_WINDOW_NS (24LL * 3600 * 1000000000)

vol_status name_free(vol_pool *p, const char *name)
{
	if (!vol_name_valid(name))
		return vol__fail(VOL_EINVAL,
				 "bad volume name '%s': 1-64 of [A-Za-z0-9._-], "
				 "not starting with '.'", name ? name : "");
	if (vol_find_name(p, name))
		return vol__fail(VOL_EEXIST, "volume %s already exists", name);
	return VOL_OK;
}

vol_status add_volume(vol_pool *p, const char *name, struct tl *anc,
		      uint64_t anc_lsn, uint64_t size, const struct vol *src,
		      vol_id *out)
{
	vol_status st = name_free(p, name);
	if (st)
		return st;
	kv *s = p->kv;
	uint64_t lsn = p->lsn + 1, id = p->next_id, tid = p->next_id + 1;
	int64_t now = pool_now(p);
	kv_batch *b = s->ops->batch_new(s);
	struct vol *v = vol_alloc();
	struct tl *t = tl_new(tid, anc ? anc->id : 0, anc ? anc_lsn : 0, lsn,
			      now, id);
	if (!b || !v || !t) {
		st = vol__fail(VOL_ENOMEM, "out of memory");
		goto out;
	}
	t->anc = anc;
	v->id = id;
	snprintf(v->name, sizeof v->name, "%s", name);
	v->tl = t;
	v->lsn = v->barrier_lsn = v->created_lsn = lsn;
	v->created_ns = now;
	v->window_ns = src ? src->window_ns : DEFAULT_WINDOW_NS;
	if (src) {
		v->source = src->id;
		v->src_tl = anc->id;
		v->src_lsn = anc_lsn;
	}
	/* Everything that can fail in memory happens before the commit. */
	if ((!anc && (st = tl_size_push(t, lsn, size))) ||
	    (st = seg_push(v, lsn, now, tid)) || (st = pool_reserve(p, 1, 1)))
		goto out;
	v->size = size_at(t, LSN_MAX);
	uint8_t k[32], sv[16];
	p->next_id += 2;
	put_pool_record(p, b);
	put_tl_record(b, s, t);
	if (!anc) {
		be64_put(sv, size);
		s->ops->batch_put(b, KV_META, k, key2(k, MT_SIZE, tid, lsn),
				  sv, 8);
	}
	put_vol_record(p, b, v);
	be64_put(sv, tid);
	be64_put(sv + 8, (uint64_t)now);
	s->ops->batch_put(b, KV_META, k, key2(k, MT_SEG, id, lsn), sv, 16);
	put_barrier(s, b, id, now, lsn, tid);
	if ((st = src ? pool_commit(p, b, lsn, now, CH_CLONE, id, tid,
				    anc->id, anc_lsn)
		      : pool_commit(p, b, lsn, now, CH_CREATE, id, tid, 0,
				    size))) {
		p->next_id -= 2;
		goto out;
	}
	tl_insert(p, t);
	vols_insert(p, v);
	s->ops->batch_free(b);
	if (out)
		*out = id;
	return VOL_OK;
out:
	if (b)
		s->ops->batch_free(b);
	vol_free(v);
	tl_free(t);
	return st;
}

vol_status vol_create(vol_pool *p, const char *name, uint64_t size,
		      vol_id *out)
{
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	pthread_mutex_lock(&p->mu);
	st = add_volume(p, name, NULL, 0, size, NULL, out);
	pthread_mutex_unlock(&p->mu);
	return st;
}

vol_status vol_lookup(vol_pool *p, const char *name, vol_id *out)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find_name(p, name ? name : "");
	if (v)
		*out = v->id;
	pthread_mutex_unlock(&p->mu);
	return v ? VOL_OK
		 : vol__fail(VOL_ENOENT, "no volume named '%s'",
			     name ? name : "");
}

vol_status vol_info_get(vol_pool *p, vol_id id, vol_info *out)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	if (v)
		fill_info(p, v, out);
	pthread_mutex_unlock(&p->mu);
	return v ? VOL_OK
		 : vol__fail(VOL_ENOENT, "no volume with id %llu",
			     (unsigned long long)id);
}

vol_status vol_size_get(vol_pool *p, vol_id id, uint64_t *size)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	if (v)
		*size = v->size;
	pthread_mutex_unlock(&p->mu);
	return v ? VOL_OK
		 : vol__fail(VOL_ENOENT, "no volume with id %llu",
			     (unsigned long long)id);
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const vol_info *)a)->name, ((const vol_info *)b)->name);
}

vol_status vol_list(vol_pool *p, vol_info **out, size_t *n)
{
	pthread_mutex_lock(&p->mu);
	vol_info *arr = calloc(p->nvols ? p->nvols : 1, sizeof *arr);
	if (!arr) {
		pthread_mutex_unlock(&p->mu);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < p->nvols; i++)
		fill_info(p, p->vols[i], &arr[i]);
	*n = p->nvols;
	pthread_mutex_unlock(&p->mu);
	qsort(arr, *n, sizeof *arr, info_cmp);
	*out = arr;
	return VOL_OK;
}

/* Commit a metadata-only change of v (its record rewritten): used by
 * rename and window. `undo` restores memory if the write fails. */
static vol_status commit_vol_meta(vol_pool *p, struct vol *v,
				  enum change_kind kind, kv_batch *b)
{
	put_vol_record(p, b, v);
	uint64_t lsn = p->lsn + 1;
	int64_t now = pool_now(p);
	vol_status st = pool_commit(p, b, lsn, now, kind, v->id, v->tl->id, 0, 0);
	if (st == VOL_OK)
		v->lsn = lsn;
	return st;
}

vol_status vol_rename(vol_pool *p, vol_id id, const char *new_name)
{
	if (!vol_name_valid(new_name))
		return vol__fail(VOL_EINVAL, "bad volume name '%s'",
				 new_name ? new_name : "");
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	struct vol *other = vol_find_name(p, new_name);
	if (other && other != v) {
		st = vol__fail(VOL_EEXIST, "volume %s already exists", new_name);
	} else if (other != v) {
		char old[VOL_NAME_MAX + 1];
		memcpy(old, v->name, sizeof old);
		snprintf(v->name, sizeof v->name, "%s", new_name);
		if ((st = commit_vol_meta(p, v, CH_RENAME, b)))
			memcpy(v->name, old, sizeof old);
	}
	change_end(p, v, b);
	return st;
}

vol_status vol_window_set(vol_pool *p, vol_id id, int64_t window_ns)
{
	if (window_ns < 0)
		return vol__fail(VOL_EINVAL, "negative window");
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	int64_t old = v->window_ns;
	v->window_ns = window_ns;
	if ((st = commit_vol_meta(p, v, CH_WINDOW, b)))
		v->window_ns = old;
	change_end(p, v, b);
	return st;
}

vol_status vol_delete(vol_pool *p, vol_id id)
{
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	kv *s = p->kv;
	uint8_t lo[32], hi[32];
	s->ops->batch_del(b, KV_META, lo, key1(lo, MT_VOL, id));
	const uint8_t tags[] = {MT_SEG, MT_HIST, MT_SNAP};
	for (size_t i = 0; i < sizeof tags; i++)
		s->ops->batch_del_range(b, KV_META, lo, key1(lo, tags[i], id),
					hi, key1(hi, tags[i], id + 1));
	s->ops->batch_del_range(b, KV_LOG, lo, key1(lo, LT_BARRIER, id), hi,
				key1(hi, LT_BARRIER, id + 1));
	uint64_t lsn = p->lsn + 1;
	st = pool_commit(p, b, lsn, pool_now(p), CH_DELETE, id, v->tl->id, 0, 0);
	if (st == VOL_OK)
		vols_remove(p, v);
	change_end(p, v, b);
	return st;
}
