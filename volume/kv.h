/*
 * kv.h - the ordered key-value store behind the volume engine (internal).
 *
 * The engine talks to storage only through this table of function pointers.
 * kv_rocks.c is the one file that includes <rocksdb/c.h>; tests wrap any kv
 * in kv_fault (kv_fault.c) to fail reads and writes on demand.
 *
 * Contract: every call returns VOL_OK or a failure status with vol_errmsg()
 * set (see vol__fail in internal.h). Keys compare bytewise. A batch is
 * applied atomically by write(); a failed write() applied nothing.
 * Iterators see a consistent snapshot taken at creation.
 *
 * Failure and recovery: after a failed write or sync (a full disk, an I/O
 * error) the store refuses every later write and sync with that first error
 * (failed() returns it) until recover() reopens it. Reads go on working.
 * recover() waits until no batch or iterator is alive, so it must be called
 * by a thread that holds none (and holds no lock that such a holder may
 * wait for): the engine calls it at the entry of its calls.
 */
#ifndef REWINDFS_KV_H
#define REWINDFS_KV_H

#include "volume.h"

enum kv_cf { KV_PAGES = 0, KV_LOG = 1, KV_META = 2, KV_NCF = 3 };

/* How an iterator will be used. */
enum kv_iter_kind {
	/* Seeks that each look at one page's versions (timeline|page, the
	 * prefix of `pages`): a miss is answered by a bloom filter; what lies
	 * beyond the prefix sought is undefined. Other families: total order. */
	KV_POINT,
	/* An ordered walk across many pages (a long read): total order, no
	 * filter, filling the block cache. */
	KV_WALK,
	/* Whole-table scans (retention, discard, check): total order, not
	 * filling the block cache. */
	KV_BULK,
};

typedef struct kv kv;
typedef struct kv_batch kv_batch;
typedef struct kv_iter kv_iter;

struct kv_ops {
	/* *val is malloc'ed (caller frees); VOL_ENOENT if absent. */
	vol_status (*get)(kv *s, enum kv_cf cf, const void *k, size_t kn,
			  void **val, size_t *vn);
	kv_batch *(*batch_new)(kv *s);
	void (*batch_put)(kv_batch *b, enum kv_cf cf, const void *k,
			  size_t kn, const void *v, size_t vn);
	void (*batch_del)(kv_batch *b, enum kv_cf cf, const void *k,
			  size_t kn);
	/* Deletes [lo, hi). */
	void (*batch_del_range)(kv_batch *b, enum kv_cf cf, const void *lo,
				size_t lon, const void *hi, size_t hin);
	size_t (*batch_bytes)(kv_batch *b);
	void (*batch_free)(kv_batch *b);
	/* sync: the WAL is fsynced before return. */
	vol_status (*write)(kv *s, kv_batch *b, bool sync);
	/* fsync the WAL: everything written before is durable. */
	vol_status (*sync)(kv *s);

	kv_iter *(*iter_new)(kv *s, enum kv_cf cf, enum kv_iter_kind kind);
	void (*iter_seek)(kv_iter *it, const void *k, size_t kn);
	void (*iter_seek_prev)(kv_iter *it, const void *k, size_t kn);
	bool (*iter_valid)(kv_iter *it);
	void (*iter_next)(kv_iter *it);
	void (*iter_prev)(kv_iter *it);
	const void *(*iter_key)(kv_iter *it, size_t *kn);
	const void *(*iter_value)(kv_iter *it, size_t *vn);
	/* VOL_OK, or why the iterator stopped early (I/O error). */
	vol_status (*iter_status)(kv_iter *it);
	void (*iter_free)(kv_iter *it);

	/* VOL_OK, or the error that made the store refuse changes. */
	vol_status (*failed)(kv *s);
	/* If the store failed: close and reopen it (what was synced is kept;
	 * later unsynced writes may be lost, as after a crash). VOL_OK when
	 * the store is healthy afterwards. See the note at the top. */
	vol_status (*recover)(kv *s);

	/* Reclaim space after range deletes (may be a no-op). */
	vol_status (*compact)(kv *s, enum kv_cf cf);
	/* Live bytes on disk (SST + WAL), 0 if unknown. */
	uint64_t (*disk_bytes)(kv *s);
	void (*close)(kv *s);
};

struct kv {
	const struct kv_ops *ops;
};

/* Open (create=true: create) the RocksDB store in `dir`. A damaged record
 * inside its WAL fails the open with VOL_ECORRUPT. */
vol_status kv_rocks_open(const char *dir, bool create, kv **out);
/* KV_SALVAGE: such a store opens read-only with what precedes the damage,
 * failed for good with VOL_ECORRUPT (failed(); recover() does nothing). */
/* KV_READONLY: writes nothing at all (the WAL is replayed in memory);
 * writes fail. */
enum kv_open_mode { KV_OPEN, KV_CREATE, KV_SALVAGE, KV_READONLY };
vol_status kv_rocks_open_mode(const char *dir, enum kv_open_mode mode,
			      kv **out);

/* A wrapper that forwards to `inner` (owned) and fails on demand. */
typedef struct kv_fault_ctl {
	/* Countdown: when a counter goes from 1 to 0 that call fails; 0 = off.
	 * Also `fail_*_always`. */
	unsigned writes_until_fail, reads_until_fail, syncs_until_fail;
	bool fail_writes, fail_reads, fail_syncs;
	vol_status status; /* returned on failure, VOL_EIO if 0 */
	/* Counts of calls that went through (tests use them to enumerate
	 * every failure point). */
	unsigned long writes, reads, syncs;
	/* Entries put into batches, by family and first key byte (a key's
	 * tag in the log and meta families): what a change costs the store. */
	unsigned long puts[KV_NCF][256];
} kv_fault_ctl;

kv *kv_fault_wrap(kv *inner, kv_fault_ctl *ctl);

#endif /* REWINDFS_KV_H */
