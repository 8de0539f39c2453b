/*
 * fillvol.c - test helper for the full-disk test: writes a known,
 * incompressible pattern into a block file with O_DIRECT until told to stop
 * or until a write or fsync fails, and checks a range of it back.
 *
 * The pattern of each 4 KiB block depends only on (SEED, block number), so
 * any range written with a seed can be verified later without keeping a copy
 * of it, and two seeds give different bytes everywhere (distinct data: no
 * page is ever the same as an earlier version).
 *
 *   diskfull_fillvol write FILE OFF LEN SEED SYNC
 *       pwrite LEN bytes (LEN 0: up to the file's size) at OFF, 1 MiB
 *       per write, fsync after every SYNC bytes and at the end; never
 *       past the file's size (a plain file is not grown), stopping at the
 *       first failed write or fsync. Prints one line
 *       "written=W synced=S end=E errno=NAME op=OP" (W: bytes whose write
 *       returned, S: bytes up to the last fsync that succeeded, E: OFF+S,
 *       NAME: OK or the errno of the first failure, OP: write, fsync or
 *       none). Exit 0 when everything was written and synced, 1 when a
 *       write or fsync failed, 2 on usage or open errors.
 *   diskfull_fillvol verify FILE OFF LEN SEED
 *       read LEN bytes at OFF with O_DIRECT and compare with the pattern.
 *       Prints "OK" (exit 0), or "MISMATCH at BYTE" / "ERR NAME at BYTE"
 *       (exit 1).
 *
 * OFF and LEN are multiples of 4096 (O_DIRECT). The process never sleeps;
 * the shell bounds it with timeout(1) so a hung daemon fails the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096u
#define CHUNK (1u << 20)

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "OK";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case EFBIG: return "EFBIG";
	case EROFS: return "EROFS";
	case EDQUOT: return "EDQUOT";
	case ENOTCONN: return "ENOTCONN";
	case ECONNABORTED: return "ECONNABORTED";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINTR: return "EINTR";
	}
	static char buf[32];
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Fill one 4 KiB block with the pattern of (seed, block number). */
static void pattern(uint64_t seed, uint64_t blockno, unsigned char *out)
{
	uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^
		     (blockno * 0xD1B54A32D192ED03ull) ^ 0x2545F4914F6CDD1Dull;
	if (!x)
		x = 1;
	for (unsigned i = 0; i < BLOCK; i += 8) {
		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(out + i, &x, 8);
	}
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*v = n;
	return 0;
}

static int do_write(const char *file, uint64_t off, uint64_t len,
		    uint64_t seed, uint64_t sync_every, unsigned char *buf)
{
	int fd = open(file, O_WRONLY | O_DIRECT);
	if (fd < 0) {
		printf("written=0 synced=0 end=%" PRIu64 " errno=%s op=open\n",
		       off, errno_name(errno));
		return 2;
	}
	/* Never past the file's size (a block file's size is fixed; a plain
	 * file would grow until its own disk is full). */
	struct stat st;
	uint64_t size = fstat(fd, &st) == 0 && st.st_size > 0
				? (uint64_t)st.st_size : 0;
	if (off >= size || (len && len > size - off)) {
		close(fd);
		printf("written=0 synced=0 end=%" PRIu64 " errno=EFBIG op=write\n",
		       off);
		return 1;
	}
	if (len == 0)
		len = size - off;
	uint64_t done = 0, synced = 0, since_sync = 0;
	int err = 0;
	const char *op = "none";
	while (done < len) {
		size_t n = CHUNK;
		if (len - done < n)
			n = (size_t)(len - done);
		for (size_t b = 0; b < n; b += BLOCK)
			pattern(seed, (off + done + b) / BLOCK, buf + b);
		ssize_t w = pwrite(fd, buf, n, (off_t)(off + done));
		if (w < 0) {
			err = errno;
			op = "write";
			break;
		}
		if (w == 0) {
			err = EFBIG; /* the end of the block file */
			op = "write";
			break;
		}
		/* A short write: only whole blocks count. */
		done += (uint64_t)w / BLOCK * BLOCK;
		since_sync += (uint64_t)w;
		if ((size_t)w < n) {
			err = EFBIG;
			op = "write";
			break;
		}
		if (since_sync >= sync_every) {
			if (fsync(fd) != 0) {
				err = errno;
				op = "fsync";
				break;
			}
			synced = done;
			since_sync = 0;
		}
	}
	if (!err) {
		if (fsync(fd) != 0) {
			err = errno;
			op = "fsync";
		} else {
			synced = done;
		}
	}
	close(fd);
	printf("written=%" PRIu64 " synced=%" PRIu64 " end=%" PRIu64
	       " errno=%s op=%s\n", done, synced, off + synced,
	       errno_name(err), op);
	return err ? 1 : 0;
}

static int do_verify(const char *file, uint64_t off, uint64_t len,
		     uint64_t seed, unsigned char *buf)
{
	unsigned char want[BLOCK];
	int fd = open(file, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		printf("ERR %s at %" PRIu64 "\n", errno_name(errno), off);
		return 1;
	}
	for (uint64_t done = 0; done < len;) {
		size_t n = CHUNK;
		if (len - done < n)
			n = (size_t)(len - done);
		ssize_t r = pread(fd, buf, n, (off_t)(off + done));
		if (r <= 0 || r % BLOCK) {
			printf("ERR %s at %" PRIu64 "\n",
			       r < 0 ? errno_name(errno) : "short read",
			       off + done);
			close(fd);
			return 1;
		}
		for (size_t b = 0; b < (size_t)r; b += BLOCK) {
			pattern(seed, (off + done + b) / BLOCK, want);
			if (memcmp(want, buf + b, BLOCK) != 0) {
				printf("MISMATCH at %" PRIu64 "\n",
				       off + done + b);
				close(fd);
				return 1;
			}
		}
		done += (uint64_t)r;
	}
	close(fd);
	printf("OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t off, len, seed, sync_every = 0;
	int is_write = argc == 7 && strcmp(argv[1], "write") == 0;
	int is_verify = argc == 6 && strcmp(argv[1], "verify") == 0;
	if ((!is_write && !is_verify) || parse_u64(argv[3], &off) ||
	    parse_u64(argv[4], &len) || parse_u64(argv[5], &seed) ||
	    (is_write && (parse_u64(argv[6], &sync_every) || !sync_every)) ||
	    off % BLOCK || len % BLOCK) {
		fprintf(stderr,
			"usage: %s write FILE OFF LEN SEED SYNC\n"
			"       %s verify FILE OFF LEN SEED\n"
			"(OFF and LEN multiples of 4096; LEN 0 = up to the end of FILE)\n",
			argv[0], argv[0]);
		return 2;
	}
	unsigned char *buf;
	if (posix_memalign((void **)&buf, BLOCK, CHUNK) != 0) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int rc = is_write ? do_write(argv[2], off, len, seed, sync_every, buf)
			  : do_verify(argv[2], off, len, seed, buf);
	free(buf);
	return rc;
}
