/*
 * internal.h - shared state of the volume engine's files (not public).
 *
 * Files: engine.c (pool, volumes, commit, sync, barriers, errors),
 * pages.c (page read/write/discard), branch.c (targets, backtrack, clone,
 * reset, snapshots), retention.c (retention, statistics, check),
 * codec.c (keys and record encodings), pagelog.c (the page log: segment
 * files holding page bytes), kv_rocks.c (the only RocksDB user).
 *
 * Locking (see engine.c for the reasoning):
 *   vol->wmu   serializes changes to one volume (writers do read-modify-write
 *              of edge pages under it; branch operations take it too).
 *   pool->mu   protects every in-memory table and counter below and is held
 *              across LSN assignment + kv write, so LSN order == commit order.
 *   Order: vol->wmu before pool->mu. Nothing blocks on I/O under pool->mu
 *   except the (unsynced) kv write of the change itself and its page-log
 *   appends (into the page cache; the flush happens outside it).
 * Lifetime: `struct tl` and `struct vol` objects are never freed before the
 * pool closes (dropped/deleted ones are only marked), so a reader may walk a
 * chain it captured under pool->mu after releasing the lock.
 */
#ifndef REWINDFS_INTERNAL_H
#define REWINDFS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/uio.h>

#include "kv.h"
#include "volume.h"

#define VOL_POOL_MAGIC "rewindfs pool"
/* 2: data pages live in the page log (PV_REF). Version 1 pools (pages
 * inline in RocksDB, PV_DATA) are still read and written. 3: LT_NAME
 * entries instead of LT_VERSION entries (a writable open converts). 4: run
 * entries (PV_RUN; a writable open of a format-3 pool only rewrites the
 * pool record, with the default group). */
#define VOL_POOL_VERSION 4
#define VOL_MARKER_FILE "rewindfs-pool"
#define VOL_DB_DIR "db"
#define LSN_MAX UINT64_MAX
#define PAGE_SIZE_MAX 65536 /* page sizes: powers of two, 4096 up to this */

/* ------------------------------------------------------------ errors */

/* Record a formatted reason for this thread and return st. */
vol_status vol__fail(vol_status st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Classify a store error message ("IO error: No space left ..."). */
vol_status vol__store_status(const char *msg);

/* Make room for `need` elements of `elem` bytes in *arr (capacity *cap,
 * doubled as needed). VOL_ENOMEM leaves it as it was. */
vol_status grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Where a record is in the page log (pagelog.c). */
struct pref {
	uint64_t seg, off;
};

static inline bool pref_lt(struct pref a, struct pref b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off < b.off);
}
static inline bool pref_eq(struct pref a, struct pref b)
{
	return a.seg == b.seg && a.off == b.off;
}
/* ------------------------------------------------------------ keys */

/* pages CF: timeline(8) page(8) ~lsn(8), big-endian */
#define PKEY_LEN 24
void pkey_make(uint8_t k[PKEY_LEN], uint64_t tl, uint64_t page, uint64_t lsn);
void pkey_parse(const uint8_t *k, uint64_t *tl, uint64_t *page,
		uint64_t *lsn);

/* Page value: header then the page (PV_DATA, pools of version 1), nothing
 * (PV_HOLE), or where the page is in the page log (PV_REF: segment(8)
 * offset(8)), or a run (PV_RUN, below). */
enum pval_kind { PV_DATA = 1, PV_HOLE = 2, PV_REF = 3, PV_RUN = 4 };
#define PVAL_HDR 24 /* kind(1) pad(7) time(8) checksum(8) */
#define PVAL_REF (PVAL_HDR + 16)

/* Run entries (pools of format 4). The data pages of one change that follow
 * each other, RUN_MIN or more inside one aligned group of p->run_group
 * pages, are one version: key `t | RUN_BASE + group | ~lsn`, value the
 * header, where the first page's record is in the page log (like PV_REF;
 * the others follow it), then first page(8), count(8) and each page's
 * hash(8). The records keep their own keys (`t | page | ~lsn`), so a read
 * verifies them as any page's. The header's checksum binds key, time and
 * the hash of everything after the reference (which the cleaner moves). A
 * page's newest version on a timeline is the newer of its own newest
 * version and the newest run of its group that covers it. Its LT_NAME
 * entry is the run key's, with first and count as its value. 1 MiB writes
 * put 2 entries instead of 512: BENCHMARKS.md, issue 5 sessions 12-13. */
#define RUN_BASE (1ull << 63)
#define RUN_MIN 16
#define RUN_GROUP_MAX 256   /* pages; the default group */
#define RVAL_FIXED (PVAL_REF + 16)
#define RVAL_MAX (RVAL_FIXED + 8 * RUN_GROUP_MAX)
static inline size_t rval_len(uint64_t count)
{
	return RVAL_FIXED + 8 * (size_t)count;
}
static inline bool pkey_is_run(const uint8_t *k)
{
	return k[8] & 0x80;
}
/* A run's first page, page count and page i's hash (of a value that
 * pval_layout accepted). */
uint64_t rval_first(const uint8_t *v);
uint64_t rval_count(const uint8_t *v);
uint64_t rval_hash(const uint8_t *v, uint64_t i);
/* Page i of the run at (tl, lsn) whose value is v: the key, hash and
 * reference of its record (rl bytes per record). */
struct prec_want;
void rval_want(const uint8_t *v, uint64_t tl, uint64_t lsn, uint64_t i,
	       uint64_t rl, struct prec_want *w);
/* Fill a run value (rval_len(count) bytes) for key k. */
void rval_make(uint8_t *v, const uint8_t k[PKEY_LEN], int64_t time_ns,
	       struct pref ref, uint64_t first, uint64_t count,
	       const uint64_t *hash);
uint64_t pval_data_hash(const void *page, uint32_t ps);
/* Fill a header for a version at key k; data_hash is 0 for holes. */
void pval_header(uint8_t h[PVAL_HDR], const uint8_t k[PKEY_LEN],
		 enum pval_kind kind, int64_t time_ns, uint64_t data_hash);
/* The kind of a stored value whose layout (kind, padding, length) is right
 * for it; false if not. Checks no checksum. */
bool pval_layout(const uint8_t *v, size_t vn, uint32_t ps,
		 enum pval_kind *kind);
/* Verify a stored value. PV_DATA and PV_HOLE are verified whole; for
 * PV_REF only the layout is, and *data_hash is the hash the page in the
 * log must have (the header's checksum binds it to key, kind and time). */
bool pval_check(const uint8_t k[PKEY_LEN], const uint8_t *v, size_t vn,
		uint32_t ps, enum pval_kind *kind, int64_t *time_ns,
		uint64_t *data_hash);

void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);

/* meta CF keys: a tag byte then big-endian ids */
enum meta_tag {
	MT_POOL = 'P',     /* P                     -> pool record          */
	MT_VOL = 'V',      /* V vol                 -> volume record        */
	MT_TL = 'T',       /* T tl                  -> timeline record      */
	MT_SIZE = 'Z',     /* Z tl lsn              -> size (u64)           */
	MT_SEG = 'S',      /* S vol lsn             -> segment              */
	MT_HIST = 'H',     /* H vol seq             -> backtrack record     */
	MT_SNAP = 'N',     /* N vol name            -> snapshot             */
	MT_DURABLE = 'L',  /* L                     -> a page-log position a
	                    * completed sync made durable (a hint: where the
	                    * open starts checking records)                */
	MT_APPLIED = 'A',  /* A                     -> the page log's end after
	                    * the records of the newest page change or sync
	                    * in the store: segment(8) offset(8)           */
};
/* log CF keys */
enum log_tag {
	LT_CHANGE = 'C',   /* C lsn                 -> change record        */
	LT_BARRIER = 'B',  /* B vol time lsn        -> timeline (u64)       */
	LT_VERSION = 'P',  /* P tl page ~lsn        -> time, bytes, ref
	                    * (pools of format 1 and 2 only: the open of a
	                    * writable pool replaces them with LT_NAME
	                    * entries made from the pages family)          */
	LT_NAME = 'N',     /* N tl lsn page         -> (nothing; a run's:
	                    * first(8) count(8))                          */
};
/* Every page version has its LT_NAME entry, written in the same batch and
 * deleted with it. It names the version when RocksDB cannot read the block
 * of the pages family that holds it (a read's EIO, `rewindctl check`).
 * Keyed by LSN within a timeline, not by page, so that a change's entries
 * go in at the end of the skip list of the family's memtable instead of at
 * random places (the search for the place was most of the cost of a
 * second entry keyed like the page: BENCHMARKS.md, issue 5 session 10).
 * Retention and the cleaner read the pages family itself: its values are
 * small (a header and a page-log reference). */
#define NKEY_LEN (1 + PKEY_LEN)
void nkey_make(uint8_t k[NKEY_LEN], const uint8_t pkey[PKEY_LEN]);
/* The page key an LT_NAME key names. */
void nkey_pkey(const uint8_t k[NKEY_LEN], uint8_t pkey[PKEY_LEN]);
enum change_kind {
	CH_CREATE = 1, CH_WRITE, CH_DISCARD, CH_RESIZE, CH_BACKTRACK, CH_CLONE,
	CH_RESET, CH_DELETE, CH_RENAME, CH_SNAPSHOT, CH_WINDOW,
};

/* Key builders: return the key length written to k (k >= 64 bytes). */
size_t key1(uint8_t *k, uint8_t tag, uint64_t a);
size_t key2(uint8_t *k, uint8_t tag, uint64_t a, uint64_t b);
size_t key3(uint8_t *k, uint8_t tag, uint64_t a, uint64_t b, uint64_t c);
size_t key_snap(uint8_t *k, uint64_t vol, const char *name);

/* A growable byte buffer for record encoding. */
struct buf {
	uint8_t d[512];
	size_t n;
	bool overflow;
};
void buf_u64(struct buf *b, uint64_t v);
void buf_str(struct buf *b, const char *s);
struct rd {
	const uint8_t *p;
	size_t n;
	bool bad;
};
uint64_t rd_u64(struct rd *r);
void rd_str(struct rd *r, char *out, size_t cap);

/* ------------------------------------------------------------ state */

/* A PV_REF value's reference (codec.c). */
struct pref pval_ref(const uint8_t *v);
void pval_set_ref(uint8_t *v, struct pref ref);

/* What replaying the page log at open added per volume (pages.c). */
struct replayed {
	size_t changes;
	struct {
		vol_id vol;
		uint64_t lsn, payload;
	} *v;
	size_t n, cap;
};

struct szrec {
	uint64_t lsn, size;
};

struct tl {
	uint64_t id;
	uint64_t anc_id, anc_lsn; /* anc_id 0 = root                      */
	uint64_t created_lsn;
	int64_t created_ns;
	vol_id owner;
	struct tl *anc;
	bool dead;              /* dropped by retention                   */
	struct szrec *sizes;    /* size changes on this timeline, by lsn  */
	size_t nsizes, capsizes;
};

struct seg {
	uint64_t start_lsn;
	int64_t start_ns;
	uint64_t timeline;
};

struct snap {
	char name[VOL_NAME_MAX + 1];
	vol_point pt;
	int64_t created_ns;
	uint64_t bytes_held;
};

struct vol {
	vol_id id;
	char name[VOL_NAME_MAX + 1];
	struct tl *tl;          /* presented now                          */
	uint64_t size;          /* cached size_at(tl, head)               */
	uint64_t lsn;           /* newest change to this volume           */
	uint64_t barrier_lsn;   /* lsn of its newest barrier              */
	int64_t created_ns, window_ns, floor_ns;
	uint64_t created_lsn;
	vol_id source;
	uint64_t src_tl, src_lsn;
	uint64_t bytes_written;
	bool budget_alert;
	bool deleted;
	struct seg *segs;
	size_t nsegs, capsegs;
	struct snap *snaps;
	size_t nsnaps, capsnaps;
	uint64_t nhist;         /* backtrack records (next seq)           */
	/* from the last retention pass */
	uint64_t bytes_stored, bytes_unique, bytes_shared, bytes_history;
	pthread_mutex_t wmu;
	struct vol *grave_next; /* deleted volumes, freed at close        */
};

/* defer.c: the store queue (see the design note there). */
/* A page version that waits for the store: timeline, page, LSN, and where
 * its record is in the page log with its page's hash, or a hole. */
struct pent {
	uint64_t tl, page, lsn, hash;
	struct pref ref;
	bool hole;
	struct pent *bnext;     /* the next page of its bucket             */
	struct pent *older;     /* the page's next older waiting version   */
};
/* A page change that waits for the store: its versions, and its commit
 * record's body, from which its entries are made (put_commit). */
struct dchange {
	struct dchange *next;
	bool logged;            /* it appended page records, ending at:    */
	struct pref applied;
	size_t ne;
	struct pent *e;
	uint8_t *body;
};
struct dqueue {
	/* under pool->mu */
	struct dchange *head, **tail;
	size_t changes, pages;
	int64_t first_ns;       /* mono_ns when the oldest joined          */
	bool busy;              /* the writer has a batch out (no mu held) */
	bool kick, stop, running;
	pthread_t thread;
	pthread_cond_t cv;      /* wakes the writer                        */
	pthread_cond_t done;    /* the writer's batch is settled           */
	/* Held shared by every read of the store (pend_read_begin) and
	 * exclusive while written versions leave the table: a read whose
	 * iterators predate a batch finds its versions in the table. */
	pthread_rwlock_t rw;
	/* the versions, by (timeline, page): under tmu, a leaf lock */
	pthread_mutex_t tmu;
	struct pent **tab;
	size_t cap, heads;
	size_t live;            /* versions in the table (atomic reads)    */
};
struct vol_pool {
	kv *kv;
	struct plog *plog;
	uint64_t format;        /* VOL_POOL_VERSION when opened writable   */
	bool inline_pages;      /* opened as format 1: page bytes may be
	                         * in RocksDB's blob files                 */
	char *path;
	int lockfd;
	uint32_t page_size;
	uint32_t run_group;     /* pages per run group (format 4)          */
	vol_clock_fn clock;
	void *clock_ctx;

	pthread_mutex_t mu;     /* protects everything below              */
	uint64_t lsn;           /* newest committed LSN                   */
	/* A change the page log cannot replay was committed unsynced (its
	 * commit or barrier record failed): the next sync syncs the WAL. */
	bool kv_unsynced;
	struct pref synced;     /* the newest position a sync made durable */
	struct pref durable;    /* ... and the one the store has (MT_DURABLE) */
	/* Barriers of volume syncs that are in the page log, not yet in the
	 * store (vol, time, lsn, tl each; the log ends at bar_end after their
	 * records): they go in with the store queue's next batch (bar_put,
	 * defer.c). */
	uint64_t *bar;
	size_t nbar, capbar;
	struct pref bar_end;
	struct replayed replayed; /* at open, until load_all is done      */
	/* Commit records of page changes committed, not yet in the page
	 * log: they go in with the next append of pages or a barrier
	 * (pages.c, pend_add). */
	uint8_t *pend;
	size_t npend, cappend;
	struct iovec pend_iov;  /* pend_lead's answer                     */
	uint64_t nreplayed;       /* changes and barriers replayed at open */
	int64_t last_ns;        /* clock clamp: never goes backwards      */
	uint64_t next_id;       /* volumes and timelines share it         */
	int64_t created_ns;
	uint64_t budget_set;    /* 0 = default                            */
	uint64_t budget_default;
	struct vol **vols;
	size_t nvols, capvols;
	struct vol *grave;
	struct tl **tls;        /* sorted by id                           */
	size_t ntls, captls;
	/* last retention pass; its counts (these and the volumes') are of
	 * counted_ns, the time its plan was made, and stay those of the last
	 * pass that got as far as storing them when a later one fails */
	uint64_t bytes_pages, bytes_history;
	int64_t last_retention_ns, counted_ns;
	bool budget_alert;
	char retention_error[200];

	/* A full disk (see pool_enter in engine.c). */
	pthread_mutex_t heal_mu;      /* the fields below; one reopen     */
	bool low_space;               /* page writes refused; atomic read */
	uint64_t reserve_bytes;       /* size of POOL/reserve, headroom   */
	uint64_t unchecked;           /* page bytes since the last statvfs
	                               * (atomic)                         */
	int64_t heal_ns;              /* last reopen attempt (monotonic)  */
	char store_error[200];        /* last store failure / recovery    */
	/* Set at open when the change log cannot be read: the pool is then
	 * read-only (pool_enter refuses every change with VOL_ECORRUPT). */
	char damaged[300];
	bool read_only;               /* vol_pool_opts.read_only          */

	pthread_mutex_t retention_mu; /* one pass at a time               */
	pthread_t retention_thread;
	bool retention_running, retention_stop;
	unsigned retention_interval_s;
	uint64_t retention_batch_bytes; /* a pass's deletions per write     */
	pthread_cond_t retention_cv;
	/* Page bytes written since the last background pass began, and
	 * whether a writer has woken the retention thread for them
	 * (retention.c, retention_main). */
	uint64_t retention_written;
	bool retention_woken;
	/* Time passes spent waiting for the writers (pacer_yield), in ns:
	 * the schedule counts a pass's work, not its pauses. */
	int64_t retention_yielded_ns;

	struct dqueue dq;       /* page changes waiting for the store       */
};

/* defer.c (the structures are above struct vol_pool) */
void dq_init(vol_pool *p);
vol_status dq_start(vol_pool *p);       /* the writer thread           */
void dq_stop(vol_pool *p);
void dq_free(vol_pool *p);
/* A change of ne versions with a commit body of nbody bytes (d->e and
 * d->body point into the one allocation; free() frees it). */
struct dchange *dq_alloc(size_t ne, size_t nbody);
/* Under mu: queue d, whose LSN is the pool's newest; its versions become
 * readable. True if the caller must store_flush now (too much waits, or
 * enough and no writer thread). */
bool dq_add(vol_pool *p, struct dchange *d);
/* Under mu: write everything that waits for the store (queued changes,
 * barriers), in order, waiting for the writer's batch first. Every store
 * write that readers of the store or LSN order depend on comes after it. */
vol_status store_flush(vol_pool *p);
/* Around a read of page versions (before its store iterators are made,
 * until they are freed). No store_flush or pool->mu in between. */
void pend_read_begin(vol_pool *p);
void pend_read_end(vol_pool *p);
/* The newest waiting version of page pg of timeline tl at or below bound
 * into *out; false if none. Takes tmu; inside pend_read_begin/end. */
bool pend_find(vol_pool *p, uint64_t tl, uint64_t pg, uint64_t bound,
	       struct pent *out);

/* engine.c */
/* At the entry of every call that changes the pool, holding no lock, batch
 * or iterator: reopens a failed store; a page write of `data` bytes (0 for
 * anything else) is refused with VOL_ENOSPC while the pool's disk is short
 * of space. */
vol_status pool_enter(vol_pool *p, uint64_t data);
/* A page-log append found the disk full (holding no lock): page writes
 * stop until space comes back, as when the store fails so. */
void pool_space_short(vol_pool *p);
int64_t pool_now(vol_pool *p);                 /* under mu */
uint64_t pool_budget(const vol_pool *p);       /* under mu: the history budget */
int64_t mono_ns(void);                         /* CLOCK_MONOTONIC, ns */
/* pthread_cond_timedwait for at most ns from now (the condition variable
 * on the default, realtime clock); may return early, as any wait. */
void cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns);
struct vol *vol_find(vol_pool *p, vol_id id);  /* under mu */
struct vol *vol_find_name(vol_pool *p, const char *name); /* under mu */
struct tl *tl_find(vol_pool *p, uint64_t id);  /* under mu */
/* Lock the volume for a change: takes vol->wmu; ENOENT if deleted. */
vol_status vol_begin(vol_pool *p, vol_id id, struct vol **out);
void vol_end(struct vol *v);
/* A metadata change of one volume: vol_begin, a new batch, and pool->mu
 * held until change_end. */
vol_status change_begin(vol_pool *p, vol_id id, struct vol **v, kv_batch **b);
void change_end(vol_pool *p, struct vol *v, kv_batch *b);
/* Put into b the waiting barriers with their volumes' records, and
 * MT_DURABLE if a sync moved it (not MT_APPLIED). Under mu, which the
 * store queue (defer.c) holds when it takes them. */
void bar_put(vol_pool *p, kv_batch *b);
/* A page-log position under meta key `tag` (MT_APPLIED, MT_DURABLE). */
void put_pref(kv *s, kv_batch *b, uint8_t tag, struct pref at);
/* The change record (log family) of change lsn into b. */
void put_change(vol_pool *p, kv_batch *b, uint64_t lsn, int64_t time_ns,
		enum change_kind kind, vol_id vol, uint64_t tl, uint64_t first,
		uint64_t count);
/* Commit a batch as change `lsn` (= p->lsn + 1) at time_ns, adding the log
 * record. Under mu. On success p->lsn = lsn. Frees nothing. */
vol_status pool_commit(vol_pool *p, kv_batch *b, uint64_t lsn,
		       int64_t time_ns, enum change_kind kind, vol_id vol,
		       uint64_t tl, uint64_t first, uint64_t count);
void put_vol_record(vol_pool *p, kv_batch *b, const struct vol *v);
void put_pool_record(vol_pool *p, kv_batch *b);
void put_tl_record(kv_batch *b, kv *s, const struct tl *t);
void put_barrier(kv *s, kv_batch *b, vol_id vol, int64_t ns, uint64_t lsn,
		 uint64_t tl);
/* In-memory table updates after a successful commit (under mu). */
struct tl *tl_new(uint64_t id, uint64_t anc_id, uint64_t anc_lsn,
		  uint64_t created_lsn, int64_t ns, vol_id owner);
vol_status tl_insert(vol_pool *p, struct tl *t);
vol_status tl_size_push(struct tl *t, uint64_t lsn, uint64_t size);
vol_status seg_push(struct vol *v, uint64_t lsn, int64_t ns, uint64_t tl);
/* Make room so that the inserts after a commit cannot fail. */
vol_status pool_reserve(vol_pool *p, size_t vols, size_t tls);
vol_status vols_insert(vol_pool *p, struct vol *v);
void vols_remove(vol_pool *p, struct vol *v);
struct vol *vol_alloc(void);
/* VOL_OK if `name` is valid and unused (under mu). */
vol_status name_free(vol_pool *p, const char *name);
/* Create volume `name` (under mu): a root timeline of `size` bytes, or,
 * for a clone of src, a timeline branching at (anc, anc_lsn). */
vol_status add_volume(vol_pool *p, const char *name, struct tl *anc,
		      uint64_t anc_lsn, uint64_t size, const struct vol *src,
		      vol_id *out);
uint64_t size_at(const struct tl *t, uint64_t bound);
uint32_t chain_depth(const struct tl *t);
int64_t vol_earliest(vol_pool *p, const struct vol *v, int64_t now);
void fill_info(vol_pool *p, const struct vol *v, vol_info *out);

/* pages.c */
/* The pending commit records (p->pend) as an iovec for plog_append's
 * lead, NULL if none; pend_done after that append: st != VOL_OK drops
 * them and makes the next sync sync the WAL. Under mu. */
const struct iovec *pend_lead(vol_pool *p);
void pend_done(vol_pool *p, vol_status st);
/* The smallest page key after `after` (from the start if NULL) that an
 * LT_NAME entry names: the version after `after` in the pages family's
 * order when the family cannot be read there. False if none, the store
 * failed, or the pool has no names (format 1 or 2, opened read-only). */
bool name_after(vol_pool *p, const uint8_t *after, uint8_t out[PKEY_LEN]);
/* Read a byte range of state (tl, bound) into buf (no size check). */
vol_status pages_read(vol_pool *p, const char *vname, const struct tl *tl,
		      uint64_t bound, void *buf, uint64_t off, size_t len);

/* At open, before load_all: replay the page changes and barriers of the
 * page log from `from` that the store lost (changes after store_lsn, which
 * must follow on without a gap; pagelog.c), counting them in *out. */
struct prange {
	struct pref at;
	uint64_t end;           /* offset in at.seg                         */
	int type;               /* one record of this type, or -1: unknown */
};
struct replay_out {
	struct pref valid_end;  /* after the last intact record             */
	struct prange *damage;  /* damaged stretches, in log order         */
	size_t ndamage, capdamage;
	uint64_t gap_lsn;       /* != 0: this change's commit is missing:
	                         * nothing after it was applied            */
	struct pref gap_at;     /* the first commit record after the gap   */
	size_t proven;          /* damage[0..proven) is followed by a commit
	                         * or barrier that shows no change missing */
};
vol_status pages_replay(vol_pool *p, struct pref from, uint64_t store_lsn,
			struct replay_out *o, struct replayed *out);
/* Where an open starts reading the page log (engine.c). */
struct pref plog_check_from(vol_pool *p);
/* Damage [at, end) of the page log is what a killed daemon left of its
 * last append (the open cuts it): the very end of the log, after the
 * durable point, on a machine that did not restart (engine.c). */
bool plog_unfinished(vol_pool *p, struct pref at, uint64_t end);
/* A page change's store entries (versions, names, its change record)
 * into b, from the body of its commit record (one that commit_fields
 * accepts). */
void put_commit(vol_pool *p, kv_batch *b, const uint8_t *body);
/* One page version with its name into a batch: a data version at `ref` in
 * the page log (hash: its page's), or a hole (ref NULL). */
void put_page_version(vol_pool *p, kv_batch *b, const uint8_t k[PKEY_LEN],
		      int64_t now, uint64_t hash, const struct pref *ref);
/* The LT_NAME entry of the run at key k: its value names the pages the
 * run covers, first(8) count(8), so that a run the store cannot read is
 * named for the pages it holds. */
void put_run_name(vol_pool *p, kv_batch *b, const uint8_t k[PKEY_LEN],
		  uint64_t first, uint64_t count);
/* For a commit record `rec` of a change after store_lsn (one the store does
 * not have yet: a read-only open does not replay): read and verify each of
 * its data records, calling bad() for each that fails. */
typedef void (*commit_bad_fn)(void *ctx, uint64_t tl, uint64_t page,
			      uint64_t lsn, const char *why);
vol_status pages_check_commit(vol_pool *p, const uint8_t *rec,
			      uint64_t store_lsn, commit_bad_fn bad, void *ctx);
/* The versions that refer to page-log records at or after `end` (lost by
 * a crash of the machine: see pagelog.c) are deleted, with a synced
 * write. *dropped counts them. */
vol_status pages_drop_dangling(vol_pool *p, struct pref end,
			       uint64_t *dropped);

/* pagelog.c: see the design note there. All calls are thread-safe. */
#define PREC_HDR 64
struct plog;
/* Open POOL/pages (created unless PLOG_READ_ONLY); segments roll over
 * past seg_bytes. PLOG_NO_PREPARE: never prepare segments ahead (tests
 * that count segments: see the design note). */
enum { PLOG_READ_ONLY = 1, PLOG_NO_PREPARE = 2 };
vol_status plog_open(const char *pool, uint32_t ps, uint64_t seg_bytes,
		     unsigned flags, struct plog **out);
void plog_close(struct plog *l);
size_t plog_rec_len(const struct plog *l); /* PREC_HDR + page size */
enum prec_type { PREC_PAGE = 0, PREC_MOVED = 1, PREC_COMMIT = 2,
		 PREC_BARRIER = 3 };
#define PREC_BODY_MAX (1u << 20) /* commit and barrier bodies */
/* pkey may be NULL (commit, barrier); body_hash is xxh3 of the body. */
void plog_rec_header(uint8_t h[PREC_HDR], uint32_t ps, enum prec_type type,
		     const uint8_t pkey[PKEY_LEN], int64_t ns,
		     uint64_t body_hash, uint32_t body_len);
/* Append `lead` (if not NULL: whole records already formatted, whose
 * places nobody asks for), then n records (each: header by
 * plog_rec_header, then its body), each in `pieces` consecutive iovecs of
 * recs, all into one segment, in one go; refs[i] (if refs) says where
 * record i went, *end (if end) where the last one ends. VOL_ENOSPC /
 * VOL_EIO: nothing usable was appended. */
vol_status plog_append(struct plog *l, const struct iovec *lead,
		       const struct iovec *recs, size_t n, unsigned pieces,
		       struct pref *refs, struct pref *end);
/* Append `lead` (as plog_append) and one record of `type` (no page key)
 * with this body. */
vol_status plog_append_body(struct plog *l, const struct iovec *lead,
			    enum prec_type type, int64_t ns, const void *body,
			    uint32_t n, struct pref *end);
/* Format a record of `type` (no page key) with this body into out
 * (PREC_HDR + n bytes). */
void plog_body_record(struct plog *l, uint8_t *out, enum prec_type type,
		      int64_t ns, const void *body, uint32_t n);
/* The body length an intact header gives. */
uint32_t plog_body_len(const uint8_t hdr[PREC_HDR]);
/* Hold across reading references from the store and their records. */
void plog_read_lock(struct plog *l);
void plog_read_unlock(struct plog *l);
/* Read the record at ref (its header into hdr, its page into page) and
 * verify that it holds version pkey with data_hash. VOL_ECORRUPT
 * (damaged, missing, another version), VOL_EIO; page is then undefined. */
vol_status plog_read(struct plog *l, struct pref ref,
		     const uint8_t pkey[PKEY_LEN], uint64_t data_hash,
		     uint8_t hdr[PREC_HDR], uint8_t *page);
/* A record a read wants: version key, the hash its page must have, where
 * it is, and where its page goes. */
struct prec_want {
	uint8_t key[PKEY_LEN];
	uint64_t hash;
	struct pref ref;
	uint8_t *page;
};
/* The most records plog_read_run reads at once (two iovecs each). */
#define PLOG_RUN_MAX 256
/* Read n <= PLOG_RUN_MAX records that follow each other in one segment
 * (w[i + 1].ref is right after w[i]'s record) with one read, their
 * headers into hdrs (n * PREC_HDR bytes), and verify each as plog_read
 * does. On failure *bad is the index of the record that failed. */
vol_status plog_read_run(struct plog *l, const struct prec_want *w, size_t n,
			 uint8_t *hdrs, size_t *bad);
/* Make every record appended so far durable; *durable is the append
 * position it covers. plog_sync_begin queues it and returns a ticket for
 * plog_sync_end, which flushes (or waits for a concurrent caller that
 * flushes for it). */
vol_status plog_sync(struct plog *l, struct pref *durable);
uint64_t plog_sync_begin(struct plog *l, struct pref *durable);
vol_status plog_sync_end(struct plog *l, uint64_t ticket);
/* At open: read the records from `from` on: fn(ctx, rec, at, 0) for each
 * intact one (rec: header then body), fn(ctx, hdr, at, end) for each
 * damaged stretch [at, end) of segment at.seg: hdr is the header when it
 * is intact (one record whose body is damaged), else NULL (the scan goes
 * on at the next intact header). Stops at fn's failure. *valid_end: the
 * end of the last intact record (`from` if none). */
typedef vol_status (*plog_scan_fn)(void *ctx, const uint8_t *rec,
				   struct pref at, uint64_t end);
vol_status plog_scan(struct plog *l, struct pref from, plog_scan_fn fn,
		     void *ctx, struct pref *valid_end);
/* No restart of the machine since the pool was last opened (see
 * pagelog.c): damaged records are then damage, never a power cut's tear. */
bool plog_same_boot(const struct plog *l);
/* Cut the log at end (later segments removed). */
vol_status plog_truncate(struct plog *l, struct pref end);
struct pref plog_end(struct plog *l);   /* where the next append goes */
/* Every segment as (id, size); *out malloc'ed. */
size_t plog_list(struct plog *l, struct pref **out);
uint64_t plog_bytes(struct plog *l);
/* Unlink a sealed segment: waits for readers (see pagelog.c). paced:
 * give its space back a few MiB at a time (background work; see
 * pagelog.c, free_space). */
vol_status plog_remove(struct plog *l, uint64_t id, bool paced);

/* branch.c */
vol_status resolve_locked(vol_pool *p, struct vol *v, const vol_target *t,
			  vol_point *out);
/* The oldest LSN of v that must stay readable when its earliest restorable
 * time is `earliest`: its last barrier before that time (or its creation). */
vol_status keep_from(vol_pool *p, const struct vol *v, int64_t earliest,
		     uint64_t *lsn, int64_t *ns);
/* The earliest restorable time of v under a history budget's cut at time
 * `cut` (what died before it is to be freed): just after v's first
 * barrier at or after the cut, or the cut itself when v has none since. */
vol_status cut_earliest(vol_pool *p, const struct vol *v, int64_t cut,
			int64_t *earliest);

/* retention.c */
#define RETENTION_BATCH_BYTES (256u << 10) /* a pass's deletions per write */
void *retention_main(void *arg);
/* Background work shares RocksDB's write path and the page log with the
 * database's commits: a commit that arrives while a batch of deletions is
 * written waits for all of it. So a pass gives the path back: after each
 * stretch of such work (a batch of deletions, a chunk of moves) it waits
 * RETENTION_YIELD times as long as the stretch took, if the pool was
 * written meanwhile and is not closing. An idle pool's pass runs at full
 * speed. */
#define RETENTION_YIELD 3
struct pacer {
	int64_t since;    /* the stretch's start (mono_ns)            */
	uint64_t written; /* p->retention_written at its start        */
};
void pacer_start(vol_pool *p, struct pacer *pc);
void pacer_yield(vol_pool *p, struct pacer *pc);
/* A page change wrote `bytes` (under mu): may wake the retention thread
 * early, when that much writing can have outgrown the history budget. */
void retention_note_write(vol_pool *p, uint64_t bytes);

/* cleaner.c: after a retention pass (under retention_mu), give back the
 * page-log space of deleted versions: sealed segments [lo, hi) with
 * live[id - lo] bytes of records still referred to. */
struct seglive {
	uint64_t lo, hi;
	uint64_t *live;
};
vol_status plog_clean(vol_pool *p, const struct seglive *sl,
		      vol_retention_report *rep);

#endif /* REWINDFS_INTERNAL_H */
