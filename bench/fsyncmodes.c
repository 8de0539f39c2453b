/*
 * fsyncmodes.c - what an fdatasync costs on the pool's disk, by how the
 * file's blocks came to be: appended, fallocate'd (unwritten extents), or
 * written before (zeros). The page log prepares segments as zeros when
 * syncs are frequent (volume/pagelog.c, "Prepared segments") because of
 * what this measures. A benchmark, not a test.
 *
 *   fsyncmodes [DIR [COUNT]]    DIR on the disk to measure (default
 *                               /var/tmp), COUNT writes per mode (2000)
 *
 * Each mode writes COUNT records of 8,592 bytes (two 4 KiB page records of
 * the page log and their commit and barrier records) one after the other
 * into a fresh file, each followed by fdatasync, and prints the p50 and p90
 * of write + fdatasync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC 8592

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Prepare `path` for mode, then time count appends; 0 or an errno. */
static int run(const char *mode, const char *path, int count, double *lat)
{
	static char zeros[1 << 20], rec[REC];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return errno;
	int err = 0;
	off_t total = (off_t)count * REC;
	if (!strcmp(mode, "fallocate")) {
		if (fallocate(fd, 0, 0, total))
			err = errno;
	} else if (!strcmp(mode, "written")) {
		for (off_t o = 0; !err && o < total; o += (off_t)sizeof zeros)
			if (pwrite(fd, zeros, sizeof zeros, o) !=
			    (ssize_t)sizeof zeros)
				err = errno ? errno : EIO;
	}
	if (!err && fdatasync(fd))
		err = errno;
	for (size_t i = 0; i < sizeof rec; i++)
		rec[i] = (char)(rand() | 1);
	for (int i = 0; !err && i < count; i++) {
		double t0 = now_s();
		if (pwrite(fd, rec, REC, (off_t)i * REC) != REC || fdatasync(fd))
			err = errno ? errno : EIO;
		lat[i] = now_s() - t0;
	}
	close(fd);
	unlink(path);
	return err;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	int count = argc > 2 ? atoi(argv[2]) : 2000;
	if (count < 10) {
		fprintf(stderr, "usage: fsyncmodes [DIR [COUNT >= 10]]\n");
		return 2;
	}
	double *lat = malloc((size_t)count * sizeof *lat);
	char path[4096];
	snprintf(path, sizeof path, "%s/fsyncmodes.%d", dir, (int)getpid());
	if (!lat)
		return 1;
	const char *modes[] = {"append", "fallocate", "written"};
	printf("%d writes of %d bytes + fdatasync each, in %s\n", count, REC,
	       dir);
	for (int m = 0; m < 3; m++) {
		int err = run(modes[m], path, count, lat);
		if (err) {
			fprintf(stderr, "fsyncmodes: %s: %s\n", modes[m],
				strerror(err));
			return 1;
		}
		qsort(lat, (size_t)count, sizeof *lat, dbl_cmp);
		printf("  %-10s p50 %.3f ms  p90 %.3f ms\n", modes[m],
		       lat[count / 2] * 1e3, lat[count * 9 / 10] * 1e3);
	}
	free(lat);
	return 0;
}
