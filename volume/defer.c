/*
 * defer.c - the store queue: page changes whose RocksDB entries are not
 * written yet, the table that lets reads see them, and the thread that
 * writes them.
 *
 * DESIGN
 * A page change (vol_write, vol_discard) appends its pages to the page log
 * and its commit record to p->pend under pool->mu, as before, and is then
 * committed in memory: its LSN is taken, and it joins this queue instead of
 * writing its store entries (page versions, names, the change record) in
 * the request. The store writer thread writes the queued changes, the
 * barriers that wait (bar_put) and MT_APPLIED in one batch, in LSN order:
 * when DQ_KICK_CHANGES changes or DQ_KICK_PAGES pages wait, or DQ_DELAY_NS
 * after the oldest joined. The store write was most of a write request's
 * time; written in batches of many changes it also costs less CPU than a
 * write per change, or per sync (BENCHMARKS.md, issue 5 sessions 17 and
 * 18).
 *
 * Why this keeps the engine's promises:
 *  - Durability never depended on the store write: the page log holds a
 *    change's pages and its commit record, and an open replays from the
 *    store's MT_APPLIED whatever the store lacks (pagelog.c). A page
 *    change's store write was unsynced already.
 *  - The store still holds a prefix of the changes in LSN order (I1 in
 *    engine.c): the queue is written in order, one batch at a time, and
 *    every other store write that LSNs or readers depend on (commands,
 *    resizes, the scans of discards, retention, check) calls store_flush
 *    first, under pool->mu: it waits for the writer's batch and writes
 *    what is left itself.
 *  - Reads see queued versions: each waits in a table keyed by (timeline,
 *    page), newest first, until its batch is written, and a read looks
 *    there first on each timeline of its chain (pend_find). A queued
 *    version is newer than every stored version of its page and timeline
 *    (the store has a prefix), so it is the answer on that timeline when it
 *    is at or below the read's bound. It leaves the table only after its
 *    batch is written and every read that began before has ended (q->rw:
 *    a read's iterators see the store as it was when they were made), so
 *    a read that misses it finds it in the store.
 *  - The page-log space of a queued version is never given back: retention
 *    flushes before it lists the segments it may clean, and the page log
 *    only appends at its end.
 *  - A batch that fails goes back to the head of the queue (its versions
 *    stay readable); the store is failed then, so page writes and syncs
 *    are refused (pool_enter) until it is reopened, and the writer tries
 *    again every DQ_RETRY_NS.
 *
 * Locks: the queue is under pool->mu; the table under its own tmu, a leaf
 * taken after pool->mu or alone (reads). Reads hold q->rw shared and take
 * no other engine lock meanwhile but tmu and the page log's read lock;
 * the writer thread takes it exclusive without pool->mu, store_flush under
 * it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DQ_KICK_CHANGES 64
#define DQ_KICK_PAGES 4096
/* Past this many waiting pages the committer writes them itself (the
 * writer fell behind: a slow or failed store). */
#define DQ_MAX_PAGES (1u << 16)
#define DQ_DELAY_NS (50 * 1000000)
#define DQ_RETRY_NS (100 * 1000000)

/* ------------------------------------------------------------ the table */

static size_t slot(const struct dqueue *q, uint64_t tl, uint64_t pg)
{
	uint64_t h = tl * 0x9e3779b97f4a7c15ull ^ pg;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)h & (q->cap - 1);
}

/* Twice the buckets (under tmu). Out of memory keeps the old ones: longer
 * chains, the same answers. */
static void tab_grow(struct dqueue *q)
{
	size_t cap = q->cap ? 2 * q->cap : 1024;
	struct pent **t = calloc(cap, sizeof *t);
	if (!t)
		return;
	struct pent **old = q->tab;
	size_t ocap = q->cap;
	q->tab = t;
	q->cap = cap;
	for (size_t i = 0; i < ocap; i++)
		for (struct pent *e = old[i], *n; e; e = n) {
			n = e->bnext;
			size_t s = slot(q, e->tl, e->page);
			e->bnext = t[s];
			t[s] = e;
		}
	free(old);
}

/* The link that points at (tl, pg)'s newest entry, or at the end of its
 * bucket's chain. */
static struct pent **tab_at(struct dqueue *q, uint64_t tl, uint64_t pg)
{
	struct pent **at = &q->tab[slot(q, tl, pg)];
	while (*at && ((*at)->tl != tl || (*at)->page != pg))
		at = &(*at)->bnext;
	return at;
}

static void tab_insert(struct dqueue *q, struct pent *e)
{
	if (q->heads >= q->cap)
		tab_grow(q);
	struct pent **at = tab_at(q, e->tl, e->page);
	struct pent *x = *at;
	if (x) { /* e is the page's newest now */
		e->older = x;
		e->bnext = x->bnext;
	} else {
		e->older = NULL;
		e->bnext = NULL;
		q->heads++;
	}
	*at = e;
}

static void tab_remove(struct dqueue *q, struct pent *e)
{
	struct pent **at = tab_at(q, e->tl, e->page);
	struct pent *x = *at;
	if (x == e) {
		if (e->older) {
			e->older->bnext = e->bnext;
			*at = e->older;
		} else {
			*at = e->bnext;
			q->heads--;
		}
		return;
	}
	while (x->older != e)
		x = x->older;
	x->older = e->older;
}

void pend_read_begin(vol_pool *p)
{
	pthread_rwlock_rdlock(&p->dq.rw);
}

void pend_read_end(vol_pool *p)
{
	pthread_rwlock_unlock(&p->dq.rw);
}

bool pend_find(vol_pool *p, uint64_t tl, uint64_t pg, uint64_t bound,
	       struct pent *out)
{
	struct dqueue *q = &p->dq;
	if (!__atomic_load_n(&q->live, __ATOMIC_ACQUIRE))
		return false;
	bool found = false;
	pthread_mutex_lock(&q->tmu);
	if (q->cap)
		for (struct pent *e = *tab_at(q, tl, pg); e; e = e->older)
			if (e->lsn <= bound) {
				*out = *e;
				found = true;
				break;
			}
	pthread_mutex_unlock(&q->tmu);
	return found;
}

/* ------------------------------------------------------------ the queue */

struct dchange *dq_alloc(size_t ne, size_t nbody)
{
	struct dchange *d = malloc(sizeof *d + ne * sizeof(struct pent) +
				   nbody);
	if (!d)
		return NULL;
	memset(d, 0, sizeof *d);
	d->e = (struct pent *)(void *)(d + 1);
	d->body = (uint8_t *)(d->e + ne);
	d->ne = ne;
	return d;
}

bool dq_add(vol_pool *p, struct dchange *d)
{
	struct dqueue *q = &p->dq;
	d->next = NULL;
	*q->tail = d;
	q->tail = &d->next;
	if (!q->changes++)
		q->first_ns = mono_ns();
	q->pages += d->ne;
	pthread_mutex_lock(&q->tmu);
	for (size_t i = 0; i < d->ne; i++)
		tab_insert(q, &d->e[i]);
	__atomic_store_n(&q->live, q->live + d->ne, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->tmu);
	bool full = q->changes >= DQ_KICK_CHANGES || q->pages >= DQ_KICK_PAGES;
	if (full && q->running && !q->kick) {
		q->kick = true;
		pthread_cond_signal(&q->cv);
	}
	return q->pages > DQ_MAX_PAGES || (full && !q->running);
}

/* What one batch takes from the queue. */
struct take {
	kv_batch *b;
	struct dchange *list;
	struct pref durable;    /* p->synced when taken                     */
	size_t nbar;            /* waiting barriers it holds                */
	bool any;               /* it holds records of the page log:       */
	struct pref applied;    /* where the log ends after the newest     */
};

/* Under mu: start a batch with the waiting barriers (their volumes'
 * records, MT_DURABLE) and take the whole queue. */
static vol_status take(vol_pool *p, struct take *t)
{
	kv *s = p->kv;
	struct dqueue *q = &p->dq;
	if (!(t->b = s->ops->batch_new(s)))
		return vol__fail(VOL_ENOMEM, "out of memory");
	t->nbar = p->nbar;
	t->durable = p->synced;
	bar_put(p, t->b);
	t->any = t->nbar > 0;
	t->applied = p->bar_end;
	t->list = q->head;
	for (struct dchange *d = t->list; d; d = d->next)
		if (d->logged) {
			if (!t->any || pref_lt(t->applied, d->applied))
				t->applied = d->applied;
			t->any = true;
		}
	q->head = NULL;
	q->tail = &q->head;
	q->changes = q->pages = 0;
	q->kick = false;
	return VOL_OK;
}

/* The queued changes' entries and MT_APPLIED (no lock: the list is the
 * taker's). */
static void build(vol_pool *p, struct take *t)
{
	for (struct dchange *d = t->list; d; d = d->next)
		put_commit(p, t->b, d->body);
	if (t->any)
		put_pref(p->kv, t->b, MT_APPLIED, t->applied);
}

/* After the batch was written (no lock needed but tmu, which it takes):
 * its versions leave the table once every read that began before has
 * ended. Not under pool->mu: commits need not wait for those reads. */
static void forget(vol_pool *p, struct take *t)
{
	struct dqueue *q = &p->dq;
	pthread_rwlock_wrlock(&q->rw);
	pthread_mutex_lock(&q->tmu);
	size_t gone = 0;
	for (struct dchange *d = t->list; d; d = d->next) {
		for (size_t i = 0; i < d->ne; i++)
			tab_remove(q, &d->e[i]);
		gone += d->ne;
	}
	__atomic_store_n(&q->live, q->live - gone, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->tmu);
	pthread_rwlock_unlock(&q->rw);
}

/* Under mu, after the batch's write (and forget, if it succeeded): on
 * success its barriers leave the wait; else the changes go back to the
 * head of the queue, in order. */
static void settle(vol_pool *p, struct take *t, vol_status st)
{
	struct dqueue *q = &p->dq;
	if (t->b)
		p->kv->ops->batch_free(t->b);
	if (st) {
		struct dchange *last = t->list;
		if (last) {
			size_t n = 0, pages = 0;
			for (;; last = last->next) {
				n++;
				pages += last->ne;
				if (!last->next)
					break;
			}
			last->next = q->head;
			if (!q->head)
				q->tail = &last->next;
			q->head = t->list;
			if (!q->changes)
				q->first_ns = mono_ns();
			q->changes += n;
			q->pages += pages;
		}
		return;
	}
	if (t->nbar) { /* later syncs' barriers stay */
		memmove(p->bar, p->bar + 4 * t->nbar,
			4 * (p->nbar - t->nbar) * sizeof *p->bar);
		p->nbar -= t->nbar;
	}
	p->durable = t->durable;
	for (struct dchange *d = t->list, *n; d; d = n) {
		n = d->next;
		free(d);
	}
}

vol_status store_flush(vol_pool *p)
{
	struct dqueue *q = &p->dq;
	while (q->busy)
		pthread_cond_wait(&q->done, &p->mu);
	if (!q->head && !p->nbar)
		return VOL_OK;
	struct take t = {0};
	vol_status st = take(p, &t);
	if (!st) {
		build(p, &t);
		st = p->kv->ops->write(p->kv, t.b, false);
	}
	if (!st)
		forget(p, &t);
	settle(p, &t, st);
	return st;
}

/* ------------------------------------------------------------ the writer */

static void *writer_main(void *arg)
{
	vol_pool *p = arg;
	struct dqueue *q = &p->dq;
	kv *s = p->kv;
	(void)pthread_setname_np(pthread_self(), "rwf-store");
	pthread_mutex_lock(&p->mu);
	while (!q->stop) {
		/* Changes wait until kicked or DQ_DELAY_NS old; barriers
		 * alone for a change (or store_flush). */
		int64_t wait = 1000000000;
		if (q->head)
			wait = q->kick ? 0
				       : DQ_DELAY_NS - (mono_ns() - q->first_ns);
		if (wait > 0) {
			cond_wait_ns(&q->cv, &p->mu, wait);
			continue;
		}
		if (s->ops->failed(s)) {
			/* pool_enter reopens it; try again then */
			cond_wait_ns(&q->cv, &p->mu, DQ_RETRY_NS);
			continue;
		}
		struct take t = {0};
		vol_status st = take(p, &t);
		if (st) {
			settle(p, &t, st);
			cond_wait_ns(&q->cv, &p->mu, DQ_RETRY_NS);
			continue;
		}
		q->busy = true;
		pthread_mutex_unlock(&p->mu);
		build(p, &t);
		st = s->ops->write(s, t.b, false);
		if (!st)
			forget(p, &t);
		pthread_mutex_lock(&p->mu);
		settle(p, &t, st);
		q->busy = false;
		pthread_cond_broadcast(&q->done);
		if (st == VOL_ENOSPC) {
			pthread_mutex_unlock(&p->mu);
			pool_space_short(p);
			pthread_mutex_lock(&p->mu);
		}
		if (st && !q->stop)
			cond_wait_ns(&q->cv, &p->mu, DQ_RETRY_NS);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void dq_init(vol_pool *p)
{
	struct dqueue *q = &p->dq;
	q->tail = &q->head;
	/* Writer first: a stream of reads must not hold the table's
	 * removals back (nor pool->mu, when store_flush removes). */
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&q->rw, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&q->tmu, NULL);
	pthread_cond_init(&q->cv, NULL);
	pthread_cond_init(&q->done, NULL);
}

vol_status dq_start(vol_pool *p)
{
	struct dqueue *q = &p->dq;
	if (pthread_create(&q->thread, NULL, writer_main, p))
		return vol__fail(VOL_ENOMEM, "cannot start the store writer "
				 "thread");
	q->running = true;
	return VOL_OK;
}

void dq_stop(vol_pool *p)
{
	struct dqueue *q = &p->dq;
	if (!q->running)
		return;
	pthread_mutex_lock(&p->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(q->thread, NULL);
	q->running = false;
}

void dq_free(vol_pool *p)
{
	struct dqueue *q = &p->dq;
	for (struct dchange *d = q->head, *n; d; d = n) {
		n = d->next;
		free(d);
	}
	free(q->tab);
	pthread_rwlock_destroy(&q->rw);
	pthread_mutex_destroy(&q->tmu);
	pthread_cond_destroy(&q->cv);
	pthread_cond_destroy(&q->done);
}
