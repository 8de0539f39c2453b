/*
 * ctl_util.c - the system plumbing of rewindctl (see ctl_util.h).
 *
 * Design note. rewindctl keeps no state files: what is attached where is
 * derived every time from the kernel (/sys/block/loopN/loop/backing_file
 * names the block file behind each loop device, /proc/self/mountinfo says
 * where each loop device or fuse2fs image is mounted). That cannot go stale
 * after a crash or a reboot, and it also sees attachments made by hand with
 * losetup and mount. Likewise "who holds this mount" is answered from
 * /proc/PID/{cwd,root,exe,fd,maps} by comparing device numbers, the way
 * fuser does, so no extra package is needed.
 */
#include "ctl_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ programs */

/* Fork and exec argv; the child's stdout goes to out_fd (-1: inherit).
 * Exec failures come back through a close-on-exec pipe so that they are
 * told apart from a program that ran and exited 127. */
static pid_t spawn(char *const argv[], int out_fd)
{
	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		fprintf(stderr, "rewindctl: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "rewindctl: fork: %s\n", strerror(errno));
		close(errpipe[0]);
		close(errpipe[1]);
		return -1;
	}
	if (pid == 0) {
		close(errpipe[0]);
		if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		int e = errno;
		ssize_t w = write(errpipe[1], &e, sizeof e);
		(void)w;
		_exit(127);
	}
	close(errpipe[1]);
	int e = 0;
	ssize_t r;
	do
		r = read(errpipe[0], &e, sizeof e);
	while (r < 0 && errno == EINTR);
	close(errpipe[0]);
	if (r == (ssize_t)sizeof e) {
		fprintf(stderr, "rewindctl: cannot run %s: %s\n", argv[0],
			strerror(e));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

static int reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int ctl_run(char *const argv[], bool quiet)
{
	int out_fd = -1;
	if (quiet) {
		out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out_fd < 0)
			return -1;
	}
	pid_t pid = spawn(argv, out_fd);
	if (out_fd >= 0)
		close(out_fd);
	return pid < 0 ? -1 : reap(pid);
}

int ctl_run_capture(char *const argv[], char *out, size_t outlen)
{
	int p[2];
	if (outlen == 0 || pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = spawn(argv, p[1]);
	close(p[1]);
	size_t used = 0;
	char sink[256];
	for (;;) {
		char *dst = used + 1 < outlen ? out + used : sink;
		size_t room = used + 1 < outlen ? outlen - 1 - used : sizeof sink;
		ssize_t r = read(p[0], dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst != sink)
			used += (size_t)r;
	}
	close(p[0]);
	out[used] = '\0';
	while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == '\r'))
		out[--used] = '\0';
	return pid < 0 ? -1 : reap(pid);
}

void ctl_pause_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --------------------------------------------------------------- files */

int ctl_read_file(const char *path, char **out)
{
	int err = 0;
	size_t cap = 4096, used = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	buf = malloc(cap);
	if (!buf) {
		err = ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (cap - used < 2) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				err = ENOMEM;
				goto out_free;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + used, cap - used - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			goto out_free;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
out_free:
	free(buf);
out_close:
	close(fd);
	return err;
}

int ctl_write_cmd(const char *path, const char *cmd)
{
	size_t len = strlen(cmd);
	char *line = malloc(len + 2);
	if (!line)
		return ENOMEM;
	memcpy(line, cmd, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	int err = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	ssize_t w;
	do
		w = write(fd, line, len + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		err = errno;
	else if ((size_t)w != len + 1)
		err = EIO; /* the contract: all or nothing */
	if (close(fd) != 0 && err == 0)
		err = errno;
out:
	free(line);
	return err;
}

bool ctl_text_value(const char *text, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, klen) != 0 || l[klen] != ':')
			continue;
		const char *v = l + klen + 1;
		while (*v == ' ')
			v++;
		size_t n = strcspn(v, "\n");
		if (len == 0)
			return true;
		if (n >= len)
			n = len - 1;
		memcpy(val, v, n);
		val[n] = '\0';
		return true;
	}
	return false;
}

/* ------------------------------------------------------------- parsing */

/* The decimal number that s starts with (a digit, no sign or space), *end
 * after it. 0, EINVAL or ERANGE. */
static int parse_decimal(const char *s, unsigned long long *v, char **end)
{
	if (!isdigit((unsigned char)*s))
		return EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno == ERANGE ? ERANGE : 0;
}

int ctl_parse_size(const char *s, uint64_t *bytes)
{
	if (!s)
		return EINVAL;
	char *end;
	unsigned long long v;
	int err = parse_decimal(s, &v, &end);
	if (err)
		return err;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case 'P': shift = 50; break;
	default: return EINVAL;
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int ctl_parse_duration(const char *s, int64_t *ns)
{
	static const struct { char unit; int64_t ns; } units[] = {
		{ 'd', 86400LL * 1000000000LL }, { 'h', 3600LL * 1000000000LL },
		{ 'm', 60LL * 1000000000LL },    { 's', 1000000000LL },
	};
	if (!s || !*s)
		return EINVAL;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	int64_t total = 0;
	size_t next_unit = 0; /* units must come in order, each once */
	while (*s) {
		char *end;
		unsigned long long v;
		int err = parse_decimal(s, &v, &end);
		if (err)
			return err;
		size_t u = next_unit;
		while (u < 4 && units[u].unit != *end)
			u++;
		if (u == 4)
			return EINVAL;
		if (v > (unsigned long long)(INT64_MAX / units[u].ns))
			return ERANGE;
		int64_t add = (int64_t)v * units[u].ns;
		if (total > INT64_MAX - add)
			return ERANGE;
		total += add;
		next_unit = u + 1;
		s = end + 1;
	}
	*ns = total;
	return 0;
}

int ctl_time_absolute(const char *s, char *out, size_t len)
{
	if (s[0] != '-') {
		if (strlen(s) >= len)
			return ERANGE;
		strcpy(out, s);
		return 0;
	}
	int64_t ago;
	int err = ctl_parse_duration(s + 1, &ago);
	if (err)
		return err;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t t = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - ago;
	if (t < 0)
		return ERANGE;
	time_t sec = (time_t)(t / 1000000000LL);
	struct tm tm;
	if (!gmtime_r(&sec, &tm))
		return ERANGE;
	int n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09" PRId64 "Z",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int64_t)(t % 1000000000LL));
	return n < 0 || (size_t)n >= len ? ERANGE : 0;
}

/* --------------------------------------------------------------- mounts */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

/* Calls fn for every line of /proc/self/mountinfo until it returns true. */
static int mounts_each(bool (*fn)(const ctl_mount *m, void *ctx), void *ctx)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return errno;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok[16];
		size_t n = 0;
		for (char *t = strtok_r(line, " \n", &save); t && n < 16;
		     t = strtok_r(NULL, " \n", &save))
			tok[n++] = t;
		size_t dash = 6;
		while (dash < n && strcmp(tok[dash], "-") != 0)
			dash++;
		if (n < 7 || dash + 2 >= n)
			continue;
		ctl_mount m;
		memset(&m, 0, sizeof m);
		if (sscanf(tok[2], "%u:%u", &m.major, &m.minor) != 2)
			continue;
		unescape(tok[4]);
		unescape(tok[dash + 2]);
		copy_str(m.dir, sizeof m.dir, tok[4]);
		copy_str(m.fstype, sizeof m.fstype, tok[dash + 1]);
		copy_str(m.source, sizeof m.source, tok[dash + 2]);
		if (fn(&m, ctx))
			break;
	}
	free(line);
	fclose(f);
	return 0;
}

struct at_ctx { const char *dir; ctl_mount *out; bool found; };

static bool at_fn(const ctl_mount *m, void *vctx)
{
	struct at_ctx *c = vctx;
	if (strcmp(m->dir, c->dir) == 0) { /* the last one is on top */
		*c->out = *m;
		c->found = true;
	}
	return false;
}

int ctl_mount_at(const char *dir, ctl_mount *out)
{
	struct at_ctx c = { .dir = dir, .out = out, .found = false };
	int err = mounts_each(at_fn, &c);
	if (err)
		return err;
	return c.found ? 0 : ENOENT;
}

struct list_ctx {
	const char *file;   /* exact block file, or NULL                  */
	const char *prefix; /* or every block file under this folder      */
	const char *loop;   /* mounts of this loop device                 */
	ctl_attach *v;
	size_t n, cap;
	int err;
	bool loop_mounted;
};

static bool path_matches(const struct list_ctx *c, const char *path)
{
	if (c->file)
		return strcmp(path, c->file) == 0;
	size_t pl = strlen(c->prefix);
	return strncmp(path, c->prefix, pl) == 0 && path[pl] == '/';
}

static bool push(struct list_ctx *c, const ctl_attach *a)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		ctl_attach *nv = realloc(c->v, cap * sizeof *nv);
		if (!nv) {
			c->err = ENOMEM;
			return false;
		}
		c->v = nv;
		c->cap = cap;
	}
	c->v[c->n++] = *a;
	return true;
}

static bool fuse_fn(const ctl_mount *m, void *vctx)
{
	struct list_ctx *c = vctx;
	/* fuse2fs shows as "fuse.ext4" (or fuse.fuse2fs), source = the image. */
	if (strncmp(m->fstype, "fuse.", 5) != 0 || strcmp(m->fstype, "fuse.rewindfs") == 0)
		return false;
	if (!path_matches(c, m->source))
		return false;
	ctl_attach a;
	memset(&a, 0, sizeof a);
	a.mnt = *m;
	copy_str(a.file, sizeof a.file, m->source);
	a.fuse2fs = true;
	return !push(c, &a);
}

struct loopmnt_ctx { struct list_ctx *c; ctl_attach proto; };

static bool loopmnt_fn(const ctl_mount *m, void *vctx)
{
	struct loopmnt_ctx *lc = vctx;
	if (strcmp(m->source, lc->proto.loop) != 0)
		return false;
	ctl_attach a = lc->proto;
	a.mnt = *m;
	lc->c->loop_mounted = true;
	return !push(lc->c, &a);
}

static int attach_list(struct list_ctx *c, ctl_attach **out, size_t *n)
{
	DIR *d = opendir("/sys/block");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL && !c->err) {
			if (strncmp(e->d_name, "loop", 4) != 0)
				continue;
			char p[PATH_MAX], back[PATH_MAX];
			snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", e->d_name);
			FILE *f = fopen(p, "re");
			if (!f)
				continue; /* not bound */
			bool ok = fgets(back, sizeof back, f) != NULL;
			fclose(f);
			if (!ok)
				continue;
			back[strcspn(back, "\n")] = '\0';
			char *del = strstr(back, " (deleted)");
			if (del)
				*del = '\0';
			if (!path_matches(c, back))
				continue;
			struct loopmnt_ctx lc = { .c = c };
			if (snprintf(lc.proto.loop, sizeof lc.proto.loop, "/dev/%s",
				     e->d_name) >= (int)sizeof lc.proto.loop)
				continue;
			copy_str(lc.proto.mnt.source, sizeof lc.proto.mnt.source, back);
			copy_str(lc.proto.file, sizeof lc.proto.file, back);
			c->loop_mounted = false;
			int err = mounts_each(loopmnt_fn, &lc);
			if (err)
				c->err = err;
			else if (!c->loop_mounted)
				push(c, &lc.proto); /* bound, not mounted */
		}
		closedir(d);
	}
	if (!c->err) {
		int err = mounts_each(fuse_fn, c);
		if (err)
			c->err = err;
	}
	if (c->err) {
		free(c->v);
		return c->err;
	}
	*out = c->v;
	*n = c->n;
	return 0;
}

int ctl_loop_file(const char *dev, char *file, size_t len)
{
	const char *base = strrchr(dev, '/');
	char p[PATH_MAX];
	snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", base ? base + 1 : dev);
	FILE *f = fopen(p, "re");
	if (!f)
		return ENOENT;
	bool ok = fgets(file, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return ENOENT;
	file[strcspn(file, "\n")] = '\0';
	char *del = strstr(file, " (deleted)");
	if (del)
		*del = '\0';
	return 0;
}

int ctl_attach_list(const char *volfile, ctl_attach **out, size_t *n)
{
	struct list_ctx c = { .file = volfile };
	return attach_list(&c, out, n);
}

int ctl_attach_list_under(const char *mnt, ctl_attach **out, size_t *n)
{
	struct list_ctx c = { .prefix = mnt };
	return attach_list(&c, out, n);
}

/* ------------------------------------------------------------ processes */

static bool same_file(const char *path, unsigned major, unsigned minor, ino_t ino)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	if (major(st.st_dev) != major || minor(st.st_dev) != minor)
		return false;
	return ino == 0 || st.st_ino == ino;
}

static bool maps_use(const char *pid, unsigned major, unsigned minor, ino_t ino)
{
	char p[300];
	snprintf(p, sizeof p, "/proc/%s/maps", pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return false;
	char line[512];
	bool hit = false;
	while (!hit && fgets(line, sizeof line, f)) {
		unsigned ma, mi;
		unsigned long long in;
		/* addr perms offset MAJ:MIN inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &ma, &mi, &in) == 3 &&
		    ma == major && mi == minor && in != 0 && (ino == 0 || in == ino))
			hit = true;
		if (!strchr(line, '\n')) { /* skip the rest of a long line */
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		}
	}
	fclose(f);
	return hit;
}

static bool proc_uses(const char *pid, unsigned major, unsigned minor, ino_t ino)
{
	static const char *const links[] = { "cwd", "root", "exe" };
	char p[PATH_MAX];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "/proc/%s/%s", pid, links[i]);
		if (same_file(p, major, minor, ino))
			return true;
	}
	snprintf(p, sizeof p, "/proc/%s/fd", pid);
	DIR *d = opendir(p);
	if (d) {
		struct dirent *e;
		bool hit = false;
		while (!hit && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "/proc/%s/fd/%s", pid, e->d_name);
			hit = same_file(p, major, minor, ino);
		}
		closedir(d);
		if (hit)
			return true;
	}
	return maps_use(pid, major, minor, ino);
}

static void proc_name(const char *pid, char *name, size_t len)
{
	char p[300];
	snprintf(p, sizeof p, "/proc/%s/comm", pid);
	FILE *f = fopen(p, "re");
	if (!f || !fgets(name, (int)len, f))
		copy_str(name, len, "?");
	if (f)
		fclose(f);
	name[strcspn(name, "\n")] = '\0';
}

static bool is_pid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

struct holder { char comm[64]; long pid; bool done; };

static void append(char *buf, size_t len, size_t *used, const char *fmt,
		   const char *s, long n)
{
	if (*used >= len)
		return;
	int w = s ? snprintf(buf + *used, len - *used, fmt, s)
		  : snprintf(buf + *used, len - *used, fmt, n);
	if (w > 0)
		*used += (size_t)w;
}

size_t ctl_procs_using(unsigned major, unsigned minor, ino_t ino, char *names,
		       size_t len)
{
	struct holder *v = NULL;
	size_t count = 0, cap = 0, used = 0;
	if (len)
		names[0] = '\0';
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	char self[32];
	snprintf(self, sizeof self, "%d", (int)getpid());
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_pid(e->d_name) || strcmp(e->d_name, self) == 0)
			continue;
		if (!proc_uses(e->d_name, major, minor, ino))
			continue;
		if (count == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct holder *nv = realloc(v, nc * sizeof *nv);
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		proc_name(e->d_name, v[count].comm, sizeof v[count].comm);
		v[count].pid = atol(e->d_name);
		v[count].done = false;
		count++;
	}
	closedir(d);
	/* "postgres (pids 812, 813), bash (pid 77)": one entry per command. */
	for (size_t i = 0; i < count; i++) {
		if (v[i].done)
			continue;
		size_t same = 0;
		for (size_t j = i; j < count; j++)
			same += strcmp(v[j].comm, v[i].comm) == 0;
		append(names, len, &used, used ? ", %s" : "%s", v[i].comm, 0);
		append(names, len, &used, same > 1 ? " (pids" : " (pid", "", 0);
		bool first = true;
		for (size_t j = i; j < count; j++) {
			if (strcmp(v[j].comm, v[i].comm) != 0)
				continue;
			append(names, len, &used, first ? " %ld" : ", %ld", NULL, v[j].pid);
			first = false;
			v[j].done = true;
		}
		append(names, len, &used, ")", "", 0);
	}
	free(v);
	return count;
}

pid_t ctl_find_process(const char *prog, const char *arg)
{
	pid_t found = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		if (!is_pid(e->d_name))
			continue;
		char p[300], buf[8192];
		snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		const char *argv0 = buf, *base = strrchr(argv0, '/');
		base = base ? base + 1 : argv0;
		if (strcmp(base, prog) != 0)
			continue;
		for (const char *a = buf + strlen(buf) + 1; a < buf + n; a += strlen(a) + 1) {
			if (strcmp(a, arg) == 0) {
				found = (pid_t)atoi(e->d_name);
				break;
			}
		}
	}
	closedir(d);
	return found;
}

/* ----------------------------------------------------------------- json */

void ctl_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static bool json_bare(const char *v)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		return true;
	const char *p = v;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p) || (p[0] == '0' && p[1]))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

/* "yes"/"no" are the control files' booleans, except where a name (of a
 * volume, snapshot, clone source) happens to be spelled so. */
static void json_value(FILE *f, const char *key, const char *v)
{
	bool named = strcmp(key, "name") == 0 || strcmp(key, "source") == 0;
	if (json_bare(v))
		fputs(v, f);
	else if (!named && strcmp(v, "yes") == 0)
		fputs("true", f);
	else if (!named && strcmp(v, "no") == 0)
		fputs("false", f);
	else
		ctl_json_string(f, v);
}

/* "- k=v k=v": a value runs until the next " key=" token. */
static void json_item(FILE *f, const char *item)
{
	if (!strchr(item, '=')) {
		ctl_json_string(f, item);
		return;
	}
	char *copy = strdup(item);
	if (!copy) {
		ctl_json_string(f, item);
		return;
	}
	fputc('{', f);
	bool first = true;
	char *p = copy;
	while (*p) {
		while (*p == ' ')
			p++;
		char *eq = strchr(p, '=');
		if (!eq)
			break;
		*eq = '\0';
		char *v = eq + 1, *end = v;
		/* extend the value over tokens that hold no '=' */
		for (;;) {
			char *sp = strchr(end, ' ');
			if (!sp) {
				end += strlen(end);
				break;
			}
			char *tok = sp + 1;
			size_t tl = strcspn(tok, " ");
			char *teq = memchr(tok, '=', tl);
			if (teq) {
				end = sp;
				break;
			}
			end = tok + tl;
		}
		char saved = *end;
		*end = '\0';
		fprintf(f, "%s", first ? "" : ", ");
		ctl_json_string(f, p);
		fputs(": ", f);
		json_value(f, p, v);
		first = false;
		*end = saved;
		p = end;
	}
	fputc('}', f);
	free(copy);
}

typedef struct jentry {
	char *key, *val;  /* into the copy of the text */
	char **items;     /* list items following "key:" */
	size_t nitems;
	bool done;
} jentry;

static void json_entry_value(FILE *f, const jentry *e, int indent)
{
	if (e->nitems || !*e->val) {
		if (!e->nitems) {
			fputs("\"\"", f); /* "key:" with nothing after it */
			return;
		}
		fputs("[\n", f);
		for (size_t i = 0; i < e->nitems; i++) {
			fprintf(f, "%*s", indent + 4, "");
			json_item(f, e->items[i]);
			fputs(i + 1 < e->nitems ? ",\n" : "\n", f);
		}
		fprintf(f, "%*s]", indent + 2, "");
		return;
	}
	json_value(f, e->key, e->val);
}

void ctl_json_object(FILE *f, const char *text, int indent)
{
	char *copy = strdup(text ? text : "");
	jentry *v = NULL;
	size_t n = 0, cap = 0;
	if (!copy) {
		fputs("{}", f);
		return;
	}
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t ll = strlen(l);
		while (ll && (l[ll - 1] == '\r' || l[ll - 1] == ' '))
			l[--ll] = '\0';
		if (l[0] == '-' && l[1] == ' ') {
			if (n == 0)
				continue;
			jentry *e = &v[n - 1];
			char **ni = realloc(e->items, (e->nitems + 1) * sizeof *ni);
			if (!ni)
				goto out;
			e->items = ni;
			e->items[e->nitems++] = l + 2;
			continue;
		}
		char *colon = strchr(l, ':');
		if (!colon || colon == l)
			continue;
		*colon = '\0';
		char *val = colon + 1;
		while (*val == ' ')
			val++;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			jentry *nv = realloc(v, cap * sizeof *nv);
			if (!nv)
				goto out;
			v = nv;
		}
		v[n++] = (jentry){ .key = l, .val = val };
	}
out:
	fputs("{\n", f);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (v[i].done)
			continue;
		size_t count = 0;
		for (size_t j = i; j < n; j++)
			count += strcmp(v[j].key, v[i].key) == 0;
		fprintf(f, "%s%*s", first ? "" : ",\n", indent + 2, "");
		first = false;
		ctl_json_string(f, v[i].key);
		fputs(": ", f);
		if (count == 1) {
			json_entry_value(f, &v[i], indent);
			v[i].done = true;
			continue;
		}
		fputc('[', f);
		bool f2 = true;
		for (size_t j = i; j < n; j++) {
			if (strcmp(v[j].key, v[i].key) != 0)
				continue;
			fputs(f2 ? "" : ", ", f);
			f2 = false;
			json_entry_value(f, &v[j], indent + 2);
			v[j].done = true;
		}
		fputc(']', f);
	}
	fprintf(f, "%s%*s}", first ? "" : "\n", indent, "");
	for (size_t i = 0; i < n; i++)
		free(v[i].items);
	free(v);
	free(copy);
}
