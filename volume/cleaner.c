/*
 * cleaner.c - giving back the page log's space.
 *
 * DESIGN
 * Retention deletes versions in RocksDB; their records stay in the page
 * log's segments. After each retention pass (which counted, from the
 * versions it kept, the live bytes of every sealed segment), the cleaner:
 *   1. picks the segments with no live record (free to drop) and those
 *      less than half live (worth moving: their live records are copied to
 *      the active segment and the references updated, oldest data first),
 *      moving at most MOVE_BUDGET bytes per pass, a chunk at a time,
 *      each followed by a pause while the pool is written (pacer_yield);
 *   2. makes the pass's deletions and its own moves durable (the page log,
 *      then the WAL);
 *   3. unlinks the segments that nothing refers to any more.
 * Moving a record keeps its header (it names the version, not a place) and
 * writes the same value with the new reference (a run's records move
 * together, in one append, so they still follow each other): a reader
 * sees the old or the new place, both valid until step 3, which waits for
 * readers (pagelog.c).
 * Only retention deletes versions and it runs in this thread, so a version
 * found by the cleaner's scan still exists when it is moved.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

#define MOVE_BUDGET (256ull << 20)
#define MOVE_CHUNK RUN_GROUP_MAX /* records: a run fits */

struct victim {
	uint64_t seg, live, size;
};

struct moving {
	uint8_t pkey[PKEY_LEN];
	struct pref ref;
	uint64_t count;         /* records: a run's pages, or 1            */
};

static int victim_cmp(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;
	/* emptiest first (live/size), then oldest */
	unsigned __int128 l = (unsigned __int128)x->live * y->size,
			  r = (unsigned __int128)y->live * x->size;
	if (l != r)
		return l < r ? -1 : 1;
	return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static int moving_cmp(const void *a, const void *b)
{
	const struct moving *x = a, *y = b;
	if (x->ref.seg != y->ref.seg)
		return x->ref.seg < y->ref.seg ? -1 : 1;
	return x->ref.off < y->ref.off ? -1 : x->ref.off > y->ref.off;
}


static int seg_cmp(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;
	return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static bool is_victim(const struct victim *v, size_t n, uint64_t seg)
{
	struct victim key = {.seg = seg};
	return bsearch(&key, v, n, sizeof key, seg_cmp) != NULL;
}

/* The live records of the segments in v (sorted by id), from the pages
 * family's references. */
static vol_status collect(vol_pool *p, const struct victim *v, size_t nv,
			  struct moving **out, size_t *n)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	kv_iter *it = o->iter_new(s, KV_PAGES, KV_BULK);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	vol_status st = VOL_OK;
	uint8_t from[PKEY_LEN] = {0}; /* a whole key: see retention.c */
	for (o->iter_seek(it, from, PKEY_LEN); o->iter_valid(it);
	     o->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *k = o->iter_key(it, &kn);
		const uint8_t *e = o->iter_value(it, &vn);
		enum pval_kind kind;
		if (kn != PKEY_LEN || !pval_layout(e, vn, p->page_size, &kind) ||
		    (kind != PV_REF && kind != PV_RUN))
			continue;
		struct pref ref = pval_ref(e);
		if (!is_victim(v, nv, ref.seg))
			continue;
		if ((st = grow((void **)out, &cap, *n + 1, sizeof **out)))
			break;
		struct moving *m = &(*out)[(*n)++];
		memcpy(m->pkey, k, PKEY_LEN);
		m->ref = ref;
		m->count = kind == PV_RUN ? rval_count(e) : 1;
	}
	if (!st)
		st = o->iter_status(it);
	o->iter_free(it);
	if (!st && *n)
		qsort(*out, *n, sizeof **out, moving_cmp);
	return st;
}

/* Read and verify the records of the version m (its stored value val, vn
 * bytes) into recs, marked as moved copies: false if any cannot be read. */
static bool read_version(vol_pool *p, const struct moving *m,
			 const uint8_t *val, size_t vn, uint8_t *recs)
{
	size_t rl = plog_rec_len(p->plog);
	enum pval_kind kind;
	uint64_t dh;
	if (!pval_check(m->pkey, val, vn, p->page_size, &kind, NULL, &dh) ||
	    (kind != PV_REF && kind != PV_RUN) ||
	    (kind == PV_RUN ? rval_count(val) : 1) != m->count ||
	    !pref_eq(pval_ref(val), m->ref))
		return false;
	uint64_t tl, lsn;
	pkey_parse(m->pkey, &tl, NULL, &lsn);
	for (uint64_t i = 0; i < m->count; i++) {
		struct prec_want w = {.hash = dh, .ref = m->ref};
		uint8_t *rec = recs + i * rl;
		if (kind == PV_RUN)
			rval_want(val, tl, lsn, i, rl, &w);
		else
			memcpy(w.key, m->pkey, PKEY_LEN);
		if (plog_read(p->plog, w.ref, w.key, w.hash, rec,
			      rec + PREC_HDR))
			return false;
		/* The copy says it is one (replay skips it). */
		plog_rec_header(rec, p->page_size, PREC_MOVED, w.key,
				(int64_t)be64_get(rec + 32), w.hash,
				p->page_size);
	}
	return true;
}

/* Move the versions m[0..n) (MOVE_CHUNK records at most): read and verify
 * their records, append them, point the versions at the copies (a run's
 * records stay together: one append puts them one after the other). A
 * version whose records cannot be read stays where it is; its segment is
 * then kept (live = UINT64_MAX). */
static vol_status move_chunk(vol_pool *p, const struct moving *m, size_t n,
			     uint8_t *recs, uint64_t *moved,
			     struct victim *v, size_t nv, struct pacer *pc)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	size_t rl = plog_rec_len(p->plog);
	struct iovec ptrs[MOVE_CHUNK];
	struct pref refs[MOVE_CHUNK];
	void *vals[MOVE_CHUNK];
	size_t vlen[MOVE_CHUNK], at[MOVE_CHUNK];
	const uint8_t *keys[MOVE_CHUNK];
	size_t k = 0, nrec = 0;
	vol_status st = VOL_OK;
	plog_read_lock(p->plog);
	for (size_t i = 0; i < n && !st; i++) {
		void *val = NULL;
		size_t vn = 0;
		vol_status g = o->get(s, KV_PAGES, m[i].pkey, PKEY_LEN, &val,
				      &vn);
		if (g == VOL_ENOENT) {
			/* gone meanwhile: nothing to move */
		} else if (g) {
			st = g;
		} else if (read_version(p, &m[i], val, vn, recs + nrec * rl)) {
			for (uint64_t j = 0; j < m[i].count; j++, nrec++)
				ptrs[nrec] = (struct iovec){recs + nrec * rl,
							    rl};
			at[k] = nrec - m[i].count;
			vals[k] = val;
			vlen[k] = vn;
			keys[k++] = m[i].pkey;
			continue;
		} else {
			/* Damaged: leave it (check reports it) and keep its
			 * segment. */
			for (size_t j = 0; j < nv; j++)
				if (v[j].seg == m[i].ref.seg)
					v[j].live = UINT64_MAX;
		}
		free(val);
	}
	plog_read_unlock(p->plog);
	kv_batch *b = NULL;
	/* Durable before the store refers to it (pagelog.c, invariant 2).
	 * The pause comes first: the database's own syncs meanwhile make the
	 * copies durable, and this sync then has little or nothing to do. */
	struct pref durable;
	if (!st && k && !(st = plog_append(p->plog, NULL, ptrs, nrec, 1, refs,
					    NULL))) {
		pacer_yield(p, pc);
		if (!(st = plog_sync(p->plog, &durable)) &&
		    !(b = o->batch_new(s)))
			st = vol__fail(VOL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < k; i++) {
		if (b) {
			pval_set_ref(vals[i], refs[at[i]]);
			o->batch_put(b, KV_PAGES, keys[i], PKEY_LEN, vals[i],
				     vlen[i]);
		}
		free(vals[i]);
	}
	if (b) {
		st = o->write(s, b, false);
		o->batch_free(b);
		if (!st)
			*moved += nrec * rl;
	}
	return st;
}

vol_status plog_clean(vol_pool *p, const struct seglive *sl,
		      vol_retention_report *rep)
{
	if (p->read_only || p->damaged[0] || !sl->live)
		return VOL_OK;
	struct pref *segs = NULL;
	size_t nsegs = plog_list(p->plog, &segs);
	struct victim *v = malloc((nsegs ? nsegs : 1) * sizeof *v);
	if (!segs || !v) {
		free(segs);
		free(v);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	size_t nv = 0, nfree = 0;
	for (size_t i = 0; i < nsegs; i++) {
		uint64_t id = segs[i].seg, size = segs[i].off;
		if (id < sl->lo || id >= sl->hi)
			continue;
		uint64_t live = sl->live[id - sl->lo];
		if (!live)
			nfree++;
		if (live * 2 < size || !live)
			v[nv++] = (struct victim){id, live, size};
	}
	free(segs);
	/* Which of the half-dead ones to move this pass. */
	qsort(v, nv, sizeof *v, victim_cmp);
	uint64_t budget = MOVE_BUDGET;
	size_t keep = 0;
	while (keep < nv && (v[keep].live <= budget || !v[keep].live)) {
		budget -= v[keep].live;
		keep++;
	}
	nv = keep;
	if (!nv) {
		free(v);
		return VOL_OK;
	}
	qsort(v, nv, sizeof *v, seg_cmp);
	vol_status mst = VOL_OK;
	if (nv > nfree) {
		struct moving *m = NULL;
		size_t nm = 0;
		uint8_t *recs = malloc(MOVE_CHUNK * plog_rec_len(p->plog));
		if (!recs)
			mst = vol__fail(VOL_ENOMEM, "out of memory");
		if (!mst)
			mst = collect(p, v, nv, &m, &nm);
		struct pacer pc;
		pacer_start(p, &pc);
		for (size_t i = 0, j; i < nm && !mst; i = j) {
			uint64_t nrec = 0;
			for (j = i; j < nm && nrec + m[j].count <= MOVE_CHUNK;
			     j++)
				nrec += m[j].count;
			mst = move_chunk(p, m + i, j - i, recs,
					 &rep->bytes_moved, v, nv, &pc);
		}
		free(m);
		free(recs);
		if (mst) /* keep every segment not yet empty */
			for (size_t i = 0; i < nv; i++)
				if (v[i].live)
					v[i].live = UINT64_MAX;
	}
	/* Durable before any segment goes (pagelog.c, invariant 3). */
	struct pref durable;
	vol_status st = plog_sync(p->plog, &durable);
	if (!st)
		st = p->kv->ops->sync(p->kv);
	for (size_t i = 0; i < nv && !st; i++) {
		if (v[i].live == UINT64_MAX)
			continue;
		/* Paced unless the pool is closing (stop_retention) or its
		 * disk is full: page writes wait for this space then. */
		pthread_mutex_lock(&p->mu);
		bool paced = !p->retention_stop &&
			     !__atomic_load_n(&p->low_space, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&p->mu);
		if (!(st = plog_remove(p->plog, v[i].seg, paced)))
			rep->segments_removed++;
	}
	if (!st)
		st = mst;
	free(v);
	return st;
}
