/*
 * ctl.c - parsing and formatting for rewindfs control files.
 *
 * Design: the daemon (ops.c) hands every control-file write here untouched,
 * and acts only on a fully parsed ctl_cmd. Parsing is strict: anything the
 * grammar of doc/control.md does not name is EINVAL, so a typo never turns
 * into a different command. Nothing here reads a clock or touches the engine
 * (the caller passes `now`), which keeps every form unit-testable
 * (tests/fs/test_ctl.c).
 *
 * Calendar arithmetic is proleptic Gregorian on days since 1970-01-01, done
 * by hand so that no time zone or libc locale state can leak in.
 */
#include "ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

static int fail(int err, char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The reason goes into .status and the log, one line of text whatever the
 * command held: every byte outside printable ASCII (control characters such
 * as CR, bytes of other encodings) becomes '?'. */
static int fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
		for (char *c = why; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				*c = '?';
	}
	return err;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

int ctl_name_valid(const char *s, size_t len)
{
	if (len < 1 || len > VOL_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      is_digit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------- durations */

int ctl_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen)
{
	static const struct { char unit; int64_t ns; } units[] = {
		{ 'd', 86400 * NS_PER_S }, { 'h', 3600 * NS_PER_S },
		{ 'm', 60 * NS_PER_S },    { 's', NS_PER_S },
	};
	const size_t nunits = sizeof(units) / sizeof(units[0]);
	size_t next_unit = 0; /* units must come in the order of units[] */
	int64_t total = 0;
	const char *p = s;

	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (*p == '\0')
		return fail(EINVAL, why, whylen, "empty duration");
	while (*p) {
		uint64_t n = 0;
		const char *digits = p;
		size_t u;

		while (is_digit(*p)) {
			if (n > (UINT64_MAX - 9) / 10)
				return fail(ERANGE, why, whylen,
					    "duration '%s' is too large", s);
			n = n * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (p == digits)
			return fail(EINVAL, why, whylen,
				    "bad duration '%s': expected a number at '%s'"
				    " (forms: 0, 90s, 30m, 72h, 7d, 1h30m)", s, p);
		for (u = next_unit; u < nunits; u++)
			if (units[u].unit == *p)
				break;
		if (*p == '\0')
			return fail(EINVAL, why, whylen,
				    "bad duration '%s': a number needs a unit"
				    " (s, m, h, d)", s);
		if (u == nunits)
			return fail(EINVAL, why, whylen,
				    "bad duration '%s': unit '%c' unknown or out"
				    " of order (d h m s, each at most once)", s, *p);
		if (n > (uint64_t)(INT64_MAX / units[u].ns) ||
		    (int64_t)n * units[u].ns > INT64_MAX - total)
			return fail(ERANGE, why, whylen,
				    "duration '%s' is too large", s);
		total += (int64_t)n * units[u].ns;
		next_unit = u + 1;
		p++;
	}
	*ns = total;
	return 0;
}

/* ----------------------------------------------------------------- times */

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned d[12] = { 31, 28, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a valid civil date (shift the year to start in
 * March so the leap day is last, then count 400-year eras). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12; /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Exactly n digits at *p; advances *p. */
static bool take_digits(const char **p, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool take_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int parse_rfc3339(const char *s, int64_t *ns, char *why, size_t whylen)
{
	const char *p = s;
	unsigned year, mon, day, hh, mm, ss, oh = 0, om = 0;
	int64_t frac = 0, off_s = 0;

	if (!take_digits(&p, 4, &year) || !take_char(&p, '-') ||
	    !take_digits(&p, 2, &mon) || !take_char(&p, '-') ||
	    !take_digits(&p, 2, &day))
		goto syntax;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto syntax;
	p++;
	if (!take_digits(&p, 2, &hh) || !take_char(&p, ':') ||
	    !take_digits(&p, 2, &mm) || !take_char(&p, ':') ||
	    !take_digits(&p, 2, &ss))
		goto syntax;
	if (*p == '.') {
		int n = 0;
		p++;
		while (is_digit(*p)) {
			if (++n > 9)
				return fail(EINVAL, why, whylen,
					    "bad time '%s': more than 9 fraction"
					    " digits", s);
			frac = frac * 10 + (*p - '0');
			p++;
		}
		if (n == 0)
			goto syntax;
		for (; n < 9; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		p++;
		if (!take_digits(&p, 2, &oh) || !take_char(&p, ':') ||
		    !take_digits(&p, 2, &om))
			goto syntax;
		if (oh > 23 || om > 59)
			return fail(EINVAL, why, whylen,
				    "bad time '%s': UTC offset out of range", s);
		off_s = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		goto syntax;
	}
	if (*p != '\0')
		goto syntax;
	if (mon < 1 || mon > 12 || day < 1 || day > month_days(year, mon) ||
	    hh > 23 || mm > 59 || ss > 59)
		return fail(EINVAL, why, whylen,
			    "bad time '%s': no such date or time of day", s);

	int64_t secs = days_from_civil(year, mon, day) * 86400 +
		       (int64_t)(hh * 3600 + mm * 60 + ss) - off_s;
	/* int64 ns spans 1677-09-21T00:12:43.145224192Z ..
	 * 2262-04-11T23:47:16.854775807Z, and every instant ctl_format_time
	 * prints must parse back. Below zero, (secs + 1) s - (1 s - frac)
	 * reaches INT64_MIN without the product secs * NS_PER_S overflowing
	 * in the last second of the range. */
	if (secs > (INT64_MAX - frac) / NS_PER_S ||
	    secs < INT64_MIN / NS_PER_S - 1 ||
	    (secs < 0 && (secs + 1) * NS_PER_S < INT64_MIN + (NS_PER_S - frac)))
		return fail(ERANGE, why, whylen,
			    "time '%s' is outside 1677-09-21..2262-04-11", s);
	*ns = secs < 0 ? (secs + 1) * NS_PER_S - (NS_PER_S - frac)
		       : secs * NS_PER_S + frac;
	return 0;
syntax:
	return fail(EINVAL, why, whylen,
		    "bad time '%s': expected RFC 3339 like"
		    " 2026-11-21T13:00:00Z or 2026-11-21T13:00:00.5+01:00", s);
}

int ctl_parse_time(const char *s, int64_t now_ns, vol_target *t, char *why,
		   size_t whylen)
{
	memset(t, 0, sizeof(*t));
	if (strcmp(s, "now") == 0) {
		t->kind = VOL_AT_NOW;
		return 0;
	}
	if (strncmp(s, "lsn:", 4) == 0) {
		const char *p = s + 4;
		uint64_t n = 0;
		if (*p == '\0')
			return fail(EINVAL, why, whylen,
				    "bad time '%s': lsn: needs a number", s);
		for (; *p; p++) {
			if (!is_digit(*p))
				return fail(EINVAL, why, whylen,
					    "bad time '%s': lsn: takes a decimal"
					    " number", s);
			if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return fail(ERANGE, why, whylen,
					    "bad time '%s': LSN too large", s);
			n = n * 10 + (uint64_t)(*p - '0');
		}
		t->kind = VOL_AT_LSN;
		t->lsn = n;
		return 0;
	}
	if (s[0] == '@') {
		size_t len = strlen(s + 1);
		if (!ctl_name_valid(s + 1, len))
			return fail(EINVAL, why, whylen,
				    "bad snapshot name in '%s' (1-64 of"
				    " A-Z a-z 0-9 . _ -, not starting with '.')", s);
		t->kind = VOL_AT_SNAPSHOT;
		memcpy(t->snapshot, s + 1, len + 1);
		return 0;
	}
	if (s[0] == '-') {
		int64_t d;
		int err = ctl_parse_duration(s + 1, &d, why, whylen);
		if (err)
			return err;
		if (now_ns < INT64_MIN + d)
			return fail(ERANGE, why, whylen,
				    "time '%s' is too far back", s);
		t->kind = VOL_AT_TIME;
		t->time_ns = now_ns - d;
		return 0;
	}
	if (is_digit(s[0])) {
		int err = parse_rfc3339(s, &t->time_ns, why, whylen);
		if (err)
			return err;
		t->kind = VOL_AT_TIME;
		return 0;
	}
	return fail(EINVAL, why, whylen,
		    "bad time '%s' (forms: RFC 3339, -10m, lsn:N, @SNAPSHOT, now)",
		    s[0] ? s : "");
}

/* -------------------------------------------------------------- commands */

/* Split "NAME[ ws REST]" and parse NAME plus optional TIME from REST. */
static int parse_name_time(const char *what, char *s, int64_t now_ns,
			   ctl_cmd *out, char *why, size_t whylen)
{
	char *rest = s;
	while (*rest && !is_space(*rest))
		rest++;
	size_t nlen = (size_t)(rest - s);
	while (is_space(*rest))
		*rest++ = '\0';
	if (!ctl_name_valid(s, nlen))
		return fail(EINVAL, why, whylen,
			    "bad %s name '%.*s' (1-64 of A-Z a-z 0-9 . _ -, not"
			    " starting with '.')", what, (int)(nlen > 80 ? 80 : nlen), s);
	memcpy(out->name, s, nlen);
	out->name[nlen] = '\0';
	if (*rest == '\0') {
		out->target.kind = VOL_AT_NOW;
		return 0;
	}
	return ctl_parse_time(rest, now_ns, &out->target, why, whylen);
}

int ctl_parse_command(ctl_file f, const char *buf, size_t len, int64_t now_ns,
		      ctl_cmd *out, char *why, size_t whylen)
{
	char s[CTL_CMD_MAX + 1];
	size_t a = 0, b = len;

	memset(out, 0, sizeof(*out));
	if (len > CTL_CMD_MAX)
		return fail(EINVAL, why, whylen,
			    "command longer than %d bytes", CTL_CMD_MAX);
	if (memchr(buf, '\0', len))
		return fail(EINVAL, why, whylen, "command contains a NUL byte");
	while (a < b && is_space(buf[a]))
		a++;
	while (b > a && is_space(buf[b - 1]))
		b--;
	if (a == b)
		return fail(EINVAL, why, whylen, "empty command");
	memcpy(s, buf + a, b - a);
	s[b - a] = '\0';

	switch (f) {
	case CTL_BACKTRACK:
		if (strcmp(s, "reset") == 0) {
			out->op = CTL_OP_RESET;
			return 0;
		}
		out->op = CTL_OP_BACKTRACK;
		return ctl_parse_time(s, now_ns, &out->target, why, whylen);
	case CTL_CLONE:
		out->op = CTL_OP_CLONE;
		return parse_name_time("clone", s, now_ns, out, why, whylen);
	case CTL_SNAPSHOT:
		if (s[0] == '-') {
			size_t nlen = strlen(s + 1);
			if (!ctl_name_valid(s + 1, nlen))
				return fail(EINVAL, why, whylen,
					    "bad snapshot name in '%.80s'", s);
			out->op = CTL_OP_SNAPSHOT_DELETE;
			memcpy(out->name, s + 1, nlen + 1);
			return 0;
		}
		out->op = CTL_OP_SNAPSHOT;
		return parse_name_time("snapshot", s, now_ns, out, why, whylen);
	case CTL_WINDOW:
		out->op = CTL_OP_WINDOW;
		return ctl_parse_duration(s, &out->window_ns, why, whylen);
	}
	return fail(EINVAL, why, whylen, "not a writable control file");
}

/* ------------------------------------------------------------ formatting */

char *ctl_format_time(int64_t ns, char *buf, size_t len)
{
	int64_t secs = ns / NS_PER_S, frac = ns % NS_PER_S;
	if (frac < 0) {
		frac += NS_PER_S;
		secs--;
	}
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%09uZ", y, m,
		 d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
		 (unsigned)(sod % 60), (unsigned)frac);
	return buf;
}

char *ctl_format_duration(int64_t ns, char *buf, size_t len)
{
	const char *sign = "";
	uint64_t u = (uint64_t)ns;
	if (ns < 0) {
		sign = "-";
		u = 0 - u;
	}
	uint64_t secs = u / 1000000000u, frac = u % 1000000000u;
	char fs[16] = "";
	if (frac) {
		int digits = 9;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(fs, sizeof(fs), ".%0*" PRIu64, digits, frac);
	}
	if (secs < 60)
		snprintf(buf, len, "%s%" PRIu64 "%ss", sign, secs, fs);
	else if (secs < 3600)
		snprintf(buf, len, "%s%" PRIu64 "m%" PRIu64 "%ss", sign,
			 secs / 60, secs % 60, fs);
	else
		snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss",
			 sign, secs / 3600, secs / 60 % 60, secs % 60, fs);
	return buf;
}

char *ctl_format_target(const vol_target *t, char *buf, size_t len)
{
	char tb[64];
	switch (t->kind) {
	case VOL_AT_NOW:
		snprintf(buf, len, "now");
		break;
	case VOL_AT_TIME:
		snprintf(buf, len, "%s",
			 ctl_format_time(t->time_ns, tb, sizeof(tb)));
		break;
	case VOL_AT_LSN:
		snprintf(buf, len, "lsn:%" PRIu64, t->lsn);
		break;
	case VOL_AT_SNAPSHOT:
		snprintf(buf, len, "@%s", t->snapshot);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}
