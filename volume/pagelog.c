/*
 * pagelog.c - the page log: where page bytes live.
 *
 * DESIGN
 * Page bytes do not go through RocksDB. Each data page version is one
 * record appended to the pool's page log, a folder of segment files
 * POOL/pages/<16 hex digits>.seg, and the version's value in the pages
 * family holds only its header and a reference (segment, offset). So a
 * written page costs one write of its bytes (plus a 64-byte record header),
 * not two (RocksDB's WAL, then a blob file), and its checksum is one xxh3
 * instead of RocksDB's software CRC32c twice plus LZ4.
 *
 * Record: a 64-byte header, then its body.
 *   0 magic "RWPL"  4 page size  8 page key (24)  32 time  40 xxh3 of body
 *   48 type  49 zero (3)  52 body length  56 xxh3 of bytes 0..55
 * Types: PREC_PAGE (body: the page of version `page key`), PREC_MOVED (the
 * same, copied by the cleaner), PREC_COMMIT and PREC_BARRIER (bodies made
 * by the engine: a page change's commit, a sync's barriers; see pages.c).
 * The header names the version it holds, so a reference that points at
 * the wrong place fails verification, and a segment can be read alone
 * (recovery, the cleaner, `rewindctl check`).
 *
 * The page log is also the redo log of page changes: a write or discard
 * appends its pages (one append: they are contiguous), writes its RocksDB
 * batch unsynced (with MT_APPLIED, the log position after its pages), then
 * makes its commit record, which lists everything the batch held; that
 * record goes into the log with the next append of pages (ahead of them)
 * or of a barrier, so the log holds the commit records in the order of the
 * batches, and a change costs one write of the log. A sync appends a
 * barrier record (after the waiting commit records), fdatasyncs the log
 * and does not sync RocksDB's WAL at all: one flush per sync. At open the engine replays the commit
 * and barrier records RocksDB lost (pages.c, pages_replay). Every other
 * change (branching, names, snapshots, sizes) syncs the WAL when it
 * commits, which makes every earlier batch durable too.
 *
 * Write-behind. Appends go to the page cache; the syncer thread, when no
 * sync waits, starts the writeback of each MiB appended
 * (sync_file_range), so that a sync finds little left to write and dirty
 * pages never pile up, and drops sealed segments from the page cache once
 * PLOG_CACHED newer bytes of log follow them (posix_fadvise DONTNEED:
 * they are clean by then). Reads of older records go to the disk; the
 * filesystem in the volume and the database cache what they read, and a
 * second copy of every written page in the pool's page cache only grows
 * memory. Measured on the benchmark machine (a VM, where every page of
 * memory the guest touches for the first time is slow): appending into
 * an ever-growing page cache ran at 300 MB/s of copying, reusing dropped
 * pages at several GB/s (BENCHMARKS.md). Both calls are hints: their
 * failures are not errors (a write error shows at the next fdatasync).
 *
 * Prepared segments. An fdatasync after an append also commits the
 * filesystem's journal (the file's size and new blocks): measured here,
 * 8 KiB appends + fdatasync 0.45 ms, overwrites of written blocks 0.28 ms
 * (BENCHMARKS.md). So when syncs are frequent (PREP_WINDOW of them in
 * the last PREP_WINDOW MiB appended: a database's commits, not a bulk
 * load), the syncer thread writes the next segment ahead as zeros
 * (POOL/pages/<id>.pre, synced), and the roll-over renames it to
 * <id>.seg: appends into it overwrite written blocks, and their
 * fdatasync writes data only. This costs a second write of those bytes;
 * bulk writes (few syncs) never pay it. While the active segment was not
 * prepared itself, the next one is written at a steady pace (PREP_PACE_NS
 * per step, about a second for 64 MiB) and the log moves on to it as soon
 * as it is ready, sealing the active one early: a database's commits
 * reach prepared blocks within seconds, not after a whole segment. Such
 * a segment is longer than its records: a scan ends a segment at the zeros after its last record
 * (plog_scan: a stretch of zeros up to the end of a file is space not
 * written yet, never damage; records are never all zeros), and the open
 * finds the newest segment's append position by scanning it (seg_end).
 * A failed preparation is dropped (the roll-over then creates the
 * segment as before), and none starts while the disk has less than
 * PREP_FREE_SEGS segments' worth of free space (the engine keeps that
 * room for page writes: engine.c, full disk); .pre files left by a
 * stopped daemon are removed at open.
 *
 * Invariants (each kept by the function named):
 *  1. A record is written (pwrite) before any RocksDB write refers to it:
 *     the engine appends under pool->mu before writing its batch
 *     (pages.c, stage_commit). A killed process therefore never leaves a
 *     reference to bytes that were not written.
 *  2. A sync returns only when its barrier record and every record before
 *     it are durable (plog_sync: a waiting caller fdatasyncs every
 *     segment written since the last pass, for all queued syncs).
 *     Records the cleaner moves are durable before RocksDB refers to them
 *     (cleaner.c).
 *  3. A segment is unlinked only after no synced or unsynced reference to
 *     it can remain (retention.c, the cleaner: the deletions and moves are
 *     synced first) and no reader is between reading a reference and
 *     reading its record (plog_remove takes the read lock exclusively;
 *     readers hold it shared from before they read references until they
 *     have read the records).
 *  4. Appends go to the newest segment only; a segment, once sealed (a
 *     newer one exists), never changes again.
 * After a crash of the machine, records after the last sync may be missing
 * or torn while RocksDB (its WAL, or a flushed table) still refers to them.
 * plog_scan reads on past damaged records, and the engine (engine.c,
 * plog_settle) cuts the log at the first damage only where a tear is
 * possible: after the durable point a sync recorded (MT_DURABLE), and only
 * if the machine restarted since the pool was last opened (POOL/pages/boot
 * holds the boot id); the versions that point past the cut are dropped
 * (pages.c, pages_drop_dangling), as a disk loses writes that were not
 * flushed. Any other damage is kept and reads of it fail.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"

#define PLOG_DIR "pages"
#define WB_STEP (1ull << 20)        /* writeback started per MiB appended */
#define DROP_STEP (4ull << 20)      /* page cache dropped per step        */
#define PLOG_CACHED (512ull << 20)  /* newest log bytes left cached       */
#define PREP_WINDOW 8               /* prepare after 8 syncs in 8 MiB     */
#define PREP_STEP (256ull << 10)    /* zeros written per step             */
#define PREP_FREE_SEGS 16          /* no preparing with less free space */
#define PREP_PACE_NS 4000000ll      /* a step per 4 ms while the active
				     * segment was not prepared (64 MiB/s) */
#define FREE_STEP (4ull << 20)      /* a removed segment's space given back */
#define FREE_PACE_NS 10000000l     /* per step, 10 ms apart (free_space) */
#define PREC_MAGIC 0x4c505752u /* "RWPL" little-endian */

struct pseg {
	uint64_t id;
	int fd;
	uint64_t size;          /* bytes of records (the append position)  */
};

struct plog {
	char *dir;
	uint32_t ps;
	uint64_t seg_bytes;     /* roll over past this                     */
	bool read_only;
	bool no_prepare;        /* PLOG_NO_PREPARE                         */
	/* Lock order: rw, amu, qmu, tmu.
	 * rw: readers hold it shared from reading a reference to reading its
	 * record; plog_remove (which takes a descriptor out of the table)
	 * and plog_truncate (which closes descriptors) hold it exclusively. */
	pthread_rwlock_t rw;
	/* amu: one append at a time, and the sync bookkeeping. A failed
	 * append leaves the position where it was: the next one writes over
	 * the torn bytes. */
	pthread_mutex_t amu;
	uint64_t unsynced_from; /* lowest segment id with unsynced bytes   */
	bool dirty;
	struct pref pub;        /* the append position last given to wb_end */
	/* Syncs of appended records, and how many there were when the
	 * current window of PREP_WINDOW publications of pub began. */
	uint64_t nsyncs, win_syncs, npub;
	bool sync_heavy;        /* the last window had one sync per MiB     */
	int prep_fd;            /* a prepared segment prep_id (-1: none)    */
	uint64_t prep_id;
	bool active_prep;       /* the active segment was prepared          */
	/* qmu: the sync queue. Requests are numbered (req); done
	 * is the newest request whose segments were synced: a request is
	 * complete when done >= its number, so a call that found nothing
	 * dirty still waits for the requests before it. After amu. */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;     /* a sync pass ended (waiting syncs)        */
	/* The syncer thread's own wake-up, signalled only when it has work:
	 * appends published (write-behind, preparing), a sync pass ended
	 * while write-behind waited for it, stop. Not qcv: every fsync's pass
	 * would wake it for nothing (a context switch and a contended qmu
	 * per fsync: measured, nearly all of the 3 futex calls of each
	 * fsync'd write, BENCHMARKS.md). */
	pthread_cond_t scv;
	uint64_t req, done;
	bool busy;              /* a sync pass runs (sync_pass)             */
	uint64_t q_from, q_to;  /* segments to sync for the queued requests */
	uint64_t fail_lo, fail_hi; /* requests (lo, hi] failed: fail_st     */
	/* Write-behind (see DESIGN), also under qmu: writeback was started
	 * up to wb, appends published up to wb_end; segments below drop_to
	 * are dropped from the cache, drop is how far that got. */
	struct pref wb, wb_end, drop;
	uint64_t drop_to;
	/* Prepared segments (see DESIGN): prep_want is the segment to
	 * prepare, prep_tried the last one the syncer finished or dropped.
	 * Its work in progress (syncer thread only): segment pz_id, open as
	 * pz_fd, zeros written up to pz_off. */
	uint64_t prep_want, prep_tried;
	bool q_active_prep;     /* active_prep, as the syncer sees it       */
	int64_t prep_next_ns;   /* time pacing: no step before (monotonic)  */
	int pz_fd;
	uint64_t pz_id, pz_off;
	vol_status fail_st;
	char fail_why[256];
	bool stop;
	pthread_t syncer;
	bool syncer_running;
	/* The machine has not restarted since the pool was last opened
	 * (POOL/pages/boot holds the kernel's boot id of that open): the page
	 * cache kept every record written, so a damaged one is damage, not a
	 * power cut's tear. */
	bool same_boot;
	/* tmu: the table (held briefly: lookups copy what they need). */
	pthread_mutex_t tmu;
	struct pseg *segs;      /* sorted by id; the last one is active    */
	size_t nsegs, capsegs;
};

size_t plog_rec_len(const struct plog *l)
{
	return PREC_HDR + l->ps;
}

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void plog_rec_header(uint8_t h[PREC_HDR], uint32_t ps, enum prec_type type,
		     const uint8_t pkey[PKEY_LEN], int64_t ns,
		     uint64_t body_hash, uint32_t body_len)
{
	memset(h, 0, PREC_HDR);
	le32_put(h, PREC_MAGIC);
	le32_put(h + 4, ps);
	if (pkey)
		memcpy(h + 8, pkey, PKEY_LEN);
	be64_put(h + 32, (uint64_t)ns);
	be64_put(h + 40, body_hash);
	h[48] = (uint8_t)type;
	le32_put(h + 52, body_len);
	be64_put(h + 56, XXH3_64bits(h, 56));
}

/* A record's header is intact (and for page size ps): its body length,
 * or 0. */
static uint32_t rec_header_ok(const uint8_t *h, uint32_t ps)
{
	if (le32_get(h) != PREC_MAGIC || le32_get(h + 4) != ps || h[49] ||
	    h[50] || h[51] || be64_get(h + 56) != XXH3_64bits(h, 56))
		return 0;
	uint32_t n = le32_get(h + 52);
	switch (h[48]) {
	case PREC_PAGE:
	case PREC_MOVED:
		return n == ps ? n : 0;
	case PREC_COMMIT:
	case PREC_BARRIER:
		return n <= PREC_BODY_MAX ? n : 0;
	default:
		return 0;
	}
}

static void file_name(char *out, size_t cap, const char *dir, uint64_t id,
		      const char *ext)
{
	snprintf(out, cap, "%s/%016" PRIx64 ".%s", dir, id, ext);
}

static void seg_name(char *out, size_t cap, const char *dir, uint64_t id)
{
	file_name(out, cap, dir, id, "seg");
}

static int pseg_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct pseg *)a)->id,
		 y = ((const struct pseg *)b)->id;
	return x < y ? -1 : x > y;
}

static struct pseg *pseg_find(struct plog *l, uint64_t id)
{
	struct pseg key = {.id = id};
	return l->nsegs ? bsearch(&key, l->segs, l->nsegs, sizeof key, pseg_cmp)
			: NULL;
}

static vol_status pseg_push(struct plog *l, uint64_t id, int fd, uint64_t size)
{
	vol_status st = grow((void **)&l->segs, &l->capsegs, l->nsegs + 1,
			     sizeof *l->segs);
	if (st)
		return st;
	l->segs[l->nsegs++] = (struct pseg){id, fd, size};
	return VOL_OK;
}

static vol_status seg_open(struct plog *l, uint64_t id, bool create, int *fd)
{
	char name[4096];
	seg_name(name, sizeof name, l->dir, id);
	int flags = l->read_only ? O_RDONLY : O_RDWR;
	if (create)
		flags |= O_CREAT | O_EXCL;
	*fd = open(name, flags | O_CLOEXEC, 0600);
	if (*fd < 0)
		return vol__fail(errno == ENOSPC ? VOL_ENOSPC : VOL_EIO,
				 "page log: cannot open %s: %s", name,
				 strerror(errno));
	return VOL_OK;
}

/* Make the folder's entries durable: a new segment's records are synced
 * with fdatasync, which does not cover the entry that names it. */
static vol_status dir_sync(struct plog *l)
{
	int fd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return vol__fail(VOL_EIO, "page log: cannot sync %s: %s",
				 l->dir, strerror(e));
	}
	close(fd);
	return VOL_OK;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void *syncer_main(void *arg);

/* Compare the boot id of the last open with this one, and (writable)
 * record this one. Unknown counts as a restart. */
static void boot_check(struct plog *l)
{
	char now[64] = "", was[64] = "", path[4200];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (!fgets(now, sizeof now, f))
			now[0] = 0;
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/boot", l->dir);
	if ((f = fopen(path, "r"))) {
		if (!fgets(was, sizeof was, f))
			was[0] = 0;
		fclose(f);
	}
	l->same_boot = now[0] && !strcmp(now, was);
	if (l->read_only || !now[0] || l->same_boot)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		size_t n = strlen(now);
		if (write(fd, now, n) != (ssize_t)n || fsync(fd))
			(void)0; /* a restart is then assumed: only stricter */
		close(fd);
	}
}

bool plog_same_boot(const struct plog *l)
{
	return l->same_boot;
}

/* One descriptor per segment stays open: ask for the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static vol_status end_fn(void *ctx, const uint8_t *rec, struct pref at,
			 uint64_t end)
{
	uint64_t *e = ctx, to = end ? end : at.off + PREC_HDR +
					       plog_body_len(rec);
	if (to > *e)
		*e = to;
	return VOL_OK;
}

/* At open: the newest segment's append position, past its last record
 * or damaged stretch (a prepared segment is longer: see DESIGN). */
static vol_status seg_end(struct plog *l)
{
	struct pseg *a = &l->segs[l->nsegs - 1];
	uint64_t end = 0;
	struct pref valid;
	vol_status st = plog_scan(l, (struct pref){a->id, 0}, end_fn, &end,
				  &valid);
	if (!st) {
		/* Zeros after its records: it was prepared. */
		l->active_prep = l->q_active_prep = end < a->size;
		a->size = end;
	}
	return st;
}

vol_status plog_open(const char *pool, uint32_t ps, uint64_t seg_bytes,
		     unsigned flags, struct plog **out)
{
	bool read_only = flags & PLOG_READ_ONLY;
	*out = NULL;
	struct plog *l = calloc(1, sizeof *l);
	if (!l)
		return vol__fail(VOL_ENOMEM, "out of memory");
	pthread_rwlock_init(&l->rw, NULL);
	pthread_mutex_init(&l->amu, NULL);
	pthread_mutex_init(&l->tmu, NULL);
	pthread_mutex_init(&l->qmu, NULL);
	pthread_cond_init(&l->qcv, NULL);
	pthread_cond_init(&l->scv, NULL);
	l->q_from = UINT64_MAX;
	l->prep_fd = l->pz_fd = -1;
	l->ps = ps;
	l->seg_bytes = seg_bytes;
	l->read_only = read_only;
	l->no_prepare = flags & PLOG_NO_PREPARE;
	size_t dn = strlen(pool) + sizeof "/" PLOG_DIR;
	vol_status st = VOL_OK;
	uint64_t *ids = NULL;
	size_t nids = 0, capids = 0;
	DIR *d = NULL;
	if (!(l->dir = malloc(dn))) {
		st = vol__fail(VOL_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(l->dir, dn, "%s/%s", pool, PLOG_DIR);
	if (!read_only && mkdir(l->dir, 0700) && errno != EEXIST) {
		st = vol__fail(errno == ENOSPC ? VOL_ENOSPC : VOL_EIO,
			       "page log: cannot create %s: %s", l->dir,
			       strerror(errno));
		goto fail;
	}
	raise_nofile();
	d = opendir(l->dir);
	if (!d && !(read_only && errno == ENOENT)) {
		st = vol__fail(VOL_EIO, "page log: cannot read %s: %s", l->dir,
			       strerror(errno));
		goto fail;
	}
	for (struct dirent *e; d && (e = readdir(d));) {
		char *end;
		size_t n = strlen(e->d_name);
		if (n != 20)
			continue;
		uint64_t id = strtoull(e->d_name, &end, 16);
		if (end != e->d_name + 16)
			continue;
		if (!strcmp(end, ".pre") && !read_only) {
			/* A preparation a stopped daemon did not use. */
			char name[4096];
			file_name(name, sizeof name, l->dir, id, "pre");
			unlink(name);
		}
		if (strcmp(end, ".seg"))
			continue;
		if ((st = grow((void **)&ids, &capids, nids + 1, sizeof *ids)))
			goto fail;
		ids[nids++] = id;
	}
	if (nids)
		qsort(ids, nids, sizeof *ids, id_cmp);
	for (size_t i = 0; i < nids; i++) {
		int fd;
		struct stat sb;
		if ((st = seg_open(l, ids[i], false, &fd)))
			goto fail;
		if (fstat(fd, &sb)) {
			close(fd);
			st = vol__fail(VOL_EIO, "page log: %s", strerror(errno));
			goto fail;
		}
		if ((st = pseg_push(l, ids[i], fd, (uint64_t)sb.st_size))) {
			close(fd);
			goto fail;
		}
	}
	if (!l->nsegs && !read_only) {
		int fd;
		if ((st = seg_open(l, 1, true, &fd)))
			goto fail;
		if ((st = pseg_push(l, 1, fd, 0))) {
			close(fd);
			goto fail;
		}
		if ((st = dir_sync(l)))
			goto fail;
	}
	if (l->nsegs && (st = seg_end(l)))
		goto fail;
	l->unsynced_from = l->nsegs ? l->segs[l->nsegs - 1].id : 1;
	l->pub = l->wb = l->wb_end = plog_end(l);
	l->drop = (struct pref){l->pub.seg, 0};
	boot_check(l);
	if (!read_only) {
		if (pthread_create(&l->syncer, NULL, syncer_main, l)) {
			st = vol__fail(VOL_ENOMEM, "page log: cannot start its "
				       "sync thread");
			goto fail;
		}
		l->syncer_running = true;
	}
	free(ids);
	closedir(d);
	*out = l;
	return VOL_OK;
fail:
	free(ids);
	if (d)
		closedir(d);
	plog_close(l);
	return st;
}

void plog_close(struct plog *l)
{
	if (!l)
		return;
	if (l->syncer_running) {
		pthread_mutex_lock(&l->qmu);
		l->stop = true;
		pthread_cond_signal(&l->scv);
		pthread_mutex_unlock(&l->qmu);
		pthread_join(l->syncer, NULL);
	}
	for (int i = 0; i < 2; i++) {
		int fd = i ? l->pz_fd : l->prep_fd;
		char name[4096];
		file_name(name, sizeof name, l->dir,
			  i ? l->pz_id : l->prep_id, "pre");
		if (fd >= 0)
			close(fd), unlink(name);
	}
	for (size_t i = 0; i < l->nsegs; i++)
		close(l->segs[i].fd);
	free(l->segs);
	free(l->dir);
	pthread_rwlock_destroy(&l->rw);
	pthread_mutex_destroy(&l->amu);
	pthread_mutex_destroy(&l->tmu);
	pthread_mutex_destroy(&l->qmu);
	pthread_cond_destroy(&l->qcv);
	pthread_cond_destroy(&l->scv);
	free(l);
}

/* Under amu: start a new segment. */
static vol_status roll_over(struct plog *l, uint64_t id)
{
	int fd = -1;
	vol_status st = VOL_OK;
	if (l->prep_fd >= 0 && l->prep_id == id) {
		char pre[4096], seg[4096];
		file_name(pre, sizeof pre, l->dir, id, "pre");
		seg_name(seg, sizeof seg, l->dir, id);
		if (rename(pre, seg) == 0)
			fd = l->prep_fd;
		else
			close(l->prep_fd), unlink(pre);
		l->prep_fd = -1;
	} else if (l->prep_fd >= 0) { /* for a segment passed already */
		char pre[4096];
		file_name(pre, sizeof pre, l->dir, l->prep_id, "pre");
		close(l->prep_fd);
		unlink(pre);
		l->prep_fd = -1;
	}
	bool prepared = fd >= 0;
	if (fd < 0 && (st = seg_open(l, id, true, &fd)))
		return st;
	if (!(st = dir_sync(l))) {
		pthread_mutex_lock(&l->tmu);
		st = pseg_push(l, id, fd, 0);
		pthread_mutex_unlock(&l->tmu);
	}
	if (!st) {
		l->active_prep = prepared;
		pthread_mutex_lock(&l->qmu);
		l->q_active_prep = prepared;
		pthread_mutex_unlock(&l->qmu);
	}
	if (st) {
		close(fd);
		char name[4096];
		seg_name(name, sizeof name, l->dir, id);
		unlink(name);
	}
	return st;
}

vol_status plog_append(struct plog *l, const struct iovec *lead,
		       const struct iovec *recs, size_t n, unsigned pieces,
		       struct pref *refs, struct pref *end)
{
	if (lead && !lead->iov_len)
		lead = NULL;
	if (!n && !lead)
		return VOL_OK;
	if (l->read_only)
		return vol__fail(VOL_EINVAL, "page log: opened read-only");
	size_t niov = n * pieces;
	uint64_t total = lead ? lead->iov_len : 0;
	for (size_t i = 0; i < niov; i++)
		total += recs[i].iov_len;
	pthread_mutex_lock(&l->amu);
	vol_status st = VOL_OK;
	/* The active segment only changes under amu: copy it. */
	pthread_mutex_lock(&l->tmu);
	struct pseg a = l->segs[l->nsegs - 1];
	pthread_mutex_unlock(&l->tmu);
	/* Full; or a prepared segment is ready while the active one was not
	 * prepared: move on now (see DESIGN, prepared segments). */
	bool ready = !l->active_prep && l->prep_fd >= 0 &&
		     l->prep_id == a.id + 1;
	if (a.size && (ready || a.size + total > l->seg_bytes)) {
		if ((st = roll_over(l, a.id + 1)))
			goto out;
		pthread_mutex_lock(&l->tmu);
		a = l->segs[l->nsegs - 1];
		pthread_mutex_unlock(&l->tmu);
	}
	uint64_t off = a.size, at = off + (lead ? lead->iov_len : 0);
	for (size_t i = 0; i < niov; i++) {
		if (refs && i % pieces == 0)
			refs[i / pieces] = (struct pref){a.id, at};
		at += recs[i].iov_len;
	}
	/* The iovecs: lead (if any) first, then recs. */
	struct iovec iov[512];
	uint64_t pos = off;
	size_t nall = niov + (lead != NULL);
	for (size_t i = 0; i < nall;) {
		size_t k = 0;
		size_t want = 0;
		for (; k < 512 && i + k < nall; k++) {
			size_t j = i + k;
			iov[k] = lead ? (j ? recs[j - 1] : *lead) : recs[j];
			want += iov[k].iov_len;
		}
		size_t done = 0;
		while (done < want) {
			/* Skip what a short write already wrote. */
			struct iovec *v = iov;
			int cnt = (int)k;
			size_t skip = done;
			while (skip >= v->iov_len) {
				skip -= v->iov_len;
				v++;
				cnt--;
			}
			struct iovec first = *v;
			v->iov_base = (uint8_t *)v->iov_base + skip;
			v->iov_len -= skip;
			ssize_t w = pwritev(a.fd, v, cnt, (off_t)(pos + done));
			*v = first;
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = w < 0 ? errno : EIO;
				/* No torn record may stay before later ones
				 * (a recovery would stop there). */
				if (ftruncate(a.fd, (off_t)off))
					(void)0; /* overwritten by the next */
				st = vol__fail(e == ENOSPC ? VOL_ENOSPC : VOL_EIO,
					       "page log: cannot write segment "
					       "%016" PRIx64 ": %s", a.id,
					       strerror(e));
				goto out;
			}
			done += (size_t)w;
		}
		pos += want;
		i += k;
	}
	pthread_mutex_lock(&l->tmu);
	l->segs[l->nsegs - 1].size = at;
	pthread_mutex_unlock(&l->tmu);
	l->dirty = true;
	if (a.id != l->pub.seg || at - l->pub.off >= WB_STEP) {
		l->pub = (struct pref){a.id, at};
		uint64_t keep = PLOG_CACHED / l->seg_bytes + 1;
		if (++l->npub % PREP_WINDOW == 0) {
			l->sync_heavy = l->nsyncs - l->win_syncs >= PREP_WINDOW;
			l->win_syncs = l->nsyncs;
		}
		pthread_mutex_lock(&l->qmu);
		l->wb_end = l->pub;
		if (a.id > keep)
			l->drop_to = a.id - keep;
		if (l->sync_heavy && !l->no_prepare && l->prep_want <= a.id)
			l->prep_want = a.id + 1;
		pthread_cond_signal(&l->scv);
		pthread_mutex_unlock(&l->qmu);
	}
	if (end)
		*end = (struct pref){a.id, at};
out:
	pthread_mutex_unlock(&l->amu);
	return st;
}

vol_status plog_append_body(struct plog *l, const struct iovec *lead,
			    enum prec_type type, int64_t ns, const void *body,
			    uint32_t n, struct pref *end)
{
	if (n > PREC_BODY_MAX)
		return vol__fail(VOL_EINVAL, "page log: a record body of %u "
				 "bytes is too large", n);
	uint8_t h[PREC_HDR];
	plog_rec_header(h, l->ps, type, NULL, ns, XXH3_64bits(body, n), n);
	struct iovec iov[2] = {{h, PREC_HDR}, {(void *)body, n}};
	return plog_append(l, lead, iov, 1, 2, NULL, end);
}

void plog_body_record(struct plog *l, uint8_t *out, enum prec_type type,
		      int64_t ns, const void *body, uint32_t n)
{
	plog_rec_header(out, l->ps, type, NULL, ns, XXH3_64bits(body, n), n);
	memcpy(out + PREC_HDR, body, n);
}

uint32_t plog_body_len(const uint8_t hdr[PREC_HDR])
{
	return le32_get(hdr + 52);
}

void plog_read_lock(struct plog *l)
{
	pthread_rwlock_rdlock(&l->rw);
}

void plog_read_unlock(struct plog *l)
{
	pthread_rwlock_unlock(&l->rw);
}

/* pread all of [off, off+n) or fail. */
static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + done, n - done,
				  (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1; /* past the end */
		done += (size_t)r;
	}
	return 0;
}

/* Verify a record read at (seg, off): it holds version pkey with
 * data_hash, and the page matches. */
static vol_status rec_verify(const struct plog *l, uint64_t seg, uint64_t off,
			     const uint8_t hdr[PREC_HDR],
			     const uint8_t pkey[PKEY_LEN], uint64_t data_hash,
			     const uint8_t *page)
{
	if (!rec_header_ok(hdr, l->ps) || hdr[48] > PREC_MOVED ||
	    memcmp(hdr + 8, pkey, PKEY_LEN) || be64_get(hdr + 40) != data_hash)
		return vol__fail(VOL_ECORRUPT,
				 "page log segment %016" PRIx64 " offset %" PRIu64
				 ": the record header is damaged or names "
				 "another version", seg, off);
	if (XXH3_64bits(page, l->ps) != data_hash)
		return vol__fail(VOL_ECORRUPT,
				 "page log segment %016" PRIx64 " offset %" PRIu64
				 ": checksum mismatch, the stored page is "
				 "corrupted", seg, off);
	return VOL_OK;
}

static int seg_fd(struct plog *l, uint64_t seg)
{
	pthread_mutex_lock(&l->tmu);
	struct pseg *s = pseg_find(l, seg);
	int fd = s ? s->fd : -1;
	pthread_mutex_unlock(&l->tmu);
	if (fd < 0)
		vol__fail(VOL_ECORRUPT,
			  "page log segment %016" PRIx64 " is missing", seg);
	return fd;
}

vol_status plog_read(struct plog *l, struct pref ref,
		     const uint8_t pkey[PKEY_LEN], uint64_t data_hash,
		     uint8_t hdr[PREC_HDR], uint8_t *page)
{
	int fd = seg_fd(l, ref.seg);
	if (fd < 0)
		return VOL_ECORRUPT;
	/* The page goes straight where the caller wants it. */
	struct iovec iov[2] = {{hdr, PREC_HDR}, {page, l->ps}};
	size_t want = PREC_HDR + l->ps, done = 0;
	int e = 0;
	while (done < want) {
		struct iovec v[2] = {iov[0], iov[1]};
		int first = done < PREC_HDR ? 0 : 1;
		size_t skip = first ? done - PREC_HDR : done;
		v[first].iov_base = (uint8_t *)v[first].iov_base + skip;
		v[first].iov_len -= skip;
		ssize_t r = preadv(fd, v + first, 2 - first,
				   (off_t)(ref.off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r < 0 ? errno : -1;
			break;
		}
		done += (size_t)r;
	}
	if (e > 0)
		return vol__fail(VOL_EIO,
				 "page log segment %016" PRIx64 " offset %" PRIu64
				 ": read failed: %s", ref.seg, ref.off,
				 strerror(e));
	if (e < 0)
		return vol__fail(VOL_ECORRUPT,
				 "page log segment %016" PRIx64 " offset %" PRIu64
				 " is past its end (the record was lost)",
				 ref.seg, ref.off);
	return rec_verify(l, ref.seg, ref.off, hdr, pkey, data_hash, page);
}

vol_status plog_read_run(struct plog *l, const struct prec_want *w, size_t n,
			 uint8_t *hdrs, size_t *bad)
{
	size_t rl = PREC_HDR + l->ps;
	*bad = 0;
	if (n > PLOG_RUN_MAX)
		return vol__fail(VOL_EINVAL, "a run of %zu records", n);
	int fd = seg_fd(l, w[0].ref.seg);
	if (fd < 0)
		return VOL_ECORRUPT;
	struct iovec iov[2 * PLOG_RUN_MAX];
	for (size_t i = 0; i < n; i++) {
		iov[2 * i] = (struct iovec){hdrs + i * PREC_HDR, PREC_HDR};
		iov[2 * i + 1] = (struct iovec){w[i].page, l->ps};
	}
	ssize_t r;
	do
		r = preadv(fd, iov, (int)(2 * n), (off_t)w[0].ref.off);
	while (r < 0 && errno == EINTR);
	for (size_t i = 0; i < n; i++) {
		*bad = i;
		vol_status st =
			r == (ssize_t)(n * rl)
				? rec_verify(l, w[i].ref.seg, w[i].ref.off,
					     hdrs + i * PREC_HDR, w[i].key,
					     w[i].hash, w[i].page)
				/* Short or failed: one record at a time,
				 * which says which one and why. */
				: plog_read(l, w[i].ref, w[i].key, w[i].hash,
					    hdrs + i * PREC_HDR, w[i].page);
		if (st)
			return st;
	}
	*bad = n;
	return VOL_OK;
}

/* Under qmu: a step of preparing segment prep_want may run now. Paced,
 * not in one burst, since every sync's flush waits for whatever the disk
 * was given before it: while the active segment was prepared, as fast as
 * it fills (ahead by a quarter); while it was not (the appends grow the
 * file: the roll-over moves on as soon as the preparation is done), one
 * step per PREP_PACE_NS. *wake: when a step paced by time is due (0:
 * nothing to wait for). */
static bool prep_due(const struct plog *l, int64_t *wake)
{
	*wake = 0;
	if (l->prep_want <= l->prep_tried || l->wb_end.seg >= l->prep_want)
		return false; /* nothing wanted, or wait for the roll-over */
	if (l->pz_fd >= 0 && l->pz_id == l->prep_want &&
	    l->pz_off >= l->seg_bytes)
		return true; /* the hand-over */
	if (l->q_active_prep) {
		uint64_t at = l->wb_end.off;
		return l->pz_fd < 0 || l->pz_id != l->prep_want ||
		       l->pz_off < at + at / 4 + PREP_STEP;
	}
	if (mono_ns() >= l->prep_next_ns)
		return true;
	*wake = l->prep_next_ns;
	return false;
}

/* Under qmu: write-behind work waits (see DESIGN). */
static bool behind_due(const struct plog *l)
{
	return pref_lt(l->wb, l->wb_end) || l->drop.seg < l->drop_to;
}

/* Under qmu (released meanwhile), from the syncer thread: one step of
 * preparing segment prep_want (see DESIGN): PREP_STEP bytes of zeros, or
 * at the end, the sync and the hand-over to the roll-over. A preparation
 * a roll-over overtook (the log went on in a segment it created) serves
 * the next segment: it is renamed, its zeros are not written again. A
 * failure drops it: preparing is only ever an optimization. */
static void prepare_step(struct plog *l)
{
	static const uint8_t zeros[64 << 10];
	uint64_t id = l->prep_want;
	pthread_mutex_unlock(&l->qmu);
	char name[4096];
	file_name(name, sizeof name, l->dir, id, "pre");
	if (l->pz_fd >= 0 && l->pz_id != id) {
		char old[4096];
		file_name(old, sizeof old, l->dir, l->pz_id, "pre");
		if (rename(old, name) == 0) {
			l->pz_id = id;
		} else {
			close(l->pz_fd);
			unlink(old);
			l->pz_fd = -1;
		}
	}
	bool ok = true;
	struct statvfs vfs;
	if (l->pz_fd < 0 &&
	    (statvfs(l->dir, &vfs) || (uint64_t)vfs.f_bavail * vfs.f_frsize <
					      PREP_FREE_SEGS * l->seg_bytes))
		ok = false; /* short of space: page writes need it more */
	else if (l->pz_fd < 0) {
		l->pz_fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600);
		l->pz_id = id;
		l->pz_off = 0;
		ok = l->pz_fd >= 0;
	}
	uint64_t from = l->pz_off,
		 stop = from + PREP_STEP < l->seg_bytes ? from + PREP_STEP
							: l->seg_bytes;
	for (; ok && l->pz_off < stop;) {
		size_t n = stop - l->pz_off < sizeof zeros ? stop - l->pz_off
							    : sizeof zeros;
		ok = pwrite(l->pz_fd, zeros, n, (off_t)l->pz_off) ==
		     (ssize_t)n;
		l->pz_off += n;
	}
	if (ok && l->pz_off < l->seg_bytes) {
		(void)sync_file_range(l->pz_fd, (off_t)from,
				      (off_t)(stop - from),
				      SYNC_FILE_RANGE_WRITE);
		pthread_mutex_lock(&l->qmu);
		l->prep_next_ns = mono_ns() + PREP_PACE_NS;
		return; /* more steps */
	}
	ok = ok && fdatasync(l->pz_fd) == 0;
	pthread_mutex_lock(&l->amu);
	pthread_mutex_lock(&l->tmu);
	uint64_t active = l->segs[l->nsegs - 1].id;
	pthread_mutex_unlock(&l->tmu);
	if (ok && active >= id) { /* overtaken: kept for the next one */
		pthread_mutex_unlock(&l->amu);
		pthread_mutex_lock(&l->qmu);
		l->prep_tried = id;
		return;
	}
	if (ok && l->prep_fd < 0) {
		l->prep_fd = l->pz_fd;
		l->prep_id = id;
	} else if (l->pz_fd >= 0) {
		close(l->pz_fd);
		unlink(name);
	}
	l->pz_fd = -1;
	pthread_mutex_unlock(&l->amu);
	pthread_mutex_lock(&l->qmu);
	l->prep_tried = id;
}

/* Under qmu (released meanwhile): one step of write-behind, a segment's
 * writeback or DROP_STEP bytes of dropping. Only the syncer thread moves
 * wb and drop. */
static void behind_step(struct plog *l)
{
	bool wb = pref_lt(l->wb, l->wb_end);
	struct pref at = wb ? l->wb : l->drop, end = l->wb_end;
	pthread_mutex_unlock(&l->qmu);
	/* Shared: the segment's descriptor stays open meanwhile. */
	pthread_rwlock_rdlock(&l->rw);
	pthread_mutex_lock(&l->tmu);
	struct pseg *s = pseg_find(l, at.seg);
	int fd = s ? s->fd : -1;
	uint64_t size = s ? s->size : 0;
	pthread_mutex_unlock(&l->tmu);
	/* Hints (see DESIGN): their failures are not errors. */
	if (fd >= 0 && wb)
		(void)sync_file_range(fd, (off_t)at.off,
				      at.seg < end.seg ? 0
						       : (off_t)(end.off - at.off),
				      SYNC_FILE_RANGE_WRITE);
	else if (fd >= 0)
		(void)posix_fadvise(fd, (off_t)at.off, DROP_STEP,
				    POSIX_FADV_DONTNEED);
	pthread_rwlock_unlock(&l->rw);
	pthread_mutex_lock(&l->qmu);
	if (wb)
		l->wb = at.seg < end.seg ? (struct pref){at.seg + 1, 0} : end;
	else
		l->drop = fd >= 0 && at.off + DROP_STEP < size
				  ? (struct pref){at.seg, at.off + DROP_STEP}
				  : (struct pref){at.seg + 1, 0};
}

/* Under qmu (released meanwhile), not busy: fdatasync the segments of
 * every request queued so far, in one pass. The thread that waits for a
 * sync runs it itself (no hand-off to another thread on the way of every
 * fsync); requests queued meanwhile wait and the next of them runs the
 * next pass for all: concurrent syncs share a flush. */
static void sync_pass(struct plog *l)
{
	l->busy = true;
	uint64_t upto = l->req, from = l->q_from, to = l->q_to;
	l->q_from = UINT64_MAX;
	l->q_to = 0;
	pthread_mutex_unlock(&l->qmu);
	vol_status st = VOL_OK;
	char why[256] = "";
	/* Shared: a segment cannot be removed (its descriptor closed) while
	 * it is synced. */
	pthread_rwlock_rdlock(&l->rw);
	for (uint64_t id = from; id <= to && !st; id++) {
		pthread_mutex_lock(&l->tmu);
		struct pseg *s = pseg_find(l, id);
		int fd = s ? s->fd : -1;
		pthread_mutex_unlock(&l->tmu);
		if (fd >= 0 && fdatasync(fd)) {
			st = errno == ENOSPC ? VOL_ENOSPC : VOL_EIO;
			snprintf(why, sizeof why,
				 "page log: cannot sync segment %016" PRIx64
				 ": %s", id, strerror(errno));
		}
	}
	pthread_rwlock_unlock(&l->rw);
	if (st) { /* sync it all again next time */
		pthread_mutex_lock(&l->amu);
		l->dirty = true;
		if (from < l->unsynced_from)
			l->unsynced_from = from;
		pthread_mutex_unlock(&l->amu);
	}
	pthread_mutex_lock(&l->qmu);
	if (st) {
		l->fail_lo = l->done;
		l->fail_hi = upto;
		l->fail_st = st;
		snprintf(l->fail_why, sizeof l->fail_why, "%s", why);
	}
	l->done = upto;
	l->busy = false;
	pthread_cond_broadcast(&l->qcv);
	if (behind_due(l)) /* it yielded to this pass */
		pthread_cond_signal(&l->scv);
}

/* The syncer thread: write-behind and preparing segments (see DESIGN). */
static void *syncer_main(void *arg)
{
	struct plog *l = arg;
	/* Named for top -H and perf; a name is only a hint. */
	(void)pthread_setname_np(pthread_self(), "rwf-syncer");
	pthread_mutex_lock(&l->qmu);
	while (!l->stop) {
		/* Write-behind yields to a running sync; preparing is paced. */
		int64_t wake;
		if (behind_due(l) && !l->busy) {
			behind_step(l);
		} else if (prep_due(l, &wake)) {
			prepare_step(l);
		} else if (wake) {
			cond_wait_ns(&l->scv, &l->qmu, wake - mono_ns());
		} else {
			pthread_cond_wait(&l->scv, &l->qmu);
		}
	}
	pthread_mutex_unlock(&l->qmu);
	return NULL;
}

uint64_t plog_sync_begin(struct plog *l, struct pref *durable)
{
	pthread_mutex_lock(&l->amu);
	pthread_mutex_lock(&l->tmu);
	struct pseg *a = &l->segs[l->nsegs - 1];
	*durable = (struct pref){a->id, a->size};
	pthread_mutex_unlock(&l->tmu);
	bool dirty = l->dirty;
	uint64_t from = l->unsynced_from;
	l->nsyncs += dirty;
	l->dirty = false;
	l->unsynced_from = a->id;
	/* Queued under amu too, so requests queue in position order. */
	pthread_mutex_lock(&l->qmu);
	if (dirty) {
		if (from < l->q_from)
			l->q_from = from;
		if (durable->seg > l->q_to)
			l->q_to = durable->seg;
		l->req++;
	}
	/* Clean: wait for what others queued (it may cover our bytes). */
	uint64_t ticket = l->req;
	pthread_mutex_unlock(&l->qmu);
	pthread_mutex_unlock(&l->amu);
	return ticket;
}

vol_status plog_sync_end(struct plog *l, uint64_t ticket)
{
	pthread_mutex_lock(&l->qmu);
	while (l->done < ticket) {
		if (!l->busy)
			sync_pass(l);
		else
			pthread_cond_wait(&l->qcv, &l->qmu);
	}
	vol_status st = VOL_OK;
	if (ticket > l->fail_lo && ticket <= l->fail_hi)
		st = vol__fail(l->fail_st, "%s", l->fail_why);
	pthread_mutex_unlock(&l->qmu);
	return st;
}

vol_status plog_sync(struct plog *l, struct pref *durable)
{
	return plog_sync_end(l, plog_sync_begin(l, durable));
}

/* The length of an intact record at b[0..n) (header and body checked), or
 * 0. *hdr_only: the header is intact (its length then known) but not the
 * body. */
static size_t rec_at(const uint8_t *b, size_t n, uint32_t ps, bool *hdr_only)
{
	*hdr_only = false;
	if (n < PREC_HDR)
		return 0;
	uint32_t bn = rec_header_ok(b, ps);
	if (!bn || PREC_HDR + (size_t)bn > n)
		return 0;
	if (XXH3_64bits(b + PREC_HDR, bn) != be64_get(b + 40)) {
		*hdr_only = true;
		return PREC_HDR + bn;
	}
	return PREC_HDR + bn;
}

vol_status plog_scan(struct plog *l, struct pref from, plog_scan_fn fn,
		     void *ctx, struct pref *valid_end)
{
	vol_status st = VOL_OK;
	*valid_end = from;
	const uint8_t magic[4] = {0x52, 0x57, 0x50, 0x4c};
	/* A copy of the table: appends may go on (their descriptors stay
	 * open while the caller holds the read lock, or nothing runs yet). */
	pthread_mutex_lock(&l->tmu);
	size_t nsegs = l->nsegs;
	struct pseg *segs = malloc((nsegs ? nsegs : 1) * sizeof *segs);
	if (segs)
		memcpy(segs, l->segs, nsegs * sizeof *segs);
	pthread_mutex_unlock(&l->tmu);
	if (!segs)
		return vol__fail(VOL_ENOMEM, "out of memory");
	for (size_t i = 0; i < nsegs && !st; i++) {
		struct pseg *s = &segs[i];
		if (s->id < from.seg)
			continue;
		uint64_t base = s->id == from.seg ? from.off : 0;
		if (base > s->size) { /* shorter than the store says */
			st = fn(ctx, NULL, (struct pref){s->id, s->size}, base);
			break;
		}
		size_t len = (size_t)(s->size - base);
		uint8_t *b = malloc(len ? len : 1);
		if (!b) {
			st = vol__fail(VOL_ENOMEM, "out of memory");
			break;
		}
		int e = pread_all(s->fd, b, len, base);
		if (e) {
			free(b);
			st = vol__fail(VOL_EIO, "page log: cannot read segment "
				       "%016" PRIx64 ": %s", s->id,
				       e > 0 ? strerror(e) : "short read");
			break;
		}
		size_t pos = 0;
		while (pos < len && !st) {
			bool hdr_only;
			size_t n = rec_at(b + pos, len - pos, l->ps, &hdr_only);
			if (n && !hdr_only) {
				st = fn(ctx, b + pos,
					(struct pref){s->id, base + pos}, 0);
				pos += n;
				*valid_end = (struct pref){s->id, base + pos};
				continue;
			}
			/* Damaged: skip an intact header's record (fn sees
			 * its header), else find the next intact header. */
			size_t next = pos + (n ? n : 1);
			while (!n && next < len) {
				uint8_t *m = memmem(b + next, len - next, magic,
						    4);
				if (!m) {
					next = len;
					break;
				}
				next = (size_t)(m - b);
				bool h;
				if (rec_at(b + next, len - next, l->ps, &h))
					break;
				next++;
			}
			/* Zeros up to the end of the file are a prepared
			 * segment's space not written yet (see DESIGN). */
			if (!n && next == len) {
				while (next > pos && !b[next - 1])
					next--;
				if (next == pos)
					break;
			}
			st = fn(ctx, n ? b + pos : NULL,
				(struct pref){s->id, base + pos}, base + next);
			pos = next;
		}
		free(b);
	}
	free(segs);
	return st;
}

vol_status plog_truncate(struct plog *l, struct pref end)
{
	vol_status st = VOL_OK;
	pthread_rwlock_wrlock(&l->rw);
	pthread_mutex_lock(&l->amu);
	pthread_mutex_lock(&l->tmu);
	while (l->nsegs > 1 && l->segs[l->nsegs - 1].id > end.seg) {
		struct pseg *s = &l->segs[l->nsegs - 1];
		char name[4096];
		seg_name(name, sizeof name, l->dir, s->id);
		close(s->fd);
		if (unlink(name) && errno != ENOENT) {
			st = vol__fail(VOL_EIO, "page log: cannot remove %s: %s",
				       name, strerror(errno));
			l->nsegs--;
			goto out;
		}
		l->nsegs--;
	}
	struct pseg *s = &l->segs[l->nsegs - 1];
	if (s->id == end.seg && s->size > end.off) {
		if (ftruncate(s->fd, (off_t)end.off) || fsync(s->fd)) {
			st = vol__fail(VOL_EIO,
				       "page log: cannot truncate segment %016"
				       PRIx64 ": %s", s->id, strerror(errno));
			goto out;
		}
		s->size = end.off;
		l->active_prep = false; /* its zeros are gone */
	}
out:
	pthread_mutex_unlock(&l->tmu);
	pthread_mutex_lock(&l->qmu);
	l->q_active_prep = l->active_prep;
	if (!st && pref_lt(end, l->pub)) {
		l->pub = end;
		l->wb = l->wb_end = end;
	}
	pthread_mutex_unlock(&l->qmu);
	pthread_mutex_unlock(&l->amu);
	pthread_rwlock_unlock(&l->rw);
	return st;
}

struct pref plog_end(struct plog *l)
{
	pthread_mutex_lock(&l->tmu);
	struct pref e = l->nsegs ? (struct pref){l->segs[l->nsegs - 1].id,
						 l->segs[l->nsegs - 1].size}
				 : (struct pref){0, 0};
	pthread_mutex_unlock(&l->tmu);
	return e;
}

size_t plog_list(struct plog *l, struct pref **out)
{
	pthread_mutex_lock(&l->tmu);
	size_t n = l->nsegs;
	*out = malloc((n ? n : 1) * sizeof **out);
	if (*out)
		for (size_t i = 0; i < n; i++)
			(*out)[i] = (struct pref){l->segs[i].id,
						  l->segs[i].size};
	else
		n = 0;
	pthread_mutex_unlock(&l->tmu);
	return n;
}

uint64_t plog_bytes(struct plog *l)
{
	uint64_t sum = 0;
	pthread_mutex_lock(&l->tmu);
	for (size_t i = 0; i < l->nsegs; i++)
		sum += l->segs[i].size;
	pthread_mutex_unlock(&l->tmu);
	return sum;
}

/* The space of a removed (unlinked) segment, given back while only this
 * thread holds it open: a filesystem mounted with online discard (ext4
 * -o discard, common on cloud machines) discards the blocks a journal
 * transaction freed when it commits, and every fdatasync of the log
 * commits the journal. Freeing a 64 MiB segment at once held one sync
 * for about 25 ms (measured: bench/volbench --phases retention; a pass
 * removes dozens of segments). paced: FREE_STEP at a time, FREE_PACE_NS
 * apart, so that a commit carries a few MiB of discards at most. The
 * last close frees what is left. Failures of the truncation are not
 * errors: the close frees it all anyway. */
static void free_space(int fd, bool paced)
{
	struct stat sb;
	if (paced && fstat(fd, &sb) == 0) {
		for (off_t at = sb.st_size; at > (off_t)FREE_STEP;) {
			at -= (off_t)FREE_STEP;
			if (ftruncate(fd, at))
				break;
			struct timespec ts = {0, FREE_PACE_NS};
			nanosleep(&ts, NULL);
		}
	}
	close(fd);
}

vol_status plog_remove(struct plog *l, uint64_t id, bool paced)
{
	vol_status st = VOL_OK;
	int fd = -1;
	pthread_rwlock_wrlock(&l->rw);
	pthread_mutex_lock(&l->amu);
	pthread_mutex_lock(&l->tmu);
	struct pseg *s = pseg_find(l, id);
	if (!s || s == &l->segs[l->nsegs - 1]) {
		st = vol__fail(VOL_EINVAL, "page log: segment %016" PRIx64
			       " is %s", id, s ? "the active one" : "unknown");
	} else {
		char name[4096];
		seg_name(name, sizeof name, l->dir, id);
		if (unlink(name) && errno != ENOENT) {
			st = vol__fail(VOL_EIO, "page log: cannot remove %s: %s",
				       name, strerror(errno));
		} else {
			fd = s->fd;
			size_t i = (size_t)(s - l->segs);
			memmove(s, s + 1, (l->nsegs - i - 1) * sizeof *s);
			l->nsegs--;
		}
	}
	pthread_mutex_unlock(&l->tmu);
	pthread_mutex_unlock(&l->amu);
	pthread_rwlock_unlock(&l->rw);
	if (fd >= 0)
		free_space(fd, paced);
	return st;
}
