/*
 * fuzz_ctl.c - a libFuzzer target for the control-file grammar (fs/ctl.h).
 *
 * DESIGN
 * One input drives every entry point of fs/ctl.h, so one corpus covers them
 * all and a finding in one parser shows up whatever file the input meant:
 *  - ctl_parse_command on each of the four writable files, from a heap copy
 *    of exactly `size` bytes (no NUL after it: ASan sees any read past the
 *    length the daemon gives);
 *  - ctl_parse_duration, ctl_parse_time and ctl_name_valid on a heap copy
 *    that ends at the NUL (the C-string contract);
 *  - ctl_format_time / ctl_format_duration / ctl_format_target on the first
 *    8 bytes taken as an int64.
 * Each `now` of a short list (typical, 0, both int64 ends) is tried, so the
 * relative-time arithmetic meets its overflow edges.
 *
 * Invariants checked (CHECK aborts, which libFuzzer and the replay driver
 * report as a crash):
 *  1. A parser returns 0, EINVAL or ERANGE; on failure `why` is a non-empty
 *     NUL-terminated line inside whylen, of printable ASCII only (it ends up
 *     in .status and the log); the duration output is untouched on failure.
 *  2. A parsed DURATION is >= 0, a whole number of seconds, and formatting
 *     it and parsing the text again gives the same value.
 *  3. A parsed TIME re-formats (ctl_format_target; absolute times as RFC
 *     3339 UTC) into text that parses back to the same target; a relative
 *     time is at or before `now`.
 *  4. A parsed command, printed back as text in its file's grammar, parses
 *     to the same command; white space around it changes nothing; a name is
 *     valid by ctl_name_valid.
 *  5. ctl_format_time of ANY int64 parses back to that int64 (the grammar
 *     covers the whole range it prints), and formatted text always fits.
 *  6. .window and .backtrack commands agree with ctl_parse_duration and
 *     ctl_parse_time on the same text with its white space trimmed: same
 *     result, same value (the two ways in must not drift apart).
 *
 * Built two ways (tests/fuzz/meson.build, tools/fuzz): with clang's
 * -fsanitize=fuzzer for the search, and with the project compiler plus
 * replay.c to run the kept corpus in CI.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S INT64_C(1000000000)

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz_ctl: %s:%d: invariant '%s' broken: ", \
				__FILE__, __LINE__, #cond);                   \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			abort();                                              \
		}                                                             \
	} while (0)

static const int64_t nows[] = {
	INT64_C(1795266000) * S + 123456789, /* 2026-11-21T13:00:00.123456789Z */
	0, INT64_MIN, INT64_MAX,
};
#define NNOWS (sizeof(nows) / sizeof(nows[0]))

/* Invariant 1 for a parser result err and its reason why[whylen]. */
static void check_why(int err, const char *why, size_t whylen,
		      const char *what)
{
	CHECK(err == 0 || err == EINVAL || err == ERANGE, "%s: returned %d",
	      what, err);
	if (err == 0 || whylen == 0)
		return;
	size_t n = strnlen(why, whylen);
	CHECK(n < whylen, "%s: why not NUL-terminated", what);
	CHECK(n > 0 || whylen == 1, "%s: failed (%d) without a reason", what,
	      err);
	for (size_t i = 0; i < n; i++)
		CHECK(why[i] >= 0x20 && why[i] <= 0x7e,
		      "%s: why has byte 0x%02x at %zu: %s", what,
		      (unsigned char)why[i], i, why);
}

static bool same_target(const vol_target *a, const vol_target *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case VOL_AT_NOW: return true;
	case VOL_AT_TIME: return a->time_ns == b->time_ns;
	case VOL_AT_LSN: return a->lsn == b->lsn;
	case VOL_AT_SNAPSHOT: return strcmp(a->snapshot, b->snapshot) == 0;
	}
	return false;
}

/* Invariant 2: a parsed duration prints and parses back. */
static void check_duration_roundtrip(int64_t ns, const char *from)
{
	char text[64], why[256];
	int64_t again = -1;
	CHECK(ns >= 0 && ns % S == 0, "duration '%s' -> %" PRId64, from, ns);
	ctl_format_duration(ns, text, sizeof(text));
	int err = ctl_parse_duration(text, &again, why, sizeof(why));
	CHECK(err == 0 && again == ns,
	      "duration '%s' -> %" PRId64 " -> '%s' -> err %d, %" PRId64 " (%s)",
	      from, ns, text, err, again, err ? why : "");
}

/* Invariant 3: a parsed target prints (absolute) and parses back. */
static void check_target_roundtrip(const vol_target *t, int64_t now,
				   const char *from)
{
	char text[128], why[256];
	vol_target again;
	ctl_format_target(t, text, sizeof(text));
	int err = ctl_parse_time(text, now, &again, why, sizeof(why));
	CHECK(err == 0 && same_target(t, &again),
	      "time '%.200s' -> '%s' -> err %d (%s)", from, text, err,
	      err ? why : "a different target");
}

/* NUL-terminated heap copy of data[0..size). */
static char *cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static void fuzz_duration(const char *s)
{
	int64_t ns = INT64_C(-7);
	char why[200];
	int err = ctl_parse_duration(s, &ns, why, sizeof(why));
	check_why(err, why, sizeof(why), "ctl_parse_duration");
	if (err) {
		CHECK(ns == INT64_C(-7), "duration output written on failure");
		return;
	}
	check_duration_roundtrip(ns, s);
}

static void fuzz_time(const char *s, int64_t now)
{
	vol_target t;
	char why[200];
	int err = ctl_parse_time(s, now, &t, why, sizeof(why));
	check_why(err, why, sizeof(why), "ctl_parse_time");
	if (err)
		return;
	CHECK(t.kind >= VOL_AT_NOW && t.kind <= VOL_AT_SNAPSHOT, "kind %d",
	      (int)t.kind);
	if (t.kind == VOL_AT_NOW)
		CHECK(strcmp(s, "now") == 0, "'%.200s' parsed as now", s);
	if (t.kind == VOL_AT_SNAPSHOT)
		CHECK(ctl_name_valid(t.snapshot, strlen(t.snapshot)),
		      "snapshot name '%s'", t.snapshot);
	if (s[0] == '-')
		CHECK(t.kind == VOL_AT_TIME && t.time_ns <= now,
		      "relative '%.200s' after now", s);
	check_target_roundtrip(&t, now, s);
}

static void fuzz_name(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1); /* exactly len bytes */
	if (!s)
		abort();
	memcpy(s, data, size);
	int ok = ctl_name_valid(s, size);
	bool want = size >= 1 && size <= VOL_NAME_MAX && s[0] != '.';
	for (size_t i = 0; want && i < size; i++) {
		char c = s[i];
		want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
	}
	CHECK(ok == (want ? 1 : 0), "ctl_name_valid gave %d", ok);
	free(s);
}

/* The command text that means c in file f, as a client would write it. */
static void command_text(ctl_file f, const ctl_cmd *c, char *buf, size_t len)
{
	char t[128];
	switch (c->op) {
	case CTL_OP_RESET:
		snprintf(buf, len, "reset");
		break;
	case CTL_OP_BACKTRACK:
		snprintf(buf, len, "%s", ctl_format_target(&c->target, t, sizeof(t)));
		break;
	case CTL_OP_CLONE:
	case CTL_OP_SNAPSHOT:
		snprintf(buf, len, "%s %s", c->name,
			 ctl_format_target(&c->target, t, sizeof(t)));
		break;
	case CTL_OP_SNAPSHOT_DELETE:
		snprintf(buf, len, "-%s", c->name);
		break;
	case CTL_OP_WINDOW:
		ctl_format_duration(c->window_ns, buf, len);
		break;
	}
	(void)f;
}

static bool same_cmd(const ctl_cmd *a, const ctl_cmd *b)
{
	if (a->op != b->op)
		return false;
	switch (a->op) {
	case CTL_OP_RESET: return true;
	case CTL_OP_BACKTRACK: return same_target(&a->target, &b->target);
	case CTL_OP_CLONE:
	case CTL_OP_SNAPSHOT:
		return strcmp(a->name, b->name) == 0 &&
		       same_target(&a->target, &b->target);
	case CTL_OP_SNAPSHOT_DELETE: return strcmp(a->name, b->name) == 0;
	case CTL_OP_WINDOW: return a->window_ns == b->window_ns;
	}
	return false;
}

static bool ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Invariant 6 for a .window or .backtrack command c parsed from data with
 * result err. */
static void check_same_as_direct(ctl_file f, const uint8_t *data, size_t size,
				 int64_t now, int err, const ctl_cmd *c)
{
	size_t a = 0, b = size;
	if (size > CTL_CMD_MAX || memchr(data, '\0', size))
		return; /* refused before any grammar */
	while (a < b && ws(data[a]))
		a++;
	while (b > a && ws(data[b - 1]))
		b--;
	if (a == b)
		return;
	char *s = cstr(data + a, b - a), why[200];
	if (f == CTL_WINDOW) {
		int64_t ns = -7;
		int e = ctl_parse_duration(s, &ns, why, sizeof(why));
		CHECK(e == err && (e || ns == c->window_ns),
		      ".window '%.100s': command %d, duration %d", s, err, e);
	} else if (f == CTL_BACKTRACK && strcmp(s, "reset") != 0) {
		vol_target t;
		int e = ctl_parse_time(s, now, &t, why, sizeof(why));
		CHECK(e == err && (e || same_target(&t, &c->target)),
		      ".backtrack '%.100s': command %d, time %d", s, err, e);
	}
	free(s);
}

static void fuzz_command(ctl_file f, const uint8_t *data, size_t size,
			 int64_t now)
{
	static const ctl_op ops[][2] = {
		[CTL_BACKTRACK] = { CTL_OP_BACKTRACK, CTL_OP_RESET },
		[CTL_CLONE] = { CTL_OP_CLONE, CTL_OP_CLONE },
		[CTL_SNAPSHOT] = { CTL_OP_SNAPSHOT, CTL_OP_SNAPSHOT_DELETE },
		[CTL_WINDOW] = { CTL_OP_WINDOW, CTL_OP_WINDOW },
	};
	char *buf = malloc(size ? size : 1); /* exactly size bytes, no NUL */
	if (!buf)
		abort();
	memcpy(buf, data, size);
	/* A small why (1..64 bytes, on the heap) catches overflows of it. */
	size_t whylen = 1 + size % 64;
	char *why = malloc(whylen);
	if (!why)
		abort();
	ctl_cmd c;
	int err = ctl_parse_command(f, buf, size, now, &c, why, whylen);
	check_why(err, why, whylen, "ctl_parse_command");
	check_same_as_direct(f, data, size, now, err, &c);
	if (err == 0) {
		CHECK(size <= CTL_CMD_MAX, "accepted %zu bytes", size);
		CHECK(c.op == ops[f][0] || c.op == ops[f][1],
		      "file %d gave op %d", (int)f, (int)c.op);
		if (c.op == CTL_OP_CLONE || c.op == CTL_OP_SNAPSHOT ||
		    c.op == CTL_OP_SNAPSHOT_DELETE)
			CHECK(ctl_name_valid(c.name, strlen(c.name)),
			      "name '%s'", c.name);
		if (c.op == CTL_OP_WINDOW)
			check_duration_roundtrip(c.window_ns, "(window)");

		/* Invariant 4: the command printed back parses the same,
		 * with white space around it too. */
		char text[256], padded[300], why2[256];
		ctl_cmd again;
		command_text(f, &c, text, sizeof(text));
		int n = snprintf(padded, sizeof(padded), " \t%s\r\n", text);
		err = ctl_parse_command(f, padded, (size_t)n, now, &again, why2,
					sizeof(why2));
		CHECK(err == 0 && same_cmd(&c, &again),
		      "file %d: '%s' does not parse back (%d: %s)", (int)f, text,
		      err, err ? why2 : "a different command");
	}
	free(why);
	free(buf);
}

/* Invariant 5 and the formatters' bounds, for any int64. */
static void fuzz_format(int64_t v)
{
	char text[64], small[8], why[256];
	vol_target t;
	ctl_format_time(v, text, sizeof(text));
	CHECK(strlen(text) == 30, "format_time(%" PRId64 ") = '%s'", v, text);
	int err = ctl_parse_time(text, nows[0], &t, why, sizeof(why));
	CHECK(err == 0 && t.kind == VOL_AT_TIME && t.time_ns == v,
	      "format_time(%" PRId64 ") = '%s' parses to err %d, %" PRId64
	      " (%s)", v, text, err, t.time_ns, err ? why : "");
	ctl_format_time(v, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small), "format_time overflow");

	ctl_format_duration(v, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text) - 1, "format_duration('%s')", text);
	ctl_format_duration(v, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small), "format_duration overflow");
	if (v >= 0 && v % S == 0)
		check_duration_roundtrip(v, "(format)");

	t = (vol_target){ .kind = VOL_AT_LSN, .lsn = (uint64_t)v };
	check_target_roundtrip(&t, nows[0], "(lsn)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < NNOWS; i++)
		for (int f = CTL_BACKTRACK; f <= CTL_WINDOW; f++)
			fuzz_command((ctl_file)f, data, size, nows[i]);

	/* The C-string parsers see the input up to its first NUL. */
	char *s = cstr(data, size);
	fuzz_duration(s);
	for (size_t i = 0; i < NNOWS; i++)
		fuzz_time(s, nows[i]);
	free(s);
	fuzz_name(data, size);

	if (size >= 8) {
		int64_t v;
		memcpy(&v, data, sizeof(v));
		fuzz_format(v);
	}
	return 0;
}
