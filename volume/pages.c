/*
 * pages.c - reading and writing pages: the copy-on-write page layer.
 *
 * DESIGN
 * A read of page p at (timeline t, bound L) seeks `t|p|~L` in the pages
 * family; the first key with prefix `t|p` is the newest version of its own
 * at or below L. Pools of format 4 also keep runs (internal.h: one entry
 * for the pages of a long write within a group): the read also seeks the
 * runs of p's group at or below L, newest first, and takes the first that
 * covers p if it is newer than p's own version (a long read keeps a
 * group's runs for its next pages: one seek per group). If t has neither,
 * the read continues in t's ancestor with the bound lowered to the branch
 * LSN. No version anywhere is a zero page. Every version found
 * is verified (codec.c): a mismatch is VOL_ECORRUPT naming volume, page and
 * LSN, never wrong bytes. A read of many pages finds them first (up to
 * PLOG_RUN_MAX), then reads the page-log records that follow each other
 * (the pages of one write) with one read each, straight into the caller's
 * buffer. A long read finds its pages by walking: one total-order iterator
 * per timeline of the chain, sought once and stepped forward from page to
 * page (a step costs far less than a seek, which searches every level of
 * the LSM tree: seeks were two thirds of the daemon's CPU in 1 MiB reads).
 *
 * A change is staged first (struct stage: the edge pages it read-modify-
 * writes, all outside pool->mu, under the volume's wmu so no other writer of
 * the volume can change them meanwhile; whole pages stay in the caller's
 * buffer), then committed with its LSN under pool->mu: the bytes of its
 * pages are appended to the page log (pagelog.c), its commit record waits
 * for the next append (pend_add), and its store entries are made from that
 * record (put_commit, as a replay makes them): a write's or discard's by
 * the store queue later (defer.c; reads find them there meanwhile), a
 * resize's at once. All-zero pages are stored as hole markers (a 24-byte
 * header, no page bytes), so discards and zero writes cost no page
 * storage. The entries are runs where RUN_MIN or more data pages follow
 * each other in a group (put_versions), so a 1 MiB write puts 2 entries in
 * RocksDB, not 512 (BENCHMARKS.md, issue 5 session 13).
 * A write never reads or overwrites an older version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

/* ------------------------------------------------------------ reading */

/* A read of at least WALK_MIN whole pages walks the first WALK_LEVELS
 * timelines of its chain (deeper ones are sought page by page); a walk
 * steps over at most WALK_STEPS keys (older versions of a page, pages
 * of other timelines) to the next page. Where it cannot (a deep history:
 * every page rewritten many times), that level is sought page by page
 * with the prefix filters for the next WALK_PAUSE pages, twice as many
 * after each further failure (up to WALK_PAUSE_MAX), before the walk is
 * tried again: on a pool whose pages had 13 versions each, walks that
 * sought after their steps made 1 MiB reads 15-30% slower than seeking. */
#define WALK_MIN 16
#define WALK_LEVELS 4
#define WALK_STEPS 8
#define WALK_PAUSE 16
#define WALK_PAUSE_MAX 1024

/* The newest runs (up to RUNS_CACHED) of one group of one level of the
 * chain at or below its bound, verified, newest first: a read of many
 * pages of a group looks its runs up once (a seek per group, not per
 * page). */
#define RUNS_CACHED 32
struct runs {
	bool valid, complete;   /* complete: buf holds all the group's runs */
	uint64_t tl, group, bound;
	size_t n;
	uint64_t lsn[RUNS_CACHED];
	size_t at[RUNS_CACHED]; /* each value's offset in buf              */
	uint8_t *buf;
	size_t nbuf, capbuf;
};

struct reader {
	vol_pool *p;
	kv_iter *it;            /* point seeks                               */
	const char *vname;
	bool walking;
	/* Level i of the chain: its walk and whether it has been placed (a
	 * placed walk stands at the first key >= some key already sought on
	 * that level, an earlier page's: a walking read goes up; or past the
	 * end), and how many more pages are sought instead (pause) after
	 * how long a pause (backoff). */
	kv_iter *walk[WALK_LEVELS];
	bool placed[WALK_LEVELS];
	uint32_t pause[WALK_LEVELS], backoff[WALK_LEVELS];
	kv_iter *rit;           /* run entries                               */
	bool cache_runs;        /* the read is of several pages: keep runs  */
	struct runs run[WALK_LEVELS];
};

/* Holds the page log's read lock until reader_close (pagelog.c, 3).
 * walking: the read goes through many pages in increasing order. */
static vol_status reader_open(struct reader *r, vol_pool *p, const char *vname,
			      bool walking)
{
	*r = (struct reader){.p = p, .vname = vname, .walking = walking};
	pend_read_begin(p);
	plog_read_lock(p->plog);
	r->it = p->kv->ops->iter_new(p->kv, KV_PAGES, KV_POINT);
	if (!r->it) {
		plog_read_unlock(p->plog);
		pend_read_end(p);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	return VOL_OK;
}

static void reader_close(struct reader *r)
{
	const struct kv_ops *o = r->p->kv->ops;
	for (size_t i = 0; i < WALK_LEVELS; i++) {
		if (r->walk[i])
			o->iter_free(r->walk[i]);
		free(r->run[i].buf);
	}
	if (r->rit)
		o->iter_free(r->rit);
	o->iter_free(r->it);
	plog_read_unlock(r->p->plog);
	pend_read_end(r->p);
}

/* Bytewise key order, as the store's. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

/* An iterator at the first key >= k of the pages family, for level `level`
 * of the chain (0: the head timeline); NULL when out of memory. A walk
 * placed at the first key >= k0 (k0 <= k) has no key in [k0, its key), so
 * if its key is >= k it is also the first key >= k; else it steps. */
static kv_iter *reader_seek(struct reader *r, size_t level,
			    const uint8_t k[PKEY_LEN])
{
	const struct kv_ops *o = r->p->kv->ops;
	bool walk = r->walking && level < WALK_LEVELS;
	if (walk && r->pause[level]) {
		r->pause[level]--;
		walk = false;
	}
	if (!walk) {
		o->iter_seek(r->it, k, PKEY_LEN);
		return r->it;
	}
	if (!r->walk[level] &&
	    !(r->walk[level] = o->iter_new(r->p->kv, KV_PAGES, KV_WALK)))
		return NULL;
	kv_iter *it = r->walk[level];
	if (!r->placed[level]) {
		o->iter_seek(it, k, PKEY_LEN);
		r->placed[level] = true;
		return it;
	}
	for (int n = 0; n <= WALK_STEPS; n++) {
		if (!o->iter_valid(it))
			return it;
		size_t kn;
		const uint8_t *key = o->iter_key(it, &kn);
		if (key_cmp(key, kn, k, PKEY_LEN) >= 0) {
			r->backoff[level] = 0;
			return it;
		}
		o->iter_next(it);
	}
	/* Too deep to step: seek page by page for a while. */
	uint32_t b = r->backoff[level];
	b = !b ? WALK_PAUSE : b < WALK_PAUSE_MAX ? 2 * b : b;
	r->backoff[level] = r->pause[level] = b;
	r->placed[level] = false;
	o->iter_seek(r->it, k, PKEY_LEN);
	return r->it;
}

/* Steps a search of the LT_NAME entries takes at most: naming a damaged
 * version is worth a long scan, not an unbounded one. */
#define NAME_STEPS_MAX (1u << 22)

bool name_after(vol_pool *p, const uint8_t *after, uint8_t out[PKEY_LEN])
{
	if (p->format < 3)
		return false;
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	kv_iter *it = o->iter_new(s, KV_LOG, KV_BULK);
	if (!it)
		return false;
	/* Names sort by timeline, then LSN: the smallest page key after
	 * `after` is in its timeline or, if none is there, in the next one
	 * that has names. */
	uint8_t k[NKEY_LEN] = {LT_NAME}, pk[PKEY_LEN];
	size_t kn = 1;
	if (after) {
		memcpy(k + 1, after, 8);
		kn = 9;
	}
	bool found = false;
	uint32_t steps = 0;
	for (o->iter_seek(it, k, kn); o->iter_valid(it) &&
	     steps < NAME_STEPS_MAX; o->iter_next(it), steps++) {
		size_t n;
		const uint8_t *key = o->iter_key(it, &n);
		if (n != NKEY_LEN || key[0] != LT_NAME)
			break;
		if (found && memcmp(key + 1, out, 8))
			break; /* past the timeline of the best one */
		nkey_pkey(key, pk);
		if ((!after || memcmp(pk, after, PKEY_LEN) > 0) &&
		    (!found || memcmp(pk, out, PKEY_LEN) < 0)) {
			memcpy(out, pk, PKEY_LEN);
			found = true;
		}
	}
	found = found && !o->iter_status(it);
	o->iter_free(it);
	return found;
}

/* The LSN of the version of page pg that a read of (timeline, bound) would
 * find, from the LT_NAME entries of the log family (not the page values):
 * names the version when the store cannot read the page itself. 0 if
 * unknown. */
static uint64_t version_lsn(vol_pool *p, uint64_t tl, uint64_t pg,
			    uint64_t bound)
{
	if (p->format < 3)
		return 0;
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	kv_iter *it = o->iter_new(s, KV_LOG, KV_BULK);
	if (!it)
		return 0;
	uint8_t pk[PKEY_LEN], k[NKEY_LEN];
	pkey_make(pk, tl, UINT64_MAX, bound);
	nkey_make(k, pk);
	/* Back from the last name of (tl, bound) to the newest name of page
	 * pg or of a run that covers it. */
	uint64_t lsn = 0;
	uint32_t steps = 0;
	for (o->iter_seek_prev(it, k, NKEY_LEN); o->iter_valid(it) &&
	     steps < NAME_STEPS_MAX; o->iter_prev(it), steps++) {
		size_t n;
		const uint8_t *key = o->iter_key(it, &n);
		if (n != NKEY_LEN || memcmp(key, k, 9))
			break;
		uint64_t kpg = be64_get(key + 17);
		size_t vn;
		const uint8_t *v = kpg == RUN_BASE + pg / p->run_group
					   ? o->iter_value(it, &vn)
					   : NULL;
		/* A run's name holds the pages it covers. */
		if (kpg == pg || (v && vn == 16 && pg >= be64_get(v) &&
				  pg - be64_get(v) < be64_get(v + 8))) {
			lsn = be64_get(key + 9);
			break;
		}
	}
	o->iter_free(it);
	return lsn;
}

/* A failed read of page pg's version lsn on timeline tl: st, with the
 * reason vol_errmsg() holds now, naming volume, page and LSN. */
static vol_status page_fail(const struct reader *r, vol_status st,
			    uint64_t pg, uint64_t lsn, uint64_t tl,
			    const char *what)
{
	char why[256];
	snprintf(why, sizeof why, "%s", vol_errmsg());
	return vol__fail(st, "volume %s page %llu lsn %llu (timeline %llu): "
			 "%s%s", r->vname, (unsigned long long)pg,
			 (unsigned long long)lsn, (unsigned long long)tl, what,
			 why);
}

/* Whether the run value v covers page pg. */
static bool run_covers(const uint8_t *v, uint64_t pg)
{
	uint64_t f = rval_first(v);
	return pg >= f && pg - f < rval_count(v);
}

/* The run entry at the run iterator (key prefix checked), verified: *v its
 * value, *lsn its LSN. pg, tl: the page being read, for the message. */
static vol_status run_entry(struct reader *r, uint64_t pg, uint64_t tl,
			    const uint8_t **v, size_t *vn, uint64_t *lsn)
{
	const struct kv_ops *o = r->p->kv->ops;
	size_t kn;
	const uint8_t *key = o->iter_key(r->rit, &kn);
	enum pval_kind kind;
	*v = o->iter_value(r->rit, vn);
	pkey_parse(key, NULL, NULL, lsn);
	if (!pval_check(key, *v, *vn, r->p->page_size, &kind, NULL, NULL) ||
	    kind != PV_RUN)
		return page_fail(r,
				 vol__fail(VOL_ECORRUPT, "checksum mismatch, "
					   "stored run of pages is corrupted"),
				 pg, *lsn, tl, "");
	return VOL_OK;
}

/* The run iterator at the newest run of group g of timeline tl at or below
 * `from`; false (and *st) when there is none or it failed. */
static bool run_first(struct reader *r, uint64_t tl, uint64_t g,
		      uint64_t from, uint8_t k[PKEY_LEN], vol_status *st)
{
	const struct kv_ops *o = r->p->kv->ops;
	*st = VOL_OK;
	if (!r->rit &&
	    !(r->rit = o->iter_new(r->p->kv, KV_PAGES, KV_POINT))) {
		*st = vol__fail(VOL_ENOMEM, "out of memory");
		return false;
	}
	pkey_make(k, tl, RUN_BASE + g, from);
	o->iter_seek(r->rit, k, PKEY_LEN);
	return o->iter_valid(r->rit);
}

/* The key at the run iterator is still of the group k names. */
static bool run_more(struct reader *r, const uint8_t k[PKEY_LEN])
{
	const struct kv_ops *o = r->p->kv->ops;
	size_t kn;
	const uint8_t *key = o->iter_key(r->rit, &kn);
	return kn == PKEY_LEN && !memcmp(key, k, 16);
}

/* The run iterator's status after its walk of the runs at or below bound:
 * a failure names page pg and the version the read wanted. */
static vol_status run_status(struct reader *r, uint64_t pg, uint64_t tl,
			     uint64_t bound)
{
	vol_status st = r->p->kv->ops->iter_status(r->rit);
	return st ? page_fail(r, st, pg, version_lsn(r->p, tl, pg, bound), tl,
			      "read failed: ")
		  : VOL_OK;
}

/* The newest run of group g of timeline tl at or below LSN `from` and newer
 * than `after` that covers page pg: *out (NULL if none) and its LSN. With
 * c (a level's cache, whose runs end just above `from`), the runs it steps
 * over join the cache, up to RUNS_CACHED; if it reaches the group's end
 * with all of them, the cache is complete. */
static vol_status run_scan(struct reader *r, struct runs *c, uint64_t tl,
			   uint64_t g, uint64_t from, uint64_t after,
			   uint64_t pg, const uint8_t **out, uint64_t *out_lsn)
{
	const struct kv_ops *o = r->p->kv->ops;
	uint8_t k[PKEY_LEN];
	vol_status st;
	bool keep = c && c->n < RUNS_CACHED;
	*out = NULL;
	if (!run_first(r, tl, g, from, k, &st) && st)
		return st;
	for (; o->iter_valid(r->rit) && run_more(r, k); o->iter_next(r->rit)) {
		const uint8_t *v;
		size_t vn;
		uint64_t lsn;
		if ((st = run_entry(r, pg, tl, &v, &vn, &lsn)))
			return st;
		keep = keep && c->n < RUNS_CACHED;
		if (keep) {
			if ((st = grow((void **)&c->buf, &c->capbuf,
				       c->nbuf + vn, 1)))
				return st;
			memcpy(c->buf + c->nbuf, v, vn);
			c->lsn[c->n] = lsn;
			c->at[c->n++] = c->nbuf;
			c->nbuf += vn;
		}
		if (lsn <= after)
			return VOL_OK;
		if (run_covers(v, pg)) {
			*out = v; /* the iterator's copy: valid until it moves */
			*out_lsn = lsn;
			return VOL_OK;
		}
	}
	if ((st = run_status(r, pg, tl, from)))
		return st;
	if (keep)
		c->complete = true;
	return VOL_OK;
}

/* Like run_scan from bound, through level `level`'s cache when the read
 * is of several pages (the next is likely in the same group: one seek for
 * both, where run_scan would seek for each). The cache holds the group's
 * newest runs as far as lookups have needed them, and grows only as far
 * as a lookup must go: under a deep history (a group written 30 times in
 * the window) a read verifies and keeps the one or two runs it reads, not
 * every run of the group. */
static vol_status run_find(struct reader *r, size_t level, uint64_t tl,
			   uint64_t bound, uint64_t after, uint64_t pg,
			   const uint8_t **out, uint64_t *out_lsn)
{
	uint64_t g = pg / r->p->run_group;
	*out = NULL;
	if (r->p->format < 4)
		return VOL_OK;
	if (!r->cache_runs || level >= WALK_LEVELS)
		return run_scan(r, NULL, tl, g, bound, after, pg, out,
				out_lsn);
	struct runs *c = &r->run[level];
	if (!c->valid || c->tl != tl || c->group != g || c->bound != bound)
		*c = (struct runs){.buf = c->buf, .capbuf = c->capbuf,
				   .valid = true, .tl = tl, .group = g,
				   .bound = bound};
	for (size_t i = 0; i < c->n; i++) {
		if (c->lsn[i] <= after)
			return VOL_OK;
		if (run_covers(c->buf + c->at[i], pg)) {
			*out = c->buf + c->at[i];
			*out_lsn = c->lsn[i];
			return VOL_OK;
		}
	}
	if (c->complete)
		return VOL_OK;
	return run_scan(r, c, tl, g, c->n ? c->lsn[c->n - 1] - 1 : bound,
			after, pg, out, out_lsn);
}

/* Find the page `pg` of state (tl, bound). A page whose bytes are in the
 * page log sets *w (key, hash, ref; not page) and *in_log; any other (a
 * hole, no version, a version of a format-1 pool) goes into out
 * (page_size bytes). On each timeline of the chain, the newer of the
 * page's own newest version and the newest run that covers it. */
static vol_status page_find(struct reader *r, const struct tl *tl,
			    uint64_t bound, uint64_t pg, uint8_t *out,
			    struct prec_want *w, bool *in_log)
{
	const struct kv_ops *o = r->p->kv->ops;
	uint32_t ps = r->p->page_size;
	*in_log = false;
	size_t level = 0;
	for (const struct tl *t = tl; t; t = t->anc, level++) {
		/* A version waiting for the store is newer than every stored
		 * one of this timeline (defer.c). */
		struct pent e;
		if (pend_find(r->p, t->id, pg, bound, &e)) {
			if (e.hole) {
				memset(out, 0, ps);
				return VOL_OK;
			}
			pkey_make(w->key, t->id, pg, e.lsn);
			w->hash = e.hash;
			w->ref = e.ref;
			*in_log = true;
			return VOL_OK;
		}
		uint8_t k[PKEY_LEN];
		pkey_make(k, t->id, pg, bound);
		kv_iter *it = reader_seek(r, level, k);
		if (!it)
			return vol__fail(VOL_ENOMEM, "out of memory");
		const uint8_t *key = NULL;
		uint64_t lsn = 0;
		if (!o->iter_valid(it)) {
			vol_status st = o->iter_status(it);
			if (st)
				return page_fail(r, st, pg,
						 version_lsn(r->p, t->id, pg,
							     bound),
						 t->id, "read failed: ");
		} else {
			size_t kn;
			key = o->iter_key(it, &kn);
			if (kn == PKEY_LEN && !memcmp(key, k, 16))
				pkey_parse(key, NULL, NULL, &lsn);
			else
				key = NULL;
		}
		const uint8_t *rv;
		uint64_t rlsn;
		vol_status st = run_find(r, level, t->id, bound, lsn, pg, &rv,
					 &rlsn);
		if (st)
			return st;
		if (rv) {
			rval_want(rv, t->id, rlsn, pg - rval_first(rv),
				  plog_rec_len(r->p->plog), w);
			*in_log = true;
			return VOL_OK;
		}
		if (key) {
			size_t vn;
			const uint8_t *v = o->iter_value(it, &vn);
			enum pval_kind kind;
			uint64_t dh;
			if (!pval_check(key, v, vn, ps, &kind, NULL, &dh))
				return page_fail(
					r,
					vol__fail(VOL_ECORRUPT,
						  "checksum mismatch, stored "
						  "page is corrupted"),
					pg, lsn, t->id, "");
			if (kind == PV_REF) {
				memcpy(w->key, key, PKEY_LEN);
				w->hash = dh;
				w->ref = pval_ref(v);
				*in_log = true;
			} else if (kind == PV_DATA) {
				memcpy(out, v + PVAL_HDR, ps);
			} else {
				memset(out, 0, ps);
			}
			return VOL_OK;
		}
		if (bound > t->anc_lsn)
			bound = t->anc_lsn;
	}
	memset(out, 0, ps);
	return VOL_OK;
}

/* A failed read of the page-log record w wants. */
static vol_status rec_fail(const struct reader *r, vol_status st,
			   const struct prec_want *w)
{
	uint64_t tl, pg, lsn;
	pkey_parse(w->key, &tl, &pg, &lsn);
	return page_fail(r, st, pg, lsn, tl, "");
}

/* The page `pg` of state (tl, bound) into out (page_size bytes). */
static vol_status page_lookup(struct reader *r, const struct tl *tl,
			      uint64_t bound, uint64_t pg, uint8_t *out)
{
	struct prec_want w;
	bool in_log;
	vol_status st = page_find(r, tl, bound, pg, out, &w, &in_log);
	if (st || !in_log)
		return st;
	uint8_t hdr[PREC_HDR];
	st = plog_read(r->p->plog, w.ref, w.key, w.hash, hdr, out);
	return st ? rec_fail(r, st, &w) : VOL_OK;
}

/* Read the records of w[0..n): runs of them that follow each other in a
 * segment (one write put them there: the pages of one change) with one
 * read each. */
static vol_status read_records(struct reader *r, const struct prec_want *w,
			       size_t n, uint8_t *hdrs)
{
	uint64_t rl = plog_rec_len(r->p->plog);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && j - i < PLOG_RUN_MAX &&
				w[j].ref.seg == w[i].ref.seg &&
				w[j].ref.off == w[j - 1].ref.off + rl;
		     j++)
			;
		size_t bad;
		vol_status st = plog_read_run(r->p->plog, w + i, j - i, hdrs,
					      &bad);
		if (st)
			return rec_fail(r, st, &w[i + bad]);
	}
	return VOL_OK;
}

vol_status pages_read(vol_pool *p, const char *vname, const struct tl *tl,
		      uint64_t bound, void *buf, uint64_t off, size_t len)
{
	uint32_t ps = p->page_size;
	struct reader r;
	vol_status st = reader_open(&r, p, vname, len / ps >= WALK_MIN);
	if (st)
		return st;
	r.cache_runs = (off + len - 1) / ps > off / ps;
	/* Whole pages are found first, PLOG_RUN_MAX at a time, then their
	 * records read straight into buf; an edge page through `page`. */
	uint8_t *page = malloc(ps + PLOG_RUN_MAX * (sizeof(struct prec_want) +
						     PREC_HDR));
	if (!page) {
		reader_close(&r);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	struct prec_want *w = (struct prec_want *)(void *)(page + ps);
	uint8_t *hdrs = (uint8_t *)(w + PLOG_RUN_MAX);
	size_t nw = 0;
	uint8_t *dst = buf;
	while (len && st == VOL_OK) {
		uint64_t pg = off / ps;
		uint32_t in = (uint32_t)(off % ps);
		size_t n = ps - in < len ? ps - in : len;
		bool in_log;
		if (in == 0 && n == ps) {
			st = page_find(&r, tl, bound, pg, dst, &w[nw], &in_log);
			if (!st && in_log)
				w[nw++].page = dst;
		} else if ((st = page_lookup(&r, tl, bound, pg, page)) == 0) {
			memcpy(dst, page + in, n);
		}
		dst += n;
		off += n;
		len -= n;
		if (!st && nw && (nw == PLOG_RUN_MAX || !len)) {
			st = read_records(&r, w, nw, hdrs);
			nw = 0;
		}
	}
	free(page);
	reader_close(&r);
	return st;
}

/* Capture what a read needs under the lock: the chain and the size. */
static vol_status read_state(vol_pool *p, vol_id id, const vol_point *pt,
			     const struct tl **tl, uint64_t *bound,
			     uint64_t *size, char *name)
{
	vol_status st = VOL_OK;
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	if (!v) {
		st = vol__fail(VOL_ENOENT, "no volume with id %llu",
			       (unsigned long long)id);
	} else if (!pt) {
		*tl = v->tl;
		*bound = LSN_MAX;
		*size = v->size;
	} else {
		const struct tl *t = tl_find(p, pt->timeline);
		if (!t || t->dead)
			st = vol__fail(VOL_ERANGE,
				       "volume %s: point lsn %llu on timeline "
				       "%llu is no longer readable", v->name,
				       (unsigned long long)pt->lsn,
				       (unsigned long long)pt->timeline);
		*tl = t;
		*bound = pt->lsn;
		*size = t ? size_at(t, pt->lsn) : 0;
	}
	if (v)
		memcpy(name, v->name, VOL_NAME_MAX + 1);
	pthread_mutex_unlock(&p->mu);
	return st;
}

static vol_status read_common(vol_pool *p, vol_id id, const vol_point *pt,
			      void *buf, uint64_t off, size_t len, size_t *got)
{
	const struct tl *tl = NULL;
	uint64_t bound = 0, size = 0;
	char name[VOL_NAME_MAX + 1];
	*got = 0;
	vol_status st = read_state(p, id, pt, &tl, &bound, &size, name);
	if (st)
		return st;
	if (off >= size)
		return VOL_OK;
	if (len > size - off)
		len = (size_t)(size - off);
	if ((st = pages_read(p, name, tl, bound, buf, off, len)))
		return st;
	*got = len;
	return VOL_OK;
}

vol_status vol_read(vol_pool *p, vol_id id, void *buf, uint64_t off,
		    size_t len, size_t *got)
{
	return read_common(p, id, NULL, buf, off, len, got);
}

vol_status vol_read_point(vol_pool *p, vol_id id, const vol_point *pt,
			  void *buf, uint64_t off, size_t len, size_t *got)
{
	return read_common(p, id, pt, buf, off, len, got);
}

/* ------------------------------------------------------------ staging */

/* The page versions of one change, prepared before its LSN is known. */
struct stage {
	uint32_t ps;
	size_t n, cap;          /* data pages                              */
	size_t nd;              /* of them PV_REF, not holes (stage_seal)  */
	uint64_t *pageno;
	uint8_t *hdrs;          /* the page-log record headers (PREC_HDR)  */
	const uint8_t **src;    /* each page's bytes: the caller's buffer
	                         * (whole pages), an edge page, zero_page */
	uint8_t *edge;          /* STAGE_EDGES pages read-modify-written   */
	size_t nedge;
	uint64_t *hash;         /* 0 and kind hole for all-zero pages      */
	uint8_t *kind;
	uint64_t *holes;        /* extra hole markers                      */
	size_t nholes;
	struct iovec *recs;     /* the data pages' records, for the log:
	                         * header and page, 2 pieces each          */
	struct pref *refs;      /* where the log put them                  */
};

static void stage_free(struct stage *s)
{
	free(s->pageno); /* the one allocation of every array but holes */
	free(s->holes);
}

/* Pages a stage copies (read-modify-write): a range's first and last,
 * when they are partly covered. Every change stages one range, or (a
 * discard) two that are each within one page. */
#define STAGE_EDGES 2

/* The bytes of whole pages that a range of zeros stages. */
static const uint8_t zero_page[PAGE_SIZE_MAX];

static vol_status stage_init(struct stage *s, uint32_t ps, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->ps = ps;
	s->cap = cap;
	if (!cap)
		return VOL_OK;
	/* One allocation, the 8-byte aligned arrays first; small (about
	 * 170 bytes a page): whole pages are not copied, and a fresh large
	 * block would be a new mapping to fault in at every write. */
	size_t words = cap * (sizeof *s->pageno + sizeof *s->hash +
			      sizeof *s->src + 2 * sizeof *s->recs +
			      sizeof *s->refs);
	uint8_t *m = malloc(words + STAGE_EDGES * (size_t)ps +
			    cap * (PREC_HDR + 1));
	if (!m)
		return vol__fail(VOL_ENOMEM, "out of memory");
	s->pageno = (uint64_t *)(void *)m;
	s->hash = s->pageno + cap;
	s->src = (const uint8_t **)(void *)(s->hash + cap);
	s->recs = (struct iovec *)(void *)(s->src + cap);
	s->refs = (struct pref *)(void *)(s->recs + 2 * cap);
	s->edge = m + words;
	s->hdrs = s->edge + STAGE_EDGES * (size_t)ps;
	s->kind = s->hdrs + cap * PREC_HDR;
	return VOL_OK;
}

/* d may be unaligned (a page of the caller's buffer). */
static bool all_zero(const uint8_t *d, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, d + i, 8);
		if (w)
			return false;
	}
	return true;
}

/* Checksums and zero detection, outside any lock. */
static void stage_seal(struct stage *s)
{
	s->nd = 0;
	for (size_t i = 0; i < s->n; i++) {
		const uint8_t *d = s->src[i];
		if (all_zero(d, s->ps)) {
			s->kind[i] = PV_HOLE;
			s->hash[i] = 0;
		} else {
			s->kind[i] = PV_REF;
			s->hash[i] = pval_data_hash(d, s->ps);
			s->nd++;
		}
	}
}

void put_page_version(vol_pool *p, kv_batch *b, const uint8_t k[PKEY_LEN],
		      int64_t now, uint64_t hash, const struct pref *ref)
{
	uint8_t v[PVAL_REF];
	const struct kv_ops *o = p->kv->ops;
	if (ref) {
		pval_header(v, k, PV_REF, now, hash);
		pval_set_ref(v, *ref);
		o->batch_put(b, KV_PAGES, k, PKEY_LEN, v, PVAL_REF);
	} else {
		pval_header(v, k, PV_HOLE, now, 0);
		o->batch_put(b, KV_PAGES, k, PKEY_LEN, v, PVAL_HDR);
	}
	uint8_t nk[NKEY_LEN];
	nkey_make(nk, k);
	o->batch_put(b, KV_LOG, nk, NKEY_LEN, "", 0);
}

void put_run_name(vol_pool *p, kv_batch *b, const uint8_t k[PKEY_LEN],
		  uint64_t first, uint64_t count)
{
	uint8_t nk[NKEY_LEN], v[16];
	nkey_make(nk, k);
	be64_put(v, first);
	be64_put(v + 8, count);
	p->kv->ops->batch_put(b, KV_LOG, nk, NKEY_LEN, v, sizeof v);
}

/* The data versions of one change at (tl, lsn, now) into a batch: n pages,
 * each a (page, hash of its bytes) pair of big-endian u64s in d, as in a
 * commit record, whose records follow each other in the page log from
 * ref. Runs of RUN_MIN or more of them that follow each other in one group
 * become run entries (pools of format 4); the rest are page versions of
 * their own. */
static void put_versions(vol_pool *p, kv_batch *b, uint64_t tl, uint64_t lsn,
			 int64_t now, size_t n, const uint8_t *d,
			 struct pref ref)
{
	const struct kv_ops *o = p->kv->ops;
	uint64_t rl = plog_rec_len(p->plog), g = p->run_group;
	uint8_t k[PKEY_LEN];
	uint8_t v[RVAL_MAX];
	uint64_t hash[RUN_GROUP_MAX];
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t pg = be64_get(d + 16 * i);
		j = i + 1;
		if (p->format >= 4)
			while (j < n && be64_get(d + 16 * j) == pg + (j - i) &&
			       be64_get(d + 16 * j) % g)
				j++;
		if (j - i < RUN_MIN) { /* each page a version of its own */
			for (; i < j; i++) {
				pkey_make(k, tl, be64_get(d + 16 * i), lsn);
				put_page_version(p, b, k, now,
						 be64_get(d + 16 * i + 8), &ref);
				ref.off += rl;
			}
			continue;
		}
		for (size_t x = i; x < j; x++) /* within one group: <= g */
			hash[x - i] = be64_get(d + 16 * x + 8);
		pkey_make(k, tl, RUN_BASE + pg / g, lsn);
		rval_make(v, k, now, ref, pg, j - i, hash);
		o->batch_put(b, KV_PAGES, k, PKEY_LEN, v, rval_len(j - i));
		put_run_name(p, b, k, pg, j - i);
		ref.off += (j - i) * rl;
	}
}

/* Append the staged data pages at (tl, lsn, now) to the page log (s->refs:
 * where each went; *end: where the log ends after them), with the commit
 * records that wait (p->pend) ahead of them. Under pool->mu. */
static vol_status stage_append(vol_pool *p, struct stage *s, uint64_t tl,
			       uint64_t lsn, int64_t now, struct pref *end)
{
	uint8_t k[PKEY_LEN];
	size_t nd = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->kind[i] == PV_REF) {
			uint8_t *rec = s->hdrs + i * PREC_HDR;
			pkey_make(k, tl, s->pageno[i], lsn);
			plog_rec_header(rec, s->ps, PREC_PAGE, k, now,
					s->hash[i], s->ps);
			s->recs[2 * nd] = (struct iovec){rec, PREC_HDR};
			s->recs[2 * nd + 1] =
				(struct iovec){(void *)s->src[i], s->ps};
			nd++;
		}
	vol_status st = plog_append(p->plog, nd ? pend_lead(p) : NULL, s->recs,
				    nd, 2, s->refs, end);
	if (nd)
		pend_done(p, st);
	return st;
}

/* Commit record body (big-endian u64s): lsn, time, kind, vol, tl, first,
 * count, payload bytes, data pages (nd), holes (nh), where the data pages'
 * records start (segment, offset: they are contiguous), then nd x (page,
 * hash of its bytes), then nh x page. Replay needs nothing else: a data
 * record that was damaged since is still referred to, and reads of it
 * fail. */
#define COMMIT_FIXED 12

/* The fixed fields of an intact commit record into f; false if its
 * length does not match what they say. */
static bool commit_fields(const uint8_t *rec, uint64_t f[COMMIT_FIXED])
{
	uint32_t n = plog_body_len(rec);
	if (n < 8 * COMMIT_FIXED)
		return false;
	for (int i = 0; i < COMMIT_FIXED; i++)
		f[i] = be64_get(rec + PREC_HDR + 8 * i);
	return f[8] <= PREC_BODY_MAX && f[9] <= PREC_BODY_MAX &&
	       n == 8 * (COMMIT_FIXED + 2 * f[8] + f[9]);
}

/* Pending commit records beyond this go into the log at once. */
#define PEND_MAX (1u << 20)

const struct iovec *pend_lead(vol_pool *p)
{
	p->pend_iov = (struct iovec){p->pend, p->npend};
	return p->npend ? &p->pend_iov : NULL;
}

void pend_done(vol_pool *p, vol_status st)
{
	if (st && p->npend)
		p->kv_unsynced = true;
	p->npend = 0;
}

/* The length of a sealed stage's commit record body. */
static size_t commit_len(const struct stage *s)
{
	return 8 * (COMMIT_FIXED + 2 * s->nd + (s->n - s->nd + s->nholes));
}

/* A staged change's commit record body (commit_len bytes) into q, after
 * its pages were appended (s->refs). */
static void commit_body(const struct stage *s,
			const uint64_t fixed[COMMIT_FIXED - 4], uint8_t *q)
{
	size_t nd = s->nd, nh = s->n - s->nd + s->nholes;
	for (int i = 0; i < COMMIT_FIXED - 4; i++, q += 8)
		be64_put(q, fixed[i]);
	be64_put(q, nd);
	be64_put(q + 8, nh);
	be64_put(q + 16, nd ? s->refs[0].seg : 0);
	be64_put(q + 24, nd ? s->refs[0].off : 0);
	q += 32;
	for (size_t i = 0; i < s->n; i++)
		if (s->kind[i] == PV_REF) {
			be64_put(q, s->pageno[i]);
			be64_put(q + 8, s->hash[i]);
			q += 16;
		}
	for (size_t i = 0; i < s->n; i++)
		if (s->kind[i] != PV_REF) {
			be64_put(q, s->pageno[i]);
			q += 8;
		}
	for (size_t i = 0; i < s->nholes; i++, q += 8)
		be64_put(q, s->holes[i]);
}

/* A page change's commit record, which makes it replayable (pagelog.c).
 * It waits in p->pend for the next append of pages or a barrier (one
 * write of the log fewer per change; a change that was never synced may
 * be lost by a crash anyway), which puts it in the log before any record
 * of a later change: the log keeps the order of the changes. Under
 * pool->mu. If it cannot be appended, the next sync writes the store and
 * syncs its WAL instead. */
static void pend_add(vol_pool *p, const uint8_t *body, size_t n, int64_t ns)
{
	if (n > PREC_BODY_MAX || grow((void **)&p->pend, &p->cappend,
				      p->npend + PREC_HDR + n, 1)) {
		p->kv_unsynced = true;
		return;
	}
	plog_body_record(p->plog, p->pend + p->npend, PREC_COMMIT, ns, body,
			 (uint32_t)n);
	p->npend += PREC_HDR + n;
	if (p->npend > PEND_MAX) /* discards only, say: write them now */
		pend_done(p, plog_append(p->plog, pend_lead(p), NULL, 0, 1,
					 NULL, NULL));
}

void put_commit(vol_pool *p, kv_batch *b, const uint8_t *body)
{
	uint64_t f[COMMIT_FIXED];
	for (int i = 0; i < COMMIT_FIXED; i++)
		f[i] = be64_get(body + 8 * i);
	uint64_t lsn = f[0], nd = f[8], nh = f[9], tl = f[4];
	int64_t now = (int64_t)f[1];
	const uint8_t *d = body + 8 * COMMIT_FIXED;
	put_versions(p, b, tl, lsn, now, nd, d, (struct pref){f[10], f[11]});
	d += 16 * nd;
	uint8_t k[PKEY_LEN];
	for (uint64_t i = 0; i < nh; i++, d += 8) {
		pkey_make(k, tl, be64_get(d), lsn);
		put_page_version(p, b, k, now, 0, NULL);
	}
	put_change(p, b, lsn, now, (enum change_kind)f[2], f[3], tl, f[5],
		   f[6]);
}

/* Stage the byte range [off, off+len) of the volume's head: `src` bytes, or
 * zeros if src is NULL. Edge pages are read-modify-written; whole pages of
 * src are not copied (the stage points at them: src must outlive it).
 * Caller holds v->wmu. */
static vol_status stage_range(vol_pool *p, struct vol *v, struct stage *s,
			      const void *src, uint64_t off, uint64_t len)
{
	uint32_t ps = p->page_size;
	uint64_t first = off / ps, last = (off + len - 1) / ps;
	size_t base = s->n;
	vol_status st = VOL_OK;
	struct reader r = {0};
	bool need_head = off % ps != 0;
	bool need_tail = (off + len) % ps != 0;
	if ((need_head || need_tail) &&
	    (st = reader_open(&r, p, v->name, false)))
		return st;
	for (uint64_t pg = first; pg <= last; pg++) {
		size_t i = s->n++;
		s->pageno[i] = pg;
		s->src[i] = zero_page; /* a whole page of zeros */
		if ((pg == first && need_head) || (pg == last && need_tail)) {
			if (s->nedge == STAGE_EDGES) {
				st = vol__fail(VOL_EINVAL, "a change stages "
					       "more than %d partial pages",
					       STAGE_EDGES);
				break;
			}
			uint8_t *d = s->edge + s->nedge++ * (size_t)ps;
			s->src[i] = d;
			if ((st = page_lookup(&r, v->tl, LSN_MAX, pg, d)))
				break;
		}
	}
	if (r.it)
		reader_close(&r);
	if (st)
		return st;
	/* Point at whole pages of the payload; copy (or zero) the rest into
	 * the edge pages. */
	uint64_t pos = off;
	const uint8_t *from = src;
	while (pos < off + len) {
		uint64_t pg = pos / ps;
		uint32_t in = (uint32_t)(pos % ps);
		uint64_t n = ps - in;
		if (n > off + len - pos)
			n = off + len - pos;
		size_t i = base + (pg - first);
		/* A partial page's src is its edge page (written here). */
		uint8_t *d = (uint8_t *)(uintptr_t)s->src[i];
		if (n == ps && from)
			s->src[i] = from;
		else if (n < ps && from)
			memcpy(d + in, from, n);
		else if (n < ps)
			memset(d + in, 0, n);
		if (from)
			from += n;
		pos += n;
	}
	return VOL_OK;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

#define DROP_CHUNK 65536

/* stage_drop's holes for the pages in [first, *next) that runs of timeline
 * tl at or below bound cover. A group that would take the holes past
 * DROP_CHUNK is not looked at: *next moves back to its start. */
static vol_status drop_runs(vol_pool *p, kv_iter *it, struct stage *s,
			    size_t *cap, uint64_t tl, uint64_t bound,
			    uint64_t first, uint64_t *next)
{
	const struct kv_ops *o = p->kv->ops;
	uint64_t g = p->run_group, end = *next;
	uint8_t k[PKEY_LEN];
	pkey_make(k, tl, RUN_BASE + first / g, LSN_MAX);
	uint64_t at_group = UINT64_MAX;
	for (o->iter_seek(it, k, PKEY_LEN); o->iter_valid(it);
	     o->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *key = o->iter_key(it, &kn);
		const uint8_t *v = o->iter_value(it, &vn);
		uint64_t ktl, kg, lsn;
		enum pval_kind kind;
		if (kn != PKEY_LEN)
			break;
		pkey_parse(key, &ktl, &kg, &lsn);
		kg -= RUN_BASE;
		if (ktl != tl || kg * g >= end)
			break;
		if (lsn > bound)
			continue;
		if (kg != at_group && s->nholes + g > DROP_CHUNK &&
		    kg * g > first) {
			*next = kg * g;
			break;
		}
		at_group = kg;
		if (!pval_layout(v, vn, p->page_size, &kind) || kind != PV_RUN)
			return vol__fail(VOL_ECORRUPT, "bad run of pages in "
					 "the store (timeline %llu lsn %llu)",
					 (unsigned long long)tl,
					 (unsigned long long)lsn);
		uint64_t a = rval_first(v), z = a + rval_count(v);
		a = a < first ? first : a;
		z = z > end ? end : z;
		for (uint64_t pg = a; pg < z; pg++) {
			vol_status st = grow((void **)&s->holes, cap,
					     s->nholes + 1, sizeof *s->holes);
			if (st)
				return st;
			s->holes[s->nholes++] = pg;
		}
	}
	return o->iter_status(it);
}

/* Every page in [first, end) that has a version anywhere in the chain of
 * the head of `tl` becomes a hole marker in the stage, at most DROP_CHUNK
 * of them: *next is where the next chunk starts (end when done). */
static vol_status stage_drop(vol_pool *p, struct stage *s, const struct tl *tl,
			     uint64_t first, uint64_t end, uint64_t *next)
{
	*next = end;
	if (first >= end)
		return VOL_OK;
	/* The scan reads the store: what waits for it goes in first. */
	pthread_mutex_lock(&p->mu);
	vol_status fst = store_flush(p);
	pthread_mutex_unlock(&p->mu);
	if (fst)
		return fst;
	const struct kv_ops *o = p->kv->ops;
	kv_iter *it = o->iter_new(p->kv, KV_PAGES, KV_BULK);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	size_t cap = 0;
	vol_status st = VOL_OK;
	uint64_t bound = LSN_MAX;
	for (const struct tl *t = tl; t && !st; t = t->anc) {
		uint8_t k[PKEY_LEN];
		pkey_make(k, t->id, first, bound);
		o->iter_seek(it, k, PKEY_LEN);
		while (o->iter_valid(it)) {
			size_t kn;
			const uint8_t *key = o->iter_key(it, &kn);
			uint64_t ktl, pg, lsn;
			if (kn != PKEY_LEN)
				break;
			pkey_parse(key, &ktl, &pg, &lsn);
			if (ktl != t->id || pg >= *next)
				break;
			if (lsn > bound) { /* newer than this chain sees */
				o->iter_next(it);
				continue;
			}
			if ((st = grow((void **)&s->holes, &cap, s->nholes + 1,
				       sizeof *s->holes)))
				break;
			s->holes[s->nholes++] = pg;
			if (s->nholes >= DROP_CHUNK) {
				/* Stop here; pages past pg wait for the next
				 * chunk, in every timeline of the chain. */
				*next = pg + 1;
				break;
			}
			pkey_make(k, t->id, pg + 1, bound);
			o->iter_seek(it, k, PKEY_LEN);
		}
		if (!st)
			st = o->iter_status(it);
		if (!st && p->format >= 4)
			st = drop_runs(p, it, s, &cap, t->id, bound, first,
				       next);
		if (bound > t->anc_lsn)
			bound = t->anc_lsn;
	}
	o->iter_free(it);
	if (st)
		return st;
	if (s->nholes)
		qsort(s->holes, s->nholes, sizeof *s->holes, u64_cmp);
	size_t w = 0;
	for (size_t i = 0; i < s->nholes; i++)
		if (s->holes[i] < *next && (!w || s->holes[w - 1] != s->holes[i]))
			s->holes[w++] = s->holes[i];
	s->nholes = w;
	return VOL_OK;
}

/* A page change's versions, for the store queue: each staged page (its
 * record at s->refs, or a hole) and each extra hole, at (tl, lsn). */
static void stage_versions(const struct stage *s, uint64_t tl, uint64_t lsn,
			   struct pent *e)
{
	size_t nd = 0;
	for (size_t i = 0; i < s->n; i++, e++) {
		bool hole = s->kind[i] != PV_REF;
		*e = (struct pent){.tl = tl, .page = s->pageno[i], .lsn = lsn,
				   .hash = s->hash[i], .hole = hole};
		if (!hole)
			e->ref = s->refs[nd++];
	}
	for (size_t i = 0; i < s->nholes; i++, e++)
		*e = (struct pent){.tl = tl, .page = s->holes[i], .lsn = lsn,
				   .hole = true};
}

/* Commit a staged change of v (held under wmu): one LSN. new_size is
 * recorded when it differs from v->size. A write or discard is committed
 * in memory and its store entries wait in the store queue (defer.c); a
 * resize, a command, writes them, after what waits, with a synced write. */
static vol_status stage_commit(vol_pool *p, struct vol *v, struct stage *s,
			       enum change_kind kind, uint64_t first,
			       uint64_t count, uint64_t new_size,
			       uint64_t payload)
{
	kv *kvs = p->kv;
	bool defer = kind == CH_WRITE || kind == CH_DISCARD;
	stage_seal(s);
	size_t nb = commit_len(s);
	struct dchange *d = dq_alloc(defer ? s->n + s->nholes : 0, nb);
	kv_batch *b = defer ? NULL : kvs->ops->batch_new(kvs);
	if (!d || (!defer && !b)) {
		free(d);
		if (b)
			kvs->ops->batch_free(b);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->mu);
	uint64_t lsn = p->lsn + 1;
	int64_t now = pool_now(p);
	bool resize = new_size != v->size;
	struct pref end = {0, 0};
	vol_status st = defer ? VOL_OK : store_flush(p);
	if (!st)
		st = stage_append(p, s, v->tl->id, lsn, now, &end);
	if (!st) {
		uint64_t fixed[COMMIT_FIXED - 4] = {
			lsn, (uint64_t)now, kind, v->id, v->tl->id, first,
			count, payload};
		commit_body(s, fixed, d->body);
	}
	if (!st && defer) {
		d->logged = s->nd > 0;
		d->applied = end;
		stage_versions(s, v->tl->id, lsn, d->e);
		pend_add(p, d->body, nb, now);
		bool flush = dq_add(p, d);
		d = NULL;
		p->lsn = lsn;
		/* Its failure fails the store: the next call reports it. */
		if (flush)
			(void)store_flush(p);
	} else if (!st) {
		put_commit(p, b, d->body);
		if (s->nd)
			put_pref(kvs, b, MT_APPLIED, end);
		if (resize) {
			uint8_t k[32], sv[8];
			be64_put(sv, new_size);
			kvs->ops->batch_put(b, KV_META, k,
					    key2(k, MT_SIZE, v->tl->id, lsn),
					    sv, 8);
			/* reserve the in-memory slot before committing */
			st = tl_size_push(v->tl, LSN_MAX, 0);
			if (!st)
				v->tl->nsizes--;
		}
		if (!st)
			st = kvs->ops->write(kvs, b, true);
		if (!st)
			p->lsn = lsn;
	}
	if (!st) {
		v->lsn = lsn;
		v->bytes_written += payload;
		retention_note_write(p, payload);
		if (resize) {
			tl_size_push(v->tl, lsn, new_size);
			v->size = new_size;
		}
	}
	pthread_mutex_unlock(&p->mu);
	free(d);
	if (b)
		kvs->ops->batch_free(b);
	if (st == VOL_ENOSPC)
		pool_space_short(p);
	return st;
}

vol_status pages_drop_dangling(vol_pool *p, struct pref end,
			       uint64_t *dropped)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	*dropped = 0;
	kv_iter *it = o->iter_new(s, KV_PAGES, KV_BULK);
	kv_batch *b = o->batch_new(s);
	if (!it || !b) {
		if (it)
			o->iter_free(it);
		if (b)
			o->batch_free(b);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	uint8_t from[PKEY_LEN] = {0};
	for (o->iter_seek(it, from, PKEY_LEN); o->iter_valid(it);
	     o->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *k = o->iter_key(it, &kn);
		const uint8_t *v = o->iter_value(it, &vn);
		enum pval_kind kind;
		if (kn != PKEY_LEN || !pval_layout(v, vn, p->page_size, &kind) ||
		    (kind != PV_REF && kind != PV_RUN))
			continue;
		/* A run is there if its last record is. */
		struct pref last = pval_ref(v);
		if (kind == PV_RUN)
			last.off += (rval_count(v) - 1) * plog_rec_len(p->plog);
		if (pref_lt(last, end))
			continue;
		uint8_t nk[NKEY_LEN];
		nkey_make(nk, k);
		o->batch_del(b, KV_PAGES, k, PKEY_LEN);
		o->batch_del(b, KV_LOG, nk, NKEY_LEN);
		(*dropped)++;
	}
	vol_status st = o->iter_status(it);
	o->iter_free(it);
	if (!st && *dropped)
		st = o->write(s, b, true);
	o->batch_free(b);
	return st;
}

/* ------------------------------------------------------------ replay */

static void replayed_add(struct replayed *o, vol_id vol, uint64_t lsn,
			 uint64_t payload)
{
	o->changes++;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].vol == vol) {
			o->v[i].lsn = lsn;
			o->v[i].payload += payload;
			return;
		}
	if (grow((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v))
		return; /* only statistics are lost */
	o->v[o->n].vol = vol;
	o->v[o->n].lsn = lsn;
	o->v[o->n].payload = payload;
	o->n++;
}

struct replay {
	vol_pool *p;
	uint64_t expect;        /* the next change to apply                */
	struct replay_out *o;
	struct replayed *out;
};

/* Write a replayed record's batch, with the log position after it. */
static vol_status replay_write(kv_batch *b, vol_pool *p, struct pref at,
			       uint32_t n)
{
	kv *s = p->kv;
	put_pref(s, b, MT_APPLIED,
		 (struct pref){at.seg, at.off + PREC_HDR + n});
	vol_status st = s->ops->write(s, b, false);
	s->ops->batch_free(b);
	return st;
}

static vol_status replay_commit(struct replay *r, const uint8_t *rec,
				struct pref at, uint32_t n)
{
	vol_pool *p = r->p;
	const uint8_t *q = rec + PREC_HDR;
	uint64_t f[COMMIT_FIXED];
	if (!commit_fields(rec, f))
		return vol__fail(VOL_ECORRUPT, "page log: a commit record is "
				 "malformed");
	uint64_t lsn = f[0];
	if (r->o->gap_lsn)
		return VOL_OK;
	if (lsn > r->expect) { /* a commit record is missing */
		r->o->gap_lsn = r->expect;
		r->o->gap_at = at;
		return VOL_OK;
	}
	/* Nothing before it is missing: the damage so far lost no change. */
	r->o->proven = r->o->ndamage;
	if (lsn < r->expect) /* the store has it */
		return VOL_OK;
	kv *s = p->kv;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	put_commit(p, b, q);
	replayed_add(r->out, f[3], lsn, f[7]);
	r->expect++;
	return replay_write(b, p, at, n);
}

static vol_status replay_barrier(struct replay *r, const uint8_t *rec,
				 struct pref at, uint32_t n)
{
	const uint8_t *q = rec + PREC_HDR;
	if (n < 8 || n != 8 + 32 * be64_get(q))
		return vol__fail(VOL_ECORRUPT, "page log: malformed barrier "
				 "record");
	if (r->o->gap_lsn)
		return VOL_OK;
	/* A barrier names the pool's newest change then: every commit up to
	 * it must have been seen. */
	for (uint64_t i = 0, m = be64_get(q); i < m; i++)
		if (be64_get(q + 8 + 32 * i + 16) >= r->expect) {
			r->o->gap_lsn = r->expect;
			r->o->gap_at = at;
			return VOL_OK;
		}
	r->o->proven = r->o->ndamage;
	kv *s = r->p->kv;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	for (uint64_t i = 0, m = be64_get(q); i < m; i++) {
		const uint8_t *e = q + 8 + 32 * i;
		put_barrier(s, b, be64_get(e), (int64_t)be64_get(e + 8),
			    be64_get(e + 16), be64_get(e + 24));
	}
	r->out->changes++;
	return replay_write(b, r->p, at, n);
}

static vol_status replay_one(void *ctx, const uint8_t *rec, struct pref at,
			     uint64_t end)
{
	struct replay *r = ctx;
	if (end) { /* a damaged stretch */
		struct replay_out *o = r->o;
		vol_status st = grow((void **)&o->damage, &o->capdamage,
				     o->ndamage + 1, sizeof *o->damage);
		if (st)
			return st;
		o->damage[o->ndamage++] =
			(struct prange){at, end, rec ? rec[48] : -1};
		return VOL_OK;
	}
	uint32_t n = plog_body_len(rec);
	switch (rec[48]) {
	case PREC_COMMIT:
		return replay_commit(r, rec, at, n);
	case PREC_BARRIER:
		return replay_barrier(r, rec, at, n);
	default: /* pages: the commit records say all about them */
		return VOL_OK;
	}
}

vol_status pages_check_commit(vol_pool *p, const uint8_t *rec,
			      uint64_t store_lsn, commit_bad_fn bad, void *ctx)
{
	uint64_t f[COMMIT_FIXED];
	if (rec[48] != PREC_COMMIT || !commit_fields(rec, f) ||
	    f[0] <= store_lsn)
		return VOL_OK;
	uint64_t lsn = f[0], tl = f[4], nd = f[8];
	struct pref ref = {f[10], f[11]};
	size_t rl = plog_rec_len(p->plog);
	uint8_t *buf = malloc(rl);
	if (!buf)
		return vol__fail(VOL_ENOMEM, "out of memory");
	const uint8_t *d = rec + PREC_HDR + 8 * COMMIT_FIXED;
	for (uint64_t i = 0; i < nd; i++, d += 16, ref.off += rl) {
		uint8_t k[PKEY_LEN];
		pkey_make(k, tl, be64_get(d), lsn);
		if (plog_read(p->plog, ref, k, be64_get(d + 8), buf,
			      buf + PREC_HDR))
			bad(ctx, tl, be64_get(d), lsn, vol_errmsg());
	}
	free(buf);
	return VOL_OK;
}

vol_status pages_replay(vol_pool *p, struct pref from, uint64_t store_lsn,
			struct replay_out *o, struct replayed *out)
{
	struct replay r = {.p = p, .expect = store_lsn + 1, .o = o,
			   .out = out};
	vol_status st = plog_scan(p->plog, from, replay_one, &r, &o->valid_end);
	if (!st && out->changes)
		st = p->kv->ops->sync(p->kv);
	return st;
}

/* ------------------------------------------------------------ writing */

vol_status vol_write(vol_pool *p, vol_id id, const void *buf, uint64_t off,
		     size_t len)
{
	if (!len)
		return VOL_OK;
	struct vol *v;
	vol_status st = pool_enter(p, len);
	if (st || (st = vol_begin(p, id, &v)))
		return st;
	uint32_t ps = p->page_size;
	if (off > v->size || len > v->size - off) {
		st = vol__fail(VOL_ERANGE,
			       "volume %s: write of %zu bytes at %llu is past "
			       "its end (%llu bytes)", v->name, len,
			       (unsigned long long)off,
			       (unsigned long long)v->size);
		goto out;
	}
	uint64_t first = off / ps, n = (off + len - 1) / ps - first + 1;
	struct stage s;
	if ((st = stage_init(&s, ps, n)))
		goto out;
	if (!(st = stage_range(p, v, &s, buf, off, len)))
		st = stage_commit(p, v, &s, CH_WRITE, first, n, v->size, len);
	stage_free(&s);
out:
	vol_end(v);
	return st;
}

vol_status vol_discard(vol_pool *p, vol_id id, uint64_t off, uint64_t len)
{
	struct vol *v;
	vol_status st = pool_enter(p, 0);
	if (st || (st = vol_begin(p, id, &v)))
		return st;
	uint32_t ps = p->page_size;
	if (off >= v->size || !len)
		goto out;
	if (len > v->size - off)
		len = v->size - off;
	uint64_t lo = (off + ps - 1) / ps, hi = (off + len) / ps, next = lo;
	struct stage s;
	if ((st = stage_init(&s, ps, 2)))
		goto out;
	if (lo > hi) { /* inside one page */
		st = stage_range(p, v, &s, NULL, off, len);
	} else {
		if (off % ps)
			st = stage_range(p, v, &s, NULL, off, lo * ps - off);
		if (!st && (off + len) % ps)
			st = stage_range(p, v, &s, NULL, hi * ps,
					 off + len - hi * ps);
		if (!st)
			st = stage_drop(p, &s, v->tl, lo, hi, &next);
	}
	if (!st)
		st = stage_commit(p, v, &s, CH_DISCARD, off / ps,
				  (off + len + ps - 1) / ps - off / ps, v->size,
				  0);
	/* A discard of more than DROP_CHUNK stored pages is committed in
	 * chunks, each atomic: like a device's TRIM, it may be seen half
	 * done after a crash, never with wrong data. */
	while (!st && next < hi) {
		uint64_t from = next;
		s.n = s.nholes = 0;
		if (!(st = stage_drop(p, &s, v->tl, from, hi, &next)))
			st = stage_commit(p, v, &s, CH_DISCARD, from,
					  next - from, v->size, 0);
	}
	stage_free(&s);
out:
	vol_end(v);
	return st;
}

vol_status vol_resize(vol_pool *p, vol_id id, uint64_t size)
{
	struct vol *v;
	vol_status st = pool_enter(p, 0);
	if (st || (st = vol_begin(p, id, &v)))
		return st;
	uint32_t ps = p->page_size;
	if (size == v->size)
		goto out;
	if (size > (UINT64_MAX / 2)) {
		st = vol__fail(VOL_EINVAL, "volume %s: size %llu is too large",
			       v->name, (unsigned long long)size);
		goto out;
	}
	struct stage s;
	if ((st = stage_init(&s, ps, 1)))
		goto out;
	if (size < v->size) {
		/* Drop what lies past the new end, so growing shows zeros.
		 * Huge drops go first in chunks (as discards), the last chunk
		 * commits with the new size. */
		uint64_t keep = (size + ps - 1) / ps, next = keep;
		uint64_t old = (v->size + ps - 1) / ps;
		while (!st) {
			uint64_t from = next;
			s.nholes = 0;
			if ((st = stage_drop(p, &s, v->tl, from, old, &next)) ||
			    next >= old)
				break;
			st = stage_commit(p, v, &s, CH_DISCARD, from,
					  next - from, v->size, 0);
		}
		if (!st && size % ps)
			st = stage_range(p, v, &s, NULL, size,
					 keep * ps - size);
	}
	if (!st)
		st = stage_commit(p, v, &s, CH_RESIZE, 0, size, size, 0);
	stage_free(&s);
out:
	vol_end(v);
	return st;
}
