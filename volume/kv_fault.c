/*
 * kv_fault.c - a key-value store that forwards to another one and fails on
 * demand (tests only).
 *
 * Design
 * The wrapper owns the inner store and implements the same table of
 * operations (kv.h). Every operation forwards; three kinds of call can be
 * made to fail, each through a countdown in the caller's kv_fault_ctl (the
 * call during which a counter goes from 1 to 0 fails, 0 means off) or an
 * "always" flag:
 *   reads  = get() and every iterator seek (iter_seek, iter_seek_prev);
 *   writes = write();
 *   syncs  = sync() and write(sync = true).
 * A write(sync = true) is checked as a write first, then as a sync.
 * A failing call never reaches the inner store, so a failed write() applied
 * nothing and a failed sync() made nothing durable, which is the contract of
 * kv.h for a real failure. A failed seek leaves the iterator invalid with
 * iter_status() reporting the failure until the next successful seek, as a
 * RocksDB iterator does after an I/O error.
 * The counters writes/reads/syncs count the calls that went through to the
 * inner store, so a test can run an operation once to learn how many calls
 * it makes and then fail each of them in turn.
 * puts counts the entries put into batches, by family and first key byte,
 * whether or not the batch is then written: what a change costs the store.
 *
 * Batches and iterators are wrapped too: their operations take no store
 * argument, so the wrapper object carries the inner store's ops table.
 *
 * The ctl struct is the caller's and must outlive the store; it is not
 * locked (tests drive one thread at a time while faults are armed).
 */
#include <stdlib.h>

#include "internal.h"
#include "kv.h"

struct fault_kv {
	struct kv base; /* first: a struct fault_kv * is a kv * */
	kv *inner;
	kv_fault_ctl *ctl;
};

struct fault_batch {
	kv_batch *inner;
	const struct kv_ops *ops; /* the inner store's */
	kv_fault_ctl *ctl;
};

struct fault_iter {
	kv_iter *inner;
	const struct kv_ops *ops; /* the inner store's */
	kv_fault_ctl *ctl;
	vol_status failed; /* VOL_OK, or the injected failure of the last seek */
};

static struct fault_kv *fkv(kv *s) { return (struct fault_kv *)s; }
static struct fault_batch *fb(kv_batch *b) { return (struct fault_batch *)b; }
static struct fault_iter *fit(kv_iter *it) { return (struct fault_iter *)it; }

static vol_status fault_status(const kv_fault_ctl *ctl)
{
	return ctl->status != VOL_OK ? ctl->status : VOL_EIO;
}

/* True when this call must fail: the "always" flag, or the countdown
 * reaching zero now. */
static bool fault_fires(unsigned *until, bool always)
{
	if (always)
		return true;
	if (*until == 0)
		return false;
	return --*until == 0;
}

static vol_status fault_fail(const kv_fault_ctl *ctl, const char *what)
{
	return vol__fail(fault_status(ctl), "kv_fault: injected %s failure",
			 what);
}

/* ------------------------------------------------------------------ reads */

static vol_status fault_get(kv *s, enum kv_cf cf, const void *k, size_t kn,
			    void **val, size_t *vn)
{
	struct fault_kv *f = fkv(s);

	if (fault_fires(&f->ctl->reads_until_fail, f->ctl->fail_reads))
		return fault_fail(f->ctl, "read");
	f->ctl->reads++;
	return f->inner->ops->get(f->inner, cf, k, kn, val, vn);
}

/* ---------------------------------------------------------------- batches */

static kv_batch *fault_batch_new(kv *s)
{
	struct fault_kv *f = fkv(s);
	struct fault_batch *b = malloc(sizeof(*b));

	if (b == NULL)
		return NULL;
	b->ops = f->inner->ops;
	b->ctl = f->ctl;
	b->inner = b->ops->batch_new(f->inner);
	if (b->inner == NULL) {
		free(b);
		return NULL;
	}
	return (kv_batch *)b;
}

static void fault_batch_put(kv_batch *b, enum kv_cf cf, const void *k,
			    size_t kn, const void *v, size_t vn)
{
	fb(b)->ctl->puts[cf][kn ? *(const uint8_t *)k : 0]++;
	fb(b)->ops->batch_put(fb(b)->inner, cf, k, kn, v, vn);
}

static void fault_batch_del(kv_batch *b, enum kv_cf cf, const void *k,
			    size_t kn)
{
	fb(b)->ops->batch_del(fb(b)->inner, cf, k, kn);
}

static void fault_batch_del_range(kv_batch *b, enum kv_cf cf, const void *lo,
				  size_t lon, const void *hi, size_t hin)
{
	fb(b)->ops->batch_del_range(fb(b)->inner, cf, lo, lon, hi, hin);
}

static size_t fault_batch_bytes(kv_batch *b)
{
	return fb(b)->ops->batch_bytes(fb(b)->inner);
}

static void fault_batch_free(kv_batch *b)
{
	if (b == NULL)
		return;
	fb(b)->ops->batch_free(fb(b)->inner);
	free(b);
}

/* ----------------------------------------------------------- writes, sync */

static vol_status fault_write(kv *s, kv_batch *b, bool sync)
{
	struct fault_kv *f = fkv(s);
	vol_status st;

	if (fault_fires(&f->ctl->writes_until_fail, f->ctl->fail_writes))
		return fault_fail(f->ctl, "write");
	if (sync && fault_fires(&f->ctl->syncs_until_fail, f->ctl->fail_syncs))
		return fault_fail(f->ctl, "sync (write)");
	st = f->inner->ops->write(f->inner, fb(b)->inner, sync);
	if (st != VOL_OK)
		return st;
	f->ctl->writes++;
	if (sync)
		f->ctl->syncs++;
	return VOL_OK;
}

static vol_status fault_sync(kv *s)
{
	struct fault_kv *f = fkv(s);
	vol_status st;

	if (fault_fires(&f->ctl->syncs_until_fail, f->ctl->fail_syncs))
		return fault_fail(f->ctl, "sync");
	st = f->inner->ops->sync(f->inner);
	if (st == VOL_OK)
		f->ctl->syncs++;
	return st;
}

/* -------------------------------------------------------------- iterators */

static kv_iter *fault_iter_new(kv *s, enum kv_cf cf,
			       enum kv_iter_kind kind)
{
	struct fault_kv *f = fkv(s);
	struct fault_iter *it = malloc(sizeof(*it));

	if (it == NULL)
		return NULL;
	it->ops = f->inner->ops;
	it->ctl = f->ctl;
	it->failed = VOL_OK;
	it->inner = it->ops->iter_new(f->inner, cf, kind);
	if (it->inner == NULL) {
		free(it);
		return NULL;
	}
	return (kv_iter *)it;
}

/* Decide the fate of one seek: true = forward it. */
static bool fault_seek_ok(struct fault_iter *it)
{
	if (fault_fires(&it->ctl->reads_until_fail, it->ctl->fail_reads)) {
		it->failed = fault_fail(it->ctl, "read (iterator seek)");
		return false;
	}
	it->failed = VOL_OK;
	it->ctl->reads++;
	return true;
}

static void fault_iter_seek(kv_iter *i, const void *k, size_t kn)
{
	struct fault_iter *it = fit(i);

	if (fault_seek_ok(it))
		it->ops->iter_seek(it->inner, k, kn);
}

static void fault_iter_seek_prev(kv_iter *i, const void *k, size_t kn)
{
	struct fault_iter *it = fit(i);

	if (fault_seek_ok(it))
		it->ops->iter_seek_prev(it->inner, k, kn);
}

static bool fault_iter_valid(kv_iter *i)
{
	struct fault_iter *it = fit(i);

	return it->failed == VOL_OK && it->ops->iter_valid(it->inner);
}

static void fault_iter_next(kv_iter *i)
{
	struct fault_iter *it = fit(i);

	if (it->failed == VOL_OK)
		it->ops->iter_next(it->inner);
}

static void fault_iter_prev(kv_iter *i)
{
	struct fault_iter *it = fit(i);

	if (it->failed == VOL_OK)
		it->ops->iter_prev(it->inner);
}

static const void *fault_iter_key(kv_iter *i, size_t *kn)
{
	return fit(i)->ops->iter_key(fit(i)->inner, kn);
}

static const void *fault_iter_value(kv_iter *i, size_t *vn)
{
	return fit(i)->ops->iter_value(fit(i)->inner, vn);
}

static vol_status fault_iter_status(kv_iter *i)
{
	struct fault_iter *it = fit(i);

	if (it->failed != VOL_OK)
		return it->failed;
	return it->ops->iter_status(it->inner);
}

static void fault_iter_free(kv_iter *i)
{
	struct fault_iter *it = fit(i);

	if (it == NULL)
		return;
	it->ops->iter_free(it->inner);
	free(it);
}

/* ------------------------------------------------------------------ store */

static vol_status fault_compact(kv *s, enum kv_cf cf)
{
	return fkv(s)->inner->ops->compact(fkv(s)->inner, cf);
}

/* Injected failures are transient: only the inner store's own failure
 * state is reported and recovered. */
static vol_status fault_failed(kv *s)
{
	return fkv(s)->inner->ops->failed(fkv(s)->inner);
}

static vol_status fault_recover(kv *s)
{
	return fkv(s)->inner->ops->recover(fkv(s)->inner);
}

static uint64_t fault_disk_bytes(kv *s)
{
	return fkv(s)->inner->ops->disk_bytes(fkv(s)->inner);
}

static void fault_close(kv *s)
{
	struct fault_kv *f = fkv(s);

	if (f == NULL)
		return;
	f->inner->ops->close(f->inner);
	free(f);
}

static const struct kv_ops fault_ops = {
	.get = fault_get,
	.batch_new = fault_batch_new,
	.batch_put = fault_batch_put,
	.batch_del = fault_batch_del,
	.batch_del_range = fault_batch_del_range,
	.batch_bytes = fault_batch_bytes,
	.batch_free = fault_batch_free,
	.write = fault_write,
	.sync = fault_sync,
	.iter_new = fault_iter_new,
	.iter_seek = fault_iter_seek,
	.iter_seek_prev = fault_iter_seek_prev,
	.iter_valid = fault_iter_valid,
	.iter_next = fault_iter_next,
	.iter_prev = fault_iter_prev,
	.iter_key = fault_iter_key,
	.iter_value = fault_iter_value,
	.iter_status = fault_iter_status,
	.iter_free = fault_iter_free,
	.failed = fault_failed,
	.recover = fault_recover,
	.compact = fault_compact,
	.disk_bytes = fault_disk_bytes,
	.close = fault_close,
};

/* Returns NULL (and closes inner) only when out of memory. */
kv *kv_fault_wrap(kv *inner, kv_fault_ctl *ctl)
{
	struct fault_kv *f;

	if (inner == NULL || ctl == NULL)
		return NULL;
	f = malloc(sizeof(*f));
	if (f == NULL) {
		inner->ops->close(inner);
		return NULL;
	}
	f->base.ops = &fault_ops;
	f->inner = inner;
	f->ctl = ctl;
	return &f->base;
}
