#!/bin/sh
# ctl_writes.sh - control-file writes that are not one plain command get the
# result doc/control.md ("Write semantics") promises, on a real mount:
#  - the length limit (4095 bytes) at its edge, and far past it (2 MiB: two
#    FUSE requests);
#  - a command that stdio splits into a 4096-byte piece and a tail (printf,
#    and the same two writes made by hand, with and without O_APPEND): the
#    write fails and nothing is applied, not even the first piece;
#  - writes at an offset (pwrite, a second write on one fd) are EINVAL;
#    O_APPEND writes are commands each (`echo X >> FILE`, twice in a row);
#  - a command split by hand into two writes is two commands, never short;
#  - binary junk, NULs, control characters: EINVAL, nothing changed, and the
#    reason in .status stays one printable line;
#  - two processes writing near-4 KiB commands in a loop to one control file:
#    every write applied whole, none lost, none mixed;
#  - the fuzzer's seeds and corpus written to every control file: only
#    documented errnos, the daemon stays up.
. "$(dirname "$0")/../fs/lib.sh"

start_fs
mkdir "$MNT/v" || fail "mkdir"
truncate -s 1M "$MNT/v/volume" || fail "truncate"
V=$MNT/v
W=$V/.window

win() { field "$W" target; }
# Everything a command could change, on one line.
state() {
	echo "window=$(win) lsn=$(field "$V/.status" lsn)" \
	     "tl=$(field "$V/.status" timeline)" \
	     "snaps=$(field "$V/.snapshot" snapshots)" \
	     "clones=$(field "$V/.clone" clones)" \
	     "backtracks=$(field "$V/.backtrack" backtracks) vols=$(ls "$MNT" | tr '\n' ,)"
}
# writes FILE [--append] ARG...: the result of each write, space separated.
writes() { f=$1; shift; "$FS_CTLWRITE" "$f" --writes "$@" | tr '\n' ' ' | sed 's/ $//'; }
expect() { # WANT GOT WHAT
	[ "$2" = "$1" ] || fail "$3: got '$2', want '$1'"
}
# .status (pool or volume) must stay `key: value` / `- ...` lines of
# printable ASCII, whatever went into last_error.
status_clean() {
	for s in "$V/.status" "$MNT/.status"; do
		bad=$(LC_ALL=C grep -nvE '^([a-z_]+: [[:print:]]*|- [[:print:]]*)$' "$s")
		[ -z "$bad" ] || fail "$s has a malformed line after $1: $bad"
	done
}

note "the length limit: 4095 bytes, newline included"
expect OK "$(writes "$W" --pad=4095,1h)" "4095-byte command"
expect 1h0m0s "$(win)" "4095-byte command applied"
S0=$(state)
expect EINVAL "$(writes "$W" --pad=4096,2h)" "4096-byte command"
expect EINVAL "$(writes "$W" --fill=5000)" "5000-byte write"
head -c 2097152 /dev/zero | tr '\0' ' ' > "$T/big"
printf '3h\n' >> "$T/big"
expect EINVAL "$(writes "$W" --file="$T/big")" "2 MiB write"
expect "$S0" "$(state)" "overlong writes changed something"
case "$(field "$V/.status" last_error)" in
*"at most 4095 bytes"*) ;;
*) fail "last_error after an overlong write: $(field "$V/.status" last_error)" ;;
esac

note "a command split by stdio: nothing of it is applied"
# printf (coreutils, stdio with st_blksize 4096) writes 4096 bytes, then the
# rest; the first piece alone would be the valid command "2h".
pad=$(head -c 4094 /dev/zero | tr '\0' ' ')
/usr/bin/printf '2h%s30m\n' "$pad" > "$W" 2>/dev/null && fail "split printf succeeded"
/usr/bin/printf '2h%s30m\n' "$pad" >> "$W" 2>/dev/null && fail "split printf (append) succeeded"
# The same two writes made by hand, on one open file.
expect "EINVAL EINVAL" "$(writes "$W" --pad=4096,2h 30m)" "split command"
expect "EINVAL EINVAL" "$(writes "$W" --append --pad=4096,2h 3h)" \
	"split command, O_APPEND: the tail must not run as a command"
expect "EINVAL EINVAL EINVAL" "$(writes "$W" --append --fill=8192 4h 5h)" \
	"after an overlong write, the open file takes no command"
expect "$S0" "$(state)" "a split command changed something"
case "$(field "$V/.status" last_error)" in
*"earlier write on this open file"*) ;;
*) fail "last_error after a refused tail: $(field "$V/.status" last_error)" ;;
esac

note "writes at an offset are refused; O_APPEND writes are commands"
expect EINVAL "$("$FS_CTLWRITE" "$W" 2h 5)" "pwrite at offset 5"
expect "OK EINVAL EINVAL" "$(writes "$W" 4h 5h 6h)" "writes after the first on one fd"
expect 4h0m0s "$(win)" "the first write of the fd"
expect "OK OK OK" "$(writes "$W" --append 6h 7h 8h)" "O_APPEND writes on one fd"
expect 8h0m0s "$(win)" "the last O_APPEND write"
# The kernel puts an append at its cached size, which the last write grew:
# the shell habit `echo X >> FILE`, twice in a row, must work both times.
echo 9h >> "$W" || fail "echo 9h >> .window"
echo 10h >> "$W" || fail "echo 10h >> .window right after another"
expect 10h0m0s "$(win)" "echo >> twice"
echo 11h > "$W" || fail "echo 11h > .window"
expect 11h0m0s "$(win)" "echo >"

note "a command written in two pieces is two commands, each all or nothing"
expect "OK OK" "$(writes "$V/.snapshot" --append part one)" "two writes"
grep -q '^- name=part ' "$V/.snapshot" && grep -q '^- name=one ' "$V/.snapshot" \
	|| fail "two writes did not make two snapshots: $(cat "$V/.snapshot")"

note "binary junk, NULs and control characters"
S1=$(state)
n=0
for j in 'now\0' '\0' '1h\0\n' '\377\376\375' 'a\rsize: 0' 'x\033[2J\033[H' \
	 '\n\nlast_error: none\n' '@\001' 'lsn:\0377' 'c \t\001 now\r' \
	 '2026-11-21T13:00:00\0Z' '-\0'; do
	n=$((n + 1))
	printf '%b' "$j" > "$T/junk$n"
done
i=0
while [ $i -lt 8 ]; do # random bytes, with and without NULs
	i=$((i + 1)); n=$((n + 1))
	head -c $((i * 97)) /dev/urandom > "$T/junk$n"
	n=$((n + 1))
	head -c $((i * 97)) /dev/urandom | tr -d '\0' > "$T/junk$n"
done
for f in .backtrack .clone .snapshot .window; do
	k=0
	while [ $k -lt $n ]; do
		k=$((k + 1))
		got=$(writes "$V/$f" --file="$T/junk$k")
		expect EINVAL "$got" "$f: junk$k ($(od -An -c -N 24 "$T/junk$k" | tr -s ' '))"
		status_clean "$f junk$k"
	done
done
# A zero-length write never reaches the daemon: it returns 0, nothing runs.
expect OK "$(writes "$W" "")" "zero-length write"
expect "$S1" "$(state)" "junk changed something"
echo "    $((n * 4)) junk writes refused"

note "two writers, one control file: every command whole, none lost"
N=40
before=$(field "$V/.snapshot" snapshots)
"$FS_CTLWRITE" "$V/.snapshot" --loop $N alpha 4000 > "$T/w1" &
P1=$!
"$FS_CTLWRITE" "$V/.snapshot" --loop $N bravo 4000 > "$T/w2" &
P2=$!
"$FS_CTLWRITE" "$W" --loop $N "" 3000 m > "$T/w3" & # 1m, 2m, ... Nm
P3=$!
wait $P1; wait $P2; wait $P3
expect OK "$(cat "$T/w1")" "writer alpha"
expect OK "$(cat "$T/w2")" "writer bravo"
expect OK "$(cat "$T/w3")" "window writer"
expect $((before + 2 * N)) "$(field "$V/.snapshot" snapshots)" "snapshot count"
sed -n 's/^- name=\([^ ]*\) .*/\1/p' "$V/.snapshot" | sort > "$T/names"
{ echo one; echo part; i=0
  while [ $i -lt $N ]; do i=$((i + 1)); echo "alpha$i"; echo "bravo$i"; done
} | sort > "$T/want"
cmp -s "$T/names" "$T/want" || fail "snapshot names: $(diff "$T/want" "$T/names" | head)"
# The window writer's last command wins: N minutes.
expect "${N}m0s" "$(win)" "window after its writer"
status_clean "the writers"

note "the fuzzer's inputs through the daemon, to every control file"
# Valid ones reach the engine with edge values (lsn:2^64-1, year 1677,
# 106751d windows); each gets a documented errno, and the daemon lives on.
D=$(dirname "$0")
for f in .window .snapshot .clone .backtrack; do
	"$FS_CTLWRITE" "$V/$f" --each "$D"/seeds/* "$D"/corpus/* > "$T/replay"
	other=$(grep -vE '^(OK|EINVAL|ERANGE|ENOENT|EEXIST)$' "$T/replay" | sort | uniq -c)
	[ -z "$other" ] || fail "$f: undocumented results for fuzzer inputs: $other"
	echo "    $f: $(sort "$T/replay" | uniq -c | tr -s ' \n' '  ')"
	kill -0 "$FS_PID" || fail "the daemon died on the fuzzer's inputs to $f"
done
status_clean "the fuzzer's inputs"
echo 1h > "$W" || fail "a command after the fuzzer's inputs"
expect 1h0m0s "$(win)" "window after the fuzzer's inputs"

kill -0 "$FS_PID" || fail "the daemon died"
stop_fs
echo PASS
