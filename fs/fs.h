/*
 * fs.h - the rewindfs FUSE daemon: shared state of main.c and ops.c.
 *
 * Error rule (read this first): every fs_ function returns 0 or a POSITIVE
 * errno, the sign fuse_reply_err() takes. A vol_status becomes an errno in
 * exactly one place, fs_errno(), which also logs storage failures and
 * corruption with the engine's message (volume, page, LSN).
 *
 * Inode numbers are computed, never stored: FUSE_ROOT_ID (1) is the mount
 * root, 2 the pool .status, and a volume with vol_id V owns the inodes
 * V*8 + kind (fs_kind below). vol_id never changes across renames, so
 * neither do inode numbers; the generation number is the volume's creation
 * time, so a volume deleted and created again under the same name is a
 * different file to NFS-style handles and to the kernel. Because inodes need
 * no table, lookup counts need no bookkeeping and forget is a no-op.
 */
#ifndef REWINDFS_FS_H
#define REWINDFS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "volume.h"

#define FS_INO_POOL_STATUS 2

typedef enum fs_kind {
	FS_DIR = 0,     /* MNT/NAME/            0700 */
	FS_BLOCK,       /* MNT/NAME/volume      0600 */
	FS_BACKTRACK,   /* MNT/NAME/.backtrack  0600 */
	FS_CLONE,       /* MNT/NAME/.clone      0600 */
	FS_SNAPSHOT,    /* MNT/NAME/.snapshot   0600 */
	FS_WINDOW,      /* MNT/NAME/.window     0600 */
	FS_STATUS,      /* MNT/NAME/.status     0400 */
	FS_NKINDS,
} fs_kind;

#define FS_LAST_ERROR_MAX 512
#define FS_LOG_PATH_MAX 4096

/* What the daemon remembers about a volume (the engine knows the rest). */
typedef struct fs_vol {
	vol_id id;
	unsigned opens;   /* open handles of the block file */
	int64_t mtime_ns; /* last write through this daemon, 0 = none */
	int64_t last_error_ns;
	char last_error[FS_LAST_ERROR_MAX];
} fs_vol;

struct ctl_handle;

typedef struct fs {
	vol_pool *pool;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	bool foreground; /* log to stderr, else to log_path and syslog */
	/* POOL/rewindfs.log once detached, "" = none (log.c) */
	char log_path[FS_LOG_PATH_MAX];
	unsigned retention_s;
	int64_t started_ns;

	pthread_mutex_t lock; /* protects everything below */
	/* Open control-file handles, freed at release, or at the end for
	 * those whose release never came (a reader that closed just before
	 * the unmount). */
	struct ctl_handle *ctl_open;
	pthread_cond_t closed; /* signalled when some opens drops; CLOCK_MONOTONIC */
	fs_vol *vols;
	size_t nvols, capvols;
	int64_t pool_last_error_ns;
	char pool_last_error[FS_LAST_ERROR_MAX];
} fs;

/* The lowlevel operations table; userdata is a struct fs *. */
extern const struct fuse_lowlevel_ops fs_ops;

/* vol_status -> positive errno (0 for VOL_OK). The only such conversion. */
int fs_errno(vol_status st);

/* Log one line (a syslog priority): stderr when in the foreground, else
 * f->log_path (time-stamped) and syslog (log.c). */
void fs_log(const fs *f, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fs_vlog(const fs *f, int priority, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Detaching: POOL/rewindfs.log (appended; moved to rewindfs.log.1 once it
 * holds 8 MiB) becomes stdout and stderr, so that what the process prints
 * as it dies stays too. 0, or an errno and the log file is not used. */
int fs_log_open(fs *f, const char *pool_path);

int64_t fs_now_ns(void);

#endif /* REWINDFS_FS_H */
