#!/bin/bash
# damage.sh with damage to the log family's .sst files (the change log,
# the barriers and the name entries, which name each page version for
# messages about damage): check lists the problems, reads are unaffected;
# when the byte is in the block of the newest change records the pool opens
# read-only (.status says why) and still reads back exactly.
export CORRUPT_KINDS=${CORRUPT_KINDS:-sst-log}
exec "$(dirname "$0")/damage.sh" "$@"
