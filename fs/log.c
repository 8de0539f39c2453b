/*
 * log.c - where the daemon's log lines go.
 *
 * DESIGN
 * In the foreground (-f) a line goes to stderr, as the caller wants it.
 * Detached, a daemon has no terminal, and syslog alone is not enough: a
 * machine or container without a syslog daemon (no /dev/log) drops every
 * line, and what a dying process prints on its way out (glibc's abort
 * message, a sanitizer report, RocksDB's or libfuse's complaints) goes to
 * stderr, not syslog. So fs_log_open() makes POOL/rewindfs.log the
 * daemon's stdout and stderr, and each log line is written there with a
 * time stamp (one write(2) per line, O_APPEND: lines of different threads
 * never interleave), and to syslog as well.
 *
 * The file is bounded: once it passes FS_LOG_MAX bytes it becomes
 * rewindfs.log.1 (an older one goes) and a new rewindfs.log starts, so at
 * most twice that stays on the pool's disk, whatever repeats (a database
 * retrying the read of a damaged page logs one line per read).
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define FS_LOG_NAME "rewindfs.log"
#define FS_LOG_MAX (8 << 20)

/* A line's write and the rotation it may start: no line goes to a file
 * that is being moved aside. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *level_name(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT:
		return "critical";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE: case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Opens path for appending as fds 1 and 2; 0 or an errno. */
static int attach(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int err = 0;
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		err = errno;
	close(fd);
	return err;
}

/* Moves a full log aside; called with log_mu held. */
static int rotate(const char *path)
{
	char old[FS_LOG_PATH_MAX + 2];
	snprintf(old, sizeof old, "%s.1", path);
	if (rename(path, old) != 0)
		return errno;
	return attach(path);
}

int fs_log_open(fs *f, const char *pool_path)
{
	int n = snprintf(f->log_path, sizeof f->log_path, "%s/%s", pool_path,
			 FS_LOG_NAME);
	if (n < 0 || (size_t)n >= sizeof f->log_path) {
		f->log_path[0] = '\0';
		return ENAMETOOLONG;
	}
	struct stat sb;
	int err = 0;
	if (stat(f->log_path, &sb) == 0 && sb.st_size >= FS_LOG_MAX)
		err = rotate(f->log_path);
	else
		err = attach(f->log_path);
	if (err)
		f->log_path[0] = '\0';
	return err;
}

void fs_vlog(const fs *f, int priority, const char *fmt, va_list ap)
{
	char msg[2048];
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	size_t len = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
	while (len && msg[len - 1] == '\n') /* libfuse ends its lines so */
		len--;
	msg[len] = '\0';
	if (!f || f->foreground) {
		fprintf(stderr, "rewindfs: %s\n", msg);
		return;
	}
	syslog(priority, "%s", msg);
	if (!f->log_path[0])
		return;

	char line[sizeof msg + 64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n,
			      ".%03ld UTC [%ld] %s: %s\n", ts.tv_nsec / 1000000,
			      (long)getpid(), level_name(priority), msg);
	if (n > sizeof line - 1)
		n = sizeof line - 1;

	pthread_mutex_lock(&log_mu);
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w; /* nowhere left to tell */
	struct stat sb;
	if (fstat(STDERR_FILENO, &sb) == 0 && sb.st_size >= FS_LOG_MAX) {
		int err = rotate(f->log_path);
		if (err)
			syslog(LOG_ERR, "cannot start a new %s: %s", f->log_path,
			       strerror(err));
	}
	pthread_mutex_unlock(&log_mu);
}

void fs_log(const fs *f, int priority, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fs_vlog(f, priority, fmt, ap);
	va_end(ap);
}
