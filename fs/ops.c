/*
 * ops.c - the FUSE low-level operations of rewindfs.
 *
 * DESIGN
 * The daemon is a thin shell over volume.h: every byte of a block file lives
 * in the engine, and the only state kept here is per volume (struct fs_vol):
 * how many handles have the block file open, and the last control-command
 * error. Layout and grammar are doc/control.md.
 *
 * Invariants
 *  1. A handler replies exactly once, with fuse_reply_err(req, errno > 0) or a
 *     data reply. Engine errors become errnos only through fs_errno().
 *  2. Backtrack, reset and rmdir need the block file closed. They check
 *     fs_vol.opens == 0 and run the engine call while holding fs.lock, and
 *     open of a block file increments opens under the same lock, so no open
 *     can slip in between the check and the change.
 *  3. Control commands run one at a time (fs.lock), so concurrent writers to
 *     a control file each get the result of their own whole command.
 *  4. After a backtrack or reset the kernel's page cache and attributes of
 *     the block file are dropped (notify_inval_inode) before fs.lock is
 *     released, so an open racing with the command (it waits for fs.lock)
 *     cannot see stale pages. That is deadlock-free: with opens == 0 no
 *     request holds a page of the block file locked, and inval_inode takes
 *     no inode lock. Entry notifications (a new clone's name) are different:
 *     they take the root directory's lock, which mkdir/rmdir hold while they
 *     wait for fs.lock, so they are sent after fs.lock is released.
 *  5. A control file's read content is generated once, at open, into the
 *     handle: one reader sees one consistent text. Control files use
 *     direct_io, so their st_size (0) does not matter.
 *
 * Caching choices, measured with dd on a 1 GiB volume on this machine
 * (2 cores, ext4 on virtio disk; pool on the same disk):
 *  - Page cache for buffered opens of the block file (FOPEN_KEEP_CACHE):
 *    re-reads come from the kernel at ~1.3 GB/s instead of ~100 MB/s through
 *    the engine (dd bs=1M iflag=direct, warm engine); cold reads are
 *    engine/disk bound either way (15-25 MB/s), and raising the FUSE bdi
 *    readahead from 128 KiB to 1 MiB changed them by less than the noise.
 *  - Direct I/O (FOPEN_DIRECT_IO) when the opener asked for O_DIRECT, as
 *    `losetup --direct-io=on` and databases do: no double caching, requests
 *    of the caller's size. The kernel does not send FSYNC for O_DSYNC writes
 *    on such handles, so fs_write syncs them itself (see there).
 *  - No writeback cache: it would let the kernel grow the file on writes
 *    past the end (the size is set only by truncate here) and hold
 *    acknowledged writes outside the engine's ordered change log.
 *  - max_write 1 MiB: random-data writes (dd bs=1M oflag=direct) ran at
 *    33-96 MB/s with either 128 KiB or 1 MiB requests (engine bound, the
 *    spread is RocksDB background work); 1 MiB means 8x fewer requests and
 *    matches a loop device's largest request, so it is kept.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* Entry and attribute timeouts. Every change of a name or size goes through
 * this mount (the kernel updates its own cache) or is invalidated
 * explicitly (backtrack, reset), so caching for a second is safe. Measured:
 * 20000 stat(2) of a block file take 370 ms with 1 s against 1370 ms with 0;
 * 4 KiB buffered writes showed no difference beyond the noise (0.7-2 s for
 * 64 MiB either way). */
#define FS_TIMEOUT 1.0

/* The largest write request the kernel may send (and read for direct I/O):
 * 1 MiB, the most FUSE allows (see the caching notes above). */
#define FS_MAX_WRITE (1u << 20)

/* How long backtrack/reset/rmdir wait for a just-closed block file's RELEASE
 * to arrive (the kernel sends it asynchronously after close(2) returns)
 * before answering EBUSY. Generous, so `dd ...; echo -5m > .backtrack`
 * works on a loaded machine; a real EBUSY costs this much latency. */
#define FS_RELEASE_WAIT_NS (1000 * 1000000LL)

/* fi->fh of a block-file handle: FOPEN_DIRECT_IO or not. */
#define FS_FH_CACHED 0
#define FS_FH_DIRECT 1

static const char *const kind_names[FS_NKINDS] = {
	[FS_DIR] = NULL,
	[FS_BLOCK] = "volume",
	[FS_BACKTRACK] = ".backtrack",
	[FS_CLONE] = ".clone",
	[FS_SNAPSHOT] = ".snapshot",
	[FS_WINDOW] = ".window",
	[FS_STATUS] = ".status",
};

/* ------------------------------------------------------------ utilities */

int64_t fs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static fs *g_fs; /* for fs_errno's log line only */

int fs_errno(vol_status st)
{
	switch (st) {
	case VOL_OK:
		return 0;
	case VOL_EINVAL:
		return EINVAL;
	case VOL_ENOENT:
		return ENOENT;
	case VOL_EEXIST:
		return EEXIST;
	case VOL_EBUSY:
		return EBUSY;
	case VOL_ERANGE:
		return ERANGE;
	case VOL_ENOSPC:
		return ENOSPC;
	case VOL_ENOMEM:
		return ENOMEM;
	case VOL_ENOTPOOL:
		return EINVAL;
	case VOL_ECORRUPT:
		fs_log(g_fs, LOG_CRIT, "corruption: %s", vol_errmsg());
		return EIO;
	case VOL_EIO:
		fs_log(g_fs, LOG_ERR, "storage error: %s", vol_errmsg());
		return EIO;
	}
	fs_log(g_fs, LOG_ERR, "unexpected engine status %d: %s", (int)st,
	       vol_errmsg());
	return EIO;
}

static fs *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

static fuse_ino_t ino_of(vol_id id, fs_kind k)
{
	return (fuse_ino_t)(id * FS_NKINDS + k);
}
static vol_id id_of(fuse_ino_t ino) { return ino / FS_NKINDS; }
static fs_kind kind_of(fuse_ino_t ino) { return (fs_kind)(ino % FS_NKINDS); }
static bool is_vol_ino(fuse_ino_t ino) { return ino >= FS_NKINDS; }

static fs_kind kind_by_name(const char *name)
{
	for (int k = FS_BLOCK; k < FS_NKINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return (fs_kind)k;
	return FS_DIR; /* not a file name */
}

/* The vol_info of the volume of a volume inode. 0 or errno. */
static int info_of(fs *f, vol_id id, vol_info *vi)
{
	return fs_errno(vol_info_get(f->pool, id, vi));
}

/* The volume named name (an invalid name is not found). 0 or errno. */
static int lookup_name(fs *f, const char *name, vol_id *id)
{
	return fs_errno(vol_name_valid(name) ? vol_lookup(f->pool, name, id)
					     : VOL_ENOENT);
}

/* If err is an error, reply it; true if it did (the request is done). */
static bool reply_failed(fuse_req_t req, int err)
{
	if (err)
		fuse_reply_err(req, err);
	return err != 0;
}

/* The fs_vol of id, created on demand. Caller holds f->lock. NULL: ENOMEM. */
static fs_vol *vol_state(fs *f, vol_id id)
{
	for (size_t i = 0; i < f->nvols; i++)
		if (f->vols[i].id == id)
			return &f->vols[i];
	if (f->nvols == f->capvols) {
		size_t cap = f->capvols ? f->capvols * 2 : 16;
		fs_vol *v = realloc(f->vols, cap * sizeof(*v));
		if (!v)
			return NULL;
		f->vols = v;
		f->capvols = cap;
	}
	fs_vol *v = &f->vols[f->nvols++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	return v;
}

static void vol_state_drop(fs *f, vol_id id)
{
	for (size_t i = 0; i < f->nvols; i++)
		if (f->vols[i].id == id) {
			f->vols[i] = f->vols[--f->nvols];
			return;
		}
}

/* Record a failed command or verb: last_error of volume id (0 = the pool),
 * and the log. Takes f->lock itself unless `locked`. */
static void note_error(fs *f, vol_id id, bool locked, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note_error(fs *f, vol_id id, bool locked, const char *fmt, ...)
{
	char msg[FS_LAST_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* .status is printable ASCII, one line: names and reasons may carry
	 * any byte the caller wrote. */
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
		else if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	if (!locked)
		pthread_mutex_lock(&f->lock);
	if (id) {
		fs_vol *v = vol_state(f, id);
		if (v) {
			memcpy(v->last_error, msg, sizeof(msg));
			v->last_error_ns = fs_now_ns();
		}
	} else {
		memcpy(f->pool_last_error, msg, sizeof(msg));
		f->pool_last_error_ns = fs_now_ns();
	}
	if (!locked)
		pthread_mutex_unlock(&f->lock);
	fs_log(f, LOG_WARNING, "%s", msg);
}

/* Fill st for ino. Returns 0 or errno. */
static int stat_ino(fs *f, fuse_ino_t ino, struct stat *st, uint64_t *gen)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_blksize = vol_pool_page_size(f->pool);
	if (gen)
		*gen = 0;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec =
			f->started_ns / 1000000000;
		return 0;
	}
	if (ino == FS_INO_POOL_STATUS) {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec =
			f->started_ns / 1000000000;
		return 0;
	}
	if (!is_vol_ino(ino))
		return ENOENT;

	vol_info vi;
	int err = info_of(f, id_of(ino), &vi);
	if (err)
		return err;
	int64_t t = vi.created_ns;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nvols; i++)
		if (f->vols[i].id == vi.id && f->vols[i].mtime_ns > t)
			t = f->vols[i].mtime_ns;
	pthread_mutex_unlock(&f->lock);
	st->st_mtim.tv_sec = t / 1000000000;
	st->st_mtim.tv_nsec = t % 1000000000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	if (gen)
		*gen = (uint64_t)vi.created_ns;

	switch (kind_of(ino)) {
	case FS_DIR:
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 2;
		break;
	case FS_BLOCK:
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)vi.size;
		/* What the volume stores (from the last retention pass). */
		st->st_blocks = (blkcnt_t)((vi.bytes_stored + 511) / 512);
		break;
	case FS_STATUS:
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		break;
	default:
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		break;
	}
	return 0;
}

static void reply_entry(fuse_req_t req, fs *f, fuse_ino_t ino)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	int err = stat_ino(f, ino, &e.attr, &e.generation);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = ino;
	e.attr_timeout = FS_TIMEOUT;
	e.entry_timeout = FS_TIMEOUT;
	fuse_reply_entry(req, &e);
}

/* ------------------------------------------------------- init, destroy */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	fs *f = userdata;
	g_fs = f;
	/* 1 MiB requests: see FS_MAX_WRITE. libfuse raises max_pages to match. */
	if (conn->max_write < FS_MAX_WRITE)
		conn->max_write = FS_MAX_WRITE;
	conn->max_readahead = FS_MAX_WRITE;
	/* No writeback cache: with it the kernel would grow the file itself on
	 * writes past the end (the size is set only by truncate here), and an
	 * acknowledged write(2) would sit in the kernel instead of reaching the
	 * engine's ordered change log. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* The page cache is invalidated explicitly on backtrack/reset, and all
	 * writes go through this mount, so mtime-based invalidation only
	 * throws away good pages. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

static void ctl_handle_free(fs *f, struct ctl_handle *h);

static void fs_destroy(void *userdata)
{
	fs *f = userdata;
	int err = fs_errno(vol_pool_sync(f->pool));
	if (err)
		fs_log(f, LOG_ERR, "final sync failed: %s", strerror(err));
	while (f->ctl_open) /* releases that never came */
		ctl_handle_free(f, f->ctl_open);
}

/* ----------------------------------------------------------- namespace */

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs *f = fs_of(req);
	if (parent == FUSE_ROOT_ID) {
		if (strcmp(name, ".status") == 0) {
			reply_entry(req, f, FS_INO_POOL_STATUS);
			return;
		}
		vol_id id;
		if (reply_failed(req, lookup_name(f, name, &id)))
			return;
		reply_entry(req, f, ino_of(id, FS_DIR));
		return;
	}
	if (!is_vol_ino(parent) || kind_of(parent) != FS_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fs_kind k = kind_by_name(name);
	if (k == FS_DIR) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, f, ino_of(id_of(parent), k));
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int err = stat_ino(fs_of(req), ino, &st, NULL);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, FS_TIMEOUT);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	(void)fi;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (is_vol_ino(ino) && kind_of(ino) == FS_BLOCK) {
			if (attr->st_size < 0) {
				fuse_reply_err(req, EINVAL);
				return;
			}
			vol_status vs = vol_resize(f->pool, id_of(ino),
						   (uint64_t)attr->st_size);
			if (vs != VOL_OK) {
				int err = fs_errno(vs);
				note_error(f, id_of(ino), false, "truncate: %s",
					   vol_errmsg());
				fuse_reply_err(req, err);
				return;
			}
		} else if (ino == FUSE_ROOT_ID ||
			   (is_vol_ino(ino) && kind_of(ino) == FS_DIR)) {
			fuse_reply_err(req, EISDIR);
			return;
		} else if (ino == FS_INO_POOL_STATUS || kind_of(ino) == FS_STATUS) {
			fuse_reply_err(req, EACCES);
			return;
		}
		/* Control files: O_TRUNC of `echo CMD > FILE` is accepted
		 * and means nothing. */
	}
	/* Times are derived (creation, last write); setting them is
	 * accepted and ignored so that touch(1) and cp -p do not fail. */
	fs_getattr(req, ino, NULL);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	fs *f = fs_of(req);
	(void)mode;
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!vol_name_valid(name)) {
		note_error(f, 0, false,
			   "mkdir '%.80s': bad volume name (1-64 of A-Z a-z 0-9"
			   " . _ -, not starting with '.')", name);
		fuse_reply_err(req, EINVAL);
		return;
	}
	vol_id id;
	vol_status vs = vol_create(f->pool, name, 0, &id);
	if (vs != VOL_OK) {
		int err = fs_errno(vs);
		note_error(f, 0, false, "mkdir '%s': %s", name, vol_errmsg());
		fuse_reply_err(req, err);
		return;
	}
	reply_entry(req, f, ino_of(id, FS_DIR));
}

/* Wait (bounded) until volume v has no open block-file handle. Caller holds
 * f->lock; v may move in memory while waiting, so it is looked up again.
 * Returns true when nothing has it open. */
static bool wait_closed(fs *f, vol_id id)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until); /* f->closed uses it (main.c) */
	int64_t ns = until.tv_nsec + FS_RELEASE_WAIT_NS;
	until.tv_sec += ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	for (;;) {
		fs_vol *v = vol_state(f, id);
		if (!v || v->opens == 0)
			return true;
		if (pthread_cond_timedwait(&f->closed, &f->lock, &until) ==
		    ETIMEDOUT) {
			v = vol_state(f, id);
			return !v || v->opens == 0;
		}
	}
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs *f = fs_of(req);
	vol_id id;
	int err = 0;
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (reply_failed(req, lookup_name(f, name, &id)))
		return;
	pthread_mutex_lock(&f->lock);
	if (!wait_closed(f, id)) {
		err = EBUSY;
		note_error(f, id, true, "rmdir %s: the block file is open", name);
		note_error(f, 0, true, "rmdir %s: the block file is open", name);
		goto out;
	}
	vol_status vs = vol_delete(f->pool, id);
	if (vs != VOL_OK) {
		err = fs_errno(vs);
		note_error(f, 0, true, "rmdir %s: %s", name, vol_errmsg());
		goto out;
	}
	vol_state_drop(f, id);
out:
	pthread_mutex_unlock(&f->lock);
	fuse_reply_err(req, err);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fs *f = fs_of(req);
	vol_id id, other;
	if (parent != FUSE_ROOT_ID || newparent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (reply_failed(req, lookup_name(f, name, &id)))
		return;
	if (strcmp(name, newname) == 0) {
		fuse_reply_err(req, 0);
		return;
	}
	if (!vol_name_valid(newname)) {
		note_error(f, 0, false, "rename %s: bad new name '%.80s'", name,
			   newname);
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* A volume folder is never empty, so renaming onto one is ENOTEMPTY as
	 * for any non-empty directory (and EEXIST with RENAME_NOREPLACE). */
	if (vol_lookup(f->pool, newname, &other) == VOL_OK) {
		fuse_reply_err(req, flags & RENAME_NOREPLACE ? EEXIST : ENOTEMPTY);
		return;
	}
	vol_status vs = vol_rename(f->pool, id, newname);
	if (vs != VOL_OK) {
		int err = fs_errno(vs);
		note_error(f, 0, false, "rename %s to %s: %s", name, newname,
			   vol_errmsg());
		fuse_reply_err(req, err);
		return;
	}
	fuse_reply_err(req, 0);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	fuse_reply_err(req, EPERM);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	fs *f = fs_of(req);
	vol_pool_stats ps;
	struct statvfs sv;
	(void)ino;
	if (reply_failed(req, fs_errno(vol_pool_stats_get(f->pool, &ps))))
		return;
	memset(&sv, 0, sizeof(sv));
	uint32_t bs = ps.page_size ? ps.page_size : 4096;
	sv.f_bsize = bs;
	sv.f_frsize = bs;
	sv.f_blocks = ps.disk_total / bs;
	sv.f_bfree = ps.disk_free / bs;
	sv.f_bavail = ps.disk_free / bs;
	sv.f_files = ps.volumes;
	sv.f_ffree = 0;
	sv.f_favail = 0;
	sv.f_namemax = VOL_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/* ------------------------------------------------------- directories */

struct dir_ent {
	char name[VOL_NAME_MAX + 1];
	fuse_ino_t ino;
	mode_t type;
};

struct dir_handle {
	struct dir_ent *ents;
	size_t n;
};

static void dir_add(struct dir_handle *d, const char *name, fuse_ino_t ino,
		    mode_t type)
{
	struct dir_ent *e = &d->ents[d->n++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->ino = ino;
	e->type = type;
}

/* Room for "." (self), ".." (the root) and n more entries; both added.
 * 0 or ENOMEM. */
static int dir_begin(struct dir_handle *d, fuse_ino_t self, size_t n)
{
	d->ents = calloc(n + 2, sizeof(*d->ents));
	if (!d->ents)
		return ENOMEM;
	dir_add(d, ".", self, S_IFDIR);
	dir_add(d, "..", FUSE_ROOT_ID, S_IFDIR);
	return 0;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	struct dir_handle *d = calloc(1, sizeof(*d));
	vol_info *vols = NULL;
	size_t nvols = 0;
	int err = 0;
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (ino == FUSE_ROOT_ID) {
		err = fs_errno(vol_list(f->pool, &vols, &nvols));
		if (err)
			goto fail;
		err = dir_begin(d, FUSE_ROOT_ID, 1 + nvols);
		if (err)
			goto fail;
		dir_add(d, ".status", FS_INO_POOL_STATUS, S_IFREG);
		for (size_t i = 0; i < nvols; i++)
			dir_add(d, vols[i].name, ino_of(vols[i].id, FS_DIR), S_IFDIR);
	} else if (is_vol_ino(ino) && kind_of(ino) == FS_DIR) {
		vol_info vi;
		err = info_of(f, id_of(ino), &vi);
		if (err)
			goto fail;
		err = dir_begin(d, ino, FS_NKINDS - FS_BLOCK);
		if (err)
			goto fail;
		for (int k = FS_BLOCK; k < FS_NKINDS; k++)
			dir_add(d, kind_names[k], ino_of(id_of(ino), (fs_kind)k),
				S_IFREG);
	} else {
		err = ENOTDIR;
		goto fail;
	}
	free(vols);
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
	return;
fail:
	free(vols);
	free(d->ents);
	free(d);
	fuse_reply_err(req, err);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < d->n; i++) {
		struct stat st = { .st_ino = d->ents[i].ino,
				   .st_mode = d->ents[i].type };
		size_t need = fuse_add_direntry(req, buf + used, size - used,
						d->ents[i].name, &st,
						(off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	(void)ino;
	if (d) {
		free(d->ents);
		free(d);
	}
	fuse_reply_err(req, 0);
}

/* ------------------------------------------------------ control reads */

/* The handle of an open control file: its read text, made at open, and
 * whether a write on it was refused as not a command (see ctl_write). */
struct ctl_handle {
	char *text;
	size_t len;
	_Atomic bool refused;
	struct ctl_handle *prev, *next; /* fs.ctl_open, under fs.lock */
};

static void ctl_handle_link(fs *f, struct ctl_handle *h)
{
	pthread_mutex_lock(&f->lock);
	h->next = f->ctl_open;
	if (h->next)
		h->next->prev = h;
	f->ctl_open = h;
	pthread_mutex_unlock(&f->lock);
}

static void ctl_handle_free(fs *f, struct ctl_handle *h)
{
	pthread_mutex_lock(&f->lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		f->ctl_open = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&f->lock);
	free(h->text);
	free(h);
}

static const char *yn(bool b) { return b ? "yes" : "no"; }

static void put_time(FILE *o, const char *key, int64_t ns)
{
	char b[64];
	if (ns == 0)
		fprintf(o, "%s: none\n", key);
	else
		fprintf(o, "%s: %s\n", key, ctl_format_time(ns, b, sizeof(b)));
}

static void put_dur(FILE *o, const char *key, int64_t ns)
{
	char b[64];
	fprintf(o, "%s: %s\n", key, ctl_format_duration(ns, b, sizeof(b)));
}

static void put_last_error(fs *f, FILE *o, vol_id id)
{
	char msg[FS_LAST_ERROR_MAX];
	int64_t when;
	pthread_mutex_lock(&f->lock);
	if (id) {
		fs_vol *v = vol_state(f, id);
		snprintf(msg, sizeof(msg), "%s", v ? v->last_error : "");
		when = v ? v->last_error_ns : 0;
	} else {
		snprintf(msg, sizeof(msg), "%s", f->pool_last_error);
		when = f->pool_last_error_ns;
	}
	pthread_mutex_unlock(&f->lock);
	fprintf(o, "last_error: %s\n", msg[0] ? msg : "none");
	put_time(o, "last_error_time", when);
}

static int gen_pool_status(fs *f, FILE *o)
{
	vol_pool_stats ps;
	vol_status vs = vol_pool_stats_get(f->pool, &ps);
	if (vs != VOL_OK)
		return fs_errno(vs);
	int64_t now = fs_now_ns();
	fprintf(o, "volumes: %" PRIu64 "\n", ps.volumes);
	fprintf(o, "page_size: %" PRIu32 "\n", ps.page_size);
	fprintf(o, "lsn: %" PRIu64 "\n", ps.lsn);
	fprintf(o, "timelines: %" PRIu64 "\n", ps.timelines);
	fprintf(o, "history_budget: %" PRIu64 "\n", ps.history_budget);
	fprintf(o, "bytes_pages: %" PRIu64 "\n", ps.bytes_pages);
	fprintf(o, "bytes_history: %" PRIu64 "\n", ps.bytes_history);
	fprintf(o, "budget_alert: %s\n", yn(ps.budget_alert));
	fprintf(o, "disk_total: %" PRIu64 "\n", ps.disk_total);
	fprintf(o, "disk_free: %" PRIu64 "\n", ps.disk_free);
	fprintf(o, "db_bytes: %" PRIu64 "\n", ps.db_bytes);
	fprintf(o, "disk_full: %s\n", yn(ps.disk_full));
	fprintf(o, "reserve: %" PRIu64 "\n", ps.reserve_bytes);
	fprintf(o, "store_error: %s\n",
		ps.store_error[0] ? ps.store_error : "none");
	fprintf(o, "replayed: %" PRIu64 "\n", ps.replayed);
	put_time(o, "last_retention", ps.last_retention_ns);
	fprintf(o, "retention_interval: %us\n", f->retention_s);
	fprintf(o, "daemon_pid: %ld\n", (long)getpid());
	put_time(o, "started", f->started_ns);
	put_dur(o, "uptime", (now - f->started_ns) / 1000000000 * 1000000000);
	put_last_error(f, o, 0);
	return 0;
}

static int gen_vol_status(fs *f, FILE *o, vol_id id)
{
	vol_info vi;
	int err = info_of(f, id, &vi);
	if (err)
		return err;
	unsigned opens = 0;
	pthread_mutex_lock(&f->lock);
	fs_vol *v = vol_state(f, id);
	if (v)
		opens = v->opens;
	pthread_mutex_unlock(&f->lock);
	fprintf(o, "name: %s\n", vi.name);
	fprintf(o, "id: %" PRIu64 "\n", vi.id);
	fprintf(o, "size: %" PRIu64 "\n", vi.size);
	fprintf(o, "page_size: %" PRIu32 "\n", vol_pool_page_size(f->pool));
	fprintf(o, "lsn: %" PRIu64 "\n", vi.lsn);
	fprintf(o, "timeline: %" PRIu64 "\n", vi.timeline);
	fprintf(o, "chain_depth: %" PRIu32 "\n", vi.chain_depth);
	put_time(o, "created", vi.created_ns);
	put_dur(o, "window", vi.window_ns);
	put_dur(o, "actual_window", vi.actual_window_ns);
	put_time(o, "earliest", vi.earliest_ns);
	fprintf(o, "budget_alert: %s\n", yn(vi.budget_alert));
	if (vi.source) {
		fprintf(o, "source: %s\n", vi.source_name[0] ? vi.source_name
							     : "(deleted)");
		fprintf(o, "source_id: %" PRIu64 "\n", vi.source);
		fprintf(o, "source_timeline: %" PRIu64 "\n", vi.source_timeline);
		fprintf(o, "source_lsn: %" PRIu64 "\n", vi.source_lsn);
	} else {
		fprintf(o, "source: none\n");
	}
	/* The clone chain up to the first volume that is not a clone (or a
	 * deleted one): "c3 c1 prod". Bounded in case of a broken record. */
	fprintf(o, "ancestry: %s", vi.name);
	vol_info up = vi;
	for (int depth = 0; up.source && depth < 64; depth++) {
		vol_id src = up.source;
		if (vol_info_get(f->pool, src, &up) != VOL_OK) {
			fprintf(o, " (deleted)");
			break;
		}
		fprintf(o, " %s", up.name);
	}
	fputc('\n', o);
	fprintf(o, "bytes_written: %" PRIu64 "\n", vi.bytes_written);
	/* When the byte counts that follow were made ("none": not counted
	 * yet, which is not an empty volume). */
	put_time(o, "bytes_counted", vi.bytes_counted_ns);
	fprintf(o, "bytes_stored: %" PRIu64 "\n", vi.bytes_stored);
	fprintf(o, "bytes_unique: %" PRIu64 "\n", vi.bytes_unique);
	fprintf(o, "bytes_shared: %" PRIu64 "\n", vi.bytes_shared);
	fprintf(o, "bytes_history: %" PRIu64 "\n", vi.bytes_history);
	fprintf(o, "snapshots: %" PRIu64 "\n", vi.snapshots);
	fprintf(o, "backtracks: %" PRIu64 "\n", vi.backtracks);
	fprintf(o, "open: %u\n", opens);
	put_last_error(f, o, id);
	return 0;
}

static void put_point(FILE *o, const char *pfx, const vol_point *p)
{
	char b[64];
	fprintf(o, " %s_lsn=%" PRIu64 " %s_timeline=%" PRIu64 " %s_time=%s", pfx,
		p->lsn, pfx, p->timeline, pfx,
		ctl_format_time(p->time_ns, b, sizeof(b)));
}

static int gen_backtrack(fs *f, FILE *o, vol_id id)
{
	vol_info vi;
	vol_backtrack_rec *recs = NULL;
	size_t n = 0;
	vol_status vs = vol_info_get(f->pool, id, &vi);
	if (vs == VOL_OK)
		vs = vol_backtrack_history(f->pool, id, &recs, &n);
	if (vs != VOL_OK)
		return fs_errno(vs);
	fprintf(o, "lsn: %" PRIu64 "\n", vi.lsn);
	fprintf(o, "timeline: %" PRIu64 "\n", vi.timeline);
	fprintf(o, "chain_depth: %" PRIu32 "\n", vi.chain_depth);
	put_time(o, "earliest", vi.earliest_ns);
	put_dur(o, "window", vi.window_ns);
	put_dur(o, "actual_window", vi.actual_window_ns);
	fprintf(o, "backtracks: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char b[64], t[128];
		fprintf(o, "- when=%s requested=%s",
			ctl_format_time(recs[i].when_ns, b, sizeof(b)),
			ctl_format_target(&recs[i].requested, t, sizeof(t)));
		put_point(o, "chosen", &recs[i].chosen);
		put_point(o, "before", &recs[i].before);
		fprintf(o, " new_timeline=%" PRIu64 "\n", recs[i].new_timeline);
	}
	free(recs);
	return 0;
}

static int gen_clones(fs *f, FILE *o, vol_id id)
{
	vol_info *vols = NULL;
	size_t n = 0, count = 0;
	vol_status vs = vol_list(f->pool, &vols, &n);
	if (vs != VOL_OK)
		return fs_errno(vs);
	for (size_t i = 0; i < n; i++)
		count += vols[i].source == id;
	fprintf(o, "clones: %zu\n", count);
	for (size_t i = 0; i < n; i++) {
		if (vols[i].source != id)
			continue;
		char b[64];
		fprintf(o,
			"- name=%s id=%" PRIu64 " source_lsn=%" PRIu64
			" source_timeline=%" PRIu64 " created=%s\n",
			vols[i].name, vols[i].id, vols[i].source_lsn,
			vols[i].source_timeline,
			ctl_format_time(vols[i].created_ns, b, sizeof(b)));
	}
	free(vols);
	return 0;
}

static int gen_snapshots(fs *f, FILE *o, vol_id id)
{
	vol_snapshot *s = NULL;
	size_t n = 0;
	vol_status vs = vol_snapshot_list(f->pool, id, &s, &n);
	if (vs != VOL_OK)
		return fs_errno(vs);
	fprintf(o, "snapshots: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char b1[64], b2[64];
		fprintf(o,
			"- name=%s lsn=%" PRIu64 " timeline=%" PRIu64
			" time=%s created=%s bytes_held=%" PRIu64 "\n",
			s[i].name, s[i].point.lsn, s[i].point.timeline,
			ctl_format_time(s[i].point.time_ns, b1, sizeof(b1)),
			ctl_format_time(s[i].created_ns, b2, sizeof(b2)),
			s[i].bytes_held);
	}
	free(s);
	return 0;
}

static int gen_window(fs *f, FILE *o, vol_id id)
{
	vol_info vi;
	int err = info_of(f, id, &vi);
	if (err)
		return err;
	put_dur(o, "target", vi.window_ns);
	put_dur(o, "actual", vi.actual_window_ns);
	put_time(o, "earliest", vi.earliest_ns);
	fprintf(o, "alert: %s\n", yn(vi.budget_alert));
	return 0;
}

/* Generate the read text of control inode ino into *h. */
static int ctl_generate(fs *f, fuse_ino_t ino, struct ctl_handle *h)
{
	FILE *o = open_memstream(&h->text, &h->len);
	int err;
	if (!o)
		return ENOMEM;
	if (ino == FS_INO_POOL_STATUS) {
		err = gen_pool_status(f, o);
	} else {
		vol_id id = id_of(ino);
		switch (kind_of(ino)) {
		case FS_STATUS: err = gen_vol_status(f, o, id); break;
		case FS_BACKTRACK: err = gen_backtrack(f, o, id); break;
		case FS_CLONE: err = gen_clones(f, o, id); break;
		case FS_SNAPSHOT: err = gen_snapshots(f, o, id); break;
		case FS_WINDOW: err = gen_window(f, o, id); break;
		default: err = EINVAL; break;
		}
	}
	if (fclose(o) != 0 && !err)
		err = ENOMEM;
	if (err) {
		free(h->text);
		h->text = NULL;
		h->len = 0;
	}
	return err;
}

/* ---------------------------------------------------- control writes */

static const char *op_file(ctl_op op)
{
	switch (op) {
	case CTL_OP_BACKTRACK:
	case CTL_OP_RESET: return ".backtrack";
	case CTL_OP_CLONE: return ".clone";
	case CTL_OP_SNAPSHOT:
	case CTL_OP_SNAPSHOT_DELETE: return ".snapshot";
	case CTL_OP_WINDOW: return ".window";
	}
	return "?";
}

/* Run one parsed command on volume id. Returns 0 or errno; on failure the
 * reason is in last_error. Kernel notifications as in invariant 4. */
static int ctl_run(fs *f, vol_id id, const ctl_cmd *c)
{
	vol_status vs = VOL_OK;
	int err = 0;
	bool inval_name = false;
	vol_id newid;
	char vname[VOL_NAME_MAX + 1] = "";
	vol_info vi;

	pthread_mutex_lock(&f->lock);
	if (vol_info_get(f->pool, id, &vi) == VOL_OK)
		snprintf(vname, sizeof(vname), "%s", vi.name);
	switch (c->op) {
	case CTL_OP_BACKTRACK:
	case CTL_OP_RESET:
		if (!wait_closed(f, id)) {
			err = EBUSY;
			note_error(f, id, true,
				   "%s %s: the block file is open (close it, e.g."
				   " detach the loop device, first)",
				   op_file(c->op), vname);
			goto out;
		}
		if (c->op == CTL_OP_BACKTRACK)
			vs = vol_backtrack(f->pool, id, &c->target, NULL);
		else
			vs = vol_reset(f->pool, id, NULL);
		if (vs == VOL_OK) {
			/* Drop cached pages and attributes (the size may
			 * differ), still under fs.lock: invariant 4. */
			int r = fuse_lowlevel_notify_inval_inode(
				f->se, ino_of(id, FS_BLOCK), 0, 0);
			if (r && r != -ENOENT)
				fs_log(f, LOG_WARNING,
				       "invalidating %s/volume: %s", vname,
				       strerror(-r));
		}
		break;
	case CTL_OP_CLONE:
		vs = vol_clone(f->pool, id, &c->target, c->name, &newid);
		inval_name = vs == VOL_OK;
		break;
	case CTL_OP_SNAPSHOT:
		vs = vol_snapshot_create(f->pool, id, c->name, &c->target, NULL);
		break;
	case CTL_OP_SNAPSHOT_DELETE:
		vs = vol_snapshot_delete(f->pool, id, c->name);
		break;
	case CTL_OP_WINDOW:
		vs = vol_window_set(f->pool, id, c->window_ns);
		break;
	}
	if (vs != VOL_OK) {
		err = fs_errno(vs);
		note_error(f, id, true, "%s %s: %s", op_file(c->op), vname,
			   vol_errmsg());
	}
out:
	pthread_mutex_unlock(&f->lock);
	if (inval_name)
		fuse_lowlevel_notify_inval_entry(f->se, FUSE_ROOT_ID, c->name,
						 strlen(c->name));
	return err;
}

/* One write(2) to a control file through handle h (doc/control.md, "Write
 * semantics"): one whole command, applied under fs.lock (invariant 3) or
 * refused with nothing changed. The kernel hands over a write of up to
 * max_write bytes as one request, and serialises writes to one inode, so a
 * command never mixes with another writer's.
 *  - At offset 0, or anywhere on an O_APPEND handle: the kernel puts append
 *    writes at its cached size, which a previous write grew (it is 0 here),
 *    so for them the offset means nothing.
 *  - A write that cannot be a command, at another offset or longer than
 *    CTL_CMD_MAX, is EINVAL and marks the handle refused: every later write
 *    on it is EINVAL too. stdio (echo, printf) splits longer output into
 *    st_blksize (>= 4096) pieces, the first of them too long, so no piece
 *    of a split command is ever applied, even through O_APPEND. */
static int ctl_write(fs *f, fuse_ino_t ino, struct fuse_file_info *fi,
		     const char *buf, size_t size, off_t off)
{
	char why[FS_LAST_ERROR_MAX - 64];
	ctl_cmd cmd;
	ctl_file cf;
	vol_id id = id_of(ino);
	const char *fname = kind_names[kind_of(ino)];
	struct ctl_handle *h = (struct ctl_handle *)(uintptr_t)fi->fh;

	switch (kind_of(ino)) {
	case FS_BACKTRACK: cf = CTL_BACKTRACK; break;
	case FS_CLONE: cf = CTL_CLONE; break;
	case FS_SNAPSHOT: cf = CTL_SNAPSHOT; break;
	case FS_WINDOW: cf = CTL_WINDOW; break;
	default: return EBADF;
	}
	if (h && h->refused) {
		note_error(f, id, false,
			   "%s: an earlier write on this open file was not a"
			   " command (too long or at an offset): open the file"
			   " again", fname);
		return EINVAL;
	}
	if ((off != 0 && !(fi->flags & O_APPEND)) || size > CTL_CMD_MAX) {
		if (h)
			h->refused = true;
		if (size > CTL_CMD_MAX)
			note_error(f, id, false,
				   "%s: a write of %zu bytes: a command is at"
				   " most %d bytes", fname, size, CTL_CMD_MAX);
		else
			note_error(f, id, false,
				   "%s: write at offset %lld: a command is one"
				   " write at offset 0", fname, (long long)off);
		return EINVAL;
	}
	int err = ctl_parse_command(cf, buf, size, fs_now_ns(), &cmd, why,
				    sizeof(why));
	if (err) {
		note_error(f, id, false, "%s: %s", fname, why);
		return err;
	}
	return ctl_run(f, id, &cmd);
}

/* ------------------------------------------------------------- files */

/* One open handle of the block file of volume id is gone; wake whoever
 * waits for it to be closed (wait_closed). */
static void block_closed(fs *f, vol_id id)
{
	pthread_mutex_lock(&f->lock);
	fs_vol *v = vol_state(f, id);
	if (v && v->opens)
		v->opens--;
	pthread_cond_broadcast(&f->closed);
	pthread_mutex_unlock(&f->lock);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	int acc = fi->flags & O_ACCMODE;
	int err;

	if (ino == FUSE_ROOT_ID || (is_vol_ino(ino) && kind_of(ino) == FS_DIR)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (!is_vol_ino(ino) && ino != FS_INO_POOL_STATUS) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (is_vol_ino(ino) && kind_of(ino) == FS_BLOCK) {
		vol_info vi;
		if (reply_failed(req, info_of(f, id_of(ino), &vi)))
			return;
		pthread_mutex_lock(&f->lock);
		fs_vol *v = vol_state(f, id_of(ino));
		if (v)
			v->opens++;
		pthread_mutex_unlock(&f->lock);
		if (!v) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		/* O_DIRECT openers (losetup --direct-io=on, databases) get
		 * FOPEN_DIRECT_IO: no double caching, and requests of the
		 * caller's size. Everyone else gets the page cache, kept
		 * across opens: every write goes through this mount and
		 * backtrack/reset invalidate it, so the cache is never stale. */
		if (fi->flags & O_DIRECT) {
			fi->direct_io = 1;
			fi->fh = FS_FH_DIRECT;
		} else {
			fi->keep_cache = 1;
			fi->fh = FS_FH_CACHED;
		}
		/* An interrupted opener: no release will come. */
		if (fuse_reply_open(req, fi) == -ENOENT)
			block_closed(f, id_of(ino));
		return;
	}

	/* Control files. */
	bool is_status = ino == FS_INO_POOL_STATUS || kind_of(ino) == FS_STATUS;
	if (is_status && acc != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	struct ctl_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (acc != O_WRONLY) {
		err = ctl_generate(f, ino, h);
		if (err) {
			free(h);
			fuse_reply_err(req, err);
			return;
		}
	} else if (is_vol_ino(ino)) {
		/* Fail the open early if the volume is gone. */
		vol_info vi;
		err = info_of(f, id_of(ino), &vi);
		if (err) {
			free(h);
			fuse_reply_err(req, err);
			return;
		}
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	ctl_handle_link(f, h);
	if (fuse_reply_open(req, fi) == -ENOENT)
		ctl_handle_free(f, h);
}

/* Each worker thread keeps its block-file read buffer between requests
 * (freed when the thread ends): a fresh 1 MiB malloc per read is a new
 * mapping (the daemon's mmap threshold is 256 KiB: main.c), and faulting
 * its pages in and unmapping them again took more of the daemon's time than
 * reading the pages (perf, 1 MiB O_DIRECT reads of a block file). */
struct read_buf {
	size_t cap;
	char d[];
};
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_key_make(void)
{
	if (pthread_key_create(&read_buf_key, free))
		abort(); /* only if the process is out of keys */
}

static char *read_buffer(size_t size)
{
	pthread_once(&read_buf_once, read_buf_key_make);
	struct read_buf *b = pthread_getspecific(read_buf_key);
	if (b && b->cap >= size)
		return b->d;
	free(b);
	size_t cap = size > FS_MAX_WRITE ? size : FS_MAX_WRITE;
	b = malloc(sizeof *b + cap);
	pthread_setspecific(read_buf_key, b);
	if (!b)
		return NULL;
	b->cap = cap;
	return b->d;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	if (is_vol_ino(ino) && kind_of(ino) == FS_BLOCK) {
		char *buf = read_buffer(size);
		size_t got = 0;
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		vol_status vs = vol_read(f->pool, id_of(ino), buf, (uint64_t)off,
					 size, &got);
		if (vs != VOL_OK)
			fuse_reply_err(req, fs_errno(vs));
		else
			fuse_reply_buf(req, buf, got);
		return;
	}
	struct ctl_handle *h = (struct ctl_handle *)(uintptr_t)fi->fh;
	if (!h || off < 0 || (size_t)off >= h->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* Reply from a private copy: once the kernel has the reply, the
	 * reader may close the file and RELEASE may free h on another thread
	 * while fuse_reply_buf is still returning (ASan's writev check saw
	 * exactly that). */
	size_t n = h->len - (size_t)off;
	if (n > size)
		n = size;
	char *copy = malloc(n);
	if (!copy) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(copy, h->text + off, n);
	fuse_reply_buf(req, copy, n);
	free(copy);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	if (!is_vol_ino(ino)) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (kind_of(ino) != FS_BLOCK) {
		int err = ctl_write(f, ino, fi, buf, size, off);
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_write(req, size);
		return;
	}

	/* The size is set only by truncate: a write starting at or past the
	 * end is EFBIG, one crossing it is short (like a file at its
	 * RLIMIT_FSIZE). */
	uint64_t vsize;
	if (reply_failed(req, fs_errno(vol_size_get(f->pool, id_of(ino),
						    &vsize))))
		return;
	if (off < 0 || (uint64_t)off >= vsize) {
		fuse_reply_err(req, size ? EFBIG : 0);
		return;
	}
	if (size > vsize - (uint64_t)off)
		size = (size_t)(vsize - (uint64_t)off);
	vol_status vs = vol_write(f->pool, id_of(ino), buf, (uint64_t)off, size);
	/* O_SYNC/O_DSYNC (or RWF_DSYNC) writes must be durable on return. For
	 * page-cache handles the kernel follows the write with an FSYNC; for
	 * FOPEN_DIRECT_IO handles it does not (measured: WRITE requests only),
	 * so the write flags it passes along decide here. */
	if (vs == VOL_OK && fi->fh == FS_FH_DIRECT && (fi->flags & O_DSYNC))
		vs = vol_sync(f->pool, id_of(ino), NULL);
	if (reply_failed(req, fs_errno(vs)))
		return;
	pthread_mutex_lock(&f->lock);
	fs_vol *v = vol_state(f, id_of(ino));
	if (v)
		v->mtime_ns = fs_now_ns();
	pthread_mutex_unlock(&f->lock);
	fuse_reply_write(req, size);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Nothing is buffered here: every write(2) reached the engine before
	 * it returned (no writeback cache). close(2) does not promise
	 * durability, fsync does. */
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	if (is_vol_ino(ino) && kind_of(ino) == FS_BLOCK) {
		block_closed(f, id_of(ino));
	} else {
		struct ctl_handle *h = (struct ctl_handle *)(uintptr_t)fi->fh;
		if (h)
			ctl_handle_free(f, h);
	}
	fuse_reply_err(req, 0);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	(void)datasync;
	(void)fi;
	if (!is_vol_ino(ino) || kind_of(ino) != FS_BLOCK) {
		fuse_reply_err(req, 0);
		return;
	}
	/* Durable on return: the engine records a barrier (a consistent
	 * point that TIME targets resolve to) and syncs its page log. */
	fuse_reply_err(req, fs_errno(vol_sync(f->pool, id_of(ino), NULL)));
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	(void)ino;
	(void)datasync;
	(void)fi;
	/* Names live in the engine's metadata; a pool sync makes them durable. */
	fuse_reply_err(req, fs_errno(vol_pool_sync(f->pool)));
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	fs *f = fs_of(req);
	(void)fi;
	if (!is_vol_ino(ino) || kind_of(ino) != FS_BLOCK) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	uint64_t vsize;
	if (reply_failed(req, fs_errno(vol_size_get(f->pool, id_of(ino),
						    &vsize))))
		return;
	uint64_t start = (uint64_t)offset, end = start + (uint64_t)length;
	if (end < start) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	int op = mode & ~FALLOC_FL_KEEP_SIZE;
	if (op == FALLOC_FL_PUNCH_HOLE && !keep) {
		fuse_reply_err(req, EINVAL); /* as the kernel requires */
		return;
	}
	if (op != 0 && op != FALLOC_FL_PUNCH_HOLE && op != FALLOC_FL_ZERO_RANGE) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/* Growing is truncate's job: a range past the end is EFBIG unless
	 * KEEP_SIZE says to clip it. */
	if (end > vsize) {
		if (!keep) {
			fuse_reply_err(req, EFBIG);
			return;
		}
		end = vsize;
	}
	if (op == 0 || start >= end) {
		/* Mode 0: every page inside the size is already "allocated"
		 * (a hole costs nothing and reads as zeros). */
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, fs_errno(vol_discard(f->pool, id_of(ino), start,
						 end - start)));
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.unlink = fs_unlink,
	.mknod = fs_mknod,
	.create = fs_create,
	.statfs = fs_statfs,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.fallocate = fs_fallocate,
};
