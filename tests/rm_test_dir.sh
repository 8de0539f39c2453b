# rm_test_dir.sh - sourced (POSIX sh) by tests/common.sh and tests/fs/lib.sh.
# rm_test_dir DIR: remove a test's temp folder DIR and the info LOGs RocksDB
# kept in tmpfs for pools under it (volume/kv_rocks.c: named after the
# store's path; a daemon that was killed or failed leaves its LOG there).
rm_test_dir() {
	rm -rf "$1"
	rm -f "/dev/shm/rewindfs-$(id -u)/$(printf '%s' "${1#/}" |
		tr -c 'A-Za-z0-9.-' '_')"_*
}
