/*
 * ctlwrite.c - test helper: one write(2) to a file, and the outcome on stdout
 * as "OK" or the errno's name ("EINVAL", ...), so shell tests can check the
 * exact errno of a control command.
 *
 *   fs_ctlwrite FILE TEXT            pwrite TEXT at offset 0
 *   fs_ctlwrite FILE TEXT OFFSET     pwrite TEXT at OFFSET
 *   fs_ctlwrite FILE --fill N        pwrite N bytes of 'x' at offset 0
 *   fs_ctlwrite FILE --read          open O_RDONLY and read (cat's errno)
 *   fs_ctlwrite FILE --writes [--append] ARG...
 *        one open (O_WRONLY, or O_WRONLY|O_APPEND), then one write(2) per
 *        ARG at the file position, one result line per ARG. ARG is TEXT,
 *        or --fill=N (N bytes of 'x'), or --pad=N,TEXT (TEXT, spaces, and a
 *        newline as byte N), or --file=PATH (the bytes of PATH, NULs too,
 *        at most 4 MiB).
 *   fs_ctlwrite FILE --each PATH...
 *        for each PATH: open FILE O_WRONLY, one write(2) of the bytes of
 *        PATH (as --file=), close; one result line per PATH.
 *   fs_ctlwrite FILE --loop N PREFIX PAD [SUFFIX]
 *        one O_APPEND open, then N writes of "PREFIX<i>SUFFIX" padded as
 *        --pad=PAD
 *        (i = 1..N); prints OK, or the errno's name and " at <i>" at the
 *        first failure (a short write is "SHORT <n> at <i>").
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

/* "TEXT", then spaces, then '\n' as byte n (just TEXT if it is longer). */
static char *padded(const char *text, size_t n, size_t *len)
{
	size_t tl = strlen(text);
	*len = tl + 1 > n ? tl : n;
	char *b = malloc(*len + 1);
	if (!b)
		exit(2);
	memset(b, ' ', *len);
	memcpy(b, text, tl);
	if (*len > tl)
		b[*len - 1] = '\n';
	return b;
}

/* The bytes one --writes ARG stands for (malloc'ed, *len bytes). */
static char *arg_bytes(const char *arg, size_t *len)
{
	char *b;
	if (strncmp(arg, "--fill=", 7) == 0) {
		*len = strtoul(arg + 7, NULL, 10);
		b = malloc(*len + 1);
		if (!b)
			exit(2);
		memset(b, 'x', *len);
		return b;
	}
	if (strncmp(arg, "--pad=", 6) == 0) {
		char *end;
		size_t n = strtoul(arg + 6, &end, 10);
		if (*end != ',')
			exit(2);
		return padded(end + 1, n, len);
	}
	if (strncmp(arg, "--file=", 7) == 0) {
		FILE *f = fopen(arg + 7, "rb");
		if (!f)
			exit(2);
		b = malloc(4 << 20);
		if (!b)
			exit(2);
		*len = fread(b, 1, 4 << 20, f);
		fclose(f);
		return b;
	}
	*len = strlen(arg);
	b = strdup(arg);
	if (!b)
		exit(2);
	return b;
}

static int many_writes(const char *path, int append, char **args, int nargs)
{
	int fd = open(path, O_WRONLY | (append ? O_APPEND : 0));
	if (fd < 0) {
		puts(name_of(errno));
		return 0;
	}
	for (int i = 0; i < nargs; i++) {
		size_t len;
		char *b = arg_bytes(args[i], &len);
		ssize_t n = write(fd, b, len);
		if (n < 0)
			puts(name_of(errno));
		else if ((size_t)n != len)
			printf("SHORT %zd\n", n);
		else
			puts("OK");
		free(b);
	}
	close(fd);
	return 0;
}

static int each_write(const char *path, char **files, int nfiles)
{
	for (int i = 0; i < nfiles; i++) {
		char arg[4096];
		size_t len;
		snprintf(arg, sizeof(arg), "--file=%s", files[i]);
		char *b = arg_bytes(arg, &len);
		int fd = open(path, O_WRONLY);
		if (fd < 0) {
			puts(name_of(errno));
		} else {
			ssize_t n = write(fd, b, len);
			if (n < 0)
				puts(name_of(errno));
			else if ((size_t)n != len)
				printf("SHORT %zd\n", n);
			else
				puts("OK");
			close(fd);
		}
		free(b);
	}
	return 0;
}

static int loop_writes(const char *path, const char *count, const char *prefix,
		       const char *pad, const char *suffix)
{
	unsigned long n = strtoul(count, NULL, 10);
	size_t width = strtoul(pad, NULL, 10);
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0) {
		puts(name_of(errno));
		return 0;
	}
	for (unsigned long i = 1; i <= n; i++) {
		char name[128];
		size_t len;
		snprintf(name, sizeof(name), "%s%lu%s", prefix, i, suffix);
		char *b = padded(name, width, &len);
		ssize_t w = write(fd, b, len);
		free(b);
		if (w < 0 || (size_t)w != len) {
			if (w < 0)
				printf("%s at %lu\n", name_of(errno), i);
			else
				printf("SHORT %zd at %lu\n", w, i);
			close(fd);
			return 0;
		}
	}
	puts("OK");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char *text = NULL;
	size_t len;
	off_t off = 0;
	int fd;

	if (argc >= 3 && strcmp(argv[2], "--writes") == 0) {
		int append = argc >= 4 && strcmp(argv[3], "--append") == 0;
		return many_writes(argv[1], append, argv + 3 + append,
				   argc - 3 - append);
	}
	if (argc >= 3 && strcmp(argv[2], "--each") == 0)
		return each_write(argv[1], argv + 3, argc - 3);
	if ((argc == 6 || argc == 7) && strcmp(argv[2], "--loop") == 0)
		return loop_writes(argv[1], argv[3], argv[4], argv[5],
				   argc == 7 ? argv[6] : "");
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: fs_ctlwrite FILE TEXT [OFFSET] |"
				" FILE --fill N | FILE --read |"
				" FILE --writes [--append] ARG... |"
				" FILE --each PATH... |"
				" FILE --loop N PREFIX PAD [SUFFIX]\n");
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
