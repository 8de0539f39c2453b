/*
 * volume.h - the rewindfs volume engine: versioned pages, change log,
 * timelines, O(1) backtrack and clone, snapshots, retention.
 *
 * This header is the whole contract of volume/. Nothing here knows about FUSE.
 * See ../shared/DESIGN.md for the terms (pool, volume, LSN, timeline, window,
 * snapshot) and the RocksDB key layout; volume/engine.c opens with the design
 * notes and invariants of the implementation.
 *
 * Conventions
 * - Every call returns a vol_status; VOL_OK is 0. On failure a one-line
 *   human-readable reason (naming the volume, page, LSN where it applies) is
 *   available from vol_errmsg() in the same thread until the next failing call.
 *   A failed call changes nothing: every operation is one atomic RocksDB batch,
 *   and in-memory state is updated only after that batch committed.
 * - Threads: every call is safe from any number of threads at once. Writes to
 *   different volumes run in parallel except for the short commit step; reads
 *   never wait for writes to finish.
 * - Memory: arrays returned through `**out` are malloc'ed and owned by the
 *   caller; release them with free() (vol_info and friends hold no pointers).
 * - Durability: vol_write and vol_discard are durable after the next
 *   vol_sync/vol_pool_sync; every other change is durable when it returns.
 *   After a crash the pool holds a prefix of the changes (in LSN order) that
 *   includes everything durable.
 * - Volumes are named by vol_id, which stays the same across renames. A call on
 *   an id that was deleted returns VOL_ENOENT.
 * - Times are wall-clock nanoseconds since the Unix epoch (int64_t).
 */
#ifndef REWINDFS_VOLUME_H
#define REWINDFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum vol_status {
	VOL_OK = 0,
	VOL_EINVAL,   /* bad argument: name, size, page size, range, target   */
	VOL_ENOENT,   /* no such volume, snapshot or pool                      */
	VOL_EEXIST,   /* name already taken                                    */
	VOL_EBUSY,    /* pool is in use by another process                     */
	VOL_ERANGE,   /* target before the earliest restorable point, in the
	               * future, or an I/O range past the end of the volume   */
	VOL_ENOSPC,   /* the pool's disk is full                               */
	VOL_EIO,      /* the key-value store failed (message says how)         */
	VOL_ECORRUPT, /* a stored page or record failed its checksum/decoding  */
	VOL_ENOMEM,
	VOL_ENOTPOOL, /* the folder exists but is not a rewindfs pool          */
} vol_status;

/* Static text for a status ("no such volume", ...). Never NULL. */
const char *vol_strerror(vol_status st);

/* The detailed message of the last failing call in this thread ("" if none).
 * Valid until the next failing call in this thread. */
const char *vol_errmsg(void);

/* ------------------------------------------------------------------ pool */

typedef struct vol_pool vol_pool;
typedef uint64_t vol_id;
struct kv; /* the key-value store interface, volume/kv.h (tests only) */

typedef int64_t (*vol_clock_fn)(void *ctx);

typedef struct vol_pool_opts {
	/* vol_pool_create only: page size, a power of two in [4096, 65536];
	 * 0 means 4096. */
	uint32_t page_size;
	/* Pool-wide history budget in bytes; 0 means the default: a quarter of
	 * the free space of the pool's filesystem at open. Persisted when set. */
	uint64_t history_budget;
	/* Seconds between background retention passes; 0 = no background
	 * thread (call vol_retention_run yourself). */
	unsigned retention_interval_s;
	/* Tests: replace the wall clock (must never go backwards by itself;
	 * the engine clamps it to be non-decreasing anyway). */
	vol_clock_fn clock;
	void *clock_ctx;
	/* Tests: use this key-value store instead of opening RocksDB in the
	 * folder (fault injection). The pool takes ownership. */
	struct kv *kv;
	/* A pool whose write-ahead log holds a damaged record, or whose page
	 * log lost a change's commit record, fails to open with VOL_ECORRUPT
	 * (its volumes would read back an older state). salvage=true opens
	 * any pool read-only with what its store holds (what precedes the
	 * WAL's damage; the page log is not replayed): every change fails
	 * with VOL_ECORRUPT and vol_pool_stats says why, for the operator to
	 * copy the volumes out. */
	bool salvage;
	/* Open without writing anything to the pool (for checks): no reserve
	 * file, no mode changes, no sync at close; every change fails with
	 * VOL_EINVAL. */
	bool read_only;
	/* Tests: the page log's segment size in bytes; 0 = the default (1/64
	 * of the pool's disk, 4-64 MiB). */
	uint64_t segment_bytes;
	/* Tests: never write page log segments ahead of use (which moves the
	 * log on to a new segment early, at a time the syncer thread picks):
	 * how many segments the appends fill is then the same every run. */
	bool no_prepare;
	/* Tests: a retention pass writes its deletions every this many bytes
	 * of batch (0 = the default, 256 KiB); 1 writes each deletion alone. */
	uint64_t retention_batch_bytes;
	/* Tests, vol_pool_create only: the pages of one aligned group, a power
	 * of two in [16, 256] (0 = 256): a write stores the whole pages it
	 * puts into one group as one entry (the engine's run entries). */
	uint32_t run_group;
	/* Tests: no store writer thread. Page changes then wait in memory
	 * until a command, a pool-wide sync or enough of them write them, in
	 * the calling thread (the store's writes happen in a known order). */
	bool store_inline;
} vol_pool_opts;

/* Create a new pool in `path` (created with mode 0700 if missing; must be
 * empty if it exists). Errors: VOL_EEXIST (folder not empty), VOL_EINVAL
 * (page size), VOL_EIO. */
vol_status vol_pool_create(const char *path, const vol_pool_opts *opts);

/* Open an existing pool. opts may be NULL. Errors: VOL_ENOENT (no folder),
 * VOL_ENOTPOOL (a folder that is not a pool), VOL_EBUSY ("pool is in use":
 * another process has it open), VOL_ECORRUPT, VOL_EIO. */
vol_status vol_pool_open(const char *path, const vol_pool_opts *opts,
			 vol_pool **out);

/* Sync everything, stop background work, close. Safe with NULL. Returns the
 * status of the final sync; the pool is freed in every case. */
vol_status vol_pool_close(vol_pool *p);

uint32_t vol_pool_page_size(const vol_pool *p);

/* The newest committed LSN of the pool (0 for a new pool). */
uint64_t vol_pool_lsn(vol_pool *p);

/* Make every change committed so far durable and record a barrier (a
 * consistent point) for every volume changed since its last barrier. */
vol_status vol_pool_sync(vol_pool *p);

/* Set the pool-wide history budget in bytes (0 = back to the default). */
vol_status vol_pool_set_budget(vol_pool *p, uint64_t bytes);

typedef struct vol_pool_stats {
	uint32_t page_size;
	uint64_t lsn;
	uint64_t volumes;
	uint64_t timelines;           /* live timeline records            */
	uint64_t history_budget;      /* bytes, in force                  */
	uint64_t bytes_pages;         /* stored page bytes (last pass)    */
	uint64_t bytes_history;       /* of which history (last pass)     */
	uint64_t disk_total, disk_free; /* the pool's filesystem          */
	uint64_t db_bytes;            /* page log + RocksDB's files      */
	int64_t last_retention_ns;    /* 0 = never                        */
	bool budget_alert;            /* history over budget, or a window
	                               * was shrunk because of it         */
	char retention_error[200];    /* why the last pass failed, or ""  */
	/* The pool's disk filled up: page writes fail with VOL_ENOSPC until
	 * 2 x reserve_bytes are free again (deleting snapshots, volumes or
	 * history frees space; that never needs free space). */
	bool disk_full;
	uint64_t reserve_bytes;       /* POOL/reserve, kept for that      */
	char store_error[200];        /* last store failure and recovery  */
	/* Page changes and syncs the store had lost and the page log gave
	 * back at open (after a crash: normal, nothing was lost). */
	uint64_t replayed;
} vol_pool_stats;

vol_status vol_pool_stats_get(vol_pool *p, vol_pool_stats *out);

/* --------------------------------------------------------------- volumes */

#define VOL_NAME_MAX 64

/* 1-64 chars of [A-Za-z0-9._-], not starting with '.'. */
bool vol_name_valid(const char *name);

typedef struct vol_info {
	vol_id id;
	char name[VOL_NAME_MAX + 1];
	uint64_t size;            /* bytes                                   */
	uint64_t lsn;             /* newest LSN that changed this volume     */
	uint64_t timeline;        /* timeline presented now                  */
	uint32_t chain_depth;     /* timelines a missed read may walk, >= 1  */
	int64_t created_ns;
	int64_t window_ns;        /* target backtrack window                 */
	int64_t actual_window_ns; /* now - earliest_ns                       */
	int64_t earliest_ns;      /* earliest restorable time                */
	bool budget_alert;        /* window shrunk because of the budget     */
	vol_id source;            /* clone source (0 = not a clone)          */
	char source_name[VOL_NAME_MAX + 1]; /* "" if none or deleted         */
	uint64_t source_timeline, source_lsn; /* the branch point of the clone */
	uint64_t bytes_written;   /* payload bytes written, all time         */
	/* From the last retention pass that got as far as counting (a failed
	 * pass may not), as of the time that pass began: */
	int64_t bytes_counted_ns; /* 0 = no pass counted yet              */
	uint64_t bytes_stored;    /* versions on this volume's own timelines */
	uint64_t bytes_unique;    /* readable by this volume only            */
	uint64_t bytes_shared;    /* readable by this and other volumes      */
	uint64_t bytes_history;   /* needed only for past points             */
	uint64_t snapshots, backtracks;
} vol_info;

/* Create an empty volume of `size` bytes (0 allowed). Records a barrier at
 * creation. Errors: VOL_EINVAL (name), VOL_EEXIST. */
vol_status vol_create(vol_pool *p, const char *name, uint64_t size,
		      vol_id *out);
vol_status vol_lookup(vol_pool *p, const char *name, vol_id *out);
vol_status vol_info_get(vol_pool *p, vol_id id, vol_info *out);
/* Just the current size in bytes: cheap enough for every I/O request. */
vol_status vol_size_get(vol_pool *p, vol_id id, uint64_t *size);
/* All volumes, ordered by name. */
vol_status vol_list(vol_pool *p, vol_info **out, size_t *n);
vol_status vol_rename(vol_pool *p, vol_id id, const char *new_name);
/* Grow (new bytes read as zeros) or shrink (pages past the end are dropped
 * as a logged change; growing again shows zeros there). */
vol_status vol_resize(vol_pool *p, vol_id id, uint64_t size);
/* Delete the volume and its snapshots. Its clones are untouched. Storage is
 * reclaimed by retention. */
vol_status vol_delete(vol_pool *p, vol_id id);

/* ----------------------------------------------------------------- pages */

/* Read up to len bytes at off of the current state. Reads past the end are
 * short (*got < len; 0 at or past the end). Holes read as zeros.
 * Errors: VOL_ECORRUPT (checksum mismatch: never wrong data), VOL_EIO. */
vol_status vol_read(vol_pool *p, vol_id id, void *buf, uint64_t off,
		    size_t len, size_t *got);

/* Write len bytes at off as one change (one LSN), unaligned edges are
 * read-modify-written. off + len must be <= size (VOL_ERANGE otherwise).
 * Durable after the next vol_sync; ordered with every other change. */
vol_status vol_write(vol_pool *p, vol_id id, const void *buf, uint64_t off,
		     size_t len);

/* Zero a byte range; whole pages become holes that cost no page storage. */
vol_status vol_discard(vol_pool *p, vol_id id, uint64_t off, uint64_t len);

/* ---------------------------------------------------- points and history */

/* A readable point: the state of a timeline at an LSN. */
typedef struct vol_point {
	uint64_t timeline;
	uint64_t lsn;
	int64_t time_ns; /* commit time of that LSN (or of the barrier) */
} vol_point;

/* Make every change so far durable (all volumes share one page log) and
 * record a barrier for this volume: its current state is a consistent point
 * (always recorded, even if nothing changed). out (may be NULL) receives
 * that point. Concurrent syncs share one fdatasync of the page log. */
vol_status vol_sync(vol_pool *p, vol_id id, vol_point *out);

typedef enum vol_target_kind {
	VOL_AT_NOW = 0,   /* the current state, including unsynced writes  */
	VOL_AT_TIME,      /* the last barrier at or before time_ns         */
	VOL_AT_LSN,       /* exactly the state after LSN lsn               */
	VOL_AT_SNAPSHOT,  /* the named snapshot of this volume             */
} vol_target_kind;

typedef struct vol_target {
	vol_target_kind kind;
	int64_t time_ns;
	uint64_t lsn;
	char snapshot[VOL_NAME_MAX + 1];
} vol_target;

/* Resolve a target to the point the volume presented then. Errors:
 * VOL_ERANGE (before the earliest restorable time, or in the future),
 * VOL_ENOENT (snapshot). */
vol_status vol_resolve(vol_pool *p, vol_id id, const vol_target *t,
		       vol_point *out);

/* Read a past point of this volume (as resolved by vol_resolve; the point
 * must still be readable). The size used is the size the volume had then. */
vol_status vol_read_point(vol_pool *p, vol_id id, const vol_point *pt,
			  void *buf, uint64_t off, size_t len, size_t *got);

typedef struct vol_backtrack_rec {
	int64_t when_ns;          /* when the backtrack ran                 */
	vol_target requested;
	vol_point chosen;         /* what the volume presents now           */
	vol_point before;         /* what it presented just before          */
	uint64_t new_timeline;
} vol_backtrack_rec;

/* Rewind (or go forward again) in place: the volume gets a new timeline
 * branching from the point resolved from t. O(1) in volume size and history.
 * The caller must make sure nothing has the volume open (the engine does not
 * know about opens). out may be NULL. Errors as vol_resolve. */
vol_status vol_backtrack(vol_pool *p, vol_id id, const vol_target *t,
			 vol_backtrack_rec *out);
/* Oldest first. */
vol_status vol_backtrack_history(vol_pool *p, vol_id id,
				 vol_backtrack_rec **out, size_t *n);

/* A new volume `name` whose content is the point of `src` resolved from t.
 * O(1). Errors as vol_resolve plus VOL_EINVAL/VOL_EEXIST for the name. */
vol_status vol_clone(vol_pool *p, vol_id src, const vol_target *t,
		     const char *name, vol_id *out);

/* Reset a clone to its source's current state (a new branch, O(1)).
 * Errors: VOL_EINVAL (not a clone), VOL_ENOENT (source deleted). */
vol_status vol_reset(vol_pool *p, vol_id id, vol_point *out);

typedef struct vol_snapshot {
	char name[VOL_NAME_MAX + 1];
	vol_point point;
	int64_t created_ns;
	uint64_t bytes_held; /* history bytes only this snapshot keeps (last pass) */
} vol_snapshot;

/* Keep a point until deleted, even past the window. Names as volume names. */
vol_status vol_snapshot_create(vol_pool *p, vol_id id, const char *name,
			       const vol_target *t, vol_point *out);
vol_status vol_snapshot_delete(vol_pool *p, vol_id id, const char *name);
/* Ordered by point LSN. */
vol_status vol_snapshot_list(vol_pool *p, vol_id id, vol_snapshot **out,
			     size_t *n);

/* Target backtrack window in ns; 0 means no history is kept. */
vol_status vol_window_set(vol_pool *p, vol_id id, int64_t window_ns);

/* ------------------------------------------------------------ retention */

typedef struct vol_retention_report {
	uint64_t versions_scanned, versions_deleted, bytes_deleted;
	uint64_t timelines_dropped;
	uint64_t bytes_pages, bytes_history;
	bool budget_alert;
	int64_t cutoff_ns; /* the budget's cutoff, 0 = budget not binding */
	/* The page log's cleaner: segments unlinked, live bytes moved out of
	 * mostly dead segments first. */
	uint64_t segments_removed, bytes_moved;
} vol_retention_report;

/* One retention pass now (the background thread calls the same). Deletes
 * versions no readable point needs, drops unreachable timelines, enforces
 * the history budget by shrinking actual windows oldest first, refreshes
 * the byte counts of vol_info. Never blocks writers for long. out may be
 * NULL. */
vol_status vol_retention_run(vol_pool *p, vol_retention_report *out);

/* ---------------------------------------------------------------- check */

typedef void (*vol_check_fn)(void *ctx, const char *problem);

/* Verify every stored page version's checksum and the metadata invariants.
 * Calls fn once per problem; *problems receives the count. Returns VOL_OK
 * when the scan itself ran (even if problems were found). */
vol_status vol_check(vol_pool *p, vol_check_fn fn, void *ctx,
		     uint64_t *problems);

#ifdef __cplusplus
}
#endif
#endif /* REWINDFS_VOLUME_H */
