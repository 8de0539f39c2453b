#!/bin/bash
# Bytes flipped in a pool's files offline (issue 6 item 3): `rewindctl check`
# lists the damage naming volume, page and LSN; reading a damaged page gives
# EIO and a daemon log line naming volume, page and LSN; nothing ever
# returns wrong bytes; every page the damage did not touch reads back.
#
# A pool with a volume v, history, a snapshot and dead page-log records
# (lib.sh build_pool) is damaged offline, a fresh copy per round, at seeded
# random places:
# - seg: 2 to 4 bytes in v's records of the page log's segments (POOL/pages/
#   *.seg), header or page bytes with even odds: the first in a live record,
#   the second (rounds of 2 or more) in a dead one (a version retention
#   deleted), the others in any (poolfiles.py flip);
# - sst-pages: a byte in a data block of the pages family's .sst files that
#   holds v's keys (its run entries: key, first page, count, page hashes
#   and the (segment, offset) of the first page's record, about 2 KiB for
#   a run of 256 pages, so a block holds one or two; entries of single
#   pages, 40-byte values; deletions): the pages of the runs in that block
#   fail, and so do those whose reads verify one of them on the way to an
#   older run;
# - sst-log: a byte in the data blocks of the log family's .sst files (the
#   change log and the name entries);
# - seg-cut: the page log's newest segment loses its last records (1 to 3,
#   the first of them partly): seg_cut.sh, not in CI (see there).
# Then:
# - `rewindctl check` exits 1, finishes its scan, and lists every damaged
#   version of v as "volume v page P lsn L ..." (seg, seg-cut: with the
#   record's segment and offset, and nothing else: a dead record is no
#   version; sst-pages: a damaged run as "volume v run of pages A-B
#   lsn L", A-B the pages of its group), or at least one problem
#   (sst-log);
# - after a remount every page of v, and of a clone of v at the snapshot,
#   reads back exactly or fails with EIO - never other bytes (readpages.py);
#   the pool stays writable (sst-log: it may open read-only, saying so in
#   .status, and then makes no clone);
# - the pages that fail are all those whose needed version was damaged
#   (its record, its entry, or a run entry the read verifies on its way)
#   and no others, except (sst-pages) those whose seeks may visit a
#   damaged block (poolfiles.py expect works this out from the records and
#   the keys and values in the files): damage to a dead record or to the
#   log family fails no read;
# - the daemon logs a "corruption:" line naming volume, page and LSN for
#   every page that gave EIO (seg: and the record's segment and offset).
# CI: 3 seeds of seg and sst-pages, new each run and printed;
# CORRUPT_SEED=S replays a run, CORRUPT_SEEDS=N runs N seeds (the long
# form), CORRUPT_KINDS="seg sst-pages sst-log seg-cut" chooses the
# kinds (sst-log alone is log.sh, seg-cut alone seg_cut.sh).
. "$(dirname "$0")/lib.sh" || exit 1
need_fuse

# Every page in $1 (a readpages.py output) that gave EIO has a corruption
# line in the round's daemon log naming volume $2, the page and the LSN of
# its damaged version ($3: poolfiles.py expect verdicts; "may" pages, which
# failed for a neighbour's damage, only need some LSN), and for a damaged
# page-log record its segment and offset. One pass over the files, not a
# search per page: a damaged block of the pages family fails every page.
logged() {
	local pg lsn where
	read -r pg lsn < <({
		sed 's/^/read /' "$1"
		sed 's/^/verdict /' "$3"
		sed 's/^/cur /' "$T/expect.cur"
		sed 's/^/log /' "$T/round.log"
	} | awk -v vol="$2" '
		$1 == "read" && $2 == "eio" { eio[++n] = $3; next }
		$1 == "verdict" && $2 == "must" { lsn[$3] = $4; next }
		$1 == "cur" && $2 == "hit" && NF == 8 {
			rec[$3 " " $4] = "page log segment " $6 " offset " $8
			next
		}
		$1 == "log" && match($0, "corruption: .*volume " vol " page [0-9]+ lsn [0-9]+") {
			k = split(substr($0, RSTART, RLENGTH), w, " ")
			said[w[k - 2] " " w[k]] = said[w[k - 2] " " w[k]] "|" substr($0, RSTART + RLENGTH)
			any[w[k - 2]] = 1
		}
		END {
			for (i = 1; i <= n; i++) {
				pg = eio[i]
				if (!(pg in lsn)) {
					if (!(pg in any)) { print pg; exit }
					continue
				}
				key = pg " " lsn[pg]
				if (!(key in said) ||
				    (key in rec && index(said[key], rec[key]) == 0)) {
					print key
					exit
				}
			}
		}') || true
	[ -n "$pg" ] || return 0
	where=$(rec_of "$pg" "$lsn")
	grep -E "volume $2 page $pg([^0-9]|$)" "$T/round.log" >&2 || true
	fail "seed $seed $kind: no log line naming $2 page $pg lsn ${lsn:-N} $where"
}

# "page log segment S offset O" of the damaged record of page $1 lsn $2
# (a hit line of $T/expect.cur), or nothing.
rec_of() {
	awk -v p="$1" -v l="$2" '$1 == "hit" && $2 == p && $3 == l && NF == 7 {
		print "page log segment " $5 " offset " $7 }' "$T/expect.cur"
}

# The pages that gave EIO ($1, a readpages.py output) against the verdicts
# ($2): every "must" page, and no page that is neither "must" nor "may".
as_expected() {
	local must all got pg
	must=$(awk '$1 == "must" { print $2 }' "$2" | xargs)
	all=$(awk '$1 == "must" || $1 == "may" { print $2 }' "$2" | xargs)
	got=$(eio_pages "$1" | xargs)
	for pg in $must; do
		[[ " $got " == *" $pg "* ]] ||
			fail "seed $seed $kind, $3: page $pg read back although its version was damaged"
	done
	for pg in $got; do
		[[ " $all " == *" $pg "* ]] ||
			fail "seed $seed $kind, $3: EIO on page $pg, which no damage touched"
	done
}

# check: exit 1, a finished scan, N problems >= what it must list, and a line
# naming each damaged version of v (a record: with its segment and offset;
# a run entry: as check names a run, by the pages of its group).
# seg: nothing else, since a dead record holds no version.
check_lists() {
	local n pg lsn hits stretch
	[ "$CHECK_RC" = 1 ] || fail "seed $seed $kind: check of a damaged pool exited $CHECK_RC"
	n=$(sed -n 's/^1 volume, \([0-9]*\) problems\{0,1\}$/\1/p' "$T/check.out")
	[ -n "$n" ] || fail "seed $seed $kind: check did not finish: $(tail -1 "$T/check.out") $(cat "$T/check.err")"
	[ "$n" -ge 1 ] || fail "seed $seed $kind: check found no problem"
	hits=$(grep -c '^hit' "$T/expect.cur") || true
	[ "$n" -ge "$hits" ] ||
		fail "seed $seed $kind: check found $n problems, $hits versions were damaged"
	while read -r _ pg lsn _; do
		grep -qE "^volume v page $pg lsn $lsn([^0-9]|$).*$(rec_of "$pg" "$lsn")" "$T/check.out" ||
			fail "seed $seed $kind: check did not list v page $pg lsn $lsn $(rec_of "$pg" "$lsn")"
	done < <(grep '^hit [0-9]' "$T/expect.cur")
	# A run entry: check names it by its group's pages.
	while read -r _ _ pgs lsn; do
		grep -qE "^volume v run of pages $pgs lsn $lsn([^0-9]|$)" "$T/check.out" ||
			fail "seed $seed $kind: check did not list v's run of pages $pgs lsn $lsn"
	done < <(grep '^hit run ' "$T/expect.cur")
	# seg-cut: the records after the cut are gone as well (commit and
	# barrier records too): check names that stretch once besides.
	stretch=$(grep -c 'damaged records$' "$T/check.out") || true
	if [[ $kind == seg* ]] && [ "$n" != $((hits + stretch)) ]; then
		fail "seed $seed $kind: check found $n problems, $hits versions were damaged: $(grep -v '^1 volume' "$T/check.out")"
	fi
}

build_pool
rounds=0 eio=0 problems=0 dead=0 headers=0
for seed in $(seeds); do
	for kind in ${CORRUPT_KINDS:-seg sst-pages}; do
		case $kind in
		seg) n=$((seed % 3 + 2)) ;;
		seg-cut) n=$((seed % 3 + 1)) ;;
		*) n=1 ;;
		esac
		round "$kind" "$seed" "$n"
		# Damage to page data costs those pages, never the whole pool;
		# a damaged change log may leave it read-only (.status says so).
		[ -z "$READONLY" ] || [ "$kind" = sst-log ] ||
			fail "seed $seed $kind: the pool opened $READONLY"
		check_lists
		if [ "$kind" != sst-log ]; then
			[ -n "$(grep -h '^must' "$T/expect.cur" "$T/expect.old")" ] ||
				fail "seed $seed $kind: the damage hit no version a read needs"
		fi
		as_expected "$T/read.cur" "$T/expect.cur" "v now"
		as_expected "$T/read.old" "$T/expect.old" "v at s1"
		logged "$T/read.cur" v "$T/expect.cur"
		logged "$T/read.old" old "$T/expect.old"
		rounds=$((rounds + 1))
		eio=$((eio + $(eio_pages "$T/read.cur" | wc -l) + $(eio_pages "$T/read.old" | wc -l)))
		problems=$((problems + $(grep -c '^volume ' "$T/check.out" || true)))
		dead=$((dead + $(grep -c ' dead [a-z]*$' "$T/flips" || true)))
		headers=$((headers + $(grep -c ' header$' "$T/flips" || true)))
	done
done
echo "$rounds rounds: $problems problems listed by check, $eio page reads gave EIO, every other page exact"
echo "page-log flips: $headers in record headers, $dead in dead records"
exit 0
