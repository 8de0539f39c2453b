/*
 * fusepass.c - the least a FUSE daemon can do for a block file: one file,
 * "image", whose reads and writes go to a backing file with pread/pwrite
 * and whose fsync is an fdatasync of it. No paths, no metadata, no
 * history. It answers how close to native ext4-on-a-loop-device any FUSE
 * daemon can come on this machine (the stack's floor), next to bindfs (a
 * general passthrough) and rewindfs. A benchmark, not a test.
 *
 *   fusepass BACKING MOUNTPOINT [--clone-fd]
 *        (stays in the foreground; unmount with fusermount3 -u or umount;
 *        --clone-fd: each worker thread reads requests from a /dev/fuse
 *        descriptor of its own, rewindfs's -o clone_fd)
 *
 * Mount options as rewindfs sets them (fs/ops.c, fs/main.c): 1 MiB
 * requests, no writeback cache, O_DIRECT openers get FOPEN_DIRECT_IO, the
 * other opens the page cache, libfuse's multi-threaded loop with its
 * defaults, PR_SET_IO_FLUSHER.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define INO_IMAGE 2
#define MAX_WRITE (1u << 20)

static int bfd = -1; /* the backing file */

static int attr_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (ino != INO_IMAGE)
		return ENOENT;
	struct stat b;
	if (fstat(bfd, &b))
		return errno;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = b.st_size;
	st->st_blocks = b.st_blocks;
	st->st_blksize = 4096;
	return 0;
}

static void op_init(void *u, struct fuse_conn_info *conn)
{
	(void)u;
	if (conn->max_write < MAX_WRITE)
		conn->max_write = MAX_WRITE;
	conn->max_readahead = MAX_WRITE;
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {0};
	if (parent != FUSE_ROOT_ID || strcmp(name, "image")) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	int err = attr_of(INO_IMAGE, &e.attr);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	e.ino = INO_IMAGE;
	e.attr_timeout = e.entry_timeout = 3600;
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int err = attr_of(ino, &st);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != INO_IMAGE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = pread(bfd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(bfd, buf + done, size - done,
				   off + (off_t)done);
		if (n < 0) {
			fuse_reply_err(req, errno);
			return;
		}
		done += (size_t)n;
	}
	if ((fi->flags & O_DSYNC) && fi->direct_io && fdatasync(bfd)) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_write(req, size);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, fdatasync(bfd) ? errno : 0);
}

static void op_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.flush = op_ok,
	.release = op_ok,
};

int main(int argc, char **argv)
{
	bool clone_fd = argc == 4 && strcmp(argv[3], "--clone-fd") == 0;
	if (argc != 3 && !clone_fd) {
		fprintf(stderr,
			"usage: fusepass BACKING MOUNTPOINT [--clone-fd]\n");
		return 2;
	}
	if ((bfd = open(argv[1], O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "fusepass: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	(void)prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
	char *fargv[] = {argv[0], "-o", "fsname=fusepass", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se =
		fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se || fuse_set_signal_handlers(se) ||
	    fuse_session_mount(se, argv[2])) {
		fprintf(stderr, "fusepass: cannot mount %s\n", argv[2]);
		return 1;
	}
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (cfg)
		fuse_loop_cfg_set_clone_fd(cfg, clone_fd);
	int r = cfg ? fuse_session_loop_mt(se, cfg) : -1;
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	close(bfd);
	return r < 0 ? 1 : 0;
}
