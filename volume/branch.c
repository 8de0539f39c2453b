/*
 * branch.c - points in history and the metadata-only operations on them:
 * resolve a target, backtrack, clone, reset, snapshots.
 *
 * DESIGN
 * A volume's history is a list of segments: from LSN s_i on it presented
 * timeline t_i. A target resolves to a point (timeline, LSN):
 *   - a time: the volume's last barrier at or before it (one SeekForPrev on
 *     `B|vol|time`); barriers carry the timeline presented then;
 *   - an LSN: exactly that LSN on the segment containing it;
 *   - a snapshot: its stored point; now: the current timeline at the pool LSN.
 * The earliest restorable point is the barrier at or before the earliest
 * restorable time (retention keeps exactly from there), so every time inside
 * the window resolves to something readable.
 *
 * Backtrack, reset and clone write a new timeline record branching at the
 * point, a segment, a barrier and (for backtrack/reset) a history record:
 * a handful of keys whatever the volume size or the amount of history, which
 * is what keeps them O(1) (invariant 5). Nothing is copied or undone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Find the barrier of `vol` at or before `ns` (after: at or after it).
 * VOL_ENOENT if none. Under mu. */
static vol_status barrier_near(vol_pool *p, vol_id vol, int64_t ns,
			       bool after, vol_point *out)
{
	const struct kv_ops *o = p->kv->ops;
	vol_status st = store_flush(p); /* the waiting ones too */
	if (st)
		return st;
	kv_iter *it = o->iter_new(p->kv, KV_LOG, KV_POINT);
	if (!it)
		return vol__fail(VOL_ENOMEM, "out of memory");
	uint8_t k[32];
	key3(k, LT_BARRIER, vol, (uint64_t)ns, after ? 0 : LSN_MAX);
	if (after)
		o->iter_seek(it, k, 25);
	else
		o->iter_seek_prev(it, k, 25);
	st = VOL_ENOENT;
	if (o->iter_valid(it)) {
		size_t kn, vn;
		const uint8_t *key = o->iter_key(it, &kn);
		const uint8_t *v = o->iter_value(it, &vn);
		if (kn == 25 && !memcmp(key, k, 9) && vn == 8) {
			out->time_ns = (int64_t)be64_get(key + 9);
			out->lsn = be64_get(key + 17);
			out->timeline = be64_get(v);
			st = VOL_OK;
		}
	} else {
		vol_status is = o->iter_status(it);
		if (is)
			st = is;
	}
	o->iter_free(it);
	return st;
}

static vol_status lsn_time(vol_pool *p, uint64_t lsn, int64_t *ns)
{
	uint8_t k[16];
	void *v;
	size_t vn;
	vol_status st = p->kv->ops->get(p->kv, KV_LOG, k,
					key1(k, LT_CHANGE, lsn), &v, &vn);
	if (st == VOL_ENOENT)
		return vol__fail(VOL_ERANGE, "lsn %llu is no longer in the log",
				 (unsigned long long)lsn);
	if (st)
		return st;
	if (vn < 8) {
		free(v);
		return vol__fail(VOL_ECORRUPT, "bad log record for lsn %llu",
				 (unsigned long long)lsn);
	}
	*ns = (int64_t)be64_get(v);
	free(v);
	return VOL_OK;
}

/* The oldest LSN of v that must stay readable when its earliest restorable
 * time is `earliest` (and the time of the barrier it is). */
vol_status keep_from(vol_pool *p, const struct vol *v, int64_t earliest,
		     uint64_t *lsn, int64_t *ns)
{
	/* The last barrier strictly before `earliest`: every LSN committed
	 * at or after the earliest time comes after it, and a time target at
	 * the earliest time resolves to it or to a later barrier. */
	vol_point b = {0}; /* set when VOL_OK (-O3 cannot tell) */
	vol_status st = barrier_near(p, v->id, earliest - 1, false, &b);
	if (st == VOL_ENOENT) {
		*lsn = v->created_lsn;
		*ns = v->created_ns;
		return VOL_OK;
	}
	if (st == VOL_OK) {
		*lsn = b.lsn;
		*ns = b.time_ns;
	}
	return st;
}

vol_status cut_earliest(vol_pool *p, const struct vol *v, int64_t cut,
			int64_t *earliest)
{
	/* Versions that died after the last barrier before `cut` stay while
	 * that barrier is kept (keep_from); the first barrier at or after
	 * the cut frees them all. */
	vol_point b = {0}; /* set when VOL_OK (-O3 cannot tell) */
	vol_status st = barrier_near(p, v->id, cut, true, &b);
	*earliest = cut;
	if (st == VOL_ENOENT)
		return VOL_OK;
	if (st == VOL_OK)
		*earliest = b.time_ns + 1;
	return st;
}

/* RFC 3339 in UTC with nanoseconds, as the control files show times. */
static void fmt_time(char *out, size_t n, int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char day[32];
	gmtime_r(&sec, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%09lldZ", day, (long long)(ns % 1000000000));
}

vol_status resolve_locked(vol_pool *p, struct vol *v, const vol_target *t,
			  vol_point *out)
{
	int64_t now = pool_now(p);
	int64_t earliest = vol_earliest(p, v, now);
	char a[48], b[48];
	vol_status st;
	switch (t->kind) {
	case VOL_AT_NOW:
		*out = (vol_point){v->tl->id, p->lsn, now};
		return VOL_OK;
	case VOL_AT_TIME:
		fmt_time(a, sizeof a, t->time_ns);
		if (t->time_ns > now) {
			fmt_time(b, sizeof b, now);
			return vol__fail(VOL_ERANGE,
					 "volume %s: time %s is in the future "
					 "(now %s)", v->name, a, b);
		}
		if (t->time_ns < earliest) {
			fmt_time(b, sizeof b, earliest);
			return vol__fail(VOL_ERANGE,
					 "volume %s: time %s is before the "
					 "earliest restorable time %s",
					 v->name, a, b);
		}
		st = barrier_near(p, v->id, t->time_ns, false, out);
		if (st == VOL_ENOENT)
			return vol__fail(VOL_ERANGE,
					 "volume %s: no consistent point at or "
					 "before %s", v->name, a);
		return st;
	case VOL_AT_LSN: {
		uint64_t k;
		int64_t kns;
		if (t->lsn > p->lsn)
			return vol__fail(VOL_ERANGE,
					 "volume %s: lsn %llu is in the future "
					 "(pool lsn %llu)", v->name,
					 (unsigned long long)t->lsn,
					 (unsigned long long)p->lsn);
		if ((st = keep_from(p, v, earliest, &k, &kns)))
			return st;
		if (t->lsn < k)
			return vol__fail(VOL_ERANGE,
					 "volume %s: lsn %llu is before the "
					 "earliest restorable lsn %llu", v->name,
					 (unsigned long long)t->lsn,
					 (unsigned long long)k);
		size_t i = v->nsegs;
		while (i > 0 && v->segs[i - 1].start_lsn > t->lsn)
			i--;
		if (i == 0)
			return vol__fail(VOL_ERANGE,
					 "volume %s did not exist at lsn %llu",
					 v->name, (unsigned long long)t->lsn);
		out->timeline = v->segs[i - 1].timeline;
		out->lsn = t->lsn;
		return lsn_time(p, t->lsn, &out->time_ns);
	}
	case VOL_AT_SNAPSHOT:
		for (size_t i = 0; i < v->nsnaps; i++)
			if (!strcmp(v->snaps[i].name, t->snapshot)) {
				*out = v->snaps[i].pt;
				return VOL_OK;
			}
		return vol__fail(VOL_ENOENT, "volume %s has no snapshot '%s'",
				 v->name, t->snapshot);
	}
	return vol__fail(VOL_EINVAL, "bad target kind %d", (int)t->kind);
}

vol_status vol_resolve(vol_pool *p, vol_id id, const vol_target *t,
		       vol_point *out)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	vol_status st = v ? resolve_locked(p, v, t, out)
			  : vol__fail(VOL_ENOENT, "no volume with id %llu",
				      (unsigned long long)id);
	pthread_mutex_unlock(&p->mu);
	return st;
}

/* ------------------------------------------------------------ records */

static void put_point(struct buf *r, const vol_point *pt)
{
	buf_u64(r, pt->timeline);
	buf_u64(r, pt->lsn);
	buf_u64(r, (uint64_t)pt->time_ns);
}

static void get_point(struct rd *r, vol_point *pt)
{
	pt->timeline = rd_u64(r);
	pt->lsn = rd_u64(r);
	pt->time_ns = (int64_t)rd_u64(r);
}

static void put_hist(kv *s, kv_batch *b, vol_id vol, uint64_t seq,
		     const vol_backtrack_rec *h)
{
	struct buf r = {0};
	buf_u64(&r, (uint64_t)h->when_ns);
	buf_u64(&r, (uint64_t)h->requested.kind);
	buf_u64(&r, (uint64_t)h->requested.time_ns);
	buf_u64(&r, h->requested.lsn);
	buf_str(&r, h->requested.snapshot);
	put_point(&r, &h->chosen);
	put_point(&r, &h->before);
	buf_u64(&r, h->new_timeline);
	uint8_t k[32];
	s->ops->batch_put(b, KV_META, k, key2(k, MT_HIST, vol, seq), r.d, r.n);
}

static bool get_hist(const uint8_t *v, size_t vn, vol_backtrack_rec *h)
{
	struct rd r = {v, vn, false};
	memset(h, 0, sizeof *h);
	h->when_ns = (int64_t)rd_u64(&r);
	h->requested.kind = (vol_target_kind)rd_u64(&r);
	h->requested.time_ns = (int64_t)rd_u64(&r);
	h->requested.lsn = rd_u64(&r);
	rd_str(&r, h->requested.snapshot, sizeof h->requested.snapshot);
	get_point(&r, &h->chosen);
	get_point(&r, &h->before);
	h->new_timeline = rd_u64(&r);
	return !r.bad;
}

static void put_seg(kv *s, kv_batch *b, vol_id vol, uint64_t lsn, int64_t ns,
		    uint64_t tl)
{
	uint8_t k[32], v[16];
	be64_put(v, tl);
	be64_put(v + 8, (uint64_t)ns);
	s->ops->batch_put(b, KV_META, k, key2(k, MT_SEG, vol, lsn), v, 16);
}

static vol_status reserve_vol(struct vol *v, size_t segs, size_t snaps)
{
	if (segs) {
		vol_status st = seg_push(v, 0, 0, 0);
		if (st)
			return st;
		v->nsegs--;
	}
	if (snaps && v->nsnaps == v->capsnaps) {
		size_t nc = v->capsnaps ? v->capsnaps * 2 : 4;
		struct snap *n = realloc(v->snaps, nc * sizeof *n);
		if (!n)
			return vol__fail(VOL_ENOMEM, "out of memory");
		v->snaps = n;
		v->capsnaps = nc;
	}
	return VOL_OK;
}

/* ------------------------------------------------------------ branching */

/* Make v present a new timeline branching at `at`. Caller holds v->wmu and
 * p->mu; the batch is committed here. */
static vol_status branch_to(vol_pool *p, struct vol *v, kv_batch *b,
			    const vol_point *at, const vol_target *requested,
			    enum change_kind kind, vol_backtrack_rec *out)
{
	kv *s = p->kv;
	int64_t now = pool_now(p);
	uint64_t lsn = p->lsn + 1, tid = p->next_id;
	struct tl *anc = tl_find(p, at->timeline);
	if (!anc || anc->dead)
		return vol__fail(VOL_ERANGE, "volume %s: timeline %llu of the "
				 "target is gone", v->name,
				 (unsigned long long)at->timeline);
	struct tl *t = tl_new(tid, anc->id, at->lsn, lsn, now, v->id);
	if (!t)
		return vol__fail(VOL_ENOMEM, "out of memory");
	t->anc = anc;
	vol_status st;
	if ((st = pool_reserve(p, 0, 1)) || (st = reserve_vol(v, 1, 0))) {
		free(t);
		return st;
	}
	vol_backtrack_rec h = {
		.when_ns = now,
		.requested = *requested,
		.chosen = *at,
		.before = {v->tl->id, p->lsn, now},
		.new_timeline = tid,
	};
	struct tl *old_tl = v->tl;
	uint64_t old_size = v->size, old_lsn = v->lsn;
	uint64_t old_stl = v->src_tl, old_slsn = v->src_lsn;
	p->next_id++;
	v->tl = t;
	v->size = size_at(t, LSN_MAX);
	v->lsn = lsn;
	if (kind == CH_RESET) {
		v->src_tl = at->timeline;
		v->src_lsn = at->lsn;
	}
	put_pool_record(p, b);
	put_tl_record(b, s, t);
	put_vol_record(p, b, v);
	put_seg(s, b, v->id, lsn, now, tid);
	put_hist(s, b, v->id, v->nhist, &h);
	put_barrier(s, b, v->id, now, lsn, tid);
	st = pool_commit(p, b, lsn, now, kind, v->id, tid, 0, 0);
	if (st) {
		p->next_id--;
		v->tl = old_tl;
		v->size = old_size;
		v->lsn = old_lsn;
		v->src_tl = old_stl;
		v->src_lsn = old_slsn;
		free(t);
		return st;
	}
	tl_insert(p, t);
	seg_push(v, lsn, now, tid);
	v->barrier_lsn = lsn;
	v->nhist++;
	if (out)
		*out = h;
	return VOL_OK;
}

vol_status vol_backtrack(vol_pool *p, vol_id id, const vol_target *t,
			 vol_backtrack_rec *out)
{
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	vol_point at;
	if (!(st = resolve_locked(p, v, t, &at)))
		st = branch_to(p, v, b, &at, t, CH_BACKTRACK, out);
	change_end(p, v, b);
	return st;
}

vol_status vol_reset(vol_pool *p, vol_id id, vol_point *out)
{
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	struct vol *src = v->source ? vol_find(p, v->source) : NULL;
	if (!v->source) {
		st = vol__fail(VOL_EINVAL, "volume %s is not a clone", v->name);
	} else if (!src) {
		st = vol__fail(VOL_ENOENT,
			       "volume %s: its source volume was deleted",
			       v->name);
	} else {
		vol_target now = {.kind = VOL_AT_NOW};
		vol_point at = {src->tl->id, p->lsn, pool_now(p)};
		vol_backtrack_rec h;
		st = branch_to(p, v, b, &at, &now, CH_RESET, &h);
		if (!st && out)
			*out = h.chosen;
	}
	change_end(p, v, b);
	return st;
}

vol_status vol_backtrack_history(vol_pool *p, vol_id id,
				 vol_backtrack_rec **out, size_t *n)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	uint64_t cap = v ? v->nhist : 0;
	pthread_mutex_unlock(&p->mu);
	if (!v)
		return vol__fail(VOL_ENOENT, "no volume with id %llu",
				 (unsigned long long)id);
	const struct kv_ops *o = p->kv->ops;
	vol_backtrack_rec *arr = calloc(cap + 1, sizeof *arr);
	kv_iter *it = arr ? o->iter_new(p->kv, KV_META, KV_POINT) : NULL;
	if (!it) {
		free(arr);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	size_t cnt = 0;
	vol_status st = VOL_OK;
	uint8_t k[32];
	key1(k, MT_HIST, id);
	for (o->iter_seek(it, k, 9); o->iter_valid(it) && cnt < cap;
	     o->iter_next(it)) {
		size_t kn, vn;
		const uint8_t *key = o->iter_key(it, &kn);
		if (kn != 17 || memcmp(key, k, 9))
			break;
		const uint8_t *val = o->iter_value(it, &vn);
		if (!get_hist(val, vn, &arr[cnt++])) {
			st = vol__fail(VOL_ECORRUPT, "bad backtrack record");
			break;
		}
	}
	if (!st)
		st = o->iter_status(it);
	o->iter_free(it);
	if (st) {
		free(arr);
		return st;
	}
	*out = arr;
	*n = cnt;
	return VOL_OK;
}

vol_status vol_clone(vol_pool *p, vol_id src, const vol_target *t,
		     const char *name, vol_id *out)
{
	vol_status st = pool_enter(p, 0);
	if (st)
		return st;
	pthread_mutex_lock(&p->mu);
	struct vol *sv = vol_find(p, src);
	struct tl *anc;
	vol_point at;
	if (!sv)
		st = vol__fail(VOL_ENOENT, "no volume with id %llu",
			       (unsigned long long)src);
	else if ((st = name_free(p, name)) ||
		 (st = resolve_locked(p, sv, t, &at)))
		;
	else if (!(anc = tl_find(p, at.timeline)) || anc->dead)
		st = vol__fail(VOL_ERANGE, "volume %s: the target is gone",
			       sv->name);
	else
		st = add_volume(p, name, anc, at.lsn, 0, sv, out);
	pthread_mutex_unlock(&p->mu);
	return st;
}

/* ------------------------------------------------------------ snapshots */

static struct snap *snap_find(struct vol *v, const char *name)
{
	for (size_t i = 0; i < v->nsnaps; i++)
		if (!strcmp(v->snaps[i].name, name))
			return &v->snaps[i];
	return NULL;
}

vol_status vol_snapshot_create(vol_pool *p, vol_id id, const char *name,
			       const vol_target *t, vol_point *out)
{
	if (!vol_name_valid(name))
		return vol__fail(VOL_EINVAL, "bad snapshot name '%s'",
				 name ? name : "");
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	kv *s = p->kv;
	vol_point at;
	if (snap_find(v, name)) {
		st = vol__fail(VOL_EEXIST, "volume %s: snapshot %s exists",
			       v->name, name);
	} else if (!(st = resolve_locked(p, v, t, &at)) &&
		   !(st = reserve_vol(v, 0, 1))) {
		int64_t now = pool_now(p);
		uint8_t k[80], val[32];
		be64_put(val, at.timeline);
		be64_put(val + 8, at.lsn);
		be64_put(val + 16, (uint64_t)at.time_ns);
		be64_put(val + 24, (uint64_t)now);
		s->ops->batch_put(b, KV_META, k, key_snap(k, v->id, name), val,
				  32);
		uint64_t lsn = p->lsn + 1;
		st = pool_commit(p, b, lsn, now, CH_SNAPSHOT, v->id,
				 at.timeline, at.lsn, 0);
		if (!st) {
			struct snap *sn = &v->snaps[v->nsnaps++];
			memset(sn, 0, sizeof *sn);
			snprintf(sn->name, sizeof sn->name, "%s", name);
			sn->pt = at;
			sn->created_ns = now;
			v->lsn = lsn;
			if (out)
				*out = at;
		}
	}
	change_end(p, v, b);
	return st;
}

vol_status vol_snapshot_delete(vol_pool *p, vol_id id, const char *name)
{
	struct vol *v;
	kv_batch *b;
	vol_status st = change_begin(p, id, &v, &b);
	if (st)
		return st;
	kv *s = p->kv;
	struct snap *sn = name ? snap_find(v, name) : NULL;
	if (!sn) {
		st = vol__fail(VOL_ENOENT, "volume %s has no snapshot '%s'",
			       v->name, name ? name : "");
	} else {
		uint8_t k[80];
		s->ops->batch_del(b, KV_META, k, key_snap(k, v->id, name));
		uint64_t lsn = p->lsn + 1;
		st = pool_commit(p, b, lsn, pool_now(p), CH_SNAPSHOT, v->id,
				 sn->pt.timeline, sn->pt.lsn, 1);
		if (!st) {
			size_t i = (size_t)(sn - v->snaps);
			memmove(sn, sn + 1,
				(v->nsnaps - i - 1) * sizeof *sn);
			v->nsnaps--;
			v->lsn = lsn;
		}
	}
	change_end(p, v, b);
	return st;
}

static int snap_cmp(const void *a, const void *b)
{
	const vol_snapshot *x = a, *y = b;
	if (x->point.lsn != y->point.lsn)
		return x->point.lsn < y->point.lsn ? -1 : 1;
	return strcmp(x->name, y->name);
}

vol_status vol_snapshot_list(vol_pool *p, vol_id id, vol_snapshot **out,
			     size_t *n)
{
	pthread_mutex_lock(&p->mu);
	struct vol *v = vol_find(p, id);
	if (!v) {
		pthread_mutex_unlock(&p->mu);
		return vol__fail(VOL_ENOENT, "no volume with id %llu",
				 (unsigned long long)id);
	}
	vol_snapshot *arr = calloc(v->nsnaps + 1, sizeof *arr);
	if (!arr) {
		pthread_mutex_unlock(&p->mu);
		return vol__fail(VOL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < v->nsnaps; i++) {
		snprintf(arr[i].name, sizeof arr[i].name, "%s",
			 v->snaps[i].name);
		arr[i].point = v->snaps[i].pt;
		arr[i].created_ns = v->snaps[i].created_ns;
		arr[i].bytes_held = v->snaps[i].bytes_held;
	}
	*n = v->nsnaps;
	pthread_mutex_unlock(&p->mu);
	qsort(arr, *n, sizeof *arr, snap_cmp);
	*out = arr;
	return VOL_OK;
}
