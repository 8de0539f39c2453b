/*
 * codec.c - byte layouts: keys (big-endian, so RocksDB's bytewise order is
 * numeric order), page value headers with their checksums, and the small
 * length-checked writer/reader used for metadata records.
 *
 * Page checksum: xxh3-64 of the page bytes XOR an xxh3-64 of the key, kind
 * and time. The data part is computed outside any lock (it does not depend
 * on the LSN); the key part binds a version to where it is stored, so a value
 * copied to the wrong key, a flipped header byte or a flipped data byte all
 * fail verification.
 */
#include <string.h>
#include <xxhash.h>

#include "internal.h"

void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void pkey_make(uint8_t k[PKEY_LEN], uint64_t tl, uint64_t page, uint64_t lsn)
{
	be64_put(k, tl);
	be64_put(k + 8, page);
	be64_put(k + 16, ~lsn);
}

void pkey_parse(const uint8_t *k, uint64_t *tl, uint64_t *page, uint64_t *lsn)
{
	if (tl)
		*tl = be64_get(k);
	if (page)
		*page = be64_get(k + 8);
	if (lsn)
		*lsn = ~be64_get(k + 16);
}

uint64_t pval_data_hash(const void *page, uint32_t ps)
{
	return XXH3_64bits(page, ps);
}

static uint64_t pval_key_hash(const uint8_t k[PKEY_LEN], enum pval_kind kind,
			      int64_t time_ns)
{
	uint8_t m[PKEY_LEN + 9];
	memcpy(m, k, PKEY_LEN);
	m[PKEY_LEN] = (uint8_t)kind;
	be64_put(m + PKEY_LEN + 1, (uint64_t)time_ns);
	return XXH3_64bits(m, sizeof m);
}

void pval_header(uint8_t h[PVAL_HDR], const uint8_t k[PKEY_LEN],
		 enum pval_kind kind, int64_t time_ns, uint64_t data_hash)
{
	memset(h, 0, PVAL_HDR);
	h[0] = (uint8_t)kind;
	be64_put(h + 8, (uint64_t)time_ns);
	be64_put(h + 16, data_hash ^ pval_key_hash(k, kind, time_ns));
}

bool pval_layout(const uint8_t *v, size_t vn, uint32_t ps,
		 enum pval_kind *kind)
{
	if (vn < PVAL_HDR)
		return false;
	for (int i = 1; i < 8; i++)
		if (v[i])
			return false;
	*kind = (enum pval_kind)v[0];
	switch (*kind) {
	case PV_DATA:
		return vn == PVAL_HDR + (size_t)ps;
	case PV_HOLE:
		return vn == PVAL_HDR;
	case PV_REF:
		return vn == PVAL_REF;
	case PV_RUN:
		return vn >= RVAL_FIXED && rval_count(v) >= 1 &&
		       rval_count(v) <= RUN_GROUP_MAX &&
		       vn == rval_len(rval_count(v));
	default:
		return false;
	}
}

bool pval_check(const uint8_t k[PKEY_LEN], const uint8_t *v, size_t vn,
		uint32_t ps, enum pval_kind *kind, int64_t *time_ns,
		uint64_t *data_hash)
{
	enum pval_kind kd;
	if (!pval_layout(v, vn, ps, &kd))
		return false;
	if ((kd == PV_RUN) != pkey_is_run(k))
		return false;
	int64_t t = (int64_t)be64_get(v + 8);
	uint64_t sum = be64_get(v + 16);
	uint64_t dh = kd == PV_DATA  ? pval_data_hash(v + PVAL_HDR, ps)
		      : kd == PV_HOLE ? 0
		      : kd == PV_RUN  ? XXH3_64bits(v + PVAL_REF, vn - PVAL_REF)
				      : sum ^ pval_key_hash(k, kd, t);
	if ((dh ^ pval_key_hash(k, kd, t)) != sum)
		return false;
	if (data_hash)
		*data_hash = dh;
	*kind = kd;
	if (time_ns)
		*time_ns = t;
	return true;
}

struct pref pval_ref(const uint8_t *v)
{
	return (struct pref){be64_get(v + PVAL_HDR),
			     be64_get(v + PVAL_HDR + 8)};
}

void pval_set_ref(uint8_t *v, struct pref ref)
{
	be64_put(v + PVAL_HDR, ref.seg);
	be64_put(v + PVAL_HDR + 8, ref.off);
}

uint64_t rval_first(const uint8_t *v)
{
	return be64_get(v + PVAL_REF);
}

uint64_t rval_count(const uint8_t *v)
{
	return be64_get(v + PVAL_REF + 8);
}

uint64_t rval_hash(const uint8_t *v, uint64_t i)
{
	return be64_get(v + RVAL_FIXED + 8 * i);
}

void rval_want(const uint8_t *v, uint64_t tl, uint64_t lsn, uint64_t i,
	       uint64_t rl, struct prec_want *w)
{
	pkey_make(w->key, tl, rval_first(v) + i, lsn);
	w->hash = rval_hash(v, i);
	w->ref = pval_ref(v);
	w->ref.off += i * rl;
}

void rval_make(uint8_t *v, const uint8_t k[PKEY_LEN], int64_t time_ns,
	       struct pref ref, uint64_t first, uint64_t count,
	       const uint64_t *hash)
{
	size_t n = rval_len(count);
	pval_set_ref(v, ref);
	be64_put(v + PVAL_REF, first);
	be64_put(v + PVAL_REF + 8, count);
	for (uint64_t i = 0; i < count; i++)
		be64_put(v + RVAL_FIXED + 8 * i, hash[i]);
	pval_header(v, k, PV_RUN, time_ns,
		    XXH3_64bits(v + PVAL_REF, n - PVAL_REF));
}

size_t key1(uint8_t *k, uint8_t tag, uint64_t a)
{
	k[0] = tag;
	be64_put(k + 1, a);
	return 9;
}

size_t key2(uint8_t *k, uint8_t tag, uint64_t a, uint64_t b)
{
	key1(k, tag, a);
	be64_put(k + 9, b);
	return 17;
}

size_t key3(uint8_t *k, uint8_t tag, uint64_t a, uint64_t b, uint64_t c)
{
	key2(k, tag, a, b);
	be64_put(k + 17, c);
	return 25;
}

size_t key_snap(uint8_t *k, uint64_t vol, const char *name)
{
	size_t n = strlen(name);
	key1(k, MT_SNAP, vol);
	memcpy(k + 9, name, n);
	return 9 + n;
}

void buf_u64(struct buf *b, uint64_t v)
{
	if (b->n + 8 > sizeof b->d) {
		b->overflow = true;
		return;
	}
	be64_put(b->d + b->n, v);
	b->n += 8;
}

void buf_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (n > 255 || b->n + 1 + n > sizeof b->d) {
		b->overflow = true;
		return;
	}
	b->d[b->n++] = (uint8_t)n;
	memcpy(b->d + b->n, s, n);
	b->n += n;
}

uint64_t rd_u64(struct rd *r)
{
	if (r->n < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = be64_get(r->p);
	r->p += 8;
	r->n -= 8;
	return v;
}

void rd_str(struct rd *r, char *out, size_t cap)
{
	out[0] = 0;
	if (r->n < 1 || r->n < 1u + r->p[0] || r->p[0] >= cap) {
		r->bad = true;
		return;
	}
	size_t n = r->p[0];
	memcpy(out, r->p + 1, n);
	out[n] = 0;
	r->p += 1 + n;
	r->n -= 1 + n;
}

void nkey_make(uint8_t k[NKEY_LEN], const uint8_t pkey[PKEY_LEN])
{
	k[0] = LT_NAME;
	memcpy(k + 1, pkey, 8);
	be64_put(k + 9, ~be64_get(pkey + 16));
	memcpy(k + 17, pkey + 8, 8);
}

void nkey_pkey(const uint8_t k[NKEY_LEN], uint8_t pkey[PKEY_LEN])
{
	memcpy(pkey, k + 1, 8);
	memcpy(pkey + 8, k + 17, 8);
	be64_put(pkey + 16, ~be64_get(k + 9));
}
