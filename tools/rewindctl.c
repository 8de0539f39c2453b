/*
 * rewindctl - the operator's tool for rewindfs (man/rewindctl.8).
 *
 * Design note. rewindctl is a thin layer over the control files of a mounted
 * pool (doc/control.md): backtrack, clone, snapshot and window are one write
 * each, so `echo` does the same job and rewindctl never opens the pool while
 * the daemon serves it (RocksDB allows one opener). Only `init`, which
 * creates a pool that nothing serves yet, calls the engine.
 *
 * What rewindctl adds is the choreography around a filesystem on a volume:
 * a loop device with direct I/O (or fuse2fs) plus a mount for `attach`, and
 * for `backtrack` of an attached volume: refuse if anything holds the mount
 * (naming the processes), unmount, detach the loop device, write the target,
 * attach again in the same place. Attachments are not recorded anywhere; they
 * are read back from the kernel each time (ctl_util.c), so nothing goes stale.
 *
 * Exit status: 0 success, 1 failure (the errno text and the volume's
 * last_error line on stderr), 2 bad usage. `--help` anywhere prints the
 * command's usage on stdout and exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "ctl_util.h"
#include "volume.h"

#define EXIT_USAGE 2

/* How long to wait for things the kernel finishes asynchronously: a FUSE
 * release after a loop device let go of a block file, a daemon flushing and
 * exiting after its unmount. Polled, never assumed. */
#define BUSY_WAIT_MS 15000
#define EXIT_WAIT_MS 60000
#define POLL_STEP_MS 20

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

static const struct command *current;

/* The caller's umask; rewindctl runs under 077 (see main). */
static mode_t user_umask;

/* mkdir for a folder that is not part of a pool (a parent of one, a mount
 * point): mode as the caller's umask makes it, as if umask were not 077. */
static int mkdir_user(const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) != 0)
		return -1;
	if (chmod(dir, mode & ~user_umask) != 0)
		return -1;
	return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "rewindctl %s: ", current->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: rewindctl %s %s\n", current->name, current->synopsis);
	return EXIT_USAGE;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; advances *i past the value.
 * Returns 1 if matched, 0 if not this option, -1 if the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *opt,
		     const char **val)
{
	size_t ol = strlen(opt);
	if (strncmp(argv[*i], opt, ol) != 0)
		return 0;
	if (argv[*i][ol] == '=') {
		*val = argv[*i] + ol + 1;
		return 1;
	}
	if (argv[*i][ol] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* An argument that starts with "--" (or is -o) and was not recognised. */
static bool looks_like_option(const char *a)
{
	return strncmp(a, "--", 2) == 0 && a[2] != '\0';
}

/* An option of a command: with val, "--opt VALUE" or "--opt=VALUE"; with
 * flag, a bare "--opt". A table of them ends with { NULL }. */
struct opt {
	const char *name;
	const char **val;
	bool *flag;
};

/* The one argument loop of every command: options from opts (may be NULL),
 * the rest positional into pos[] (at most max), at least min of them, else
 * the usage error `missing`. Sets *npos if npos is not NULL. Returns 0, or
 * EXIT_USAGE after the usage error. */
static int parse_args(int argc, char **argv, const struct opt *opts,
		      const char **pos, int min, int max, const char *missing,
		      int *npos)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		const struct opt *o = opts;
		for (; o && o->name; o++) {
			if (o->flag) {
				if (strcmp(argv[i], o->name) != 0)
					continue;
				*o->flag = true;
				break;
			}
			int r = opt_value(argc, argv, &i, o->name, o->val);
			if (r < 0)
				return usage_error("%s needs a value", o->name);
			if (r)
				break;
		}
		if (o && o->name)
			continue;
		if (looks_like_option(argv[i]) || n == max)
			return usage_error("unexpected argument %s", argv[i]);
		pos[n++] = argv[i];
	}
	if (n < min)
		return usage_error("%s", missing);
	if (npos)
		*npos = n;
	return 0;
}

/* ------------------------------------------------------------ volumes */

/* Volume, clone and snapshot names: 1-64 chars of [A-Za-z0-9._-], not
 * starting with '.' (the engine's rule, checked here so that a bad name is a
 * usage error that touches nothing). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > VOL_NAME_MAX || s[0] == '.')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-") == n;
}

static int bad_volume_name(const char *s)
{
	return usage_error("bad volume name %s (1-64 of A-Z a-z 0-9 . _ -, "
			   "not starting with .)", s);
}

/* A volume folder of a mounted pool, "MNT/NAME", resolved. */
struct volref {
	char dir[PATH_MAX];  /* /abs/MNT/NAME          */
	char mnt[PATH_MAX];  /* /abs/MNT               */
	char name[VOL_NAME_MAX + 1];
	char file[PATH_MAX + 8]; /* /abs/MNT/NAME/volume */
};

static int volref_get(const char *arg, struct volref *v)
{
	if (!realpath(arg, v->dir)) {
		fprintf(stderr, "rewindctl: %s: %s\n", arg, strerror(errno));
		return ENOENT;
	}
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof probe, "%s/.backtrack", v->dir);
	if (access(probe, F_OK) != 0) {
		fprintf(stderr, "rewindctl: %s: not a volume folder of a mounted "
			"rewindfs pool (expected MNT/NAME)\n", arg);
		return ENOENT;
	}
	const char *slash = strrchr(v->dir, '/');
	snprintf(v->name, sizeof v->name, "%s", slash + 1);
	size_t ml = (size_t)(slash - v->dir);
	if (ml == 0)
		ml = 1;
	memcpy(v->mnt, v->dir, ml);
	v->mnt[ml] = '\0';
	snprintf(v->file, sizeof v->file, "%s/volume", v->dir);
	return 0;
}

static void control_path(const struct volref *v, const char *ctl, char *out,
			 size_t len)
{
	snprintf(out, len, "%s/%s", v->dir, ctl);
}

/* The text of control file ctl of v, malloc'ed into *text. 0 or errno. */
static int read_control(const struct volref *v, const char *ctl, char **text)
{
	char path[PATH_MAX + 16];
	control_path(v, ctl, path, sizeof path);
	return ctl_read_file(path, text);
}

/* The errno text, then the volume's last_error line (doc/control.md). */
static int report_failure(const struct volref *v, const char *what, int err)
{
	fprintf(stderr, "rewindctl: %s: %s: %s\n", current->name, what, strerror(err));
	if (!v)
		return 1;
	char last[1024];
	char *text = NULL;
	if (read_control(v, ".status", &text) == 0 &&
	    ctl_text_value(text, "last_error", last, sizeof last) && last[0] &&
	    strcmp(last, "none") != 0)
		fprintf(stderr, "rewindctl: last_error: %s\n", last);
	free(text);
	return 1;
}

/* Write cmd to control file ctl of v: 0, or 1 after report_failure. */
static int write_control(const struct volref *v, const char *ctl,
			 const char *cmd)
{
	char path[PATH_MAX + 16];
	control_path(v, ctl, path, sizeof path);
	int err = ctl_write_cmd(path, cmd);
	return err ? report_failure(v, cmd, err) : 0;
}

/* Processes that have the block file open, into names; their count. */
static size_t file_openers(const char *file, char *names, size_t len)
{
	struct stat st;
	if (stat(file, &st) != 0) {
		if (len)
			names[0] = '\0';
		return 0;
	}
	return ctl_procs_using(major(st.st_dev), minor(st.st_dev), st.st_ino,
			       names, len);
}

/* Write a command that the daemon refuses with EBUSY while the block file is
 * open. Right after a loop device, fuse2fs or any process let go of the
 * file, the FUSE release may still be on its way to the daemon (and a
 * fuse2fs started by hand may still be exiting): retry for a bounded time -
 * when we did not detach anything (retry false), only while no process has
 * the file open - then name whoever still has it open. */
static int write_when_closed(const struct volref *v, const char *ctl,
			     const char *cmd, bool retry)
{
	char path[PATH_MAX + 16], names[1024];
	control_path(v, ctl, path, sizeof path);
	int err = 0;
	for (unsigned waited = 0;; waited += POLL_STEP_MS) {
		err = ctl_write_cmd(path, cmd);
		if (err != EBUSY || waited >= BUSY_WAIT_MS)
			break;
		/* Nothing detached: wait only for a release in flight. */
		if (!retry && file_openers(v->file, names, sizeof names) > 0)
			break;
		ctl_pause_ms(POLL_STEP_MS);
	}
	if (err == EBUSY && file_openers(v->file, names, sizeof names) > 0)
		fprintf(stderr, "rewindctl: %s: %s is open: %s\n", current->name,
			v->file, names);
	return err;
}

/* ------------------------------------------------------------- attach */

static bool is_root(void)
{
	return geteuid() == 0;
}

/* "ext4", "xfs" or "" from the first superblock of a device or image. */
static void probe_fs(const char *path, char *type, size_t len)
{
	unsigned char sb[2048];
	type[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = pread(fd, sb, sizeof sb, 0);
	close(fd);
	if (n >= 4 && memcmp(sb, "XFSB", 4) == 0)
		snprintf(type, len, "xfs");
	else if (n >= 1082 && sb[1080] == 0x53 && sb[1081] == 0xEF)
		snprintf(type, len, "ext4"); /* the ext4 driver mounts ext2/3 too */
}

static int make_dir(const char *dir)
{
	if (mkdir_user(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	int err = errno;
	fprintf(stderr, "rewindctl: %s: mkdir %s: %s\n", current->name, dir,
		strerror(err));
	return err;
}

/* A process that exists and is not a zombie. */
static bool pid_alive(pid_t pid)
{
	char p[64], st[512];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return false;
	bool alive = true;
	if (fgets(st, sizeof st, f)) {
		char *rp = strrchr(st, ')');
		alive = !(rp && rp[1] == ' ' && rp[2] == 'Z');
	}
	fclose(f);
	return alive;
}

/* Wait until process pid (if not 0) and every process named prog with
 * argument arg are gone (fuse2fs after its unmount, the rewindfs daemon
 * after its unmount): they finish writing on their way out. */
static bool wait_gone_pid(pid_t pid, const char *prog, const char *arg,
			  unsigned max_ms)
{
	for (unsigned waited = 0; waited < max_ms; waited += POLL_STEP_MS) {
		pid_t other = ctl_find_process(prog, arg);
		if ((pid == 0 || !pid_alive(pid)) && (other == 0 || !pid_alive(other)))
			return true;
		ctl_pause_ms(POLL_STEP_MS);
	}
	return false;
}

static bool wait_gone(const char *prog, const char *arg, unsigned max_ms)
{
	return wait_gone_pid(0, prog, arg, max_ms);
}

static int wait_mounted(const char *dir)
{
	ctl_mount m;
	for (unsigned waited = 0; waited < BUSY_WAIT_MS; waited += POLL_STEP_MS) {
		if (ctl_mount_at(dir, &m) == 0)
			return 0;
		ctl_pause_ms(POLL_STEP_MS);
	}
	return ETIMEDOUT;
}

/* Attach the block file of v at dir (absolute): loop device with direct I/O
 * + mount, or fuse2fs. mkfs: NULL, "ext4" or "xfs". xfs is always mounted
 * with nouuid so that a clone can be mounted beside its source (same UUID);
 * ext4 does not care. Prints a one-line result unless quiet. */
static int attach_volume(const struct volref *v, const char *dir,
			 const char *mkfs, bool fuse2fs, bool quiet)
{
	char type[16], loop[64] = "";
	ctl_attach *att = NULL;
	size_t natt = 0;
	int err = ctl_attach_list(v->file, &att, &natt);
	if (err)
		return err;
	if (natt) {
		fprintf(stderr, "rewindctl: %s: %s is already attached at %s "
			"(mounting one filesystem twice corrupts it)\n", current->name,
			v->name, att[0].mnt.dir[0] ? att[0].mnt.dir : att[0].loop);
		free(att);
		return EBUSY;
	}
	ctl_mount m;
	if (ctl_mount_at(dir, &m) == 0) {
		fprintf(stderr, "rewindctl: %s: %s is already a mount point\n",
			current->name, dir);
		return EBUSY;
	}
	if (fuse2fs) {
		if (mkfs) {
			char *mk[] = { "mkfs.ext4", "-q", "-F", "-E", "nodiscard",
				       (char *)v->file, NULL };
			if (ctl_run(mk, true) != 0) {
				fprintf(stderr, "rewindctl: %s: mkfs.ext4 failed\n",
					current->name);
				return EIO;
			}
		}
		probe_fs(v->file, type, sizeof type);
		if (strcmp(type, "ext4") != 0) {
			fprintf(stderr, "rewindctl: %s: no ext2/3/4 filesystem on %s "
				"(fuse2fs reads only those; use --mkfs ext4)\n",
				current->name, v->file);
			return EINVAL;
		}
		char *fa[] = { "fuse2fs", (char *)v->file, (char *)dir, "-o",
			       is_root() ? "rw" : "rw,fakeroot", NULL };
		if (ctl_run(fa, true) != 0 || wait_mounted(dir) != 0) {
			fprintf(stderr, "rewindctl: %s: fuse2fs %s %s failed\n",
				current->name, v->file, dir);
			return EIO;
		}
		if (!quiet)
			printf("attached %s at %s (ext4 through fuse2fs)\n", v->name, dir);
		return 0;
	}

	/* Direct I/O: the loop device's writes go straight to the daemon, so
	 * what ext4 saw completed is in the volume, in order (this is what
	 * makes a clone of a live volume crash-consistent), and there is no
	 * second copy of every page in the page cache. */
	char *ls[] = { "losetup", "--direct-io=on", "--find", "--show",
		       (char *)v->file, NULL };
	if (ctl_run_capture(ls, loop, sizeof loop) != 0 ||
	    strncmp(loop, "/dev/loop", 9) != 0) {
		fprintf(stderr, "rewindctl: %s: losetup %s failed\n", current->name,
			v->file);
		return EIO;
	}
	if (mkfs) {
		char *ext4[] = { "mkfs.ext4", "-q", "-F", "-E",
				 "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
				 loop, NULL };
		char *xfs[] = { "mkfs.xfs", "-q", "-f", "-K", loop, NULL };
		if (ctl_run(strcmp(mkfs, "xfs") == 0 ? xfs : ext4, true) != 0) {
			fprintf(stderr, "rewindctl: %s: mkfs.%s on %s failed\n",
				current->name, mkfs, loop);
			err = EIO;
			goto out_loop;
		}
	}
	probe_fs(loop, type, sizeof type);
	if (!type[0]) {
		fprintf(stderr, "rewindctl: %s: no ext4 or xfs filesystem on %s "
			"(use --mkfs ext4 or --mkfs xfs)\n", current->name, v->name);
		err = EINVAL;
		goto out_loop;
	}
	bool xfs = strcmp(type, "xfs") == 0;
	char *mo[] = { "mount", "-t", type, "-o", xfs ? "nouuid" : "defaults",
		       loop, (char *)dir, NULL };
	if (ctl_run(mo, false) != 0) {
		fprintf(stderr, "rewindctl: %s: mount %s on %s failed\n",
			current->name, loop, dir);
		err = EIO;
		goto out_loop;
	}
	if (!quiet)
		printf("attached %s at %s (%s on %s)\n", v->name, dir, type, loop);
	return 0;
out_loop:;
	char *ld[] = { "losetup", "-d", loop, NULL };
	ctl_run(ld, false);
	return err;
}

/* fsync the block file: the state a detach leaves becomes a consistent point
 * (a barrier) that backtrack and clone can name by time, whatever the
 * filesystem above did or did not flush. */
static void sync_block_file(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fsync(fd) != 0)
		fprintf(stderr, "rewindctl: %s: fsync %s: %s\n", current->name, file,
			strerror(errno));
	close(fd);
}

/* Unmount one attachment and let go of its loop device; wait until fuse2fs
 * has written everything and closed the block file; then sync the block
 * file. Refuses (EBUSY, naming the processes) when something uses the
 * mount. */
static int detach_one(const ctl_attach *a)
{
	char names[2048];
	if (a->mnt.dir[0]) {
		if (ctl_procs_using(a->mnt.major, a->mnt.minor, 0, names,
				    sizeof names) > 0) {
			fprintf(stderr, "rewindctl: %s: %s is busy: %s\n",
				current->name, a->mnt.dir, names);
			return EBUSY;
		}
		int rc;
		if (is_root()) {
			rc = umount2(a->mnt.dir, 0) == 0 ? 0 : errno;
		} else {
			char *fu[] = { "fusermount", "-u", (char *)a->mnt.dir, NULL };
			rc = ctl_run(fu, false) == 0 ? 0 : EBUSY;
		}
		if (rc) {
			ctl_procs_using(a->mnt.major, a->mnt.minor, 0, names,
					sizeof names);
			fprintf(stderr, "rewindctl: %s: cannot unmount %s: %s%s%s\n",
				current->name, a->mnt.dir, strerror(rc),
				names[0] ? ": " : "", names);
			return rc;
		}
	}
	if (a->fuse2fs) {
		if (!wait_gone("fuse2fs", a->mnt.source, EXIT_WAIT_MS)) {
			fprintf(stderr, "rewindctl: %s: fuse2fs for %s did not exit\n",
				current->name, a->mnt.source);
			return ETIMEDOUT;
		}
		sync_block_file(a->file);
		return 0;
	}
	if (a->loop[0]) {
		char *ld[] = { "losetup", "-d", (char *)a->loop, NULL };
		if (ctl_run(ld, false) != 0) {
			fprintf(stderr, "rewindctl: %s: losetup -d %s failed\n",
				current->name, a->loop);
			return EIO;
		}
	}
	if (a->file[0])
		sync_block_file(a->file);
	return 0;
}

static bool attach_is_busy(const ctl_attach *att, size_t n)
{
	bool busy = false;
	char names[2048];
	for (size_t i = 0; i < n; i++) {
		if (!att[i].mnt.dir[0]) {
			/* Bound but not mounted: someone else's (a VM, LVM). */
			fprintf(stderr, "rewindctl: %s: %s is bound to %s but not "
				"mounted; release it first (losetup -d %s)\n",
				current->name, att[i].file, att[i].loop, att[i].loop);
			busy = true;
			continue;
		}
		if (ctl_procs_using(att[i].mnt.major, att[i].mnt.minor, 0, names,
				    sizeof names) > 0) {
			fprintf(stderr, "rewindctl: %s: %s is busy: %s\n",
				current->name, att[i].mnt.dir, names);
			busy = true;
		}
	}
	return busy;
}

static const char *attach_where(const ctl_attach *a)
{
	return a->mnt.dir[0] ? a->mnt.dir : a->loop;
}

/* Name each of the n attachments (as name, else by its block file) with how
 * to detach it; free att. True if there were any. */
static bool refuse_attached(ctl_attach *att, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "rewindctl: %s: %s is attached at %s: run "
			"rewindctl detach %s first\n", current->name,
			name ? name : att[i].file, attach_where(&att[i]),
			attach_where(&att[i]));
	free(att);
	return n > 0;
}

/* ------------------------------------------------------------ commands */

static int cmd_init(int argc, char **argv)
{
	const char *pool = NULL, *ps = NULL;
	const struct opt opts[] = { { "--page-size", &ps, NULL }, { NULL } };
	if (parse_args(argc, argv, opts, &pool, 1, 1, "missing POOL", NULL))
		return EXIT_USAGE;
	vol_pool_opts o;
	memset(&o, 0, sizeof o);
	if (ps) {
		uint64_t v;
		if (ctl_parse_size(ps, &v) != 0 || v > UINT32_MAX)
			return usage_error("bad page size %s", ps);
		o.page_size = (uint32_t)v;
	}
	/* Like mkdir -p for the folders above POOL; the engine makes POOL. */
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", pool);
	for (char *p = parent + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_user(parent, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "rewindctl: init: mkdir %s: %s\n", parent,
				strerror(errno));
			return 1;
		}
		*p = '/';
	}
	vol_status st = vol_pool_create(pool, &o);
	if (st != VOL_OK) {
		fprintf(stderr, "rewindctl: init: %s: %s%s%s\n", pool, vol_strerror(st),
			vol_errmsg()[0] ? ": " : "", vol_errmsg());
		return 1;
	}
	printf("created pool %s (page size %u)\n", pool,
	       o.page_size ? o.page_size : 4096u);
	return 0;
}

/* $REWINDFS, else next to this executable, else ../fs/rewindfs relative to
 * it (the build tree), else rewindfs from PATH. */
static void find_daemon(char *out, size_t len)
{
	const char *env = getenv("REWINDFS");
	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			int w = snprintf(out, len, "%s/rewindfs", self);
			if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
				return;
			w = snprintf(out, len, "%s/../fs/rewindfs", self);
			if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, len, "rewindfs");
}

static int cmd_mount(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL }, *opts = NULL;
	const struct opt optv[] = { { "-o", &opts, NULL }, { NULL } };
	if (parse_args(argc, argv, optv, pos, 2, 2, "needs POOL and MNT", NULL))
		return EXIT_USAGE;
	char pool[PATH_MAX], mnt[PATH_MAX], bin[PATH_MAX];
	if (!realpath(pos[0], pool)) {
		fprintf(stderr, "rewindctl: mount: %s: %s (create a pool with "
			"rewindctl init)\n", pos[0], strerror(errno));
		return 1;
	}
	if (make_dir(pos[1]) != 0)
		return 1;
	if (!realpath(pos[1], mnt)) {
		fprintf(stderr, "rewindctl: mount: %s: %s\n", pos[1], strerror(errno));
		return 1;
	}
	ctl_mount m;
	if (ctl_mount_at(mnt, &m) == 0) {
		fprintf(stderr, "rewindctl: mount: %s is already a mount point (%s)\n",
			mnt, m.fstype);
		return 1;
	}
	find_daemon(bin, sizeof bin);
	char *args[8];
	int na = 0;
	args[na++] = bin;
	if (opts) {
		args[na++] = "-o";
		args[na++] = (char *)opts;
	}
	args[na++] = pool;
	args[na++] = mnt;
	args[na] = NULL;
	int rc = ctl_run(args, false);
	if (rc != 0) {
		fprintf(stderr, "rewindctl: mount: %s exited with status %d\n", bin, rc);
		return 1;
	}
	if (wait_mounted(mnt) != 0) {
		fprintf(stderr, "rewindctl: mount: %s did not appear\n", mnt);
		return 1;
	}
	printf("mounted %s at %s\n", pool, mnt);
	return 0;
}

static int cmd_umount(int argc, char **argv)
{
	const char *arg = NULL;
	if (parse_args(argc, argv, NULL, &arg, 1, 1, "missing MNT", NULL))
		return EXIT_USAGE;
	char mnt[PATH_MAX], names[2048];
	ctl_mount m;
	if (!realpath(arg, mnt) || ctl_mount_at(mnt, &m) != 0 ||
	    strncmp(m.fstype, "fuse", 4) != 0) {
		fprintf(stderr, "rewindctl: umount: %s: not a mounted pool\n", arg);
		return 1;
	}
	ctl_attach *att = NULL;
	size_t n = 0;
	int err = ctl_attach_list_under(mnt, &att, &n);
	if (err)
		return report_failure(NULL, mnt, err);
	if (refuse_attached(att, n, NULL))
		return 1;
	if (ctl_procs_using(m.major, m.minor, 0, names, sizeof names) > 0) {
		fprintf(stderr, "rewindctl: umount: %s is busy: %s\n", mnt, names);
		return 1;
	}
	/* The daemon names itself in the pool's .status (daemon_pid). */
	pid_t daemon = 0;
	char path[PATH_MAX + 16], val[64];
	char *text = NULL;
	snprintf(path, sizeof path, "%s/.status", mnt);
	if (ctl_read_file(path, &text) == 0 &&
	    ctl_text_value(text, "daemon_pid", val, sizeof val))
		daemon = (pid_t)atol(val);
	free(text);
	if (is_root()) {
		if (umount2(mnt, 0) != 0)
			return report_failure(NULL, mnt, errno);
	} else {
		char *fu[] = { "fusermount3", "-u", mnt, NULL };
		if (ctl_run(fu, false) != 0)
			return report_failure(NULL, mnt, EBUSY);
	}
	/* The daemon syncs and closes the pool after the unmount: wait for it,
	 * so that the pool can be mounted again right away. */
	if (!wait_gone_pid(daemon, "rewindfs", mnt, EXIT_WAIT_MS)) {
		fprintf(stderr, "rewindctl: umount: the daemon of %s is still "
			"running\n", mnt);
		return 1;
	}
	printf("unmounted %s\n", mnt);
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, NULL };
	if (parse_args(argc, argv, NULL, pos, 3, 3, "needs MNT, NAME and SIZE",
		       NULL))
		return EXIT_USAGE;
	if (!name_ok(pos[1]))
		return bad_volume_name(pos[1]);
	uint64_t size;
	if (ctl_parse_size(pos[2], &size) != 0 || size > (uint64_t)INT64_MAX)
		return usage_error("bad size %s (bytes, or with K, M, G, T)", pos[2]);
	char dir[PATH_MAX], file[PATH_MAX + 8];
	snprintf(dir, sizeof dir, "%s/%s", pos[0], pos[1]);
	snprintf(file, sizeof file, "%s/volume", dir);
	if (mkdir(dir, 0700) != 0)
		return report_failure(NULL, dir, errno);
	if (truncate(file, (off_t)size) != 0) {
		int err = errno;
		rmdir(dir); /* all or nothing */
		return report_failure(NULL, file, err);
	}
	printf("created volume %s (%llu bytes): block file %s\n", pos[1],
	       (unsigned long long)size, file);
	return 0;
}

static int cmd_destroy(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	if (parse_args(argc, argv, NULL, pos, 2, 2, "needs MNT and NAME", NULL))
		return EXIT_USAGE;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", pos[0], pos[1]);
	struct volref v;
	if (volref_get(path, &v) != 0)
		return 1;
	ctl_attach *att = NULL;
	size_t n = 0;
	int err = ctl_attach_list(v.file, &att, &n);
	if (err)
		return report_failure(&v, v.name, err);
	if (refuse_attached(att, n, v.name))
		return 1;
	char names[1024];
	for (unsigned waited = 0;; waited += POLL_STEP_MS) {
		if (rmdir(v.dir) == 0)
			break;
		err = errno;
		if (err != EBUSY || waited >= BUSY_WAIT_MS ||
		    file_openers(v.file, names, sizeof names) > 0) {
			if (err == EBUSY && names[0])
				fprintf(stderr, "rewindctl: destroy: %s is open: %s\n",
					v.file, names);
			return report_failure(NULL, v.name, err);
		}
		ctl_pause_ms(POLL_STEP_MS);
	}
	printf("destroyed volume %s\n", v.name);
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL }, *mkfs = NULL;
	bool fuse2fs = false;
	const struct opt opts[] = { { "--mkfs", &mkfs, NULL },
				    { "--fuse2fs", NULL, &fuse2fs }, { NULL } };
	if (parse_args(argc, argv, opts, pos, 2, 2, "needs MNT/NAME and DIR",
		       NULL))
		return EXIT_USAGE;
	if (mkfs && strcmp(mkfs, "ext4") != 0 && strcmp(mkfs, "xfs") != 0)
		return usage_error("--mkfs %s: only ext4 and xfs", mkfs);
	if (!is_root())
		fuse2fs = true; /* loop devices need root */
	if (fuse2fs && mkfs && strcmp(mkfs, "xfs") == 0)
		return usage_error("%s", "fuse2fs serves ext2/3/4 only, not xfs");
	struct volref v;
	if (volref_get(pos[0], &v) != 0)
		return 1;
	char dir[PATH_MAX];
	if (make_dir(pos[1]) != 0 || !realpath(pos[1], dir))
		return 1;
	return attach_volume(&v, dir, mkfs, fuse2fs, false) == 0 ? 0 : 1;
}

static int cmd_detach(int argc, char **argv)
{
	const char *arg = NULL;
	if (parse_args(argc, argv, NULL, &arg, 1, 1, "missing DIR", NULL))
		return EXIT_USAGE;
	char dir[PATH_MAX];
	ctl_attach a;
	memset(&a, 0, sizeof a);
	if (!realpath(arg, dir) || ctl_mount_at(dir, &a.mnt) != 0) {
		fprintf(stderr, "rewindctl: detach: %s: nothing is attached there\n",
			arg);
		return 1;
	}
	if (strncmp(a.mnt.source, "/dev/loop", 9) == 0) {
		if (ctl_loop_file(a.mnt.source, a.file, sizeof a.file) != 0)
			a.file[0] = '\0';
		if (snprintf(a.loop, sizeof a.loop, "%s", a.mnt.source) >=
		    (int)sizeof a.loop) {
			fprintf(stderr, "rewindctl: detach: %s: name too long\n",
				a.mnt.source);
			return 1;
		}
	} else if (strncmp(a.mnt.fstype, "fuse.", 5) == 0 &&
		   strcmp(a.mnt.fstype, "fuse.rewindfs") != 0 &&
		   a.mnt.source[0] == '/') {
		a.fuse2fs = true;
		snprintf(a.file, sizeof a.file, "%s", a.mnt.source);
	} else {
		fprintf(stderr, "rewindctl: detach: %s is not an attached volume "
			"(%s from %s)\n", dir, a.mnt.fstype, a.mnt.source);
		return 1;
	}
	if (detach_one(&a) != 0)
		return 1;
	printf("detached %s\n", dir);
	return 0;
}

/* What the daemon chose for the request: the last item of .backtrack's
 * history ("- when=... chosen_lsn=N ... chosen_time=T ..."). */
static void print_chosen(const struct volref *v, const char *when)
{
	char lsn[32] = "", at[64] = "";
	char *text = NULL;
	if (read_control(v, ".backtrack", &text) == 0) {
		const char *last = NULL;
		for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
			if (l[0] == '-' && l[1] == ' ')
				last = l;
		const char *p;
		if (last && (p = strstr(last, " chosen_lsn=")) != NULL)
			sscanf(p + 12, "%31[0-9]", lsn);
		if (last && (p = strstr(last, " chosen_time=")) != NULL)
			sscanf(p + 13, "%63[^ \n]", at);
	}
	free(text);
	if (lsn[0] && at[0])
		printf("backtracked %s to %s: the state after lsn %s, synced at %s\n",
		       v->name, when, lsn, at);
	else
		printf("backtracked %s to %s\n", v->name, when);
}

static int cmd_backtrack(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	if (parse_args(argc, argv, NULL, pos, 2, 2, "needs MNT/NAME and TIME",
		       NULL))
		return EXIT_USAGE;
	char when[128];
	if (ctl_time_absolute(pos[1], when, sizeof when) != 0)
		return usage_error("bad TIME %s", pos[1]);
	struct volref v;
	if (volref_get(pos[0], &v) != 0)
		return 1;
	ctl_attach *att = NULL;
	size_t n = 0, detached = 0;
	int err = ctl_attach_list(v.file, &att, &n), rc = 1;
	if (err)
		return report_failure(&v, v.name, err);
	/* Check every place first, so that a refusal changes nothing. */
	if (attach_is_busy(att, n)) {
		fprintf(stderr, "rewindctl: backtrack: refused: stop those first "
			"(nothing was changed)\n");
		goto out;
	}
	for (; detached < n; detached++) {
		if (detach_one(&att[detached]) != 0)
			goto reattach;
	}
	err = write_when_closed(&v, ".backtrack", when, detached > 0);
	if (err)
		report_failure(&v, when, err);
	else
		rc = 0;
reattach:
	for (size_t i = 0; i < detached; i++) {
		if (attach_volume(&v, att[i].mnt.dir, NULL, att[i].fuse2fs, true) != 0) {
			fprintf(stderr, "rewindctl: backtrack: could not attach %s at "
				"%s again\n", v.name, att[i].mnt.dir);
			rc = 1;
		}
	}
	if (rc == 0) {
		print_chosen(&v, when);
		for (size_t i = 0; i < n; i++)
			if (att[i].mnt.dir[0])
				printf("attached again at %s\n", att[i].mnt.dir);
	}
out:
	free(att);
	return rc;
}

static int cmd_clone(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, NULL }, *at = NULL;
	int npos = 0;
	bool fuse2fs = false;
	const struct opt opts[] = { { "--attach", &at, NULL },
				    { "--fuse2fs", NULL, &fuse2fs }, { NULL } };
	if (parse_args(argc, argv, opts, pos, 2, 3, "needs MNT/NAME and NEW",
		       &npos))
		return EXIT_USAGE;
	if (!name_ok(pos[1]))
		return bad_volume_name(pos[1]);
	char cmd[256], when[128] = "";
	if (npos == 3 && ctl_time_absolute(pos[2], when, sizeof when) != 0)
		return usage_error("bad TIME %s", pos[2]);
	struct volref v, c;
	if (volref_get(pos[0], &v) != 0)
		return 1;
	snprintf(cmd, sizeof cmd, "%s%s%s", pos[1], when[0] ? " " : "", when);
	if (write_control(&v, ".clone", cmd))
		return 1;
	printf("cloned %s as %s%s%s\n", v.name, pos[1], when[0] ? " from " : "", when);
	if (!at)
		return 0;
	char cpath[PATH_MAX + VOL_NAME_MAX + 2], dir[PATH_MAX];
	snprintf(cpath, sizeof cpath, "%s/%s", v.mnt, pos[1]);
	if (volref_get(cpath, &c) != 0)
		return 1;
	if (make_dir(at) != 0 || !realpath(at, dir))
		return 1;
	/* Mounting runs the journal replay of a clone of a live ext4/xfs. */
	return attach_volume(&c, dir, NULL, fuse2fs || !is_root(), false) == 0 ? 0 : 1;
}

static int cat_control(const struct volref *v, const char *ctl)
{
	char path[PATH_MAX + 16];
	char *text = NULL;
	control_path(v, ctl, path, sizeof path);
	int err = ctl_read_file(path, &text);
	if (err)
		return report_failure(v, path, err);
	fputs(text, stdout);
	free(text);
	return 0;
}

static int cmd_snapshot(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0;
	bool list = false;
	const struct opt opts[] = { { "--list", NULL, &list }, { NULL } };
	if (parse_args(argc, argv, opts, pos, 1, 3, "needs MNT/NAME", &npos))
		return EXIT_USAGE;
	if (list && npos > 1)
		return usage_error("%s", "needs MNT/NAME");
	if (npos == 3 && pos[1][0] == '-')
		return usage_error("%s", "-NAME deletes; it takes no TIME");
	if (npos >= 2 && !name_ok(pos[1] + (pos[1][0] == '-')))
		return usage_error("bad snapshot name %s", pos[1]);
	char when[128] = "", cmd[256];
	if (npos == 3 && ctl_time_absolute(pos[2], when, sizeof when) != 0)
		return usage_error("bad TIME %s", pos[2]);
	struct volref v;
	if (volref_get(pos[0], &v) != 0)
		return 1;
	if (npos == 1)
		return cat_control(&v, ".snapshot");
	snprintf(cmd, sizeof cmd, "%s%s%s", pos[1], when[0] ? " " : "", when);
	if (write_control(&v, ".snapshot", cmd))
		return 1;
	if (pos[1][0] == '-')
		printf("deleted snapshot %s of %s\n", pos[1] + 1, v.name);
	else
		printf("snapshot %s of %s%s%s\n", pos[1], v.name,
		       when[0] ? " at " : "", when);
	return 0;
}

static int cmd_window(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	int npos = 0;
	if (parse_args(argc, argv, NULL, pos, 1, 2, "needs MNT/NAME", &npos))
		return EXIT_USAGE;
	int64_t ns;
	if (npos == 2 && ctl_parse_duration(pos[1], &ns) != 0)
		return usage_error("bad DURATION %s (like 0, 30m, 72h, 7d, 1h30m)",
				   pos[1]);
	struct volref v;
	if (volref_get(pos[0], &v) != 0)
		return 1;
	if (npos == 1)
		return cat_control(&v, ".window");
	if (write_control(&v, ".window", pos[1]))
		return 1;
	printf("window of %s set to %s\n", v.name, pos[1]);
	return 0;
}

/* A volume's .status plus "attached:" lines, malloc'ed. */
static int volume_status_text(const struct volref *v, char **out)
{
	char *text = NULL;
	int err = read_control(v, ".status", &text);
	if (err)
		return err;
	ctl_attach *att = NULL;
	size_t n = 0;
	if (ctl_attach_list(v->file, &att, &n) != 0)
		n = 0;
	size_t len = strlen(text), cap = len + 2 + n * (3 * PATH_MAX + 128);
	char *all = malloc(cap);
	if (!all) {
		free(att);
		free(text);
		return ENOMEM;
	}
	memcpy(all, text, len + 1);
	if (len && all[len - 1] != '\n')
		all[len++] = '\n', all[len] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w;
		if (att[i].fuse2fs)
			w = snprintf(all + len, cap - len, "attached: %s (fuse2fs)\n",
				     att[i].mnt.dir);
		else
			w = snprintf(all + len, cap - len, "attached: %s (%s on %s)\n",
				     att[i].mnt.dir[0] ? att[i].mnt.dir : "-",
				     att[i].mnt.dir[0] ? att[i].mnt.fstype : "unmounted",
				     att[i].loop);
		if (w > 0 && (size_t)w < cap - len)
			len += (size_t)w;
	}
	free(att);
	free(text);
	*out = all;
	return 0;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_status(int argc, char **argv)
{
	const char *arg = NULL;
	bool json = false;
	const struct opt opts[] = { { "--json", NULL, &json }, { NULL } };
	if (parse_args(argc, argv, opts, &arg, 1, 1, "missing MNT or MNT/NAME",
		       NULL))
		return EXIT_USAGE;
	char path[PATH_MAX + 16], root[PATH_MAX];
	char *text = NULL;
	struct volref v;
	snprintf(path, sizeof path, "%s/.backtrack", arg);
	if (access(path, F_OK) == 0) { /* one volume */
		if (volref_get(arg, &v) != 0)
			return 1;
		int err = volume_status_text(&v, &text);
		if (err)
			return report_failure(&v, v.name, err);
		if (json) {
			ctl_json_object(stdout, text, 0);
			putchar('\n');
		} else {
			fputs(text, stdout);
		}
		free(text);
		return 0;
	}
	snprintf(path, sizeof path, "%s/.status", arg);
	if (!realpath(arg, root) || ctl_read_file(path, &text) != 0) {
		fprintf(stderr, "rewindctl: status: %s: not a mounted pool or a "
			"volume folder\n", arg);
		return 1;
	}
	/* The pool, then its volumes by name. */
	DIR *d = opendir(root);
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof *nn);
		if (!nn)
			break;
		names = nn;
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof *names, names_cmp);
	if (json) {
		fputs("{\n  \"pool\": ", stdout);
		ctl_json_object(stdout, text, 2);
		fputs(",\n  \"volumes\": {", stdout);
	} else {
		fputs(text, stdout);
	}
	free(text);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *vt = NULL;
		char vp[PATH_MAX + VOL_NAME_MAX + 2];
		snprintf(vp, sizeof vp, "%s/%s", root, names[i]);
		if (volref_get(vp, &v) != 0 || volume_status_text(&v, &vt) != 0) {
			rc = 1;
			continue;
		}
		if (json) {
			printf("%s\n    ", i ? "," : "");
			ctl_json_string(stdout, names[i]);
			fputs(": ", stdout);
			ctl_json_object(stdout, vt, 4);
		} else {
			printf("\n[%s]\n%s", names[i], vt);
		}
		free(vt);
	}
	if (json)
		fputs(n ? "\n  }\n}\n" : "}\n}\n", stdout);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ------------------------------------------------------------------ check */

/* Problems found by vol_check, one line each on stdout as they come. */
static void check_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("%s\n", problem);
}

/* Opens the pool itself (the only command besides init that does): the
 * engine's pool lock refuses while a daemon serves it. Read-only: the check
 * writes nothing to the pool it looks at (no retention, no barriers). */
static int cmd_check(int argc, char **argv)
{
	const char *pool = NULL;
	bool quiet = false;
	const struct opt opts[] = { { "--quiet", NULL, &quiet }, { NULL } };
	if (parse_args(argc, argv, opts, &pool, 1, 1, "missing POOL", NULL))
		return EXIT_USAGE;
	vol_pool_opts o;
	memset(&o, 0, sizeof o);
	o.read_only = true;
	vol_pool *p = NULL;
	vol_status st = vol_pool_open(pool, &o, &p);
	if (st == VOL_EBUSY) {
		/* The engine's own words too: they say what RocksDB saw. */
		fprintf(stderr, "rewindctl: check: %s: pool is in use (a rewindfs "
			"daemon serves it?): unmount it first (rewindctl umount "
			"MNT)%s%s\n", pool, vol_errmsg()[0] ? ": " : "",
			vol_errmsg());
		return 1;
	}
	if (st != VOL_OK) {
		fprintf(stderr, "rewindctl: check: %s: %s%s%s\n", pool,
			vol_strerror(st), vol_errmsg()[0] ? ": " : "", vol_errmsg());
		return 1;
	}
	vol_info *vols = NULL;
	size_t nvols = 0;
	uint64_t problems = 0;
	int rc = 0;
	st = vol_list(p, &vols, &nvols);
	free(vols);
	if (st == VOL_OK)
		st = vol_check(p, check_problem, NULL, &problems);
	if (st != VOL_OK) {
		fprintf(stderr, "rewindctl: check: %s: the check could not finish: "
			"%s%s%s\n", pool, vol_strerror(st),
			vol_errmsg()[0] ? ": " : "", vol_errmsg());
		rc = 1;
	}
	vol_status cst = vol_pool_close(p);
	if (cst != VOL_OK) {
		fprintf(stderr, "rewindctl: check: %s: close: %s%s%s\n", pool,
			vol_strerror(cst), vol_errmsg()[0] ? ": " : "",
			vol_errmsg());
		rc = 1;
	}
	if (problems)
		rc = 1;
	if (!quiet || rc)
		printf("%zu volume%s, %" PRIu64 " problem%s%s\n", nvols,
		       nvols == 1 ? "" : "s", problems, problems == 1 ? "" : "s",
		       st != VOL_OK ? " (check incomplete)" : "");
	return rc;
}

/* ------------------------------------------------------------------ main */

static const struct command commands[] = {
	{ "init", cmd_init, "POOL [--page-size N]",
	  "Create an empty pool in the folder POOL (created if missing, must be\n"
	  "empty). The page size is a power of two from 4096 to 65536 (4K..64K),\n"
	  "4096 by default, fixed for the life of the pool.\n" },
	{ "mount", cmd_mount, "POOL MNT [-o OPTIONS]",
	  "Start the rewindfs daemon serving POOL at MNT (created if missing).\n"
	  "The daemon is $REWINDFS, else rewindfs next to rewindctl, else\n"
	  "../fs/rewindfs relative to it (a build tree), else rewindfs from PATH.\n"
	  "OPTIONS are passed to the daemon with -o (see rewindfs(8)).\n" },
	{ "umount", cmd_umount, "MNT",
	  "Unmount a pool and wait until its daemon has synced and exited.\n"
	  "Refuses while a volume is attached or a process uses MNT.\n" },
	{ "create", cmd_create, "MNT NAME SIZE",
	  "Create volume NAME of SIZE bytes (suffixes K, M, G, T are powers of\n"
	  "1024: 512M, 10G). Same as: mkdir MNT/NAME; truncate -s SIZE\n"
	  "MNT/NAME/volume.\n" },
	{ "destroy", cmd_destroy, "MNT NAME",
	  "Delete volume NAME and its snapshots (its clones stay). Refuses while\n"
	  "it is attached or its block file is open.\n" },
	{ "attach", cmd_attach, "MNT/NAME DIR [--mkfs ext4|xfs] [--fuse2fs]",
	  "Mount the filesystem on the volume at DIR (created if missing): as root\n"
	  "through a loop device with direct I/O, else (or with --fuse2fs) through\n"
	  "fuse2fs (ext2/3/4 only). --mkfs formats the volume first (it erases it).\n"
	  "xfs is mounted with -o nouuid so that clones can sit beside their source.\n" },
	{ "detach", cmd_detach, "DIR",
	  "Unmount DIR and release its loop device (or wait for fuse2fs to exit).\n"
	  "Refuses, naming them, while processes use DIR.\n" },
	{ "backtrack", cmd_backtrack, "MNT/NAME TIME|reset",
	  "Rewind the volume in place to TIME (or forward again to a time it\n"
	  "showed). If it is attached: refuses, naming them, while processes use\n"
	  "the mount; else unmounts, rewinds and attaches it again at the same\n"
	  "place. TIME: RFC 3339 (2026-11-21T13:00:00Z), relative to now (-10m,\n"
	  "-2h, -1h30m, -1d), lsn:N, @SNAPSHOT or now. It resolves to the last\n"
	  "fsync at or before it. Relative times count from when you run it.\n"
	  "TIME `reset` turns a clone into its source's current state.\n" },
	{ "clone", cmd_clone, "MNT/NAME NEW [TIME] [--attach DIR] [--fuse2fs]",
	  "Create volume NEW holding NAME's content now or at TIME (as for\n"
	  "backtrack). Instant, whatever the size. The source may be attached and\n"
	  "busy: the clone is crash-consistent, and attaching it (--attach) replays\n"
	  "the filesystem's journal. Clone and source never see each other's\n"
	  "later writes.\n" },
	{ "snapshot", cmd_snapshot, "MNT/NAME [NAME [TIME] | -NAME | --list]",
	  "With NAME: keep the point now (or at TIME) until deleted, even past\n"
	  "the window; backtrack and clone accept it as @NAME. With -NAME: delete\n"
	  "it. Without (or --list): list the snapshots.\n" },
	{ "window", cmd_window, "MNT/NAME [DURATION]",
	  "Show, or set, how far back the volume can be backtracked: 0, 90s, 30m,\n"
	  "72h, 7d, 1h30m. The actual window can be shorter when the pool's\n"
	  "history budget runs out; status says so.\n" },
	{ "status", cmd_status, "MNT[/NAME] [--json]",
	  "Show the pool's or one volume's status (the .status files, plus where\n"
	  "volumes are attached); --json prints it as JSON.\n" },
	{ "check", cmd_check, "POOL [--quiet]",
	  "Verify an unmounted pool offline: every stored page version's checksum,\n"
	  "its entry in the change log, and the metadata invariants. Prints each\n"
	  "problem on a line (naming volume, page and LSN where it can), then\n"
	  "\"N volumes, M problems\" (--quiet: the summary only when not clean).\n"
	  "Exit 0 clean, 1 problems found or the check could not run (for a\n"
	  "mounted pool: \"pool is in use\").\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage_all(FILE *f)
{
	fprintf(f, "usage: rewindctl COMMAND [ARGS]   (rewindctl COMMAND --help)\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].synopsis);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 bad usage. See rewindctl(8).\n");
}

int main(int argc, char **argv)
{
	/* Whatever the caller's umask, what rewindctl creates (a pool folder
	 * and its files by init, a pool's files by check) is for its owner
	 * only: a pool holds whole filesystem images. Folders it creates
	 * with an explicit mode (mount points, parents of a pool) get that
	 * mode minus this. */
	user_umask = umask(077);
	if (argc < 2) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage_all(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("rewindctl %s\n", REWINDFS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		current = &commands[i];
		for (int a = 2; a < argc; a++) {
			if (is_help(argv[a])) {
				printf("usage: rewindctl %s %s\n\n%s", current->name,
				       current->synopsis, current->help);
				return 0;
			}
		}
		/* A line at a time, so that progress shows when piped. */
		setvbuf(stdout, NULL, _IOLBF, 0);
		return current->fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "rewindctl: unknown command %s\n", argv[1]);
	usage_all(stderr);
	return EXIT_USAGE;
}
