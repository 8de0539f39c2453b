#!/bin/bash
# `rewindctl check POOL`: an unmounted pool holding data and history checks
# clean (exit 0, "1 volume, 0 problems"); a mounted one is refused with
# "pool is in use" (exit 1) and keeps being served; a folder that is not a
# pool fails (exit 1); check writes nothing to the pool it looks at (every
# file's bytes and the file list stay as they were). And rewindctl makes a
# pool 0700/0600 even under umask 000 (issue 6 item 7). "The pool's files"
# are RocksDB's (POOL/db) and the page log's segments (POOL/pages), both
# checked to exist. The damaged-pool cases are in damage.sh (page-log
# records, pages-family tables), log.sh, wal.sh and tables.sh.
. "$(dirname "$0")/../tools/lib.sh" || exit 1
need_fuse

umask 000
start_pool_ctl
perms=$(find "$POOL" -printf '%m %y %p\n')
bad=$(awk '($2 == "d" && $1 != 700) || ($2 == "f" && $1 != 600)' <<<"$perms")
[ -z "$bad" ] || fail "pool not 0700/0600 under umask 000: $bad"

"$R" create "$MNT" v 4M >/dev/null || fail create
head -c 4M /dev/urandom >"$T/data"
dd if="$T/data" of="$MNT/v/volume" bs=1M conv=notrunc,fsync status=none
"$R" snapshot "$MNT/v" s1 >/dev/null || fail snapshot
dd if=/dev/urandom of="$MNT/v/volume" bs=64K count=8 conv=notrunc,fsync status=none

# Mounted: refused, and the daemon still serves the pool.
expect_fail check "$POOL"
grep -q "pool is in use" "$T/err" || fail "check of a mounted pool: $(cat "$T/err")"
[ -s "$T/out" ] && fail "check of a mounted pool printed a summary: $(cat "$T/out")"
cmp -s <(tail -c 3M "$T/data") <(tail -c 3M "$MNT/v/volume") ||
	fail "the mounted pool reads wrong after check was refused"

"$R" umount "$MNT" >/dev/null || fail umount
# What "unchanged" covers: the page bytes are in the page log, not in db/.
[ -n "$(find "$POOL/pages" -name '*.seg' -size +4M)" ] ||
	fail "no page-log segment holding v's pages: $(ls -l "$POOL/pages")"
[ -n "$(find "$POOL/db" -name '*.sst')" ] || fail "no table in $POOL/db"
before=$(cd "$POOL" && find . -type f -exec sha256sum {} + | sort)
out=$("$R" check "$POOL") || fail "check of a clean pool exited $?: $out"
[ "$out" = "1 volume, 0 problems" ] || fail "check of a clean pool printed: $out"
out=$("$R" check "$POOL" --quiet) || fail "check --quiet exited $?"
[ -z "$out" ] || fail "check --quiet of a clean pool printed: $out"
after=$(cd "$POOL" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "check changed the pool: $(diff <(echo "$before") <(echo "$after"))"
bad=$(find "$POOL" \( -type d ! -perm 700 \) -o \( -type f ! -perm 600 \))
[ -z "$bad" ] || fail "pool files not 0700/0600 after mount and check: $bad"

expect_fail check "$T/nowhere"
grep -q "rewindctl: check: $T/nowhere" "$T/err" || fail "missing pool not explained"
mkdir "$T/notapool"
touch "$T/notapool/x"
expect_fail check "$T/notapool"
grep -q "not a rewindfs pool" "$T/err" || fail "not-a-pool not explained: $(cat "$T/err")"
exit 0
