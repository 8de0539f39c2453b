/*
 * ctl.h - the grammar of rewindfs control files (doc/control.md), as pure
 * functions: no FUSE, no engine calls, no clock reads (callers pass `now`).
 *
 * Error rule: every parser returns 0 or a POSITIVE errno (EINVAL: cannot
 * parse; ERANGE: a number that does not fit), and on failure writes a one-line
 * reason into why[whylen] (always NUL-terminated when whylen > 0, printable
 * ASCII only: input bytes outside 0x20..0x7e are shown as '?').
 * Thread-safe: no global state.
 */
#ifndef REWINDFS_FS_CTL_H
#define REWINDFS_FS_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "volume.h"

/* At most this many bytes per command write (doc/control.md), newline
 * included. One less than the smallest st_blksize (4096): stdio writes
 * longer output as pieces of st_blksize bytes, and the daemon refuses the
 * first of them as too long instead of taking it for a whole command. */
#define CTL_CMD_MAX 4095

/* The writable control files. */
typedef enum ctl_file {
	CTL_BACKTRACK = 0,
	CTL_CLONE,
	CTL_SNAPSHOT,
	CTL_WINDOW,
} ctl_file;

typedef enum ctl_op {
	CTL_OP_BACKTRACK,       /* .backtrack TIME                      */
	CTL_OP_RESET,           /* .backtrack reset                     */
	CTL_OP_CLONE,           /* .clone NAME [TIME]                   */
	CTL_OP_SNAPSHOT,        /* .snapshot NAME [TIME]                */
	CTL_OP_SNAPSHOT_DELETE, /* .snapshot -NAME                      */
	CTL_OP_WINDOW,          /* .window DURATION                     */
} ctl_op;

typedef struct ctl_cmd {
	ctl_op op;
	char name[VOL_NAME_MAX + 1]; /* clone / snapshot name            */
	vol_target target;           /* backtrack, clone, snapshot       */
	int64_t window_ns;           /* window                           */
} ctl_cmd;

/* 1-64 chars of [A-Za-z0-9._-], not starting with '.' (the engine's rule,
 * repeated here so this file needs no engine). */
int ctl_name_valid(const char *s, size_t len);

/* DURATION: "0", or one or more NUMBER UNIT terms with units d, h, m, s in
 * that order, each at most once ("90s", "1h30m", "7d"). Result in ns,
 * >= 0. ERANGE if it overflows int64 ns. */
int ctl_parse_duration(const char *s, int64_t *ns, char *why, size_t whylen);

/* TIME (doc/control.md): RFC 3339 ("2026-11-21T13:00:00Z", 'T', 't' or ' '
 * between date and time, 1-9 fraction digits, 'Z'/'z' or +-HH:MM), relative
 * "-DURATION" (resolved against now_ns to VOL_AT_TIME), "lsn:N", "@NAME",
 * "now". Fills *t completely. Times in the future are NOT rejected here: the
 * engine answers ERANGE for them with the volume's context. */
int ctl_parse_time(const char *s, int64_t now_ns, vol_target *t, char *why,
		   size_t whylen);

/* One command written to control file f: buf[0..len) (not NUL-terminated,
 * may hold anything). Leading and trailing white space is ignored; empty,
 * embedded NUL, or longer than CTL_CMD_MAX is EINVAL. */
int ctl_parse_command(ctl_file f, const char *buf, size_t len, int64_t now_ns,
		      ctl_cmd *out, char *why, size_t whylen);

/* RFC 3339 UTC with nanoseconds: "2026-11-21T13:00:00.000000000Z" (needs 31
 * bytes; 64 is plenty). Returns buf. */
char *ctl_format_time(int64_t ns, char *buf, size_t len);

/* Duration like "24h0m0s", "1m30.5s", "0s"; negative gets a '-'. Returns
 * buf. */
char *ctl_format_duration(int64_t ns, char *buf, size_t len);

/* "now", "time 2026-...Z", "lsn 42", "snapshot NAME": how a target reads in
 * the .backtrack history. Returns buf. */
char *ctl_format_target(const vol_target *t, char *buf, size_t len);

#endif /* REWINDFS_FS_CTL_H */
