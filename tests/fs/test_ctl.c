/*
 * test_ctl.c - the control-file grammar of fs/ctl.c (doc/control.md): every
 * accepted form of TIME, DURATION and each command, and many malformed ones,
 * each of which must be rejected with the documented errno and a reason.
 * Expected epoch values were taken from `date -u -d ... +%s`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

#define S INT64_C(1000000000)
#define NOW (INT64_C(1795266000) * S) /* 2026-11-21T13:00:00Z */

/* ------------------------------------------------------------ durations */

static int64_t dur_ok(const char *s)
{
	int64_t ns = -1;
	char why[256] = "";
	int err = ctl_parse_duration(s, &ns, why, sizeof(why));
	if (err)
		fail_msg("duration '%s' rejected: %s", s, why);
	return ns;
}

static void dur_bad(const char *s, int want)
{
	int64_t ns = 12345;
	char why[256] = "";
	int err = ctl_parse_duration(s, &ns, why, sizeof(why));
	if (err != want)
		fail_msg("duration '%s': got %d, want %d", s, err, want);
	assert_true(why[0] != '\0');
	assert_int_equal(ns, 12345); /* untouched on failure */
}

static void test_duration_ok(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("0"), 0);
	assert_int_equal(dur_ok("0s"), 0);
	assert_int_equal(dur_ok("90s"), 90 * S);
	assert_int_equal(dur_ok("30m"), 30 * 60 * S);
	assert_int_equal(dur_ok("72h"), 72 * 3600 * S);
	assert_int_equal(dur_ok("7d"), 7 * 86400 * S);
	assert_int_equal(dur_ok("1h30m"), 5400 * S);
	assert_int_equal(dur_ok("1d2h3m4s"), (86400 + 7200 + 180 + 4) * S);
	assert_int_equal(dur_ok("1d4s"), (86400 + 4) * S);
	assert_int_equal(dur_ok("007m"), 7 * 60 * S);
	assert_int_equal(dur_ok("100000s"), 100000 * S);
	assert_int_equal(dur_ok("106751d"), INT64_C(106751) * 86400 * S);
}

static void test_duration_bad(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "5", "00", "h", "s", "1x", "1H", "1h1h", "30m1h", "1s1d",
		"1.5h", "-5m", "+5m", " 5m", "5m ", "1h 30m", "5 m", "m5",
		"1w", "1y", "0x10s", "1e3s", "5mm", "1d1d", "٣s", "\t1s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		dur_bad(bad[i], EINVAL);
	dur_bad("106752d", ERANGE);
	dur_bad("9223372037s", ERANGE);
	dur_bad("99999999999999999999s", ERANGE);
	dur_bad("106751d23h59m59s", ERANGE);
}

/* ----------------------------------------------------------------- times */

static vol_target time_ok(const char *s)
{
	vol_target t;
	char why[256] = "";
	int err = ctl_parse_time(s, NOW, &t, why, sizeof(why));
	if (err)
		fail_msg("time '%s' rejected: %s", s, why);
	return t;
}

static int64_t abs_ok(const char *s)
{
	vol_target t = time_ok(s);
	if (t.kind != VOL_AT_TIME)
		fail_msg("time '%s': kind %d, want VOL_AT_TIME", s, (int)t.kind);
	return t.time_ns;
}

static void time_bad(const char *s, int want)
{
	vol_target t;
	char why[256] = "";
	int err = ctl_parse_time(s, NOW, &t, why, sizeof(why));
	if (err != want)
		fail_msg("time '%s': got %d, want %d", s, err, want);
	assert_true(why[0] != '\0');
}

static void test_time_rfc3339(void **state)
{
	(void)state;
	assert_int_equal(abs_ok("2026-11-21T13:00:00Z"), NOW);
	assert_int_equal(abs_ok("2026-11-21t13:00:00z"), NOW);
	assert_int_equal(abs_ok("2026-11-21 13:00:00Z"), NOW);
	assert_int_equal(abs_ok("2026-11-21T14:00:00+01:00"), NOW);
	assert_int_equal(abs_ok("2026-11-21T13:00:00+01:00"), NOW - 3600 * S);
	assert_int_equal(abs_ok("2026-11-21T08:30:00-04:30"), NOW);
	assert_int_equal(abs_ok("2026-11-21T13:00:00+00:00"), NOW);
	assert_int_equal(abs_ok("2026-11-21T13:00:00-00:00"), NOW);
	assert_int_equal(abs_ok("2026-11-21T13:00:00.5Z"), NOW + S / 2);
	assert_int_equal(abs_ok("2026-11-21T13:00:00.123456789Z"),
			 NOW + 123456789);
	assert_int_equal(abs_ok("2026-11-21T13:00:00.000000001Z"), NOW + 1);
	assert_int_equal(abs_ok("2026-11-21T14:00:00.123456789+01:00"),
			 NOW + 123456789);
	assert_int_equal(abs_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(abs_ok("2000-02-29T00:00:00Z"), INT64_C(951782400) * S);
	assert_int_equal(abs_ok("1969-07-20T20:17:40Z"), INT64_C(-14182940) * S);
	assert_int_equal(abs_ok("2024-12-31T23:59:59Z"),
			 INT64_C(1735689599) * S);
	assert_int_equal(abs_ok("2262-04-11T23:47:16Z"),
			 INT64_C(9223372036) * S);
}

static void test_time_rfc3339_bad(void **state)
{
	(void)state;
	const char *bad[] = {
		"2026-11-21T13:00:00",        /* no zone                 */
		"2026-11-21",                 /* no time                 */
		"2026-11-21T13:00Z",          /* no seconds              */
		"2026-11-21X13:00:00Z",       /* separator               */
		"2026-11-21T13:00:00ZZ",      /* trailing                */
		"2026-11-21T13:00:00Z ",      /* trailing space          */
		"2026-11-21T13:00:00.Z",      /* empty fraction          */
		"2026-11-21T13:00:00.1234567891Z", /* 10 fraction digits */
		"2026-11-21T13:00:00,5Z",     /* comma fraction          */
		"2026-11-21T13:00:00+0100",   /* offset without colon    */
		"2026-11-21T13:00:00+01",     /* short offset            */
		"2026-11-21T13:00:00+24:00",  /* offset hour             */
		"2026-11-21T13:00:00+01:60",  /* offset minute           */
		"2026-13-01T00:00:00Z",       /* month 13                */
		"2026-00-01T00:00:00Z",       /* month 0                 */
		"2026-11-31T00:00:00Z",       /* November 31             */
		"2026-11-00T00:00:00Z",       /* day 0                   */
		"2026-02-29T00:00:00Z",       /* not a leap year         */
		"1900-02-29T00:00:00Z",       /* century, not leap       */
		"2026-11-21T24:00:00Z",       /* hour 24                 */
		"2026-11-21T13:60:00Z",       /* minute 60               */
		"2026-11-21T13:00:60Z",       /* leap second             */
		"2026-1-21T13:00:00Z",        /* one-digit month         */
		"26-11-21T13:00:00Z",         /* two-digit year          */
		"2026/11/21T13:00:00Z",       /* slashes                 */
		"20261121T130000Z",           /* basic ISO format        */
		"2026-11-21T13:00:00 Z",      /* space before zone       */
		"2026-11-21T1:00:00Z",        /* one-digit hour          */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		time_bad(bad[i], EINVAL);
	time_bad("1600-01-01T00:00:00Z", ERANGE);
	time_bad("2263-01-01T00:00:00Z", ERANGE);
	time_bad("9999-12-31T23:59:59Z", ERANGE);
}

static void test_time_other_forms(void **state)
{
	(void)state;
	vol_target t;

	t = time_ok("now");
	assert_int_equal(t.kind, VOL_AT_NOW);

	assert_int_equal(abs_ok("-90s"), NOW - 90 * S);
	assert_int_equal(abs_ok("-10m"), NOW - 600 * S);
	assert_int_equal(abs_ok("-2h"), NOW - 7200 * S);
	assert_int_equal(abs_ok("-1d"), NOW - 86400 * S);
	assert_int_equal(abs_ok("-1h30m"), NOW - 5400 * S);
	assert_int_equal(abs_ok("-0"), NOW);

	t = time_ok("lsn:42");
	assert_int_equal(t.kind, VOL_AT_LSN);
	assert_int_equal(t.lsn, 42);
	t = time_ok("lsn:0");
	assert_int_equal(t.kind, VOL_AT_LSN);
	assert_int_equal(t.lsn, 0);
	t = time_ok("lsn:18446744073709551615");
	assert_true(t.lsn == UINT64_MAX);

	t = time_ok("@daily");
	assert_int_equal(t.kind, VOL_AT_SNAPSHOT);
	assert_string_equal(t.snapshot, "daily");
	t = time_ok("@before-migration_2.0");
	assert_string_equal(t.snapshot, "before-migration_2.0");
	char longest[1 + VOL_NAME_MAX + 1];
	longest[0] = '@';
	memset(longest + 1, 'a', VOL_NAME_MAX);
	longest[1 + VOL_NAME_MAX] = '\0';
	t = time_ok(longest);
	assert_int_equal(strlen(t.snapshot), VOL_NAME_MAX);
}

static void test_time_other_bad(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "NOW", "Now", "now ", "yesterday", "+10m", "-", "--5m",
		"-5", "-5x", "-1h1h", "- 5m", "lsn:", "lsn:-1", "lsn:1x",
		"lsn: 5", "LSN:5", "lsn5", "lsn:0x10", "@", "@.hidden",
		"@a b", "@a/b", "@a@b", "@é", "13:00", "T13:00:00Z", "1795266000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		time_bad(bad[i], EINVAL);
	time_bad("lsn:18446744073709551616", ERANGE);
	time_bad("lsn:99999999999999999999999", ERANGE);
	time_bad("-106752d", ERANGE);
	char toolong[1 + VOL_NAME_MAX + 2];
	toolong[0] = '@';
	memset(toolong + 1, 'a', VOL_NAME_MAX + 1);
	toolong[1 + VOL_NAME_MAX + 1] = '\0';
	time_bad(toolong, EINVAL);
}

/* The whole int64 range parses, to the nanosecond at both ends (the fuzzer's
 * format/parse round trip found the last second before INT64_MIN refused). */
static void test_time_range_edges(void **state)
{
	(void)state;
	char b[64];
	assert_true(abs_ok("1677-09-21T00:12:43.145224192Z") == INT64_MIN);
	assert_true(abs_ok("1677-09-21T00:12:43.145224193Z") == INT64_MIN + 1);
	assert_true(abs_ok("1677-09-21T00:12:44Z") ==
		    INT64_MIN + 854775808); /* first whole second */
	assert_true(abs_ok("2262-04-11T23:47:16.854775807Z") == INT64_MAX);
	assert_true(abs_ok("1677-09-21T01:12:43.145224192+01:00") == INT64_MIN);
	time_bad("1677-09-21T00:12:43.145224191Z", ERANGE);
	time_bad("1677-09-21T00:12:43Z", ERANGE);
	time_bad("1677-09-21T00:12:42.999999999Z", ERANGE);
	time_bad("2262-04-11T23:47:16.854775808Z", ERANGE);
	time_bad("2262-04-11T23:47:17Z", ERANGE);
	time_bad("1677-09-21T00:12:43.145224192+00:01", ERANGE);
	/* What the formatter prints for either end parses back. */
	assert_true(abs_ok(ctl_format_time(INT64_MIN, b, sizeof(b))) ==
		    INT64_MIN);
	assert_true(abs_ok(ctl_format_time(INT64_MAX, b, sizeof(b))) ==
		    INT64_MAX);
	/* A relative time may land exactly on INT64_MIN, not past it. */
	vol_target t;
	char why[128];
	assert_int_equal(ctl_parse_time("-0", INT64_MIN, &t, why, sizeof(why)),
			 0);
	assert_true(t.time_ns == INT64_MIN);
	assert_int_equal(ctl_parse_time("-1s", INT64_MIN + S, &t, why,
					sizeof(why)), 0);
	assert_true(t.time_ns == INT64_MIN);
	assert_int_equal(ctl_parse_time("-1s", INT64_MIN + S - 1, &t, why,
					sizeof(why)), ERANGE);
}

/* -------------------------------------------------------------- commands */

static ctl_cmd cmd_ok(ctl_file f, const char *s)
{
	ctl_cmd c;
	char why[256] = "";
	int err = ctl_parse_command(f, s, strlen(s), NOW, &c, why, sizeof(why));
	if (err)
		fail_msg("command '%s' rejected: %s", s, why);
	return c;
}

static void cmd_bad_n(ctl_file f, const char *s, size_t len, int want)
{
	ctl_cmd c;
	char why[256] = "";
	int err = ctl_parse_command(f, s, len, NOW, &c, why, sizeof(why));
	if (err != want)
		fail_msg("command '%.60s' on file %d: got %d, want %d", s, (int)f,
			 err, want);
	assert_true(why[0] != '\0');
}

static void cmd_bad(ctl_file f, const char *s, int want)
{
	cmd_bad_n(f, s, strlen(s), want);
}

static void test_cmd_backtrack(void **state)
{
	(void)state;
	ctl_cmd c = cmd_ok(CTL_BACKTRACK, "-10m\n");
	assert_int_equal(c.op, CTL_OP_BACKTRACK);
	assert_int_equal(c.target.kind, VOL_AT_TIME);
	assert_int_equal(c.target.time_ns, NOW - 600 * S);

	c = cmd_ok(CTL_BACKTRACK, "  \t2026-11-21 13:00:00Z \r\n");
	assert_int_equal(c.target.kind, VOL_AT_TIME);
	assert_int_equal(c.target.time_ns, NOW);

	c = cmd_ok(CTL_BACKTRACK, "lsn:7");
	assert_int_equal(c.target.kind, VOL_AT_LSN);
	assert_int_equal(c.target.lsn, 7);

	c = cmd_ok(CTL_BACKTRACK, "@snap\n");
	assert_int_equal(c.target.kind, VOL_AT_SNAPSHOT);
	assert_string_equal(c.target.snapshot, "snap");

	c = cmd_ok(CTL_BACKTRACK, "reset\n");
	assert_int_equal(c.op, CTL_OP_RESET);

	cmd_bad(CTL_BACKTRACK, "", EINVAL);
	cmd_bad(CTL_BACKTRACK, "\n", EINVAL);
	cmd_bad(CTL_BACKTRACK, "   \n\n", EINVAL);
	cmd_bad(CTL_BACKTRACK, "reset now", EINVAL);
	cmd_bad(CTL_BACKTRACK, "RESET", EINVAL);
	cmd_bad(CTL_BACKTRACK, "-10m -5m", EINVAL);
	cmd_bad(CTL_BACKTRACK, "2026-11-21T25:00:00Z", EINVAL);
	cmd_bad(CTL_BACKTRACK, "lsn:99999999999999999999", ERANGE);
	cmd_bad_n(CTL_BACKTRACK, "-10m\0x", 6, EINVAL);
	cmd_bad_n(CTL_BACKTRACK, "\0", 1, EINVAL);
}

static void test_cmd_length(void **state)
{
	(void)state;
	static char buf[CTL_CMD_MAX + 2];
	/* Below the smallest st_blksize (a 4096-byte pool page), so the first
	 * piece stdio writes of a longer command is refused, never applied
	 * (doc/control.md, write semantics; tests/fuzz/ctl_writes.sh). */
	assert_true(CTL_CMD_MAX < 4096);
	/* Exactly CTL_CMD_MAX bytes: white space around a valid command. */
	memset(buf, ' ', CTL_CMD_MAX);
	memcpy(buf + 10, "-10m", 4);
	ctl_cmd c;
	char why[128];
	assert_int_equal(ctl_parse_command(CTL_BACKTRACK, buf, CTL_CMD_MAX, NOW,
					   &c, why, sizeof(why)), 0);
	assert_int_equal(c.target.time_ns, NOW - 600 * S);
	/* One more byte is too long, whatever it holds. */
	buf[CTL_CMD_MAX] = ' ';
	cmd_bad_n(CTL_BACKTRACK, buf, CTL_CMD_MAX + 1, EINVAL);
	/* A long garbage command is rejected without overflowing `why`. */
	memset(buf, 'x', CTL_CMD_MAX);
	buf[CTL_CMD_MAX] = '\0';
	cmd_bad_n(CTL_CLONE, buf, CTL_CMD_MAX, EINVAL);
	cmd_bad_n(CTL_BACKTRACK, buf, CTL_CMD_MAX, EINVAL);
	cmd_bad_n(CTL_SNAPSHOT, buf, CTL_CMD_MAX, EINVAL);
	cmd_bad_n(CTL_WINDOW, buf, CTL_CMD_MAX, EINVAL);
	/* A tiny why buffer is still NUL-terminated. */
	char tiny[4];
	assert_int_equal(ctl_parse_command(CTL_WINDOW, "x", 1, NOW, &c, tiny,
					   sizeof(tiny)), EINVAL);
	assert_true(strlen(tiny) < sizeof(tiny));
}

/* The reason of a refused command is one line of printable ASCII whatever
 * the command held (it goes into .status and the log): the fuzzer found
 * newlines and other bytes copied through. */
static void test_why_printable(void **state)
{
	(void)state;
	static const char *junk[] = {
		"a\nlast_error: none", "x\ry", "\x01\x02\x7f", "\xff\xfe\xc3\xa9",
		"1h\v2m", "c \x1b[31m", "-\x80", "@\x7f", "lsn:\x85",
		"2026-11-21T13:00:00\x0cZ",
	};
	for (ctl_file f = CTL_BACKTRACK; f <= CTL_WINDOW; f++) {
		for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
			ctl_cmd c;
			char why[256] = "";
			int err = ctl_parse_command(f, junk[i], strlen(junk[i]),
						    NOW, &c, why, sizeof(why));
			assert_int_equal(err, EINVAL);
			assert_true(why[0] != '\0');
			for (const char *p = why; *p; p++)
				if (*p < 0x20 || *p > 0x7e)
					fail_msg("file %d, junk %zu: byte 0x%02x in"
						 " why: %s", (int)f, i,
						 (unsigned char)*p, why);
		}
	}
	/* The bytes still show where they were, as '?'. */
	char why[256];
	int64_t ns;
	assert_int_equal(ctl_parse_duration("1h\r5m", &ns, why, sizeof(why)),
			 EINVAL);
	assert_non_null(strstr(why, "'1h?5m'"));
}

static void test_cmd_clone(void **state)
{
	(void)state;
	ctl_cmd c = cmd_ok(CTL_CLONE, "test1\n");
	assert_int_equal(c.op, CTL_OP_CLONE);
	assert_string_equal(c.name, "test1");
	assert_int_equal(c.target.kind, VOL_AT_NOW);

	c = cmd_ok(CTL_CLONE, "yesterday -1d");
	assert_string_equal(c.name, "yesterday");
	assert_int_equal(c.target.kind, VOL_AT_TIME);
	assert_int_equal(c.target.time_ns, NOW - 86400 * S);

	c = cmd_ok(CTL_CLONE, "b\t  2026-11-21 13:00:00Z\n");
	assert_string_equal(c.name, "b");
	assert_int_equal(c.target.time_ns, NOW);

	c = cmd_ok(CTL_CLONE, "b lsn:5");
	assert_int_equal(c.target.kind, VOL_AT_LSN);
	c = cmd_ok(CTL_CLONE, "b @nightly");
	assert_int_equal(c.target.kind, VOL_AT_SNAPSHOT);
	assert_string_equal(c.target.snapshot, "nightly");
	c = cmd_ok(CTL_CLONE, "b now");
	assert_int_equal(c.target.kind, VOL_AT_NOW);
	c = cmd_ok(CTL_CLONE, "-dash");
	assert_string_equal(c.name, "-dash");

	cmd_bad(CTL_CLONE, "", EINVAL);
	cmd_bad(CTL_CLONE, ".hidden", EINVAL);
	cmd_bad(CTL_CLONE, "a/b", EINVAL);
	cmd_bad(CTL_CLONE, "a@b", EINVAL);
	cmd_bad(CTL_CLONE, "naïve", EINVAL);
	cmd_bad(CTL_CLONE, "b c", EINVAL);
	cmd_bad(CTL_CLONE, "b -10x", EINVAL);
	cmd_bad(CTL_CLONE, "b -10m extra", EINVAL);
	cmd_bad(CTL_CLONE, "b 2026-11-21T13:00:00", EINVAL);
	char name[VOL_NAME_MAX + 2];
	memset(name, 'n', VOL_NAME_MAX);
	name[VOL_NAME_MAX] = '\0';
	c = cmd_ok(CTL_CLONE, name);
	assert_int_equal(strlen(c.name), VOL_NAME_MAX);
	name[VOL_NAME_MAX] = 'n';
	name[VOL_NAME_MAX + 1] = '\0';
	cmd_bad(CTL_CLONE, name, EINVAL);
}

static void test_cmd_snapshot(void **state)
{
	(void)state;
	ctl_cmd c = cmd_ok(CTL_SNAPSHOT, "nightly\n");
	assert_int_equal(c.op, CTL_OP_SNAPSHOT);
	assert_string_equal(c.name, "nightly");
	assert_int_equal(c.target.kind, VOL_AT_NOW);

	c = cmd_ok(CTL_SNAPSHOT, "before -2h");
	assert_int_equal(c.op, CTL_OP_SNAPSHOT);
	assert_int_equal(c.target.time_ns, NOW - 7200 * S);

	c = cmd_ok(CTL_SNAPSHOT, "-nightly\n");
	assert_int_equal(c.op, CTL_OP_SNAPSHOT_DELETE);
	assert_string_equal(c.name, "nightly");

	cmd_bad(CTL_SNAPSHOT, "-", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "- nightly", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "-nightly now", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "-.x", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "a b", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "a -1q", EINVAL);
	cmd_bad(CTL_SNAPSHOT, "\n", EINVAL);
}

static void test_cmd_window(void **state)
{
	(void)state;
	ctl_cmd c = cmd_ok(CTL_WINDOW, "72h\n");
	assert_int_equal(c.op, CTL_OP_WINDOW);
	assert_int_equal(c.window_ns, 72 * 3600 * S);
	c = cmd_ok(CTL_WINDOW, "0\n");
	assert_int_equal(c.window_ns, 0);
	c = cmd_ok(CTL_WINDOW, " 1h30m ");
	assert_int_equal(c.window_ns, 5400 * S);

	cmd_bad(CTL_WINDOW, "72", EINVAL);
	cmd_bad(CTL_WINDOW, "-1h", EINVAL);
	cmd_bad(CTL_WINDOW, "1h 30m", EINVAL);
	cmd_bad(CTL_WINDOW, "forever", EINVAL);
	cmd_bad(CTL_WINDOW, "", EINVAL);
	cmd_bad(CTL_WINDOW, "999999999d", ERANGE);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(ctl_name_valid("a", 1));
	assert_true(ctl_name_valid("A-z_0.9", 7));
	assert_true(ctl_name_valid("-x", 2));
	assert_false(ctl_name_valid("", 0));
	assert_false(ctl_name_valid(".", 1));
	assert_false(ctl_name_valid("..", 2));
	assert_false(ctl_name_valid(".x", 2));
	assert_false(ctl_name_valid("a b", 3));
	assert_false(ctl_name_valid("a/b", 3));
	assert_false(ctl_name_valid("a\nb", 3));
}

/* ------------------------------------------------------------ formatting */

static void test_format(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(ctl_format_time(0, b, sizeof(b)),
			    "1970-01-01T00:00:00.000000000Z");
	assert_string_equal(ctl_format_time(NOW + 123456789, b, sizeof(b)),
			    "2026-11-21T13:00:00.123456789Z");
	assert_string_equal(ctl_format_time(INT64_C(951782400) * S, b, sizeof(b)),
			    "2000-02-29T00:00:00.000000000Z");
	assert_string_equal(ctl_format_time(-1, b, sizeof(b)),
			    "1969-12-31T23:59:59.999999999Z");

	/* Round trip through the parser, including negative times. */
	const int64_t samples[] = { 0, 1, NOW, NOW + 999999999, -1,
				    INT64_C(-14182940) * S + 5,
				    INT64_C(951868799) * S, /* 2000-02-29 23:59:59 */
				    INT64_C(4102444800) * S /* 2100-01-01 */ };
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		assert_int_equal(abs_ok(ctl_format_time(samples[i], b, sizeof(b))),
				 samples[i]);

	assert_string_equal(ctl_format_duration(0, b, sizeof(b)), "0s");
	assert_string_equal(ctl_format_duration(90 * S, b, sizeof(b)), "1m30s");
	assert_string_equal(ctl_format_duration(86400 * S, b, sizeof(b)),
			    "24h0m0s");
	assert_string_equal(ctl_format_duration(7 * 86400 * S, b, sizeof(b)),
			    "168h0m0s");
	assert_string_equal(ctl_format_duration(S + S / 2, b, sizeof(b)), "1.5s");
	assert_string_equal(ctl_format_duration(3600 * S + 1, b, sizeof(b)),
			    "1h0m0.000000001s");
	assert_string_equal(ctl_format_duration(-90 * S, b, sizeof(b)), "-1m30s");

	vol_target t = { .kind = VOL_AT_LSN, .lsn = 9 };
	assert_string_equal(ctl_format_target(&t, b, sizeof(b)), "lsn:9");
	t = (vol_target){ .kind = VOL_AT_SNAPSHOT };
	strcpy(t.snapshot, "s1");
	assert_string_equal(ctl_format_target(&t, b, sizeof(b)), "@s1");
	t = (vol_target){ .kind = VOL_AT_TIME, .time_ns = NOW };
	assert_string_equal(ctl_format_target(&t, b, sizeof(b)),
			    "2026-11-21T13:00:00.000000000Z");
	t = (vol_target){ .kind = VOL_AT_NOW };
	assert_string_equal(ctl_format_target(&t, b, sizeof(b)), "now");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_time_rfc3339_bad),
		cmocka_unit_test(test_time_other_forms),
		cmocka_unit_test(test_time_other_bad),
		cmocka_unit_test(test_time_range_edges),
		cmocka_unit_test(test_cmd_backtrack),
		cmocka_unit_test(test_cmd_length),
		cmocka_unit_test(test_why_printable),
		cmocka_unit_test(test_cmd_clone),
		cmocka_unit_test(test_cmd_snapshot),
		cmocka_unit_test(test_cmd_window),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
