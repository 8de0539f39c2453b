/*
 * mkpool.c - test helper: `fs_mkpool POOL [PAGE_SIZE]` creates an empty pool
 * with vol_pool_create (rewindctl init is another module's job). Exit 0 on
 * success, 1 with the engine's message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include "volume.h"

int main(int argc, char **argv)
{
	vol_pool_opts o = { 0 };
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fs_mkpool POOL [PAGE_SIZE]\n");
		return 2;
	}
	if (argc == 3)
		o.page_size = (uint32_t)strtoul(argv[2], NULL, 10);
	vol_status st = vol_pool_create(argv[1], &o);
	if (st != VOL_OK) {
		fprintf(stderr, "fs_mkpool: %s: %s\n", argv[1], vol_errmsg());
		return 1;
	}
	return 0;
}
