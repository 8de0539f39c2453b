#!/bin/bash
# Every subcommand: --help exits 0 and prints its usage on stdout; bad usage
# exits 2 with the usage on stderr; a failure exits 1 with the reason on
# stderr. Needs no mount.
. "$(dirname "$0")/lib.sh"

cmds="init mount umount create destroy attach detach backtrack clone snapshot window status check"
for c in $cmds; do
	out=$("$R" "$c" --help) || fail "$c --help exited $?"
	matches "$out" "^usage: rewindctl $c " || fail "$c --help: no usage line: $out"
	rc=0; "$R" "$c" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 2 ] || fail "$c without arguments exited $rc, expected 2"
	grep -q "usage: rewindctl $c" "$T/err" || fail "$c: no usage on stderr"
	[ -s "$T/out" ] && fail "$c: bad usage printed on stdout"
	rc=0; "$R" "$c" --no-such-option x y >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "$c --no-such-option exited $rc, expected 2"
done
matches "$("$R" --help)" "backtrack" || fail "rewindctl --help"
rc=0; "$R" >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ] || fail "no command exited $rc"
rc=0; "$R" frobnicate >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ] || fail "unknown command exited $rc"

# Argument values are checked before anything is touched.
for bad in "create $T a 12Q" "create $T a" "window $T/v 5x" "attach $T/v $T/d --mkfs btrfs" \
	"backtrack $T/v -5parsecs" "init $T/p --page-size big" "snapshot $T/v -a b" \
	"create $T .hidden 1M" "create $T a/b 1M" "clone $T/v has,comma" "snapshot $T/v bad/name"; do
	rc=0; "$R" $bad >/dev/null 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "rewindctl $bad exited $rc, expected 2"
done

# Failures: exit 1 and say why.
expect_fail status "$T/nowhere"
grep -q "rewindctl: status" "$T/err" || fail "status failure not explained"
expect_fail backtrack "$T" now
grep -q "not a volume folder" "$T/err" || fail "backtrack on a non-volume not explained"
expect_fail detach "$T"
grep -q "nothing is attached" "$T/err" || fail "detach of a plain folder not explained"
expect_fail umount "$T"
exit 0
