/*
 * retention.c - deleting history nothing can read any more, the history
 * budget, the byte counts of vol_info, and the offline check.
 *
 * DESIGN
 * A pass first plans under pool->mu: for every timeline, the LSN ranges that
 * must stay readable on it ("items"):
 *   WINDOW  [max(segment start, K_v), segment end] for every segment of a
 *           volume v that ends at or after K_v, the LSN of v's barrier at or
 *           before its earliest restorable time;
 *   SNAP    [lsn, lsn] for every snapshot;
 *   BRANCH  [anc_lsn, anc_lsn] on the ancestor of every live timeline.
 * A timeline with no item is unreachable and is dropped with range deletes.
 * Then, without the lock, one scan of the pages family (keys, and values of
 * a header and a page-log reference: a few dozen bytes per version; only a
 * format-1 pool's inline pages make it read page bytes) decides each
 * version v of a page: it is what points in [v, next newer version) read,
 * so it is kept iff an item overlaps that range; a deleted version loses
 * its value and its LT_NAME entry in one batch. A run (internal.h) is a
 * version of each page it covers: the scan goes group by group, deciding
 * each page's own versions and the runs that cover it in one newest-first
 * order (a second iterator reads the group's runs); a run no kept point
 * reads goes, one whose pages are all read stays, and the rest keeps only
 * the pages still read (sc_run), so that the cleaner can free the others'
 * records. Points created while the pass runs are inside ranges the plan
 * already holds (windows only move forward and new points resolve inside
 * them), and timelines created meanwhile are not in the plan, so they are
 * never touched.
 *
 * Budget: history bytes are kept versions no volume's current state reads.
 * When they exceed the budget, the pass finds the earliest cutoff time whose
 * raising of every volume's floor frees enough (oldest history first, from
 * a histogram of when each such version stopped being current: struct
 * deaths), sets the floors and the alert flag, and runs the plan and scan
 * once more. A version that died after a volume's last barrier before the
 * cutoff stays while that barrier is kept, so each volume's floor goes to
 * just after its first barrier at or after the cutoff (cut_earliest):
 * without that, history written between sparse barriers (a bulk load that
 * syncs rarely) could not be freed at all and the pool stayed over budget.
 *
 * Pacing: the scan writes its deletions in batches of
 * p->retention_batch_bytes, and after each one waits RETENTION_YIELD
 * times as long as the stretch of scan since the last (pacer_yield), when
 * the pool was written meanwhile. A commit that reaches RocksDB's write
 * path while a batch is written waits for all of it: 4 MiB batches
 * written back to back held commits 100-180 ms each, several times a
 * second (bench/volbench --phases retention; BENCHMARKS.md). The cleaner
 * paces its moves the same way.
 *
 * The byte counts ignore shadowing: a clone's ancestor page that the clone
 * has overwritten still counts as shared. Stated in vol_info's contract as
 * "readable by", which is an upper bound.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum item_kind { IT_WINDOW, IT_SNAP, IT_BRANCH };

struct item {
	uint64_t lo, hi;
	enum item_kind kind;
	vol_id vol;
	const char *snap; /* IT_SNAP: name (copied into the plan) */
};

struct head {
	uint64_t bound;
	vol_id vol;
};

struct tw { /* a timeline in the plan */
	uint64_t id;
	struct tl *t;
	vol_id owner;
	bool live;
	struct item *items;
	size_t nitems, capitems;
	struct head *heads;
	size_t nheads, capheads;
};

struct vplan {
	vol_id id;
	int64_t earliest;
	uint64_t keep;
	int64_t keep_ns;
	uint64_t stored, unique, shared, history;
};

struct splan {
	vol_id vol;
	char name[VOL_NAME_MAX + 1];
	uint64_t held;
};

/* What raising every floor frees, by time: the bytes of the history
 * versions that only windows keep, by when their next newer version was
 * written (their "death"), in DEATH_BUCKETS buckets over [lo, plan time].
 * Fixed memory (512 KiB), whatever the history holds: a list of
 * (time, bytes) per version took 16 bytes each, 1.6 GB during a pass
 * over 100 million history versions. The price: a cut frees up to one
 * bucket's worth (a 65536th of the time since the oldest earliest
 * restorable time) more than needed. */
#define DEATH_BUCKETS 65536
struct deaths {
	int64_t lo, width;      /* bucket i: [lo + i*width, lo + (i+1)*width) */
	uint64_t *bytes;        /* NULL: not kept (no memory)               */
	bool any;
};

struct plan {
	struct tw *tws;
	size_t ntws;
	struct vplan *vols;
	size_t nvols;
	struct splan *snaps;
	size_t nsnaps;
	uint64_t min_keep;
	int64_t now;
	/* scan results */
	struct deaths deaths;
	uint64_t bytes_pages, bytes_history;
	struct seglive segs;    /* live bytes per sealed page-log segment  */
};

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->ntws; i++) {
		free(pl->tws[i].items);
		free(pl->tws[i].heads);
	}
	free(pl->tws);
	free(pl->vols);
	free(pl->snaps);
	free(pl->deaths.bytes);
	free(pl->segs.live);
	memset(pl, 0, sizeof *pl);
}

static struct tw *tw_find(struct plan *pl, uint64_t id)
{
	size_t lo = 0, hi = pl->ntws;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pl->tws[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pl->ntws && pl->tws[lo].id == id ? &pl->tws[lo] : NULL;
}

static bool add_item(struct tw *w, struct item it)
{
	if (w->nitems == w->capitems) {
		size_t nc = w->capitems ? w->capitems * 2 : 4;
		struct item *n = realloc(w->items, nc * sizeof *n);
		if (!n)
			return false;
		w->items = n;
		w->capitems = nc;
	}
	w->items[w->nitems++] = it;
	w->live = true;
	return true;
}

static bool add_head(struct tw *w, uint64_t bound, vol_id vol)
{
	if (w->nheads == w->capheads) {
		size_t nc = w->capheads ? w->capheads * 2 : 4;
		struct head *n = realloc(w->heads, nc * sizeof *n);
		if (!n)
			return false;
		w->heads = n;
		w->capheads = nc;
	}
	w->heads[w->nheads++] = (struct head){bound, vol};
	return true;
}

/* Build the plan. Under p->mu. */
static vol_status plan_build(vol_pool *p, struct plan *pl, int64_t cut)
{
	memset(pl, 0, sizeof *pl);
	pl->now = pool_now(p);
	pl->tws = calloc(p->ntls + 1, sizeof *pl->tws);
	pl->vols = calloc(p->nvols + 1, sizeof *pl->vols);
	size_t nsn = 0;
	for (size_t i = 0; i < p->nvols; i++)
		nsn += p->vols[i]->nsnaps;
	pl->snaps = calloc(nsn + 1, sizeof *pl->snaps);
	if (!pl->tws || !pl->vols || !pl->snaps)
		goto nomem;
	for (size_t i = 0; i < p->ntls; i++) {
		if (p->tls[i]->dead)
			continue;
		struct tw *w = &pl->tws[pl->ntws++];
		w->id = p->tls[i]->id;
		w->t = p->tls[i];
		w->owner = p->tls[i]->owner;
	}
	pl->min_keep = p->lsn;
	for (size_t i = 0; i < p->nvols; i++) {
		struct vol *v = p->vols[i];
		struct vplan *vp = &pl->vols[pl->nvols++];
		vp->id = v->id;
		vp->earliest = vol_earliest(p, v, pl->now);
		vol_status st;
		if (vp->earliest < cut) { /* the budget's cut (finish keeps it) */
			if ((st = cut_earliest(p, v, cut, &vp->earliest)))
				return st;
			v->budget_alert = true;
		}
		st = keep_from(p, v, vp->earliest, &vp->keep, &vp->keep_ns);
		if (st)
			return st;
		if (vp->keep < pl->min_keep)
			pl->min_keep = vp->keep;
		for (size_t s = 0; s < v->nsegs; s++) {
			uint64_t end = s + 1 < v->nsegs
					       ? v->segs[s + 1].start_lsn - 1
					       : LSN_MAX;
			if (end < vp->keep)
				continue;
			uint64_t lo = v->segs[s].start_lsn;
			if (lo < vp->keep)
				lo = vp->keep;
			struct tw *w = tw_find(pl, v->segs[s].timeline);
			if (!w)
				return vol__fail(VOL_ECORRUPT,
						 "volume %s: segment timeline "
						 "%llu is missing", v->name,
						 (unsigned long long)
							 v->segs[s].timeline);
			if (!add_item(w, (struct item){lo, end, IT_WINDOW,
						       v->id, NULL}))
				goto nomem;
		}
		for (size_t s = 0; s < v->nsnaps; s++) {
			struct splan *sp = &pl->snaps[pl->nsnaps++];
			sp->vol = v->id;
			memcpy(sp->name, v->snaps[s].name, sizeof sp->name);
			struct tw *w = tw_find(pl, v->snaps[s].pt.timeline);
			uint64_t l = v->snaps[s].pt.lsn;
			if (!w)
				return vol__fail(VOL_ECORRUPT,
						 "volume %s: snapshot %s's "
						 "timeline is missing", v->name,
						 v->snaps[s].name);
			if (!add_item(w, (struct item){l, l, IT_SNAP, v->id,
						       sp->name}))
				goto nomem;
		}
		uint64_t bound = LSN_MAX;
		for (const struct tl *t = v->tl; t; t = t->anc) {
			struct tw *w = tw_find(pl, t->id);
			if (w && !add_head(w, bound, v->id))
				goto nomem;
			if (bound > t->anc_lsn)
				bound = t->anc_lsn;
		}
	}
	/* Deaths fall after some volume's earliest restorable time. */
	struct deaths *d = &pl->deaths;
	d->lo = pl->now;
	for (size_t i = 0; i < pl->nvols; i++)
		if (pl->vols[i].earliest < d->lo)
			d->lo = pl->vols[i].earliest;
	d->width = (pl->now - d->lo) / DEATH_BUCKETS + 1;
	d->bytes = calloc(DEATH_BUCKETS, sizeof *d->bytes); /* NULL: no cut */
	/* Children have larger ids than their ancestors: one pass from the
	 * top marks every ancestor of a live timeline live. */
	for (size_t i = pl->ntws; i > 0; i--) {
		struct tw *w = &pl->tws[i - 1];
		if (!w->live || !w->t->anc_id)
			continue;
		struct tw *a = tw_find(pl, w->t->anc_id);
		if (!a)
			return vol__fail(VOL_ECORRUPT,
					 "timeline %llu: ancestor missing",
					 (unsigned long long)w->id);
		uint64_t l = w->t->anc_lsn;
		if (!add_item(a, (struct item){l, l, IT_BRANCH, 0, NULL}))
			goto nomem;
	}
	return VOL_OK;
nomem:
	return vol__fail(VOL_ENOMEM, "out of memory");
}

static struct vplan *vp_find(struct plan *pl, vol_id id)
{
	for (size_t i = 0; i < pl->nvols; i++)
		if (pl->vols[i].id == id)
			return &pl->vols[i];
	return NULL;
}

static struct splan *sp_find(struct plan *pl, vol_id vol, const char *name)
{
	for (size_t i = 0; i < pl->nsnaps; i++)
		if (pl->snaps[i].vol == vol && !strcmp(pl->snaps[i].name, name))
			return &pl->snaps[i];
	return NULL;
}

/* Decide one version [v, next) of a page of w; returns whether to keep it
 * and accounts for it. next_ns: commit time of the next newer version. */
static bool decide(struct plan *pl, struct tw *w, uint64_t v, uint64_t next,
		   int64_t next_ns, uint64_t bytes)
{
	uint64_t hi = next == LSN_MAX ? LSN_MAX : next - 1;
	size_t needs = 0, window_only = 1;
	struct item *one = NULL;
	int64_t window_from = INT64_MIN; /* latest earliest time needing it */
	for (size_t i = 0; i < w->nitems; i++) {
		struct item *it = &w->items[i];
		if (it->lo <= hi && it->hi >= v) {
			needs++;
			one = it;
			if (it->kind != IT_WINDOW) {
				window_only = 0;
			} else {
				struct vplan *vp = vp_find(pl, it->vol);
				if (vp && vp->earliest > window_from)
					window_from = vp->earliest;
			}
		}
	}
	if (!needs)
		return false;
	pl->bytes_pages += bytes;
	struct vplan *owner = vp_find(pl, w->owner);
	if (owner)
		owner->stored += bytes;
	/* Which volumes' current state reads it (ignoring shadowing)? */
	size_t readers = 0;
	vol_id reader = 0;
	for (size_t i = 0; i < w->nheads; i++)
		if (w->heads[i].bound >= v && w->heads[i].bound <= hi &&
		    w->heads[i].vol != reader) {
			readers++;
			reader = w->heads[i].vol;
		}
	if (readers == 0) {
		pl->bytes_history += bytes;
		if (owner)
			owner->history += bytes;
		if (needs == 1 && one->kind == IT_SNAP) {
			struct splan *sp = sp_find(pl, one->vol, one->snap);
			if (sp)
				sp->held += bytes;
		}
		/* Only the window keeps it: raising the earliest time past
		 * next_ns frees it (if it is not already past: then the last
		 * barrier before the window keeps it, as it must). */
		if (window_only && next != LSN_MAX && next_ns > window_from) {
			struct deaths *d = &pl->deaths;
			if (d->bytes) {
				int64_t b = (next_ns - d->lo) / d->width;
				b = b < 0 ? 0 : b;
				b = b >= DEATH_BUCKETS ? DEATH_BUCKETS - 1 : b;
				d->bytes[b] += bytes;
				d->any = true;
			}
		}
		return true;
	}
	for (size_t i = 0; i < w->nheads; i++)
		if (w->heads[i].bound >= v && w->heads[i].bound <= hi) {
			struct vplan *vp = vp_find(pl, w->heads[i].vol);
			if (!vp)
				continue;
			if (readers == 1)
				vp->unique += bytes;
			else
				vp->shared += bytes;
			if (readers == 1)
				break;
		}
	return true;
}

/* The names of the versions a scan deleted, not yet in its batch. They go
 * in sorted: a name is keyed by LSN and the scan goes page by page, so in
 * scan order each deletion would land at a random place of the log
 * family's memtable (a full search of its skip list each). */
struct dead_names {
	uint8_t (*k)[NKEY_LEN];
	size_t n, cap;
};

static int nkey_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NKEY_LEN);
}

/* Put the dead names into *b, sorted (d may be NULL). */
static void dead_names_put(vol_pool *p, kv_batch *b, struct dead_names *d)
{
	if (!d || !d->n)
		return; /* d->k may be NULL: not for qsort */
	qsort(d->k, d->n, NKEY_LEN, nkey_cmp);
	for (size_t i = 0; i < d->n; i++)
		p->kv->ops->batch_del(b, KV_LOG, d->k[i], NKEY_LEN);
	d->n = 0;
}

/* Write the batch of deletions (with d's names: NULL if none) and start a
 * new one. pc: a scan's pacer: only once the batch is full, then yield to
 * the writers; NULL: now. */
static vol_status flush(vol_pool *p, kv_batch **b, struct pacer *pc,
			struct dead_names *d)
{
	kv *s = p->kv;
	/* A deletion in a batch: its key and a few bytes of framing. */
	size_t names = d ? d->n * (NKEY_LEN + 4) : 0;
	if (pc && s->ops->batch_bytes(*b) + names < p->retention_batch_bytes)
		return VOL_OK;
	dead_names_put(p, *b, d);
	vol_status st = s->ops->write(s, *b, false);
	if (pc)
		pacer_yield(p, pc);
	s->ops->batch_free(*b);
	*b = s->ops->batch_new(s);
	if (!*b && !st)
		st = vol__fail(VOL_ENOMEM, "out of memory");
	return st;
}

/* The time and stored bytes (its record's too, for one in the page log) of
 * the page version whose value is v: false if v is not a page value. */
static bool version_of(vol_pool *p, const uint8_t *v, size_t vn, int64_t *ns,
		       uint64_t *bytes)
{
	enum pval_kind kind;
	if (!pval_layout(v, vn, p->page_size, &kind))
		return false;
	*ns = (int64_t)be64_get(v + 8);
	*bytes = PKEY_LEN + vn + (kind == PV_REF ? plog_rec_len(p->plog) : 0);
	return true;
}

/* A run entry of the group a scan is in. */
struct srun {
	uint8_t key[PKEY_LEN];
	uint64_t lsn, first, count;
	struct pref ref;
	int64_t ns;
	uint64_t bytes;         /* each page's share of the stored bytes   */
	uint64_t kept[RUN_GROUP_MAX / 64]; /* pages a kept point reads     */
	size_t val, vn;         /* its value: scanner.vbuf + val           */
};

/* One scan of the pages family. */
struct scanner {
	vol_pool *p;
	struct plan *pl;
	kv_batch **b;
	vol_retention_report *rep;
	struct dead_names dn;
	struct pacer pc;
	uint64_t rl;
	kv_iter *it, *rit;      /* page versions; runs                     */
	struct srun *runs;      /* of the group, newest first              */
	size_t nruns, capruns;
	uint8_t *vbuf;          /* their values                            */
	size_t nvbuf, capvbuf;
	/* Which runs cover each page of the group, newest first: page i's
	 * are idx[from[i] .. from[i + 1]). */
	uint32_t *from, *idx;
	size_t capidx;
	/* The page's next newer version than the one being decided. */
	uint64_t next;
	int64_t next_ns;
};

/* Count nrec records at ref as live, for the cleaner. */
static void sc_live(struct scanner *c, struct pref ref, uint64_t nrec)
{
	struct seglive *sl = &c->pl->segs;
	if (ref.seg >= sl->lo && ref.seg < sl->hi)
		sl->live[ref.seg - sl->lo] += nrec * c->rl;
}

/* Decide one version of the page in turn (newest first): whether to keep
 * it. Versions of timelines not in the plan (made since) and of dropped
 * ones (finish() deletes them whole) stay. */
static bool sc_decide(struct scanner *c, struct tw *w, uint64_t lsn,
		      int64_t ns, uint64_t bytes)
{
	bool keep = !w || !w->live ||
		    decide(c->pl, w, lsn, c->next, c->next_ns, bytes);
	c->next = lsn;
	c->next_ns = ns;
	return keep;
}

/* Delete the entry k (versions page versions of `bytes` bytes) and its
 * name. */
static vol_status sc_delete(struct scanner *c, const uint8_t *k,
			    uint64_t versions, uint64_t bytes)
{
	vol_status st = grow((void **)&c->dn.k, &c->dn.cap, c->dn.n + 1,
			     NKEY_LEN);
	if (st)
		return st;
	nkey_make(c->dn.k[c->dn.n++], k);
	c->p->kv->ops->batch_del(*c->b, KV_PAGES, k, PKEY_LEN);
	c->rep->versions_deleted += versions;
	c->rep->bytes_deleted += bytes;
	return flush(c->p, c->b, &c->pc, &c->dn);
}

static vol_status bad_version(void)
{
	return vol__fail(VOL_ECORRUPT, "bad page version in the store");
}

/* The runs of group g of timeline tl from the run iterator (standing at
 * the first of them) into c->runs, and which cover each page. */
static vol_status sc_load_runs(struct scanner *c, uint64_t tl, uint64_t g)
{
	const struct kv_ops *o = c->p->kv->ops;
	uint64_t gp = c->p->run_group;
	c->nruns = c->nvbuf = 0;
	for (; o->iter_valid(c->rit); o->iter_next(c->rit)) {
		size_t kn, vn;
		const uint8_t *k = o->iter_key(c->rit, &kn);
		const uint8_t *v = o->iter_value(c->rit, &vn);
		uint64_t ktl, kg, lsn;
		enum pval_kind kind;
		if (kn != PKEY_LEN)
			return bad_version();
		pkey_parse(k, &ktl, &kg, &lsn);
		if (ktl != tl || kg != RUN_BASE + g)
			break;
		if (!pval_layout(v, vn, c->p->page_size, &kind) ||
		    kind != PV_RUN || rval_first(v) / gp != g ||
		    (rval_first(v) + rval_count(v) - 1) / gp != g)
			return bad_version();
		vol_status st = grow((void **)&c->runs, &c->capruns,
				     c->nruns + 1, sizeof *c->runs);
		if (!st)
			st = grow((void **)&c->vbuf, &c->capvbuf,
				  c->nvbuf + vn, 1);
		if (st)
			return st;
		struct srun *r = &c->runs[c->nruns++];
		memset(r, 0, sizeof *r);
		memcpy(c->vbuf + c->nvbuf, v, vn);
		r->val = c->nvbuf;
		r->vn = vn;
		c->nvbuf += vn;
		memcpy(r->key, k, PKEY_LEN);
		r->lsn = lsn;
		r->first = rval_first(v);
		r->count = rval_count(v);
		r->ref = pval_ref(v);
		r->ns = (int64_t)be64_get(v + 8);
		r->bytes = c->rl + (PKEY_LEN + vn) / r->count;
		c->rep->versions_scanned += r->count;
	}
	vol_status st = o->iter_status(c->rit);
	if (st)
		return st;
	/* Counting sort of (page, run) by page; runs stay newest first. */
	size_t total = 0;
	for (size_t i = 0; i < c->nruns; i++)
		total += c->runs[i].count;
	if ((st = grow((void **)&c->idx, &c->capidx, total, sizeof *c->idx)))
		return st;
	memset(c->from, 0, (gp + 1) * sizeof *c->from);
	for (size_t i = 0; i < c->nruns; i++)
		for (uint64_t q = 0; q < c->runs[i].count; q++)
			c->from[c->runs[i].first % gp + q + 1]++;
	for (uint64_t i = 0; i < gp; i++)
		c->from[i + 1] += c->from[i];
	for (size_t i = 0; i < c->nruns; i++)
		for (uint64_t q = 0; q < c->runs[i].count; q++) {
			uint64_t pg = c->runs[i].first % gp + q;
			c->idx[c->from[pg]++] = (uint32_t)i;
		}
	/* from[pg] is now where page pg + 1's list starts: shift back. */
	memmove(c->from + 1, c->from, gp * sizeof *c->from);
	c->from[0] = 0;
	return VOL_OK;
}

/* Whether page i of run r is kept. */
static bool run_kept(const struct srun *r, uint64_t i)
{
	return r->kept[i / 64] >> (i % 64) & 1;
}

/* After its group: run r of timeline tl stays whole (all its pages kept,
 * or all: its timeline is not in the plan), goes (none kept), or keeps
 * only what is kept: its longest stretch of kept pages, if RUN_MIN or
 * more, stays a run (same key, LSN and time: readers see the same bytes),
 * and every other kept page becomes a version of its own, referring to
 * the same record. The records of its other pages are then dead for the
 * cleaner: a run one page of which is still current does not hold the
 * page log's space of all the others. */
static vol_status sc_run(struct scanner *c, struct srun *r, uint64_t tl,
			 bool all)
{
	uint64_t nk = 0, best = 0, best_len = 0;
	for (uint64_t i = 0, len = 0; i < r->count; i++) {
		bool k = all || run_kept(r, i);
		nk += k;
		len = k ? len + 1 : 0;
		if (len > best_len) {
			best_len = len;
			best = i + 1 - len;
		}
	}
	if (nk == r->count) {
		sc_live(c, r->ref, r->count);
		return VOL_OK;
	}
	uint64_t dead = r->count - nk;
	c->rep->versions_deleted += dead;
	c->rep->bytes_deleted += dead * r->bytes;
	vol_pool *p = c->p;
	const uint8_t *v = c->vbuf + r->val;
	if (best_len < RUN_MIN)
		best_len = 0;
	/* The pages' own versions go in the batch before the run's change:
	 * a flush may write it between them. */
	for (uint64_t i = 0; i < r->count; i++) {
		if (!run_kept(r, i) || (i >= best && i < best + best_len))
			continue;
		uint8_t k[PKEY_LEN];
		struct pref ref = {r->ref.seg, r->ref.off + i * c->rl};
		pkey_make(k, tl, r->first + i, r->lsn);
		put_page_version(p, *c->b, k, r->ns, rval_hash(v, i), &ref);
		sc_live(c, ref, 1);
	}
	if (!best_len)
		return sc_delete(c, r->key, 0, 0);
	uint64_t h[RUN_GROUP_MAX];
	for (uint64_t i = 0; i < best_len; i++)
		h[i] = rval_hash(v, best + i);
	struct pref ref = {r->ref.seg, r->ref.off + best * c->rl};
	uint8_t nv[RVAL_MAX];
	rval_make(nv, r->key, r->ns, ref, r->first + best, best_len, h);
	p->kv->ops->batch_put(*c->b, KV_PAGES, r->key, PKEY_LEN, nv,
			      rval_len(best_len));
	put_run_name(p, *c->b, r->key, r->first + best, best_len);
	sc_live(c, ref, best_len);
	return flush(p, c->b, &c->pc, &c->dn);
}

/* Decide the versions of page pg of timeline tl: its own (at the page
 * iterator, if it stands on them) and, newest first among them, the runs
 * of its group that cover it (gi: its index in the group; none if the
 * group has no runs). */
static vol_status sc_page(struct scanner *c, struct tw *w, uint64_t tl,
			  uint64_t pg, uint64_t gi, bool runs)
{
	const struct kv_ops *o = c->p->kv->ops;
	uint32_t ri = runs ? c->from[gi] : 0, rend = runs ? c->from[gi + 1] : 0;
	c->next = LSN_MAX;
	c->next_ns = 0;
	vol_status st = VOL_OK;
	for (;;) {
		const uint8_t *k = NULL, *v = NULL;
		size_t kn = 0, vn = 0;
		uint64_t ktl = 0, kpg = 0, lsn = 0;
		if (o->iter_valid(c->it)) {
			k = o->iter_key(c->it, &kn);
			if (kn != PKEY_LEN)
				return bad_version();
			pkey_parse(k, &ktl, &kpg, &lsn);
			if (ktl != tl || kpg != pg)
				k = NULL;
		}
		struct srun *r = ri < rend ? &c->runs[c->idx[ri]] : NULL;
		if (!k && !r)
			return o->iter_status(c->it);
		if (r && (!k || r->lsn > lsn)) {
			if (sc_decide(c, w, r->lsn, r->ns, r->bytes)) {
				uint64_t i = pg - r->first;
				r->kept[i / 64] |= 1ull << (i % 64);
			}
			ri++;
			continue;
		}
		int64_t ns;
		uint64_t bytes;
		v = o->iter_value(c->it, &vn);
		if (!version_of(c->p, v, vn, &ns, &bytes) || v[0] == PV_RUN)
			return bad_version();
		c->rep->versions_scanned++;
		if (!sc_decide(c, w, lsn, ns, bytes))
			st = sc_delete(c, k, 1, bytes);
		else if ((!w || w->live) && v[0] == PV_REF)
			sc_live(c, pval_ref(v), 1);
		if (st)
			return st;
		o->iter_next(c->it);
	}
}

/* Every version of timeline tl: the page iterator stands at its first
 * page version (if any); the run iterator is sought to its runs. Group by
 * group, each page's own versions and the runs that cover it are decided
 * together; a run goes when no kept point reads any of its pages. */
static vol_status scan_tl(struct scanner *c, uint64_t tl)
{
	const struct kv_ops *o = c->p->kv->ops;
	uint64_t gp = c->p->run_group;
	struct tw *w = tw_find(c->pl, tl);
	uint8_t k[PKEY_LEN];
	pkey_make(k, tl, RUN_BASE, LSN_MAX);
	o->iter_seek(c->rit, k, PKEY_LEN);
	vol_status st = VOL_OK;
	for (;;) {
		/* The next group with page versions or runs. */
		uint64_t own = UINT64_MAX, rg = UINT64_MAX, ktl, kpg;
		size_t kn;
		if (o->iter_valid(c->it)) {
			const uint8_t *key = o->iter_key(c->it, &kn);
			if (kn != PKEY_LEN)
				return bad_version();
			pkey_parse(key, &ktl, &kpg, NULL);
			if (ktl == tl && kpg < RUN_BASE)
				own = kpg;
		}
		if (o->iter_valid(c->rit)) {
			const uint8_t *key = o->iter_key(c->rit, &kn);
			if (kn != PKEY_LEN)
				return bad_version();
			pkey_parse(key, &ktl, &kpg, NULL);
			if (ktl == tl && kpg >= RUN_BASE)
				rg = kpg - RUN_BASE;
		}
		if ((st = o->iter_status(c->it)) || (st = o->iter_status(c->rit)))
			return st;
		if (own == UINT64_MAX && rg == UINT64_MAX)
			return VOL_OK;
		uint64_t g = own / gp < rg ? own / gp : rg;
		if (g != rg) { /* no runs: the group's own versions alone */
			if ((st = sc_page(c, w, tl, own, 0, false)))
				return st;
			continue;
		}
		if ((st = sc_load_runs(c, tl, g)))
			return st;
		for (uint64_t i = 0; i < gp && !st; i++)
			st = sc_page(c, w, tl, g * gp + i, i, true);
		for (size_t i = 0; i < c->nruns && !st; i++)
			if (!w || w->live)
				st = sc_run(c, &c->runs[i], tl, !w);
		if (st)
			return st;
	}
}

/* Scan every page version (the pages family: keys, headers and page-log
 * references; a format-1 pool's inline pages are read too), deleting what
 * the plan does not need. */
static vol_status scan(vol_pool *p, struct plan *pl, kv_batch **b,
		       vol_retention_report *rep)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	/* Segments sealed before the scan's snapshot hold only versions it
	 * sees, apart from the cleaner's own moves, which run in this thread:
	 * the versions that wait for the store (defer.c) are written first,
	 * under pool->mu, which every append holds, so every record before
	 * the segment appended to now has its version in the store. */
	struct pref *segs = NULL;
	pthread_mutex_lock(&p->mu);
	vol_status fst = store_flush(p);
	size_t nsegs = fst ? 0 : plog_list(p->plog, &segs);
	pthread_mutex_unlock(&p->mu);
	if (fst)
		return fst;
	struct seglive *sl = &pl->segs;
	if (nsegs > 1) {
		sl->lo = segs[0].seg;
		sl->hi = segs[nsegs - 1].seg;
		sl->live = calloc(sl->hi - sl->lo, sizeof *sl->live);
		if (!sl->live) {
			free(segs);
			return vol__fail(VOL_ENOMEM, "out of memory");
		}
	}
	free(segs);
	/* The run iterator is made right after the page iterator: a version
	 * one sees and the other does not is newer than the plan, and only
	 * makes the versions before it look longer-lived (kept, not lost). */
	struct scanner c = {
		.p = p, .pl = pl, .b = b, .rep = rep,
		.rl = plog_rec_len(p->plog),
		.it = o->iter_new(s, KV_PAGES, KV_BULK),
		.rit = o->iter_new(s, KV_PAGES, KV_BULK),
		.from = malloc((p->run_group + 1) * sizeof *c.from),
	};
	vol_status st = VOL_OK;
	if (!c.it || !c.rit || !c.from)
		st = vol__fail(VOL_ENOMEM, "out of memory");
	pacer_start(p, &c.pc);
	/* From a whole zero key: the family's prefix extractor must only
	 * ever see keys of at least 16 bytes. */
	uint8_t k[PKEY_LEN] = {0};
	if (!st)
		o->iter_seek(c.it, k, PKEY_LEN);
	while (!st && o->iter_valid(c.it)) {
		size_t kn;
		const uint8_t *key = o->iter_key(c.it, &kn);
		if (kn != PKEY_LEN) {
			st = bad_version();
			break;
		}
		uint64_t tl = be64_get(key);
		if ((st = scan_tl(&c, tl)) || tl == UINT64_MAX)
			break;
		pkey_make(k, tl + 1, 0, LSN_MAX);
		o->iter_seek(c.it, k, PKEY_LEN);
	}
	if (!st && c.it)
		st = o->iter_status(c.it);
	if (c.it)
		o->iter_free(c.it);
	if (c.rit)
		o->iter_free(c.rit);
	dead_names_put(p, *b, &c.dn); /* with their versions' deletions */
	free(c.dn.k);
	free(c.runs);
	free(c.vbuf);
	free(c.from);
	free(c.idx);
	return st;
}

/* Under p->mu: trim per-volume metadata older than the plan's keep points,
 * drop dead timelines, and publish the statistics. */
static vol_status finish(vol_pool *p, struct plan *pl, kv_batch *b,
			 vol_retention_report *rep, uint64_t *dropped_ids,
			 size_t *ndropped)
{
	kv *s = p->kv;
	const struct kv_ops *o = s->ops;
	uint8_t lo[32], hi[32];
	*ndropped = 0;
	for (size_t i = 0; i < pl->ntws; i++) {
		struct tw *w = &pl->tws[i];
		if (w->live)
			continue;
		uint8_t a[PKEY_LEN] = {0}, z[PKEY_LEN] = {0};
		be64_put(a, w->id);
		be64_put(z, w->id + 1);
		o->batch_del_range(b, KV_PAGES, a, PKEY_LEN, z, PKEY_LEN);
		o->batch_del_range(b, KV_LOG, lo, key1(lo, LT_NAME, w->id),
				   hi, key1(hi, LT_NAME, w->id + 1));
		o->batch_del(b, KV_META, lo, key1(lo, MT_TL, w->id));
		o->batch_del_range(b, KV_META, lo, key1(lo, MT_SIZE, w->id),
				   hi, key1(hi, MT_SIZE, w->id + 1));
		dropped_ids[(*ndropped)++] = w->id;
	}
	for (size_t i = 0; i < pl->nvols; i++) {
		struct vplan *vp = &pl->vols[i];
		struct vol *v = vol_find(p, vp->id);
		if (!v)
			continue;
		/* Segments wholly before the keep point. */
		size_t drop = 0;
		while (drop + 1 < v->nsegs &&
		       v->segs[drop + 1].start_lsn <= vp->keep)
			drop++;
		for (size_t sI = 0; sI < drop; sI++)
			o->batch_del(b, KV_META, lo,
				     key2(lo, MT_SEG, v->id,
					  v->segs[sI].start_lsn));
		/* Barriers before the keep barrier. */
		o->batch_del_range(b, KV_LOG, lo, key1(lo, LT_BARRIER, v->id),
				   hi,
				   key3(hi, LT_BARRIER, v->id,
					(uint64_t)vp->keep_ns, vp->keep));
	}
	if (pl->min_keep > 1)
		o->batch_del_range(b, KV_LOG, lo, key1(lo, LT_CHANGE, 0), hi,
				   key1(hi, LT_CHANGE, pl->min_keep));
	vol_status st = o->write(s, b, false);
	if (st)
		return st;
	for (size_t i = 0; i < pl->nvols; i++) {
		struct vplan *vp = &pl->vols[i];
		struct vol *v = vol_find(p, vp->id);
		if (!v)
			continue;
		size_t drop = 0;
		while (drop + 1 < v->nsegs &&
		       v->segs[drop + 1].start_lsn <= vp->keep)
			drop++;
		memmove(v->segs, v->segs + drop,
			(v->nsegs - drop) * sizeof *v->segs);
		v->nsegs -= drop;
		v->bytes_stored = vp->stored;
		v->bytes_unique = vp->unique;
		v->bytes_shared = vp->shared;
		v->bytes_history = vp->history;
		for (size_t k = 0; k < v->nsnaps; k++) {
			struct splan *sp = sp_find(pl, v->id, v->snaps[k].name);
			v->snaps[k].bytes_held = sp ? sp->held : 0;
		}
	}
	for (size_t i = 0; i < *ndropped; i++) {
		struct tl *t = tl_find(p, dropped_ids[i]);
		if (t)
			t->dead = true;
	}
	rep->timelines_dropped += *ndropped;
	p->bytes_pages = rep->bytes_pages = pl->bytes_pages;
	p->bytes_history = rep->bytes_history = pl->bytes_history;
	p->counted_ns = pl->now;
	return VOL_OK;
}

/* Under p->mu, before the scan deletes anything: every volume's floor
 * becomes the plan's earliest restorable time, in the store and then in
 * memory. Floors never move back, so neither a point resolved while the
 * scan runs, nor a window widened meanwhile, nor a reopen after a pass
 * that failed or was killed half way (its deletions are written in
 * several batches) can claim history the scan deletes: the budget's cut
 * in particular moves earliest times, which the clock alone never does. */
static vol_status raise_floors(vol_pool *p, const struct plan *pl,
			       kv_batch **b)
{
	bool any = false;
	for (size_t i = 0; i < pl->nvols; i++) {
		struct vol *v = vol_find(p, pl->vols[i].id);
		if (v && v->floor_ns < pl->vols[i].earliest) {
			int64_t old = v->floor_ns;
			v->floor_ns = pl->vols[i].earliest;
			put_vol_record(p, *b, v);
			v->floor_ns = old;
			any = true;
		}
	}
	vol_status st = any ? flush(p, b, NULL, NULL) : VOL_OK;
	for (size_t i = 0; i < pl->nvols && !st; i++) {
		struct vol *v = vol_find(p, pl->vols[i].id);
		if (v && v->floor_ns < pl->vols[i].earliest)
			v->floor_ns = pl->vols[i].earliest;
	}
	return st;
}

/* One pass; `cut` (0: none) raises every earliest restorable time below
 * it to it (the history budget's cut). */
static vol_status one_pass(vol_pool *p, vol_retention_report *rep,
			   struct plan *pl, int64_t cut)
{
	kv *s = p->kv;
	memset(pl, 0, sizeof *pl);
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	kv_batch *b = s->ops->batch_new(s);
	if (!b)
		return vol__fail(VOL_ENOMEM, "out of memory");
	pthread_mutex_lock(&p->mu);
	st = store_flush(p); /* the plan reads the log family */
	if (!st)
		st = plan_build(p, pl, cut);
	if (!st)
		st = raise_floors(p, pl, &b);
	pthread_mutex_unlock(&p->mu);
	if (!st)
		st = scan(p, pl, &b, rep);
	/* The scan's last deletions, before pool->mu is taken: writing up
	 * to a batch's worth of them under it held every write and sync of
	 * the pool (a stall of 55-60 ms measured: bench/volbench). The
	 * floors are already recorded (raise_floors). */
	if (!st)
		st = flush(p, &b, NULL, NULL);
	if (!st) {
		uint64_t *ids = malloc((pl->ntws + 1) * sizeof *ids);
		size_t nd = 0;
		if (!ids) {
			st = vol__fail(VOL_ENOMEM, "out of memory");
		} else {
			pthread_mutex_lock(&p->mu);
			st = store_flush(p); /* LSN order: what waits first */
			if (!st)
				st = finish(p, pl, b, rep, ids, &nd);
			pthread_mutex_unlock(&p->mu);
			free(ids);
		}
		/* Page bytes in the page log come back through the cleaner;
		 * the store's own entries of deleted versions are small and
		 * its background compactions drop them. A whole compaction
		 * of the pages family (minutes of a core on a large pool, and
		 * it ran after every pass while a history budget binds) is
		 * only worth it when the disk is full, or for a pool that
		 * held page bytes in blob files (format 1), where nothing
		 * else gives them back soon. */
		bool short_ = __atomic_load_n(&p->low_space, __ATOMIC_ACQUIRE);
		bool blobs = p->inline_pages &&
			     (nd || rep->bytes_deleted > (64u << 20));
		if (!st && (blobs || (short_ && rep->bytes_deleted)))
			st = s->ops->compact(s, KV_PAGES);
	}
	s->ops->batch_free(b);
	return st;
}

vol_status vol_retention_run(vol_pool *p, vol_retention_report *out)
{
	vol_retention_report rep = {0};
	struct plan pl;
	pthread_mutex_lock(&p->retention_mu);
	vol_status st = one_pass(p, &rep, &pl, 0);
	uint64_t budget = 0;
	int64_t cutoff = 0;
	if (!st) {
		pthread_mutex_lock(&p->mu);
		budget = pool_budget(p);
		pthread_mutex_unlock(&p->mu);
	}
	if (!st && budget && pl.bytes_history > budget && pl.deaths.any) {
		/* Free the oldest history first until under budget: the end
		 * of the first buckets that hold enough. */
		uint64_t over = pl.bytes_history - budget, freed = 0;
		for (size_t i = 0; i < DEATH_BUCKETS && freed < over; i++) {
			if (!pl.deaths.bytes[i])
				continue;
			freed += pl.deaths.bytes[i];
			cutoff = pl.deaths.lo + ((int64_t)i + 1) * pl.deaths.width;
		}
		if (cutoff > pl.now + 1) /* the last bucket's end */
			cutoff = pl.now + 1;
		pthread_mutex_lock(&p->mu);
		p->budget_alert = true;
		pthread_mutex_unlock(&p->mu);
		plan_free(&pl);
		/* The cut floors are stored with the pass (finish), so that
		 * a reopen keeps them. */
		st = one_pass(p, &rep, &pl, cutoff);
		rep.cutoff_ns = cutoff;
	} else if (!st) {
		pthread_mutex_lock(&p->mu);
		int64_t now = pool_now(p);
		/* Over budget with nothing a shorter window would free (the
		 * rest is held by snapshots and clones' branch points): the
		 * pool still raises its alert. */
		p->budget_alert = budget && pl.bytes_history > budget;
		for (size_t i = 0; i < p->nvols; i++) {
			struct vol *v = p->vols[i];
			if (v->budget_alert && v->floor_ns <= now - v->window_ns)
				v->budget_alert = false;
			p->budget_alert |= v->budget_alert;
		}
		pthread_mutex_unlock(&p->mu);
	}
	rep.budget_alert = cutoff != 0 || (budget && pl.bytes_history > budget);
	/* Give back the page-log space of what the pass deleted. */
	if (!st)
		st = plog_clean(p, &pl.segs, &rep);
	plan_free(&pl);
	pthread_mutex_lock(&p->mu);
	p->last_retention_ns = pool_now(p);
	if (st)
		snprintf(p->retention_error, sizeof p->retention_error, "%s",
			 vol_errmsg());
	else
		p->retention_error[0] = 0;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->retention_mu);
	/* A pass's plan (one entry per history version the window alone
	 * keeps) can be large: give the memory back to the system. */
	malloc_trim(0);
	if (out)
		*out = rep;
	return st;
}

#define RETENTION_NICE 10
/* The background schedule: a pass at most every interval, and not more
 * often than RETENTION_DUTY times its own length (a pass reads the entry of
 * every stored version: on a large pool that is seconds of a core, and it
 * found little new to do a minute later); earlier when the volumes wrote an
 * eighth of the history budget since the last pass began (the budget is
 * then enforced soon after it is outgrown), but still no more often than
 * RETENTION_BURST times the pass's length. The length counts the pass's
 * work, not its pauses for the writers (pacer_yield): a pass paced by a
 * busy database must not push the next one further away. */
#define RETENTION_DUTY 20
#define RETENTION_BURST 4

void retention_note_write(vol_pool *p, uint64_t bytes)
{
	p->retention_written += bytes;
	uint64_t budget = pool_budget(p);
	if (budget && !p->retention_woken &&
	    p->retention_written >= budget / 8) {
		p->retention_woken = true;
		/* Broadcast: a pass's pacer may wait on it too. */
		pthread_cond_broadcast(&p->retention_cv);
	}
}

void pacer_start(vol_pool *p, struct pacer *pc)
{
	pthread_mutex_lock(&p->mu);
	pc->written = p->retention_written;
	pthread_mutex_unlock(&p->mu);
	pc->since = mono_ns();
}

void pacer_yield(vol_pool *p, struct pacer *pc)
{
	int64_t now = mono_ns();
	int64_t until = now + (now - pc->since) * RETENTION_YIELD;
	pthread_mutex_lock(&p->mu);
	if (p->retention_written != pc->written) {
		int64_t from = now;
		while (!p->retention_stop && now < until) {
			cond_wait_ns(&p->retention_cv, &p->mu, until - now);
			now = mono_ns();
		}
		p->retention_yielded_ns += now - from;
	}
	pc->written = p->retention_written;
	pthread_mutex_unlock(&p->mu);
	pc->since = mono_ns();
}

void *retention_main(void *arg)
{
	vol_pool *p = arg;
	/* Named for top -H and perf; a name is only a hint. */
	(void)pthread_setname_np(pthread_self(), "rwf-retention");
	/* Background work: retention passes and the cleaner yield the CPU
	 * to the threads that serve reads and writes (nice 10: about a tenth
	 * of a busy core's share; an idle CPU still runs them at full speed).
	 * A failure only leaves the thread at the process's priority. */
	id_t self = (id_t)gettid();
	setpriority(PRIO_PROCESS, self,
		    getpriority(PRIO_PROCESS, self) + RETENTION_NICE);
	int64_t last = mono_ns(), took = 0; /* the last pass: start, length */
	pthread_mutex_lock(&p->mu);
	while (!p->retention_stop) {
		int64_t now = mono_ns();
		int64_t wait = (int64_t)p->retention_interval_s * 1000000000;
		if (wait < RETENTION_DUTY * took)
			wait = RETENTION_DUTY * took;
		if (p->retention_woken && wait > RETENTION_BURST * took)
			wait = RETENTION_BURST * took;
		if (now - last < wait) {
			cond_wait_ns(&p->retention_cv, &p->mu,
				     wait - (now - last));
			continue; /* stopped, woken early, or due: look again */
		}
		p->retention_written = 0;
		p->retention_woken = false;
		int64_t yielded = p->retention_yielded_ns;
		pthread_mutex_unlock(&p->mu);
		last = mono_ns();
		vol_retention_run(p, NULL);
		took = mono_ns() - last;
		pthread_mutex_lock(&p->mu);
		took -= p->retention_yielded_ns - yielded;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ------------------------------------------------------------ check */

static const char *owner_name(vol_pool *p, const struct tl *t)
{
	struct vol *v = t ? vol_find(p, t->owner) : NULL;
	return v ? v->name : "(deleted volume)";
}

/* The LT_NAME entry of pkey is there (pools of format 3). */
static bool name_ok(vol_pool *p, const uint8_t *pkey)
{
	if (p->format < 3)
		return true;
	uint8_t k[NKEY_LEN];
	void *v;
	size_t vn;
	nkey_make(k, pkey);
	if (p->kv->ops->get(p->kv, KV_LOG, k, NKEY_LEN, &v, &vn))
		return false;
	free(v);
	return true;
}

struct checker {
	vol_pool *p;
	vol_check_fn fn;
	void *ctx;
	uint64_t n;
	uint64_t pool_lsn;
	uint8_t *rec;           /* a page-log record                       */
};

static void problem(struct checker *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct checker *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->fn)
		c->fn(c->ctx, msg);
	c->n++;
}

static void check_meta(struct checker *c)
{
	vol_pool *p = c->p;
	if (p->damaged[0])
		problem(c, "pool: %s", p->damaged);
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nvols; i++) {
		struct vol *v = p->vols[i];
		if (!v->tl || v->tl->dead)
			problem(c, "volume %s: current timeline is missing",
				v->name);
		for (size_t s = 0; s < v->nsegs; s++) {
			struct tl *t = tl_find(p, v->segs[s].timeline);
			if (!t || t->dead)
				problem(c, "volume %s: segment at lsn %llu "
					"names missing timeline %llu", v->name,
					(unsigned long long)v->segs[s].start_lsn,
					(unsigned long long)v->segs[s].timeline);
			if (s && v->segs[s].start_lsn <= v->segs[s - 1].start_lsn)
				problem(c, "volume %s: segments out of order",
					v->name);
		}
		for (size_t s = 0; s < v->nsnaps; s++) {
			struct tl *t = tl_find(p, v->snaps[s].pt.timeline);
			if (!t || t->dead)
				problem(c, "volume %s: snapshot %s names "
					"missing timeline %llu", v->name,
					v->snaps[s].name,
					(unsigned long long)
						v->snaps[s].pt.timeline);
		}
	}
	for (size_t i = 0; i < p->ntls; i++) {
		struct tl *t = p->tls[i];
		if (t->dead)
			continue;
		if (t->anc_id && (!t->anc || t->anc->dead))
			problem(c, "timeline %llu: ancestor %llu is missing",
				(unsigned long long)t->id,
				(unsigned long long)t->anc_id);
		if (t->anc && t->anc_lsn >= t->created_lsn)
			problem(c, "timeline %llu: branches at lsn %llu, after "
				"its creation at %llu",
				(unsigned long long)t->id,
				(unsigned long long)t->anc_lsn,
				(unsigned long long)t->created_lsn);
	}
	c->pool_lsn = p->lsn;
	pthread_mutex_unlock(&p->mu);
}

/* The owner's name of timeline tl, for messages. */
static void tl_owner(vol_pool *p, uint64_t tl, char *out, size_t cap,
		     bool *orphan)
{
	pthread_mutex_lock(&p->mu);
	const struct tl *t = tl_find(p, tl);
	snprintf(out, cap, "%s", owner_name(p, t));
	if (orphan)
		*orphan = !t || t->dead;
	pthread_mutex_unlock(&p->mu);
}

/* The records of a run's pages (a verified value v); false if one is bad
 * (each bad one is a problem). */
static bool check_run(struct checker *c, const char *vname, uint64_t tl,
		      uint64_t lsn, const uint8_t *v)
{
	vol_pool *p = c->p;
	bool ok = true;
	for (uint64_t i = 0; i < rval_count(v); i++) {
		struct prec_want w;
		rval_want(v, tl, lsn, i, plog_rec_len(p->plog), &w);
		if (plog_read(p->plog, w.ref, w.key, w.hash, c->rec,
			      c->rec + PREC_HDR)) {
			uint64_t pg = rval_first(v) + i;
			problem(c, "volume %s page %llu lsn %llu (timeline "
				"%llu): %s", vname, (unsigned long long)pg,
				(unsigned long long)lsn,
				(unsigned long long)tl, vol_errmsg());
			ok = false;
		}
	}
	return ok;
}

/* What the pages family's key k names: "page N" or "run of pages A-B". */
static void key_what(vol_pool *p, const uint8_t *k, char *out, size_t cap)
{
	uint64_t pg;
	pkey_parse(k, NULL, &pg, NULL);
	if (pkey_is_run(k))
		snprintf(out, cap, "run of pages %llu-%llu",
			 (unsigned long long)((pg - RUN_BASE) * p->run_group),
			 (unsigned long long)((pg - RUN_BASE + 1) *
					      p->run_group - 1));
	else
		snprintf(out, cap, "page %llu", (unsigned long long)pg);
}

static void check_version(struct checker *c, const uint8_t *k,
			  const uint8_t *v, size_t vn)
{
	vol_pool *p = c->p;
	uint64_t tl, lsn;
	pkey_parse(k, &tl, NULL, &lsn);
	char vname[VOL_NAME_MAX + 20], what[64];
	bool orphan;
	tl_owner(p, tl, vname, sizeof vname, &orphan);
	key_what(p, k, what, sizeof what);
	enum pval_kind kind;
	uint64_t dh;
	if (orphan)
		problem(c, "%s lsn %llu: timeline %llu does not exist", what,
			(unsigned long long)lsn, (unsigned long long)tl);
	else if (!pval_check(k, v, vn, p->page_size, &kind, NULL, &dh))
		problem(c, "volume %s %s lsn %llu (timeline %llu): checksum "
			"mismatch", vname, what, (unsigned long long)lsn,
			(unsigned long long)tl);
	else if (kind == PV_REF &&
		 plog_read(p->plog, pval_ref(v), k, dh, c->rec,
			   c->rec + PREC_HDR))
		problem(c, "volume %s %s lsn %llu (timeline %llu): %s", vname,
			what, (unsigned long long)lsn, (unsigned long long)tl,
			vol_errmsg());
	else if (kind == PV_RUN && !check_run(c, vname, tl, lsn, v))
		; /* named each bad page */
	else if (!name_ok(p, k))
		problem(c, "volume %s %s lsn %llu (timeline %llu): its name "
			"entry in the log is missing", vname, what,
			(unsigned long long)lsn, (unsigned long long)tl);
	else if (lsn > c->pool_lsn)
		problem(c, "volume %s %s: lsn %llu is newer than the pool's "
			"%llu", vname, what, (unsigned long long)lsn,
			(unsigned long long)c->pool_lsn);
}

/* Every stored page version. A version the store cannot read (its own
 * checksums caught a damaged blob or block) is a problem too: the scan
 * goes on after it, naming it from its LT_NAME entry in the log. */
static vol_status check_pages(struct checker *c)
{
	const struct kv_ops *o = c->p->kv->ops;
	/* From a whole zero key: the family's prefix extractor must only
	 * ever see keys of at least 16 bytes. */
	uint8_t from[PKEY_LEN + 1] = {0}, last[PKEY_LEN];
	size_t fromn = PKEY_LEN;
	bool have_last = false;
	for (unsigned unreadable = 0;; unreadable++) {
		kv_iter *it = o->iter_new(c->p->kv, KV_PAGES, KV_BULK);
		if (!it)
			return vol__fail(VOL_ENOMEM, "out of memory");
		for (o->iter_seek(it, from, fromn); o->iter_valid(it);
		     o->iter_next(it)) {
			size_t kn, vn;
			const uint8_t *k = o->iter_key(it, &kn);
			const uint8_t *v = o->iter_value(it, &vn);
			if (kn != PKEY_LEN) {
				problem(c, "pages: key of %zu bytes", kn);
				continue;
			}
			memcpy(last, k, PKEY_LEN);
			have_last = true;
			check_version(c, k, v, vn);
		}
		vol_status st = o->iter_status(it);
		o->iter_free(it);
		if (!st)
			return VOL_OK;
		/* The version after the last one read is the one that
		 * failed. */
		char why[256];
		snprintf(why, sizeof why, "%s", vol_errmsg());
		uint8_t bad[PKEY_LEN];
		if (unreadable >= 1000000 ||
		    !name_after(c->p, have_last ? last : NULL, bad)) {
			problem(c, "pages: the store cannot read past %s: %s",
				have_last ? "a version" : "the start", why);
			return VOL_OK;
		}
		uint64_t tl, lsn;
		pkey_parse(bad, &tl, NULL, &lsn);
		char vname[VOL_NAME_MAX + 20], what[64];
		tl_owner(c->p, tl, vname, sizeof vname, NULL);
		key_what(c->p, bad, what, sizeof what);
		problem(c, "volume %s %s lsn %llu (timeline %llu): "
			"unreadable: %s", vname, what,
			(unsigned long long)lsn, (unsigned long long)tl, why);
		memcpy(from, bad, PKEY_LEN);
		from[PKEY_LEN] = 0; /* seek strictly after it */
		fromn = PKEY_LEN + 1;
		memcpy(last, bad, PKEY_LEN);
		have_last = true;
	}
}

static void commit_bad(void *ctx, uint64_t tl, uint64_t page, uint64_t lsn,
		       const char *why)
{
	struct checker *c = ctx;
	char vname[VOL_NAME_MAX + 20];
	tl_owner(c->p, tl, vname, sizeof vname, NULL);
	problem(c, "volume %s page %llu lsn %llu (timeline %llu): %s", vname,
		(unsigned long long)page, (unsigned long long)lsn,
		(unsigned long long)tl, why);
}

static vol_status check_record(void *ctx, const uint8_t *rec, struct pref at,
			       uint64_t end)
{
	struct checker *c = ctx;
	if (!end)
		return pages_check_commit(c->p, rec, c->pool_lsn, commit_bad,
					  c);
	/* A page record whose page is damaged: the versions that refer to it
	 * are listed (a dead one harms nothing). */
	if (rec && rec[48] <= PREC_MOVED)
		return VOL_OK;
	/* cut at the next open: not damage */
	if (plog_unfinished(c->p, at, end))
		return VOL_OK;
	problem(c, "page log segment %016llx offset %llu-%llu: damaged "
		"records", (unsigned long long)at.seg,
		(unsigned long long)at.off, (unsigned long long)end);
	return VOL_OK;
}

/* The page log's records the next open reads (after the durable point):
 * damaged stretches, and, on a read-only open (which does not replay), the
 * data records of changes only the log has yet. */
static vol_status check_plog(struct checker *c)
{
	struct pref end;
	return plog_scan(c->p->plog, plog_check_from(c->p), check_record, c,
			 &end);
}

/* The log family (change records, barriers, names) reads. */
static vol_status check_log(struct checker *c)
{
	const struct kv_ops *o = c->p->kv->ops;
	kv_iter *it = o->iter_new(c->p->kv, KV_LOG, KV_BULK);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	uint8_t first = 0;
	for (o->iter_seek(it, &first, 1); o->iter_valid(it); o->iter_next(it))
		;
	if (o->iter_status(it))
		problem(c, "log: the store cannot read it: %s", vol_errmsg());
	o->iter_free(it);
	return VOL_OK;
}

vol_status vol_check(vol_pool *p, vol_check_fn fn, void *ctx,
		     uint64_t *problems)
{
	struct checker c = {.p = p, .fn = fn, .ctx = ctx};
	pthread_mutex_lock(&p->mu);
	vol_status fst = store_flush(p); /* the check reads the store */
	pthread_mutex_unlock(&p->mu);
	if (fst)
		return fst;
	if (!(c.rec = malloc(plog_rec_len(p->plog))))
		return vol__fail(VOL_ENOMEM, "out of memory");
	check_meta(&c);
	/* Shared: the cleaner cannot remove a segment under the scan. */
	plog_read_lock(p->plog);
	vol_status st = check_pages(&c);
	if (!st)
		st = check_plog(&c);
	plog_read_unlock(p->plog);
	free(c.rec);
	if (!st)
		st = check_log(&c);
	if (problems)
		*problems = c.n;
	return st;
}
