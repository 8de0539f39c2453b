#!/bin/bash
# full.sh - issue 6 item 2: the pool's disk fills up, and comes back.
#
# The pool lives on a 300 MiB ext4 image (mkfs -m 0: the daemon runs as root
# and would otherwise dip into the reserved blocks), loop-mounted at $T/disk;
# the daemon serves it at $T/mnt with a retention pass every second. Volume
# v (4 times the disk, window 0) gets a known first part, a
# snapshot s that pins it, then the first part overwritten (so s holds
# FIRST_MIB of history only it needs), and a volume spare gets SPARE_MIB.
# Then a writer fills v with distinct data, fsync every SYNC_MIB, in rounds
# until it cannot write at all. Checked, with every wait bounded:
#   1. each round ends in ENOSPC or EIO, nothing hangs;
#   2. the daemon is up, control files answer, and the pool's .status
#      names the condition (disk_full: yes after ENOSPC, a store_error after
#      EIO; disk_full: no again once writes work);
#   3. everything fsync'd before reads back byte for byte;
#   4. deleting s on the full disk works, and after retention passes (at
#      most RECOVER_S seconds of them) writes work again in the same daemon,
#      without a remount: write + fsync + read back;
#   5. filled again, the daemon restarted with the disk still full (a
#      ballast file beside the pool takes what the daemon's exit gave back,
#      down to R/2 free, R being the engine's low-space threshold):
#      it mounts, control files answer, everything reads back, writes fail
#      cleanly with ENOSPC or EIO. Why this is right: the operator's way out
#      of a full disk is to delete snapshots or volumes through the mount,
#      so a pool that cannot open on a full disk would leave only the
#      pool's files to delete by hand;
#   6. rmdir spare there, retention: writes work again;
#   7. the daemon restarted on a disk with 0 bytes free (ballast): no crash,
#      nothing lost; it mounts (reads work, writes fail cleanly) or exits 1
#      naming the full disk; with the ballast gone it mounts and writes.
# Retention must not need free space to free space: in 4 and 6 the disk is
# as full as the engine lets it get (page writes refused) when the deletion
# is made. Figures (bytes written before ENOSPC, fill
# and recovery times, pool size on disk) are printed as "figure:" lines.
# DISKFULL_MIB sizes the disk (default 300), DISKFULL_RECOVER_S the bound
# of 4 and 6 (default 30), DISKFULL_FIRST_MIB and DISKFULL_SPARE_MIB the
# first part and the spare volume (48 each: a deletion must free more than
# the 2 x 1/16 of the disk the engine waits for before writes resume).
. "$(dirname "$0")/../common.sh"
need_dev_fuse
: "${REWINDFS:?REWINDFS must name the rewindfs binary}"
: "${FILLVOL:?FILLVOL must name the diskfull_fillvol helper}"

DISK_MIB=${DISKFULL_MIB:-300}
FIRST_MIB=${DISKFULL_FIRST_MIB:-48} # v's known first part, overwritten once; s pins the original
SPARE_MIB=${DISKFULL_SPARE_MIB:-48} # volume spare, deleted in step 6
SYNC_MIB=8     # the filler fsyncs every SYNC_MIB
PROBE_MIB=4    # the write that must work again after a deletion
MIB=$((1024 * 1024))
BOUND=180      # seconds for one fill; a daemon that hangs fails the test
RECOVER_S=${DISKFULL_RECOVER_S:-30} # after a deletion, writes work within this

T=$(mktemp -d /tmp/rewindfs-diskfull.XXXXXX)
T_START=$(date +%s%N)
IMG=$T/disk.img
DISK=$T/disk
POOL=$DISK/pool
MNT=$T/mnt
LOG=$T/daemon.log
DAEMON=
mkdir -p "$DISK" "$MNT"
: >"$LOG"

step() { echo "--- $(date -u +%T) $*"; }
figure() { echo "figure: $*"; }
# Seconds between two `date +%s%N` stamps, with milliseconds.
secs() { local ms=$((($2 - $1) / 1000000)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }

# Unmount the pool, stop the daemon, then the disk under it, then its loop
# device: in this order, or the disk stays busy.
cleanup() {
	local rc=$? f
	set +e
	trap - EXIT
	if is_mounted "$MNT"; then
		wait_for 10 fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	kill_test_daemons
	if is_mounted "$DISK"; then
		wait_for 10 umount "$DISK" 2>/dev/null || umount -l "$DISK"
	fi
	detach_loops_under
	sanitizer_report "$LOG" && rc=1
	if [ "$rc" != 0 ]; then
		echo "--- daemon log (last 40 lines):" >&2
		tail -n 40 "$LOG" >&2
	fi
	rm_test_dir "$T"
	[ "$rc" = 0 ] && echo PASS
	exit "$rc"
}
trap cleanup EXIT

daemon_alive() { [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null; }
daemon_gone() { ! daemon_alive; }

# The daemon in the foreground (its stderr appended to $LOG), retention
# every second.
start_daemon() {
	"$REWINDFS" -f -o retention=1 "$POOL" "$MNT" 2>>"$LOG" &
	DAEMON=$!
	wait_for 30 mounted_or_gone || fail "the daemon did not mount $POOL in 30 s"
	is_mounted "$MNT" || fail "the daemon exited without mounting $POOL: $(tail -n 1 "$LOG")"
}
mounted_or_gone() { is_mounted "$MNT" || daemon_gone; }

# Unmount and wait (bounded) for the daemon to exit; its status is printed,
# not judged: on a full disk its last sync may fail.
stop_daemon() {
	local st=0
	fusermount3 -u "$MNT" || fail "fusermount3 -u $MNT"
	wait_for 60 daemon_gone || fail "the daemon did not exit after the unmount"
	wait "$DAEMON" || st=$?
	echo "daemon exited with status $st"
	DAEMON=
}

# Value of KEY in a control file.
field() { sed -n "/^$2: /{s///p;q}" "$1"; }

# fillvol write|verify, bounded; sets OUT to its output line.
fill() {
	local rc=0
	OUT=$(timeout -k 5 "$BOUND" "$FILLVOL" write "$@") || rc=$?
	[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "writer hung (fillvol write $*)"
	echo "fillvol write ${2}+${3} seed $4: $OUT"
	return "$rc"
}
verify() {
	local out rc=0
	out=$(timeout -k 5 "$BOUND" "$FILLVOL" verify "$@") || rc=$?
	[ "$rc" = 0 ] || fail "read back $1 [$2, +$3) seed $4: ${out:-timed out (rc $rc)}"
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $OUT"; }

# Every control file of the pool and of v answers; prints the pool's.
control_answers() {
	local f
	for f in "$MNT/.status" "$MNT/v/.status" "$MNT/v/.snapshot" \
		"$MNT/v/.window" "$MNT/v/.backtrack" "$MNT/v/.clone"; do
		timeout -k 5 20 cat "$f" >/dev/null || fail "$f does not answer"
	done
	ls "$MNT" >/dev/null || fail "ls $MNT"
}

# The daemon is up and mounted, and the writer's failure was clean.
check_failure_clean() {
	daemon_alive || fail "the daemon died on the full disk (the writer got $(kv errno) on $(kv op))"
	case "$(kv errno)" in
	ENOSPC | EIO) ;;
	*) fail "the writer failed with $(kv errno) ($(kv op)), want ENOSPC or EIO" ;;
	esac
	is_mounted "$MNT" || fail "the pool is no longer mounted"
}

# The pool's .status names the condition the writer's last failure ($OUT)
# showed: disk_full: yes after ENOSPC, a store_error after EIO.
status_shows_full() {
	local st
	st=$(cat "$MNT/.status") || fail "$MNT/.status does not answer"
	grep -E '^(disk_free|disk_full|reserve|store_error|last_error):' <<<"$st"
	if [ "$(kv errno)" = ENOSPC ]; then
		[ "$(field "$MNT/.status" disk_full)" = yes ] ||
			fail ".status says disk_full: $(field "$MNT/.status" disk_full) while writes fail with ENOSPC"
	else
		[ "$(field "$MNT/.status" store_error)" != none ] ||
			fail ".status says store_error: none while writes fail with $(kv errno)"
	fi
}

# Fill the pool's disk with ballast files beside the pool until at most
# FREE bytes are free (0: none at all).
ballast_to() {
	local want=$1 avail n=0 slack=$((MIB))
	avail=$(df -B1 --output=avail "$DISK" | tail -n 1)
	while [ -e "$DISK/ballast$n" ]; do n=$((n + 1)); done
	# fallocate needs room for its own extent blocks: leave a MiB to dd
	# when nothing may stay free.
	[ "$want" = 0 ] || slack=0
	if [ "$avail" -gt $((want + slack)) ]; then
		fallocate -l $((avail - want - slack)) "$DISK/ballast$n" ||
			fail "fallocate $((avail - want - slack)) bytes of ballast"
	fi
	if [ "$want" = 0 ]; then
		dd if=/dev/zero of="$DISK/ballast$n" bs=4k oflag=append \
			conv=notrunc,fsync status=none 2>/dev/null || true
	fi
	sync -f "$DISK"
	avail=$(df -B1 --output=avail "$DISK" | tail -n 1)
	[ "$avail" -le "$((want + 64 * 1024))" ] ||
		fail "the ballast left $avail bytes free, want at most $want"
}

# A full pass of retention that started after now: last_retention (set at
# the end of each pass) changes twice.
retention_pass() {
	local l0 l1
	l0=$(last_retention)
	wait_for 60 retention_moved "$l0" || fail "no retention pass within 60 s"
	l1=$(last_retention)
	wait_for 60 retention_moved "$l1" || fail "no second retention pass within 60 s"
}
last_retention() {
	daemon_alive || fail "the daemon died (waiting for a retention pass)"
	field "$MNT/.status" last_retention || fail "$MNT/.status does not answer"
}
retention_moved() { [ "$(last_retention)" != "$1" ]; }

# Fill v from START with SEED until it is stably full: rounds of the filler,
# each from where the last fsync'd one ended, until a round cannot write its
# first MiB (an engine that frees space by itself after a failure, e.g. a
# failed flush's partial file, gets another round). Every round must end in
# ENOSPC or EIO with the daemon up. Sets FILLED (bytes written in all
# rounds) and END (end of the fsync'd range [START, END)).
fill_until_full() {
	local start=$1 seed=$2 round rc
	END=$start
	FILLED=0
	for round in 1 2 3 4 5; do
		rc=0
		fill "$V" "$END" 0 "$seed" "$SYNC" || rc=$?
		[ "$rc" = 1 ] || fail "the filler did not stop on a failed write (exit $rc)"
		check_failure_clean
		FILLED=$((FILLED + $(kv written)))
		[ "$(kv written)" = 0 ] && return 0
		END=$(kv end)
	done
	fail "still writing after 5 rounds of filling: the disk never stayed full"
}

# What the pool's disk holds, for a failure's message.
pool_diag() {
	grep -E '^(bytes_|disk_|db_bytes|reserve|store_error|last_)' "$MNT/.status" >&2
	df -B1 "$DISK" >&2
	ls -l "$POOL" "$POOL/db" >&2
}

# After a deletion on the full disk: retention passes until a write works
# again, at most RECOVER_S seconds. The probe writes PROBE bytes of SEED at
# OFF and fsyncs them; each attempt waits for a full retention pass first.
recover_write() {
	local off=$1 seed=$2 deadline=$(($(date +%s) + RECOVER_S)) tries=0
	while :; do
		retention_pass
		tries=$((tries + 1))
		fill "$V" "$off" "$PROBE" "$seed" "$PROBE" && break
		check_failure_clean
		[ "$(date +%s)" -lt "$deadline" ] || {
			pool_diag
			fail "writes still fail ${RECOVER_S} s ($tries retention passes) after the deletion: $(kv errno) on $(kv op)"
		}
	done
	echo "writes work again after $tries retention pass(es)"
	[ "$(field "$MNT/.status" disk_full)" = no ] ||
		fail ".status still says disk_full: yes once writes work again"
	verify "$V" "$off" "$PROBE" "$seed"
}

# --- the small disk and the pool on it
step "a ${DISK_MIB} MiB ext4 disk"
truncate -s "${DISK_MIB}M" "$IMG"
mkfs.ext4 -q -F -m 0 "$IMG" || fail "mkfs.ext4"
mount -o loop "$IMG" "$DISK" || fail "mount the disk image"
"$R" init "$POOL" >/dev/null || fail "rewindctl init"
start_daemon

"$R" create "$MNT" v "$((4 * DISK_MIB))M" >/dev/null || fail "create v"
echo 0 >"$MNT/v/.window" || fail "window 0"
"$R" create "$MNT" spare "${SPARE_MIB}M" >/dev/null || fail "create spare"
V=$MNT/v/volume
FIRST=$((FIRST_MIB * MIB))
SYNC=$((SYNC_MIB * MIB))
PROBE=$((PROBE_MIB * MIB))

step "known first part, snapshot s, first part overwritten, spare written"
fill "$V" 0 "$FIRST" 1 "$SYNC" || fail "write v's first part"
verify "$V" 0 "$FIRST" 1
echo s >"$MNT/v/.snapshot" || fail "snapshot s"
fill "$V" 0 "$FIRST" 2 "$SYNC" || fail "overwrite v's first part"
fill "$MNT/spare/volume" 0 "$((SPARE_MIB * MIB))" 3 "$SYNC" || fail "write spare"
figure "disk free before the fill: $(field "$MNT/.status" disk_free) bytes"

# --- 1. fill until the writer fails
step "fill v from ${FIRST_MIB} MiB until it is full"
t0=$(date +%s%N)
CYCLE0=$t0
fill_until_full "$FIRST" 4
t1=$(date +%s%N)
END1=$END
[ "$FILLED" -ge $((16 * MIB)) ] ||
	fail "only $FILLED bytes written before the failure: the disk was not filled"
figure "fill 1: $FILLED bytes written, $((END1 - FIRST)) fsync'd, then $(kv errno) on $(kv op), $(secs "$t0" "$t1") s"
figure "disk after fill 1 (used, avail): $(df -B1 --output=used,avail "$DISK" | tail -n 1)"

# --- 2. the daemon answers, and says why
step "control files answer; .status shows the condition"
control_answers
status_shows_full

# --- 3. what was fsync'd reads back
step "fsync'd data reads back"
verify "$V" 0 "$FIRST" 2
verify "$V" "$FIRST" "$((END1 - FIRST))" 4
verify "$MNT/spare/volume" 0 "$((SPARE_MIB * MIB))" 3

# --- 4. delete the snapshot on the full disk; retention; writes work again
step "delete snapshot s, retention, write again (same daemon, no remount)"
t0=$(date +%s%N)
out=$(timeout -k 5 30 "$R" snapshot "$MNT/v" -s 2>&1) ||
	fail "deleting snapshot s on the full disk: $out"
recover_write "$END1" 6
t1=$(date +%s%N)
figure "recovery 1 (delete snapshot -> retention -> write+fsync): $(secs "$t0" "$t1") s"
figure "full/recover cycle 1 (fill until full, checks, reads, recovery): $(secs "$CYCLE0" "$t1") s"
figure "disk after recovery 1 (used, avail): $(df -B1 --output=used,avail "$DISK" | tail -n 1)"
verify "$V" 0 "$FIRST" 2
verify "$V" "$FIRST" "$((END1 - FIRST))" 4

# --- 5. full again, then a daemon restart on the still full disk
step "fill again"
START2=$((END1 + PROBE))
t0=$(date +%s%N)
fill_until_full "$START2" 7
t1=$(date +%s%N)
END2=$END
figure "fill 2: $FILLED bytes written, $((END2 - START2)) fsync'd, then $(kv errno) on $(kv op), $(secs "$t0" "$t1") s"

# The daemon's exit may give space back (a failed flush's partial file,
# memtables flushed at close): a ballast file beside the pool takes the
# free space down to half the engine's low-space threshold R (the size of
# its reserve), so the pool reopens on a disk the engine must see as full.
step "restart the daemon on the full disk"
RES=$(field "$MNT/.status" reserve)
[ "${RES:-0}" -gt 0 ] || RES=$(($(field "$MNT/.status" disk_total) / 16))
stop_daemon
ballast_to $((RES / 2))
figure "disk at restart (used, avail): $(df -B1 --output=used,avail "$DISK" | tail -n 1)"
start_daemon
control_answers
verify "$V" 0 "$FIRST" 2
verify "$V" "$FIRST" "$((END1 - FIRST))" 4
verify "$V" "$END1" "$PROBE" 6
verify "$V" "$START2" "$((END2 - START2))" 7
verify "$MNT/spare/volume" 0 "$((SPARE_MIB * MIB))" 3
fill_until_full "$END2" 8
END3=$END
status_shows_full
figure "after the restart: $FILLED bytes written before $(kv errno) on $(kv op)"

# --- 6. delete a volume on the full disk; retention; writes work again
step "rmdir spare, retention, write again"
t0=$(date +%s%N)
rmdir "$MNT/spare" || fail "rmdir spare on the full disk"
recover_write "$END3" 9
t1=$(date +%s%N)
figure "recovery 2 (rmdir volume -> retention -> write+fsync): $(secs "$t0" "$t1") s"
verify "$V" 0 "$FIRST" 2
verify "$V" "$FIRST" "$((END1 - FIRST))" 4
verify "$V" "$START2" "$((END2 - START2))" 7
verify "$V" "$END2" "$((END3 - END2))" 8

# --- 7. the pool opened on a disk with no free byte at all (something
# else filled it while the daemon was down): the daemon must not crash or
# lose anything. Mounting read-only-ish (reads work, writes fail cleanly)
# is what we want; refusing to start with a clear error is accepted, since
# RocksDB cannot open a database for writing without writing to its disk.
# Once the ballast is gone, the pool opens and takes writes again.
step "restart on a disk with 0 bytes free"
stop_daemon
ballast_to 0
"$REWINDFS" -f -o retention=1 "$POOL" "$MNT" 2>>"$LOG" &
DAEMON=$!
wait_for 30 mounted_or_gone || fail "the daemon neither mounted nor exited in 30 s"
if is_mounted "$MNT"; then
	control_answers
	verify "$V" 0 "$FIRST" 2
	verify "$V" "$FIRST" "$((END1 - FIRST))" 4
	verify "$V" "$END3" "$PROBE" 9
	rc=0
	fill "$V" "$((END3 + PROBE))" "$PROBE" 10 "$PROBE" || rc=$?
	[ "$rc" = 1 ] || fail "a write succeeded on a disk with 0 bytes free"
	check_failure_clean
	figure "0 bytes free: the pool mounted; reads work, writes fail with $(kv errno)"
	stop_daemon
else
	rc=0
	wait "$DAEMON" || rc=$?
	DAEMON=
	[ "$rc" = 1 ] ||
		fail "with 0 bytes free the daemon died with status $rc (want a mount, or exit 1): $(tail -n 1 "$LOG")"
	tail -n 1 "$LOG" | grep -qiE 'space|full' ||
		fail "with 0 bytes free the daemon exited 1 without naming the full disk: $(tail -n 1 "$LOG")"
	figure "0 bytes free: the daemon refused to start (exit 1): $(tail -n 1 "$LOG")"
fi
rm -f "$DISK"/ballast*
start_daemon
verify "$V" 0 "$FIRST" 2
verify "$V" "$FIRST" "$((END1 - FIRST))" 4
verify "$V" "$START2" "$((END2 - START2))" 7
verify "$V" "$END2" "$((END3 - END2))" 8
verify "$V" "$END3" "$PROBE" 9
fill "$V" "$((END3 + PROBE))" "$PROBE" 11 "$PROBE" ||
	fail "writes fail once the ballast is gone: $(kv errno) on $(kv op)"
verify "$V" "$((END3 + PROBE))" "$PROBE" 11

stop_daemon
figure "pool size on disk at the end: $(du -sb "$POOL" | cut -f1) bytes (du -sb)"
figure "whole test: $(secs "$T_START" "$(date +%s%N)") s"
figure "disk at the end (used, avail): $(df -B1 --output=used,avail "$DISK" | tail -n 1)"
exit 0
