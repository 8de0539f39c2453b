/*
 * ctl_util.h - helpers of rewindctl that know nothing about its commands:
 * running programs, reading and writing control files, parsing sizes and
 * times, finding what is attached where, finding which processes hold a
 * mount or a file, and turning control-file text into JSON.
 *
 * Error rule: functions returning int return 0 on success or a POSITIVE
 * errno; a function that fails with a reason more specific than its errno
 * prints it on stderr prefixed "rewindctl: " itself (and says so below).
 * Nothing here keeps global state; nothing here opens the pool.
 */
#ifndef REWINDFS_CTL_UTIL_H
#define REWINDFS_CTL_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ------------------------------------------------------------ programs */

/* Run argv[0] (searched in PATH) with argv, wait for it. Returns its exit
 * status (0-255), 128+signal if it was killed, or -1 (with a message on
 * stderr) if it could not be started. Its stdout and stderr are ours unless
 * quiet, then stdout goes to /dev/null (stderr is kept for diagnostics). */
int ctl_run(char *const argv[], bool quiet);

/* As ctl_run, but stdout is captured into out[outlen] (NUL-terminated,
 * trailing newlines removed, truncated if longer). */
int ctl_run_capture(char *const argv[], char *out, size_t outlen);

/* Sleep ms milliseconds: the step of bounded polling loops. */
void ctl_pause_ms(unsigned ms);

/* --------------------------------------------------------------- files */

/* The whole content of a (control) file, malloc'ed and NUL-terminated, into
 * *out; the caller frees it. */
int ctl_read_file(const char *path, char **out);

/* One command to a control file: one write(2) of cmd plus a newline at offset
 * 0 (like `echo CMD > FILE`), then close. Returns the errno of the write or of
 * the close. */
int ctl_write_cmd(const char *path, const char *cmd);

/* The value of the first "key: value" line of text, copied to val[len]
 * (NUL-terminated). Returns false if there is no such line. */
bool ctl_text_value(const char *text, const char *key, char *val, size_t len);

/* ------------------------------------------------------------- parsing */

/* SIZE: bytes, with an optional binary suffix K, M, G, T, P (also written
 * KiB/KB/k...): "4096", "512M", "10G". EINVAL or ERANGE. */
int ctl_parse_size(const char *s, uint64_t *bytes);

/* DURATION terms: NUMBER UNIT ..., units d h m s ("90s", "1h30m"), or "0".
 * EINVAL or ERANGE. */
int ctl_parse_duration(const char *s, int64_t *ns);

/* A TIME argument as the operator typed it, made absolute: "-10m" becomes
 * the RFC 3339 UTC time ten minutes before now (so that a command that
 * first has to unmount something still means the moment it was typed);
 * anything else is copied unchanged and left to the daemon to judge.
 * EINVAL (bad relative time) or ERANGE (too long). */
int ctl_time_absolute(const char *s, char *out, size_t len);

/* --------------------------------------------------------------- mounts */

typedef struct ctl_mount {
	char dir[PATH_MAX];    /* mount point                            */
	char source[PATH_MAX]; /* /dev/loop3, the image file of fuse2fs  */
	char fstype[64];       /* ext4, xfs, fuse.ext4, fuse.rewindfs    */
	unsigned major, minor; /* st_dev of the mounted filesystem       */
} ctl_mount;

/* The mount whose mount point is exactly dir (an absolute, resolved path).
 * ENOENT if dir is not a mount point. */
int ctl_mount_at(const char *dir, ctl_mount *out);

/* How a volume is attached at one place. */
typedef struct ctl_attach {
	ctl_mount mnt;         /* where, and what is mounted              */
	char file[PATH_MAX];   /* the block file                          */
	char loop[64];         /* /dev/loopN, "" for fuse2fs              */
	bool fuse2fs;
} ctl_attach;

/* Every place where the block file `volfile` (absolute, resolved) is
 * attached: mounts of loop devices whose backing file it is, and fuse2fs
 * mounts of it. Derived from /sys/block/loop* and /proc/self/mountinfo, so
 * it is right whoever attached it. *out is malloc'ed (free it), may be NULL
 * when *n is 0. Loop devices backed by it but not mounted are reported with
 * an empty mnt.dir. */
int ctl_attach_list(const char *volfile, ctl_attach **out, size_t *n);

/* Every attachment of any block file under the folder `mnt` (a rewindfs
 * mount point): for `rewindctl umount`. Same ownership as above. */
int ctl_attach_list_under(const char *mnt, ctl_attach **out, size_t *n);

/* The block file behind loop device dev ("/dev/loop3") into file[len]. */
int ctl_loop_file(const char *dev, char *file, size_t len);

/* ------------------------------------------------------------ processes */

/* Processes (other than this one) using the filesystem with device
 * major:minor (ino == 0), or the file (major:minor, ino): through an open
 * file, their cwd, root, executable or a memory mapping. Writes
 * "postgres (pid 812), bash (pid 77)" into names[len] and returns how many
 * processes were found. */
size_t ctl_procs_using(unsigned major, unsigned minor, ino_t ino, char *names,
		       size_t len);

/* Processes whose command name (basename of argv[0]) is prog and whose
 * arguments include arg: e.g. the rewindfs daemon serving a mount point.
 * Returns the first pid found or 0. */
pid_t ctl_find_process(const char *prog, const char *arg);

/* ----------------------------------------------------------------- json */

/* Print a control file's text (key: value lines, "- k=v ..." list items
 * following a "key: N" line become an array under that key) as one JSON
 * object, to f. Integers and true/false stay bare, yes/no become true/false
 * (except for names), everything else is a string. Keys that repeat become
 * arrays. `indent` spaces before each line of the object. */
void ctl_json_object(FILE *f, const char *text, int indent);

/* A JSON string literal of s. */
void ctl_json_string(FILE *f, const char *s);

#endif /* REWINDFS_CTL_UTIL_H */
