/*
 * test_model.c - the randomized model test of volume/.
 *
 * Design
 * A random sequence of engine calls (writes aligned and unaligned, of a few
 * pages or of many, discards, resizes, syncs, backtracks back and forward,
 * clones, clones of clones, resets, snapshots, deletes, renames, window
 * changes, retention passes, pool close + reopen, and calls that must fail)
 * runs against a real pool and, in parallel, against a simple in-memory
 * reference. After every step the current content of every volume is read
 * and compared byte for byte, plus a sample of readable points (window,
 * snapshots, branch points through clones) via vol_resolve +
 * vol_read_point; every FULL_EVERY steps, after retention and after a
 * reopen, all of them.
 *
 * Reference states are cheap: a state is an immutable, ref-counted array of
 * pointers to immutable, ref-counted pages (NULL = zero page), so keeping a
 * state costs only the pages it changed. Each volume keeps its presented
 * history: one event per change of its content (LSN, time, state, barrier
 * or not); the state at LSN L is the last event at or before L, a time t
 * resolves to the last barrier at or before t. History older than the
 * earliest restorable time is pruned (the last event and barrier before it
 * stay, a read at the window's start may need them).
 *
 * What the engine must do, checked here:
 * - every committed change takes exactly the next pool LSN; failed calls take
 *   none and change nothing;
 * - info: name, size, clone source, earliest_ns = max(created, now - window,
 *   what earlier passes dropped) (the history budget is set far too large to
 *   bind);
 * - a time or an LSN at or after the earliest restorable time resolves (a
 *   time to the last barrier at or before it) and reads back exactly; a
 *   time before it or in the future is VOL_ERANGE; an LSN committed just
 *   before it may be refused (VOL_ERANGE) or answered, but an answer must
 *   be right (the engine keeps from the last barrier before the window).
 *
 * Reproduce: the seed is printed; MODEL_SEED=N reproduces a run, MODEL_OPS=N
 * sets the number of steps (default 20000; 4000 in sanitizer builds).
 * MODEL_BUDGET=BYTES sets a small history budget: retention may then cut
 * windows deeper than the target (never shallower), must raise
 * budget_alert when it does, and everything after the cut must still read
 * back exactly (meson runs this as volume_model_budget). The
 * page size (4K..64K) and volume sizes are chosen from the seed. On failure
 * the last TRACE_N steps are printed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tutil.h"

#define MAXV 8           /* model slots (a deleted volume's is reused) */
#define MAXLIVE 5        /* live at once                               */
#define FULL_EVERY 2000
#define TRACE_N 40

/* ------------------------------------------------------ reference states */

struct mpage {
	unsigned refs;
	uint8_t data[];
};

struct mstate {
	unsigned refs;
	uint64_t size;
	uint32_t np;          /* pages covering size                */
	struct mpage **pg;    /* np entries, NULL = zero page       */
};

static uint32_t PSZ;      /* the run's page size                */
static uint64_t MAXSZ;    /* the largest volume size            */

static struct mpage *page_new(void)
{
	struct mpage *p = malloc(sizeof(*p) + PSZ);
	assert_non_null(p);
	p->refs = 1;
	return p;
}

static struct mpage *page_ref(struct mpage *p)
{
	if (p != NULL)
		p->refs++;
	return p;
}

static void page_unref(struct mpage *p)
{
	if (p != NULL && --p->refs == 0)
		free(p);
}

static struct mstate *st_new(uint64_t size)
{
	struct mstate *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->refs = 1;
	s->size = size;
	s->np = (uint32_t)((size + PSZ - 1) / PSZ);
	s->pg = calloc(s->np ? s->np : 1, sizeof(*s->pg));
	assert_non_null(s->pg);
	return s;
}

static struct mstate *st_ref(struct mstate *s)
{
	s->refs++;
	return s;
}

static void st_unref(struct mstate *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	for (uint32_t i = 0; i < s->np; i++)
		page_unref(s->pg[i]);
	free(s->pg);
	free(s);
}

/* A copy sharing every page, resized to `size` (pages past it dropped, the
 * tail of a partial last page zeroed). */
static struct mstate *st_copy(const struct mstate *o, uint64_t size)
{
	struct mstate *s = st_new(size);
	for (uint32_t i = 0; i < s->np && i < o->np; i++)
		s->pg[i] = page_ref(o->pg[i]);
	uint64_t keep = size < o->size ? size : o->size;
	if (keep % PSZ != 0 && s->pg[keep / PSZ] != NULL) {
		uint32_t i = (uint32_t)(keep / PSZ);
		struct mpage *np = page_new();
		memcpy(np->data, s->pg[i]->data, PSZ);
		memset(np->data + keep % PSZ, 0, PSZ - keep % PSZ);
		page_unref(s->pg[i]);
		s->pg[i] = np;
	}
	return s;
}

/* Write (data != NULL) or zero (data == NULL) bytes [off, off+len). */
static void st_apply(struct mstate *s, uint64_t off, const uint8_t *data,
		     uint64_t len)
{
	while (len > 0) {
		uint32_t i = (uint32_t)(off / PSZ), in = (uint32_t)(off % PSZ);
		uint64_t n = PSZ - in < len ? PSZ - in : len;
		struct mpage *np = page_new();

		if (s->pg[i] != NULL)
			memcpy(np->data, s->pg[i]->data, PSZ);
		else
			memset(np->data, 0, PSZ);
		if (data != NULL)
			memcpy(np->data + in, data, n);
		else
			memset(np->data + in, 0, n);
		page_unref(s->pg[i]);
		s->pg[i] = np;
		off += n;
		len -= n;
		if (data != NULL)
			data += n;
	}
}

/* Materialize into buf (size bytes). */
static void st_bytes(const struct mstate *s, uint8_t *buf)
{
	for (uint32_t i = 0; i < s->np; i++) {
		uint64_t off = (uint64_t)i * PSZ;
		uint64_t n = s->size - off < PSZ ? s->size - off : PSZ;
		if (s->pg[i] != NULL)
			memcpy(buf + off, s->pg[i]->data, n);
		else
			memset(buf + off, 0, n);
	}
}

/* ----------------------------------------------------------------- model */

struct mev {
	uint64_t lsn;
	int64_t ns;
	struct mstate *st;
	bool barrier;
};

struct msnap {
	char name[VOL_NAME_MAX + 1];
	struct mstate *st;
};

struct mvol {
	bool live;
	vol_id id;
	char name[VOL_NAME_MAX + 1];
	struct mstate *cur;
	struct mev *ev;
	size_t nev, cap;
	int64_t created_ns, window, dropped;
	uint64_t created_lsn;
	int src;              /* model index of the clone source, -1 =
			       * not a clone, -2 = source deleted    */
	vol_id src_id;        /* engine id of the source (0 = none)  */
	struct msnap snaps[8];
	size_t nsnaps;
	bool dirty;           /* changed since its last barrier (any
			       * change: content, name, window,
			       * snapshots), so vol_pool_sync records
			       * a barrier for it                    */
};

static struct {
	struct fx *f;
	uint64_t rng;
	uint64_t lsn;          /* model's pool LSN                    */
	int64_t *lsn_ns;       /* commit time of each LSN             */
	size_t lsn_cap;
	struct mvol v[MAXV];
	unsigned long step;
	unsigned names;        /* name counter                        */
	char trace[TRACE_N][200];
	unsigned long ntrace;
	uint8_t *buf, *buf2;   /* MAXSZ + page scratch                */
	unsigned long checks_points, checks_may;
	bool want_full;        /* check every point after this step  */
	struct mvol *focus;    /* the volume being checked (for mfail) */
	uint64_t budget;       /* MODEL_BUDGET: history budget (0 = off) */
	unsigned long budget_cuts;
} M;

static uint64_t rnd(uint64_t n) /* [0, n) */
{
	return n ? tu_rand(&M.rng) % n : 0;
}

static void trace(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;
	char *t = M.trace[M.ntrace++ % TRACE_N];
	int n = snprintf(t, 200, "#%lu [lsn %" PRIu64 "] ", M.step, M.lsn);
	va_start(ap, fmt);
	vsnprintf(t + n, (size_t)(200 - n), fmt, ap);
	va_end(ap);
	if (getenv("MODEL_TRACE") != NULL)
		fprintf(stderr, "%s\n", t);
}

struct mvol;
static int64_t earliest(const struct mvol *v);
static void mfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mfail(const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "model: FAILED at step %lu: %s\nlast steps:\n", M.step,
		msg);
	unsigned long first = M.ntrace > TRACE_N ? M.ntrace - TRACE_N : 0;
	for (unsigned long i = first; i < M.ntrace; i++)
		fprintf(stderr, "  %s\n", M.trace[i % TRACE_N]);
	if (M.focus != NULL) {
		struct mvol *v = M.focus;
		fprintf(stderr, "model of %s: created lsn %" PRIu64 ", window "
			"%" PRId64 "s, earliest now%+.3fs, dropped now%+.3fs, "
			"events kept:\n", v->name, v->created_lsn,
			v->window / SEC,
			(double)(earliest(v) - M.f->clk.now) / 1e9,
			(double)(v->dropped - M.f->clk.now) / 1e9);
		for (size_t i = 0; i < v->nev; i++)
			fprintf(stderr, "  lsn %" PRIu64 " at now%+.3fs%s\n",
				v->ev[i].lsn,
				(double)(v->ev[i].ns - M.f->clk.now) / 1e9,
				v->ev[i].barrier ? " barrier" : "");
	}
	fail_msg("%s", msg);
}

#define MOK(call)                                                          \
	do {                                                               \
		vol_status st_ = (call);                                   \
		if (st_ != VOL_OK)                                         \
			mfail("%s:%d: %s -> %s: %s", __FILE__, __LINE__,   \
			      #call, vol_strerror(st_), vol_errmsg());     \
	} while (0)

static void lsn_push(int64_t ns)
{
	M.lsn++;
	if (M.lsn >= M.lsn_cap) {
		M.lsn_cap = M.lsn_cap ? 2 * M.lsn_cap : 4096;
		M.lsn_ns = realloc(M.lsn_ns, M.lsn_cap * sizeof(int64_t));
		assert_non_null(M.lsn_ns);
	}
	M.lsn_ns[M.lsn] = ns;
}

/* After a call that must commit one change. */
static void committed(const char *what)
{
	uint64_t got = vol_pool_lsn(M.f->p);
	if (got != M.lsn + 1)
		mfail("%s: pool LSN %" PRIu64 ", expected %" PRIu64, what, got,
		      M.lsn + 1);
	lsn_push(M.f->clk.now);
}

static void unchanged(const char *what)
{
	uint64_t got = vol_pool_lsn(M.f->p);
	if (got != M.lsn)
		mfail("%s: pool LSN moved to %" PRIu64 " (expected %" PRIu64
		      ")", what, got, M.lsn);
}

static void ev_push(struct mvol *v, struct mstate *st, bool barrier)
{
	if (v->nev == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 64;
		v->ev = realloc(v->ev, v->cap * sizeof(*v->ev));
		assert_non_null(v->ev);
	}
	v->ev[v->nev++] = (struct mev){M.lsn, M.f->clk.now, st_ref(st),
				       barrier};
}

/* The volume's content changed at the newest LSN (already pushed). */
static void set_cur(struct mvol *v, struct mstate *st, bool barrier)
{
	st_unref(v->cur);
	v->cur = st;
	ev_push(v, st, barrier);
	v->dirty = !barrier;
}

static void barrier_now(struct mvol *v)
{
	ev_push(v, v->cur, true);
	v->ev[v->nev - 1].lsn = M.lsn; /* at the newest LSN */
	v->dirty = false;
}

static int64_t earliest(const struct mvol *v)
{
	int64_t e = v->created_ns, now = M.f->clk.now;
	if (now - v->window > e)
		e = now - v->window;
	if (v->dropped > e)
		e = v->dropped;
	return e;
}

/* Last event with lsn <= L (NULL if none kept). */
static struct mev *ev_at_lsn(struct mvol *v, uint64_t L)
{
	struct mev *r = NULL;
	for (size_t i = 0; i < v->nev && v->ev[i].lsn <= L; i++)
		r = &v->ev[i];
	return r;
}

static struct mev *barrier_at(struct mvol *v, int64_t t)
{
	struct mev *r = NULL;
	for (size_t i = 0; i < v->nev && v->ev[i].ns <= t; i++)
		if (v->ev[i].barrier)
			r = &v->ev[i];
	return r;
}

/* Drop history nothing can read any more: keep the last event and the
 * last barrier at or before `floor`, and everything after. */
static void prune(struct mvol *v, int64_t floor)
{
	size_t keep_ev = 0, keep_bar = 0;
	for (size_t i = 0; i < v->nev && v->ev[i].ns <= floor; i++) {
		keep_ev = i;
		if (v->ev[i].barrier)
			keep_bar = i;
	}
	size_t k = keep_ev < keep_bar ? keep_ev : keep_bar;
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++)
		st_unref(v->ev[i].st);
	memmove(v->ev, v->ev + k, (v->nev - k) * sizeof(*v->ev));
	v->nev -= k;
}

static void vol_forget(struct mvol *v)
{
	st_unref(v->cur);
	v->cur = NULL;
	for (size_t i = 0; i < v->nev; i++)
		st_unref(v->ev[i].st);
	free(v->ev);
	v->ev = NULL;
	v->nev = v->cap = 0;
	for (size_t i = 0; i < v->nsnaps; i++)
		st_unref(v->snaps[i].st);
	v->nsnaps = 0;
	v->live = false;
}

/* ---------------------------------------------------------------- checks */

static void compare(const struct mstate *want, const uint8_t *got,
		    uint64_t gotn, const char *what)
{
	if (gotn != want->size)
		mfail("%s: size %" PRIu64 ", expected %" PRIu64, what, gotn,
		      want->size);
	st_bytes(want, M.buf2);
	if (memcmp(M.buf2, got, want->size) != 0) {
		uint64_t i = 0;
		while (M.buf2[i] == got[i])
			i++;
		mfail("%s: byte %" PRIu64 " (page %" PRIu64 ") is 0x%02x, "
		      "expected 0x%02x", what, i, i / PSZ, got[i], M.buf2[i]);
	}
}

static void check_current(struct mvol *v)
{
	vol_info in;
	size_t got = 0;
	char what[320];

	MOK(vol_info_get(M.f->p, v->id, &in));
	if (strcmp(in.name, v->name) != 0)
		mfail("volume %s: info name %s", v->name, in.name);
	if (in.size != v->cur->size)
		mfail("volume %s: info size %" PRIu64 ", expected %" PRIu64,
		      v->name, in.size, v->cur->size);
	vol_id src = v->src_id;
	if (in.source != src)
		mfail("volume %s: source %" PRIu64 ", expected %" PRIu64,
		      v->name, in.source, src);
	if (in.earliest_ns != earliest(v))
		mfail("volume %s: earliest_ns %" PRId64 ", expected %" PRId64
		      " (created %" PRId64 ", now %" PRId64 ", window %" PRId64
		      ", dropped %" PRId64 ")", v->name, in.earliest_ns,
		      earliest(v), v->created_ns, M.f->clk.now, v->window,
		      v->dropped);
	if (in.window_ns != v->window)
		mfail("volume %s: window %" PRId64 ", expected %" PRId64,
		      v->name, in.window_ns, v->window);
	if (in.snapshots != v->nsnaps)
		mfail("volume %s: %" PRIu64 " snapshots, expected %zu",
		      v->name, in.snapshots, v->nsnaps);
	MOK(vol_read(M.f->p, v->id, M.buf, 0, v->cur->size + PSZ, &got));
	snprintf(what, sizeof(what), "current content of %s", v->name);
	compare(v->cur, M.buf, got, what);
}

enum expect { MUST_OK, MAY_OK, MUST_ERANGE, MUST_ENOENT };

/* What resolving target t on v must give; *st the state if it answers. */
static enum expect expected(struct mvol *v, const vol_target *t,
			    struct mstate **st)
{
	int64_t e = earliest(v), now = M.f->clk.now;
	struct mev *ev;

	*st = NULL;
	switch (t->kind) {
	case VOL_AT_NOW:
		*st = v->cur;
		return MUST_OK;
	case VOL_AT_SNAPSHOT:
		for (size_t i = 0; i < v->nsnaps; i++)
			if (strcmp(v->snaps[i].name, t->snapshot) == 0) {
				*st = v->snaps[i].st;
				return MUST_OK;
			}
		return MUST_ENOENT;
	case VOL_AT_TIME:
		if (t->time_ns > now || t->time_ns < e)
			return MUST_ERANGE;
		ev = barrier_at(v, t->time_ns);
		if (ev == NULL)
			return MUST_ERANGE;
		*st = ev->st;
		return ev->ns >= e ? MUST_OK : MAY_OK;
	case VOL_AT_LSN:
		if (t->lsn > M.lsn || t->lsn == 0)
			return MUST_ERANGE;
		/* Before the volume existed: out of range. Committed at or
		 * after the earliest restorable time: readable. Just before
		 * it the engine may still answer (it keeps what a time at the
		 * window's start resolves to: the last barrier before it),
		 * but then it must be right. */
		if (t->lsn < v->created_lsn)
			return MUST_ERANGE;
		ev = ev_at_lsn(v, t->lsn);
		if (M.lsn_ns[t->lsn] < e) {
			*st = ev != NULL ? ev->st : NULL;
			return MAY_OK;
		}
		if (ev == NULL)
			mfail("model lost the state of %s at LSN %" PRIu64,
			      v->name, t->lsn);
		*st = ev->st;
		return MUST_OK;
	}
	return MUST_ERANGE;
}

static void target_str(const vol_target *t, char *s, size_t n)
{
	switch (t->kind) {
	case VOL_AT_NOW: snprintf(s, n, "now"); break;
	case VOL_AT_TIME:
		snprintf(s, n, "time %+.3fs", (double)(t->time_ns -
						       M.f->clk.now) / 1e9);
		break;
	case VOL_AT_LSN: snprintf(s, n, "lsn %" PRIu64, t->lsn); break;
	case VOL_AT_SNAPSHOT: snprintf(s, n, "@%s", t->snapshot); break;
	}
}

/* Check that a call's status agrees with the expectation. Returns true if
 * the call succeeded (then *st is what it must read). */
static bool agree(vol_status got, enum expect e, const struct mstate *st,
		  const char *what)
{
	switch (e) {
	case MUST_OK:
		if (got != VOL_OK)
			mfail("%s: %s (%s), expected success", what,
			      vol_strerror(got), vol_errmsg());
		return true;
	case MAY_OK:
		M.checks_may++;
		if (got == VOL_OK && st == NULL)
			mfail("%s: succeeded on a point the model no longer "
			      "has", what);
		if (got != VOL_OK && got != VOL_ERANGE)
			mfail("%s: %s (%s), expected success or ERANGE", what,
			      vol_strerror(got), vol_errmsg());
		return got == VOL_OK;
	case MUST_ERANGE:
	case MUST_ENOENT:
		if (got != (e == MUST_ERANGE ? VOL_ERANGE : VOL_ENOENT))
			mfail("%s: %s (%s), expected %s", what,
			      vol_strerror(got), vol_errmsg(),
			      e == MUST_ERANGE ? "ERANGE" : "ENOENT");
		if (got != VOL_OK && vol_errmsg()[0] == '\0')
			mfail("%s: failed without a message", what);
		return false;
	}
	return false;
}

/* Resolve t on v and read the whole point back. */
static void check_point(struct mvol *v, const vol_target *t)
{
	M.focus = v;
	struct mstate *st;
	enum expect e = expected(v, t, &st);
	vol_point pt;
	char what[320], ts[64];
	size_t got = 0;

	target_str(t, ts, sizeof(ts));
	snprintf(what, sizeof(what), "%s at %s", v->name, ts);
	if (!agree(vol_resolve(M.f->p, v->id, t, &pt), e, st, what))
		return;
	if (t->kind == VOL_AT_TIME && pt.time_ns > t->time_ns)
		mfail("%s: resolved to a later time %" PRId64, what,
		      pt.time_ns);
	MOK(vol_read_point(M.f->p, v->id, &pt, M.buf, 0, MAXSZ + PSZ, &got));
	compare(st, M.buf, got, what);
	M.checks_points++;
}

/* A random target on v: mostly readable, sometimes not. */
static vol_target random_target(struct mvol *v)
{
	vol_target t = {.kind = VOL_AT_NOW};
	int64_t e = earliest(v), now = M.f->clk.now;
	uint64_t r = rnd(100);

	if (r < 40) {
		t.kind = VOL_AT_TIME;
		if (rnd(10) == 0 && v->nev > 0) /* exactly an event's time */
			t.time_ns = v->ev[rnd(v->nev)].ns;
		else
			t.time_ns = e + (int64_t)rnd((uint64_t)(now - e) + 1);
		if (rnd(20) == 0)
			t.time_ns = now + 1 + (int64_t)rnd(SEC);
		else if (rnd(20) == 0)
			t.time_ns = e - 1 - (int64_t)rnd(10 * SEC);
	} else if (r < 80) {
		t.kind = VOL_AT_LSN;
		uint64_t lo = v->created_lsn;
		if (rnd(2) == 0) /* mostly inside the window */
			while (lo < M.lsn && M.lsn_ns[lo] < e)
				lo++;
		if (rnd(3) == 0 && v->nev > 0)
			t.lsn = v->ev[rnd(v->nev)].lsn;
		else
			t.lsn = lo + rnd(M.lsn - lo + 1);
		if (rnd(30) == 0)
			t.lsn = M.lsn + 1 + rnd(3);
	} else if (r < 95 && v->nsnaps > 0) {
		t.kind = VOL_AT_SNAPSHOT;
		memcpy(t.snapshot, v->snaps[rnd(v->nsnaps)].name,
		       sizeof(t.snapshot));
	} else if (r < 97) {
		t.kind = VOL_AT_SNAPSHOT;
		snprintf(t.snapshot, sizeof(t.snapshot), "nosuchsnap");
	}
	return t;
}

static size_t live_count(void)
{
	size_t n = 0;
	for (int i = 0; i < MAXV; i++)
		n += M.v[i].live;
	return n;
}

static struct mvol *random_live(void)
{
	size_t n = live_count(), k;
	if (n == 0)
		return NULL;
	k = rnd(n);
	for (int i = 0; i < MAXV; i++)
		if (M.v[i].live && k-- == 0)
			return &M.v[i];
	return NULL;
}

static void check_all(bool full)
{
	for (int i = 0; i < MAXV; i++) {
		struct mvol *v = &M.v[i];
		if (!v->live)
			continue;
		check_current(v);
		if (!full)
			continue;
		for (size_t j = 0; j < v->nsnaps; j++) {
			vol_target t = {.kind = VOL_AT_SNAPSHOT};
			memcpy(t.snapshot, v->snaps[j].name,
			       sizeof(t.snapshot));
			check_point(v, &t);
		}
		/* Every kept event by LSN and every kept barrier by time,
		 * at most 100 of each per volume (spread evenly). */
		size_t stride = v->nev / 100 + 1;
		for (size_t j = 0; j < v->nev; j += stride) {
			vol_target t = {.kind = VOL_AT_LSN,
					.lsn = v->ev[j].lsn};
			check_point(v, &t);
			if (v->ev[j].barrier) {
				t.kind = VOL_AT_TIME;
				t.time_ns = v->ev[j].ns;
				check_point(v, &t);
			}
		}
	}
	/* Every stored version's checksum and the metadata invariants. */
	if (full) {
		uint64_t problems = 1;
		MOK(vol_check(M.f->p, NULL, NULL, &problems));
		if (problems != 0)
			mfail("vol_check found %" PRIu64 " problems", problems);
	}
	/* The pool's volume list agrees. */
	vol_info *list = NULL;
	size_t n = 0;
	MOK(vol_list(M.f->p, &list, &n));
	if (n != live_count())
		mfail("vol_list: %zu volumes, expected %zu", n, live_count());
	for (size_t i = 1; i < n; i++)
		if (strcmp(list[i - 1].name, list[i].name) >= 0)
			mfail("vol_list not ordered by name");
	free(list);
}

/* ------------------------------------------------------------------- ops */

static uint64_t random_size(void)
{
	uint64_t maxp = MAXSZ / PSZ;
	uint64_t np = 1 + rnd(1 + rnd(maxp));
	if (rnd(4) == 0) /* an unaligned size */
		return (np - 1) * PSZ + 1 + rnd(PSZ - 1);
	return np * PSZ;
}

static struct mvol *slot(void)
{
	for (int i = 0; i < MAXV; i++)
		if (!M.v[i].live)
			return &M.v[i];
	return NULL;
}

/* A fresh model volume in slot v, created at the newest LSN. */
static void vol_init(struct mvol *v, vol_id id, const char *name, int src,
		     struct mstate *st)
{
	memset(v, 0, sizeof(*v));
	v->live = true;
	v->id = id;
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->created_ns = M.f->clk.now;
	v->created_lsn = M.lsn;
	/* A clone starts with its source's window (the engine's choice). */
	v->window = src >= 0 ? M.v[src].window : 24 * 3600 * SEC;
	v->src = src;
	v->src_id = src >= 0 ? M.v[src].id : 0;
	set_cur(v, st, true);
}

static void new_name(char *out)
{
	snprintf(out, VOL_NAME_MAX + 1, "v%u", M.names++);
}

static void op_create(void)
{
	struct mvol *v = slot();
	if (v == NULL || live_count() >= MAXLIVE)
		return;
	uint64_t size = random_size();
	char name[VOL_NAME_MAX + 1];
	new_name(name);
	vol_id id = 0;
	trace("create %s size %" PRIu64, name, size);
	MOK(vol_create(M.f->p, name, size, &id));
	committed("create");
	vol_init(v, id, name, -1, st_new(size));
}

/* A write of up to 3 pages' bytes, or (longw) of 16 pages or more (the
 * whole volume if it is smaller): a database's page, or the 1 MiB writes of
 * a file copy, whose pages go in as one change and are read back by
 * walking. */
static void op_write(struct mvol *v, bool aligned, bool longw)
{
	uint64_t size = v->cur->size, off, len;
	if (size == 0)
		return;
	if (longw) {
		uint64_t np = (size + PSZ - 1) / PSZ;
		uint64_t n = np <= 16 ? np : 16 + rnd(np - 15);
		len = n * PSZ;
		off = aligned ? rnd(np - n + 1) * PSZ : rnd((np - n) * PSZ + 1);
		if (off + len > size) /* off < size: off <= (np - 1) * PSZ */
			len = size - off;
	} else if (aligned && size >= PSZ) {
		uint64_t np = size / PSZ;
		uint64_t first = rnd(np), n = 1 + rnd(np - first < 3 ?
						       np - first : 3);
		off = first * PSZ;
		len = n * PSZ;
	} else {
		off = rnd(size);
		len = 1 + rnd(size - off < 3 * PSZ ? size - off : 3 * PSZ);
	}
	if (rnd(10) == 0)
		memset(M.buf, 0, len); /* all-zero pages cost nothing */
	else
		tu_fill(M.buf, len, tu_rand(&M.rng));
	trace("write %s off %" PRIu64 " len %" PRIu64, v->name, off, len);
	MOK(vol_write(M.f->p, v->id, M.buf, off, len));
	committed("write");
	struct mstate *st = st_copy(v->cur, size);
	st_apply(st, off, M.buf, len);
	set_cur(v, st, false);
}

static void op_write_past_end(struct mvol *v)
{
	uint64_t size = v->cur->size, off = size - rnd(size + 1);
	uint64_t len = size - off + 1 + rnd(PSZ);
	trace("write past end %s off %" PRIu64 " len %" PRIu64, v->name, off,
	      len);
	memset(M.buf, 0xee, len);
	vol_status st = vol_write(M.f->p, v->id, M.buf, off, len);
	if (st != VOL_ERANGE)
		mfail("write past the end: %s, expected ERANGE",
		      vol_strerror(st));
	unchanged("write past end");
}

static void op_discard(struct mvol *v)
{
	uint64_t size = v->cur->size;
	if (size == 0)
		return;
	uint64_t off = rnd(size), len = 1 + rnd(size - off);
	if (rnd(2) == 0) { /* whole pages */
		off -= off % PSZ;
		len = ((len + PSZ - 1) / PSZ) * PSZ;
		if (off + len > size)
			len = size - off;
	}
	trace("discard %s off %" PRIu64 " len %" PRIu64, v->name, off, len);
	MOK(vol_discard(M.f->p, v->id, off, len));
	committed("discard");
	struct mstate *st = st_copy(v->cur, size);
	st_apply(st, off, NULL, len);
	set_cur(v, st, false);
}

static void op_resize(struct mvol *v)
{
	uint64_t size = random_size();
	if (rnd(10) == 0)
		size = 0;
	trace("resize %s %" PRIu64 " -> %" PRIu64, v->name, v->cur->size,
	      size);
	MOK(vol_resize(M.f->p, v->id, size));
	if (size == v->cur->size && vol_pool_lsn(M.f->p) == M.lsn)
		return; /* the same size: no change, no LSN (engine's choice) */
	committed("resize");
	set_cur(v, st_copy(v->cur, size), false);
}

static void op_sync(struct mvol *v)
{
	vol_point pt;
	trace("sync %s", v->name);
	MOK(vol_sync(M.f->p, v->id, &pt));
	unchanged("sync");
	barrier_now(v);
	if (pt.time_ns != M.f->clk.now)
		mfail("sync: barrier time %" PRId64 ", expected %" PRId64,
		      pt.time_ns, M.f->clk.now);
}

static void op_pool_sync(void)
{
	trace("pool sync");
	MOK(vol_pool_sync(M.f->p));
	unchanged("pool sync");
	for (int i = 0; i < MAXV; i++)
		if (M.v[i].live && M.v[i].dirty)
			barrier_now(&M.v[i]);
}

static void op_backtrack(struct mvol *v)
{
	vol_target t = random_target(v);
	struct mstate *st;
	enum expect e = expected(v, &t, &st);
	char ts[96], what[320];
	vol_backtrack_rec r;

	target_str(&t, ts, sizeof(ts));
	snprintf(what, sizeof(what), "backtrack %s to %s", v->name, ts);
	trace("%s", what);
	if (!agree(vol_backtrack(M.f->p, v->id, &t, &r), e, st, what)) {
		unchanged(what);
		return;
	}
	committed(what);
	set_cur(v, st_ref(st), true);
}

static void op_clone(struct mvol *v)
{
	struct mvol *c = slot();
	if (c == NULL || live_count() >= MAXLIVE)
		return;
	vol_target t = random_target(v);
	struct mstate *st;
	enum expect e = expected(v, &t, &st);
	char ts[96], what[320], name[VOL_NAME_MAX + 1];
	vol_id id = 0;

	new_name(name);
	target_str(&t, ts, sizeof(ts));
	snprintf(what, sizeof(what), "clone %s at %s as %s", v->name, ts,
		 name);
	trace("%s", what);
	if (!agree(vol_clone(M.f->p, v->id, &t, name, &id), e, st, what)) {
		unchanged(what);
		return;
	}
	committed(what);
	vol_init(c, id, name, (int)(v - M.v), st_ref(st));
}

static void op_reset(struct mvol *v)
{
	trace("reset %s", v->name);
	vol_status s = vol_reset(M.f->p, v->id, NULL);
	if (v->src < 0) {
		vol_status want = v->src == -1 ? VOL_EINVAL : VOL_ENOENT;
		if (s != want)
			mfail("reset %s: %s, expected %s", v->name,
			      vol_strerror(s), vol_strerror(want));
		unchanged("failed reset");
		return;
	}
	if (s != VOL_OK)
		mfail("reset %s: %s (%s)", v->name, vol_strerror(s),
		      vol_errmsg());
	committed("reset");
	set_cur(v, st_ref(M.v[v->src].cur), true);
}

static void op_snapshot(struct mvol *v)
{
	vol_target t = random_target(v);
	struct mstate *st;
	enum expect e = expected(v, &t, &st);
	char ts[96], what[320], name[VOL_NAME_MAX + 1];

	if (v->nsnaps == 8)
		return;
	bool dup = v->nsnaps > 0 && rnd(10) == 0;
	if (dup)
		memcpy(name, v->snaps[rnd(v->nsnaps)].name, sizeof(name));
	else
		snprintf(name, sizeof(name), "s%u", M.names++);
	target_str(&t, ts, sizeof(ts));
	snprintf(what, sizeof(what), "snapshot %s@%s at %s", v->name, name,
		 ts);
	trace("%s", what);
	vol_status s = vol_snapshot_create(M.f->p, v->id, name, &t, NULL);
	if (dup) {
		/* EEXIST, or the target's own failure when it has one. */
		if (s != VOL_EEXIST &&
		    !(s == VOL_ERANGE && (e == MUST_ERANGE || e == MAY_OK)) &&
		    !(s == VOL_ENOENT && e == MUST_ENOENT))
			mfail("%s: %s, expected EEXIST", what,
			      vol_strerror(s));
		unchanged(what);
		return;
	}
	if (!agree(s, e, st, what)) {
		unchanged(what);
		return;
	}
	committed(what);
	v->dirty = true;
	struct msnap *sn = &v->snaps[v->nsnaps++];
	memcpy(sn->name, name, sizeof(sn->name));
	sn->st = st_ref(st);
}

static void op_snapshot_delete(struct mvol *v)
{
	if (v->nsnaps == 0)
		return;
	size_t k = rnd(v->nsnaps);
	trace("snapshot delete %s@%s", v->name, v->snaps[k].name);
	MOK(vol_snapshot_delete(M.f->p, v->id, v->snaps[k].name));
	committed("snapshot delete");
	v->dirty = true; /* any change of the volume, see op_pool_sync */
	st_unref(v->snaps[k].st);
	v->snaps[k] = v->snaps[--v->nsnaps];
}

static void op_delete(struct mvol *v)
{
	if (live_count() <= 2)
		return;
	trace("delete %s", v->name);
	MOK(vol_delete(M.f->p, v->id));
	committed("delete");
	vol_forget(v);
	for (int i = 0; i < MAXV; i++)
		if (M.v[i].live && M.v[i].src == (int)(v - M.v))
			M.v[i].src = -2;
	vol_info in;
	vol_status s = vol_info_get(M.f->p, v->id, &in);
	if (s != VOL_ENOENT)
		mfail("info of deleted volume: %s", vol_strerror(s));
}

static void op_rename(struct mvol *v)
{
	char name[VOL_NAME_MAX + 1];
	new_name(name);
	trace("rename %s -> %s", v->name, name);
	MOK(vol_rename(M.f->p, v->id, name));
	committed("rename");
	v->dirty = true;
	memcpy(v->name, name, sizeof(name));
}

static void op_window(struct mvol *v)
{
	static const int64_t w[] = {0, 5 * SEC, 30 * SEC, 120 * SEC,
				    600 * SEC, 3600 * SEC};
	int64_t win = w[rnd(6)];
	trace("window %s %" PRId64 "s", v->name, win / SEC);
	MOK(vol_window_set(M.f->p, v->id, win));
	committed("window");
	v->dirty = true;
	v->window = win;
}

static void op_retention(void)
{
	vol_retention_report rep;
	trace("retention");
	MOK(vol_retention_run(M.f->p, &rep));
	unchanged("retention");
	if (getenv("MODEL_TRACE") != NULL)
		fprintf(stderr, "  retention: %" PRIu64 " versions deleted, "
			"history %" PRIu64 " bytes, alert %d, cutoff now%+.3fs\n",
			rep.versions_deleted, rep.bytes_history,
			rep.budget_alert, rep.cutoff_ns ?
			(double)(rep.cutoff_ns - M.f->clk.now) / 1e9 : 0.0);
	for (int i = 0; i < MAXV; i++) {
		struct mvol *v = &M.v[i];
		if (!v->live)
			continue;
		if (M.f->clk.now - v->window > v->dropped)
			v->dropped = M.f->clk.now - v->window;
		if (M.budget == 0)
			continue;
		/* Under a binding budget the pass may cut deeper (oldest
		 * first), never shallower; what it cut stays cut. */
		vol_info in;
		MOK(vol_info_get(M.f->p, v->id, &in));
		if (in.earliest_ns < earliest(v))
			mfail("retention: %s earliest %" PRId64 " is before "
			      "the window's %" PRId64, v->name, in.earliest_ns,
			      earliest(v));
		if (in.earliest_ns > earliest(v)) {
			M.budget_cuts++;
			if (!in.budget_alert || !rep.budget_alert)
				mfail("retention: %s window cut without "
				      "budget_alert", v->name);
		}
		if (in.earliest_ns > v->dropped)
			v->dropped = in.earliest_ns;
	}
	M.want_full = true;
}

static void op_reopen(void)
{
	trace("reopen");
	op_pool_sync();
	MOK(vol_pool_close(M.f->p));
	M.f->p = NULL;
	MOK(vol_pool_open(M.f->path, &M.f->opts, &M.f->p));
	if (vol_pool_lsn(M.f->p) != M.lsn)
		mfail("reopen: pool LSN %" PRIu64 ", expected %" PRIu64,
		      vol_pool_lsn(M.f->p), M.lsn);
	if (vol_pool_page_size(M.f->p) != PSZ)
		mfail("reopen: page size changed");
	M.want_full = true;
}

static void op_bad_calls(struct mvol *v)
{
	vol_id x;
	vol_status s;
	trace("bad calls on %s", v->name);
	s = vol_create(M.f->p, v->name, PSZ, &x);
	if (s != VOL_EEXIST)
		mfail("create of a taken name: %s", vol_strerror(s));
	s = vol_rename(M.f->p, v->id, "bad/name");
	if (s != VOL_EINVAL)
		mfail("rename to a bad name: %s", vol_strerror(s));
	s = vol_snapshot_delete(M.f->p, v->id, "nosuchsnap");
	if (s != VOL_ENOENT)
		mfail("delete of a missing snapshot: %s", vol_strerror(s));
	unchanged("bad calls");
}

static void step(void)
{
	/* Time moves between steps (sometimes not at all). */
	uint64_t r = rnd(100);
	if (r < 5)
		;
	else if (r < 90)
		M.f->clk.now += (int64_t)(1 + rnd(2000)) * 1000000;
	else
		M.f->clk.now += (int64_t)(1 + rnd(120)) * SEC;

	struct mvol *v = random_live();
	if (v == NULL || live_count() < 2) {
		op_create();
		return;
	}
	r = rnd(1000);
	/* Weights in 1/1000. Syncs are few: each one waits for an fsync. */
	if (r < 200) op_write(v, true, false);
	else if (r < 400) op_write(v, false, false);
	else if (r < 420) op_write(v, true, true);
	else if (r < 440) op_write(v, false, true);
	else if (r < 500) op_discard(v);
	else if (r < 540) op_resize(v);
	else if (r < 565) op_sync(v);
	else if (r < 572) op_pool_sync();
	else if (r < 622) op_backtrack(v);
	else if (r < 662) op_clone(v);
	else if (r < 682) op_reset(v);
	else if (r < 732) op_snapshot(v);
	else if (r < 752) op_snapshot_delete(v);
	else if (r < 777) op_delete(v);
	else if (r < 802) op_create();
	else if (r < 812) op_rename(v);
	else if (r < 838) op_window(v);
	else if (r < 842) op_retention();
	else if (r < 843) op_reopen();
	else if (r < 851) op_write_past_end(v);
	else if (r < 856) op_bad_calls(v);
	else op_write(v, rnd(2), false);
}

/* Time spent per kind of step (MODEL_PROFILE=1 prints it). */
static struct {
	char name[24];
	double secs;
	unsigned long n;
} prof[40];

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void prof_add(const char *trace_line, double secs)
{
	const char *w = strchr(trace_line, ']');
	char name[24];
	size_t n = 0;

	w = w != NULL ? w + 2 : trace_line;
	while (w[n] != '\0' && w[n] != ' ' && n < sizeof(name) - 1)
		n++;
	memcpy(name, w, n);
	name[n] = '\0';
	for (size_t i = 0; i < sizeof(prof) / sizeof(prof[0]); i++) {
		if (prof[i].name[0] == '\0')
			memcpy(prof[i].name, name, n + 1);
		if (strcmp(prof[i].name, name) == 0) {
			prof[i].secs += secs;
			prof[i].n++;
			return;
		}
	}
}

static void test_model(void **state)
{
	(void)state;
	uint64_t seed, ops = tu_sanitized() ? 4000 : 20000;
	const char *s = getenv("MODEL_SEED");
	static const uint32_t sizes[] = {4096, 4096, 4096, 8192, 16384,
					 32768, 65536};

	if (s != NULL && *s != '\0')
		seed = strtoull(s, NULL, 0);
	else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		       (uint64_t)getpid() << 40;
	}
	if ((s = getenv("MODEL_BUDGET")) != NULL && *s != '\0')
		ops = tu_sanitized() ? 3000 : 8000; /* the second run */
	if ((s = getenv("MODEL_OPS")) != NULL && *s != '\0')
		ops = strtoull(s, NULL, 0);
	M.rng = seed;
	PSZ = sizes[rnd(sizeof(sizes) / sizeof(sizes[0]))];
	MAXSZ = (256u * 1024 / PSZ > 64 ? 64 : 256u * 1024 / PSZ) *
		(uint64_t)PSZ;
	printf("model: seed %" PRIu64 " (MODEL_SEED=%" PRIu64
	       " reproduces), %" PRIu64 " ops, page size %u\n", seed, seed,
	       ops, PSZ);
	fflush(stdout);
	M.buf = malloc(MAXSZ + 4 * PSZ);
	M.buf2 = malloc(MAXSZ + 4 * PSZ);
	assert_non_null(M.buf);
	assert_non_null(M.buf2);
	/* Run groups: the smallest (a volume is 4 of them at most), one a
	 * long write can fill or not, and the default (no run crosses a
	 * group's edge in the model's volumes). */
	static const uint32_t groups[] = {16, 32, 256};
	tu_run_group = groups[rnd(3)];
	printf("model: run group %u pages\n", tu_run_group);
	M.f = fx_new(PSZ);
	/* Small page-log segments (16 records each): roll-overs, the cleaner
	 * dropping and moving records, under every op the model runs. */
	MOK(vol_pool_close(M.f->p));
	M.f->opts.segment_bytes = 16 * (64 + (uint64_t)PSZ);
	MOK(vol_pool_open(M.f->path, &M.f->opts, &M.f->p));
	M.lsn = vol_pool_lsn(M.f->p);
	assert_int_equal(M.lsn, 0);
	if ((s = getenv("MODEL_BUDGET")) != NULL && *s != '\0') {
		M.budget = strtoull(s, NULL, 0);
		MOK(vol_pool_set_budget(M.f->p, M.budget));
		printf("model: history budget %" PRIu64 " bytes\n", M.budget);
	}

	for (M.step = 0; M.step < ops; M.step++) {
		double t0 = mono();
		unsigned long nt = M.ntrace;
		step();
		if (M.ntrace > nt)
			prof_add(M.trace[(M.ntrace - 1) % TRACE_N], mono() - t0);
		t0 = mono();
		/* Every volume's current state, every step. */
		check_all(false);
		prof_add("#0 [lsn 0] (current)", mono() - t0);
		t0 = mono();
		/* A sample of readable points. */
		for (int k = 0; k < 1 + (int)(M.step % 2); k++) {
			struct mvol *v = random_live();
			if (v != NULL) {
				vol_target t = random_target(v);
				check_point(v, &t);
			}
		}
		prof_add("#0 [lsn 0] (points)", mono() - t0);
		t0 = mono();
		if (M.want_full || M.step % FULL_EVERY == FULL_EVERY - 1)
			check_all(true);
		M.want_full = false;
		prof_add("#0 [lsn 0] (full)", mono() - t0);
		/* Forget what retention has dropped (a wider window cannot
		 * bring it back). */
		for (int i = 0; i < MAXV; i++) {
			struct mvol *v = &M.v[i];
			if (v->live)
				prune(v, v->dropped);
		}
	}
	check_all(true);
	printf("model: %" PRIu64 " ops passed, %lu points read back (%lu at "
	       "the window's edge), final LSN %" PRIu64 "\n", ops,
	       M.checks_points, M.checks_may, M.lsn);
	if (M.budget != 0) {
		/* Not asserted > 0: history pinned by branch points and
		 * snapshots is not the budget's to cut, and with many
		 * backtracks it can be all there is (test_retention's
		 * test_budget checks that a budget binds). */
		printf("model: %lu windows cut by the budget\n",
		       M.budget_cuts);
	}

	if (getenv("MODEL_PROFILE") != NULL)
		for (size_t i = 0; i < sizeof(prof) / sizeof(prof[0]) &&
				   prof[i].name[0]; i++)
			printf("model: %-12s %6lu steps %8.3f s\n",
			       prof[i].name, prof[i].n, prof[i].secs);
	for (int i = 0; i < MAXV; i++)
		if (M.v[i].live)
			vol_forget(&M.v[i]);
	fx_free(M.f);
	M.f = NULL;
	free(M.buf);
	free(M.buf2);
	free(M.lsn_ns);
}

/* After a failure too: close the pool, remove its folder. */
static int model_teardown(void **state)
{
	(void)state;
	fx_free(M.f);
	M.f = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_model, model_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
