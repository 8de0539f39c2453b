/*
 * ctlwrite.c - test helper: one write(2) to a file, and the outcome on stdout
 * as "OK" or the errno's name ("EINVAL", ...), so shell tests can check the
 * exact errno of a control command.
 *
 *   fs_ctlwrite FILE TEXT            pwrite TEXT at offset 0
 *   fs_ctlwrite FILE TEXT OFFSET     pwrite TEXT at OFFSET
 *   fs_ctlwrite FILE --fill N        pwrite N bytes of 'x' at offset 0
 *   fs_ctlwrite FILE --read          open O_RDONLY and read (cat's errno)
 * Exit status 0 whatever the errno (the output is the result), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *name_of(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ERANGE: return "ERANGE";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EFBIG: return "EFBIG";
	case EBADF: return "EBADF";
	case EISDIR: return "EISDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	}
	static char buf[32];
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

int main(int argc, char **argv)
{
	char *text = NULL;
	size_t len;
	off_t off = 0;
	int fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: fs_ctlwrite FILE TEXT [OFFSET] |"
				" FILE --fill N | FILE --read\n");
		return 2;
	}
	if (strcmp(argv[2], "--read") == 0) {
		char buf[4096];
		fd = open(argv[1], O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) {
			puts(name_of(errno));
			return 0;
		}
		puts("OK");
		close(fd);
		return 0;
	}
	if (strcmp(argv[2], "--fill") == 0) {
		if (argc != 4)
			return 2;
		len = strtoul(argv[3], NULL, 10);
		text = malloc(len ? len : 1);
		if (!text)
			return 2;
		memset(text, 'x', len);
	} else {
		text = strdup(argv[2]);
		if (!text)
			return 2;
		len = strlen(text);
		if (argc == 4)
			off = strtoll(argv[3], NULL, 10);
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		puts(name_of(errno));
		free(text);
		return 0;
	}
	ssize_t n = pwrite(fd, text, len, off);
	if (n < 0)
		puts(name_of(errno));
	else if ((size_t)n != len)
		printf("SHORT %zd\n", n);
	else
		puts("OK");
	close(fd);
	free(text);
	return 0;
}
