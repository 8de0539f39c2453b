/*
 * main.c - `rewindfs [options] POOL MOUNTPOINT`: command line, daemonizing,
 * the FUSE session and a clean shutdown.
 *
 * DESIGN
 * RocksDB starts threads when a database opens, and threads do not survive
 * fork(). So the pool is opened only in the process that will serve it:
 * unless -f is given, we fork first, the child becomes the daemon (setsid),
 * opens the pool, creates the session and mounts, and only then tells the
 * waiting parent "ok" through a pipe. Until then the child's stderr is still
 * the caller's terminal, so an open error (missing pool, foreign folder,
 * "pool is in use") is printed there and the parent exits 1, as if nothing
 * had been forked. Only after the mount succeeded does the child detach its
 * stdio: its stdout and stderr become POOL/rewindfs.log, where its log lines
 * go as well as to syslog (log.c).
 *
 * Shutdown: SIGTERM/SIGINT/SIGHUP (libfuse's handlers) or `fusermount3 -u`
 * end the session loop; the destroy callback syncs the pool, and
 * vol_pool_close() syncs again and releases the pool lock before exit.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct cli {
	char *pool;
	unsigned retention_s;
	int allow_other;
	int salvage;
};

enum { KEY_ALLOW_OTHER };

static const struct fuse_opt cli_spec[] = {
	{ "retention=%u", offsetof(struct cli, retention_s), 0 },
	{ "salvage", offsetof(struct cli, salvage), 1 },
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_END
};

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cli *c = data;
	(void)outargs;
	if (key == KEY_ALLOW_OTHER) {
		c->allow_other = 1;
		return 1; /* keep: libfuse handles it */
	}
	if (key == FUSE_OPT_KEY_NONOPT && !c->pool) {
		c->pool = strdup(arg);
		return c->pool ? 0 : -1;
	}
	return 1;
}

static void usage(FILE *o, const char *prog)
{
	fprintf(o,
		"usage: %s [options] POOL MOUNTPOINT\n"
		"\n"
		"Mount the rewindfs pool POOL (made by `rewindctl init`) on\n"
		"MOUNTPOINT: one folder per volume, holding the block file\n"
		"`volume` and the control files (see rewindfs(8)).\n"
		"\n"
		"rewindfs options:\n"
		"    -o retention=SECONDS   seconds between background retention\n"
		"                           passes (default 60; 0 = none)\n"
		"    -o allow_other         let other users in (implies\n"
		"                           default_permissions: modes are enforced)\n"
		"    -o salvage             mount a pool whose write-ahead log or\n"
		"                           page log is damaged (it refuses to open\n"
		"                           otherwise) read-only, with what its store\n"
		"                           holds, to copy the volumes out\n"
		"\n", prog);
}

static const fs *log_fs; /* libfuse's log lines carry no userdata */

/* fuse_log_level's values are syslog's priorities. */
static void log_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	fs_vlog(log_fs, (int)level, fmt, ap);
}

/* Tell the waiting parent (if any) how start-up ended, once. */
static void report(int *fd, char status)
{
	if (*fd < 0)
		return;
	ssize_t r = write(*fd, &status, 1);
	(void)r;
	close(*fd);
	*fd = -1;
}

/* Parent side of the fork: wait for the child's verdict. */
static int wait_child(pid_t pid, int fd)
{
	char status = 0;
	ssize_t r;
	do
		r = read(fd, &status, 1);
	while (r < 0 && errno == EINTR);
	close(fd);
	if (r == 1 && status == '0')
		return 0;
	/* The child printed why; reap it. */
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	return 1;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct cli cli = { .retention_s = 60 };
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *loop_cfg = NULL;
	struct fuse_session *se = NULL;
	char pool_path[PATH_MAX];
	fs f;
	int ret = 1, report_fd = -1;
	bool mounted = false, handlers = false;

	memset(&f, 0, sizeof(f));
	/* Everything the daemon creates (the pool's RocksDB files) is for
	 * its owner only, whatever umask it was started with. */
	umask(077);
	/* The block files usually sit under a loop device and a filesystem
	 * whose writeback runs through this daemon: if its own allocations
	 * entered that writeback under memory pressure, it would wait for
	 * itself. PR_SET_IO_FLUSHER (Linux 5.6+, needs CAP_SYS_RESOURCE)
	 * keeps reclaim in its threads from doing I/O; every thread made
	 * later (RocksDB's, libfuse's) inherits it. Without the capability
	 * the daemon still works, as any FUSE server does. */
	int io_flusher = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) ? errno : 0;
	/* glibc gives every thread that allocates its own arena (up to 8 per
	 * core); RocksDB's and libfuse's threads then each keep freed memory
	 * of their own. Four arenas bound the daemon's memory better. */
	mallopt(M_ARENA_MAX, 4);
	/* A fixed mmap threshold: RocksDB's memtable blocks (1-4 MiB) and
	 * libfuse's request buffers then come from mmap and go back to the
	 * kernel when freed. glibc's threshold otherwise grows past them
	 * after the first free, and freed blocks stay in the arenas' heaps:
	 * bench/run-stacks (rewindfs; seqw1m, randr8k, aio16k, pgbench):
	 * peak RSS 155.6 MiB with 256 KiB against 228.0 MiB without. */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	memset(&opts, 0, sizeof(opts));
	if (fuse_opt_parse(&args, &cli, cli_spec, cli_proc) != 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (opts.show_help) {
		usage(stdout, argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("rewindfs %s\n", REWINDFS_VERSION);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!cli.pool || !opts.mountpoint) {
		usage(stderr, argv[0]);
		ret = 2;
		goto out_args;
	}
	if (!realpath(cli.pool, pool_path)) {
		fprintf(stderr, "rewindfs: %s: %s (no such pool; make one with"
				" `rewindctl init`)\n", cli.pool, strerror(errno));
		goto out_args;
	}
	if (cli.allow_other &&
	    fuse_opt_add_arg(&args, "-odefault_permissions") != 0)
		goto out_args;
	if (fuse_opt_add_arg(&args, "-osubtype=rewindfs") != 0)
		goto out_args;
	if (!strchr(pool_path, ',') && !strchr(pool_path, '\\')) {
		char opt[PATH_MAX + 16];
		snprintf(opt, sizeof(opt), "-ofsname=%s", pool_path);
		if (fuse_opt_add_arg(&args, opt) != 0)
			goto out_args;
	}

	if (!opts.foreground) {
		int pfd[2];
		if (pipe(pfd) != 0) {
			perror("rewindfs: pipe");
			goto out_args;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("rewindfs: fork");
			goto out_args;
		}
		if (pid > 0) {
			close(pfd[1]);
			ret = wait_child(pid, pfd[0]);
			goto out_args;
		}
		close(pfd[0]);
		report_fd = pfd[1];
		setsid();
	}

	/* From here on: the serving process. */
	f.uid = getuid();
	f.gid = getgid();
	f.foreground = opts.foreground;
	f.retention_s = cli.retention_s;
	f.started_ns = fs_now_ns();
	pthread_mutex_init(&f.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* immune to clock steps */
	pthread_cond_init(&f.closed, &ca);
	pthread_condattr_destroy(&ca);

	vol_pool_opts popts = { .retention_interval_s = cli.retention_s,
				.salvage = cli.salvage };
	vol_status vs = vol_pool_open(pool_path, &popts, &f.pool);
	if (vs != VOL_OK) {
		fprintf(stderr, "rewindfs: %s: %s\n", pool_path,
			vol_errmsg()[0] ? vol_errmsg() : vol_strerror(vs));
		goto out;
	}
	vol_pool_stats pst = {0};
	if (vol_pool_stats_get(f.pool, &pst) == VOL_OK && pst.store_error[0])
		fprintf(stderr, "rewindfs: %s: warning: %s\n", pool_path,
			pst.store_error);
	if (pst.replayed)
		fprintf(stderr, "rewindfs: %s: %" PRIu64 " changes and syncs "
			"replayed from the page log (the daemon had stopped "
			"without closing the pool)\n", pool_path, pst.replayed);
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &f);
	if (!se)
		goto out;
	f.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	handlers = true;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out;
	mounted = true;

	if (!opts.foreground) {
		openlog("rewindfs", LOG_PID, LOG_DAEMON);
		if (chdir("/") != 0) {
			/* cannot happen for "/"; keep going */
		}
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			if (nul > 2)
				close(nul);
		}
		/* stderr is still the caller's: a log that cannot be
		 * written is said there, and the daemon logs to syslog only. */
		int lerr = fs_log_open(&f, pool_path);
		if (lerr) {
			fprintf(stderr, "rewindfs: warning: %s/rewindfs.log: %s "
				"(logging to syslog only)\n", pool_path,
				strerror(lerr));
			if (nul >= 0) {
				dup2(0, 1);
				dup2(0, 2);
			}
		}
		log_fs = &f;
		fuse_set_log_func(log_fuse);
		report(&report_fd, '0');
	}
	fs_log(&f, LOG_INFO, "serving %s on %s (pid %ld%s%s)", pool_path,
	       opts.mountpoint, (long)getpid(),
	       io_flusher ? "; not an I/O flusher: " : "",
	       io_flusher ? strerror(io_flusher) : "");

	int r;
	if (opts.singlethread) {
		r = fuse_session_loop(se);
	} else {
		/* Threads: libfuse spawns workers on demand up to max_threads
		 * (-o max_threads, default 10); the engine runs reads and
		 * writes of different volumes in parallel. Measured on this
		 * 2-core machine, 4 dd streams (bs=1M, O_DIRECT, random data)
		 * on 4 volumes: writes 32 -> 45 MiB/s, reads 80 -> 100 MiB/s
		 * from -s (one thread) to the default. */
		loop_cfg = fuse_loop_cfg_create();
		if (!loop_cfg)
			goto out;
		fuse_loop_cfg_set_clone_fd(loop_cfg, (unsigned)opts.clone_fd);
		/* UINT_MAX means "not given on the command line". */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop_cfg,
						       opts.max_idle_threads);
		if (opts.max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(loop_cfg, opts.max_threads);
		r = fuse_session_loop_mt(se, loop_cfg);
	}
	ret = r < 0 ? 1 : 0; /* > 0: ended by a signal, a clean shutdown */

out:
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	if (loop_cfg)
		fuse_loop_cfg_destroy(loop_cfg);
	if (f.pool) {
		vs = vol_pool_close(f.pool);
		if (vs != VOL_OK) {
			fs_log(&f, LOG_ERR, "closing the pool: %s", vol_errmsg());
			ret = 1;
		}
	}
	if (f.pool || !opts.foreground)
		fs_log(&f, LOG_INFO, "stopped");
	free(f.vols);
	pthread_cond_destroy(&f.closed);
	pthread_mutex_destroy(&f.lock);
	report(&report_fd, '1');
out_args:
	free(opts.mountpoint);
	free(cli.pool);
	fuse_opt_free_args(&args);
	return ret;
}
