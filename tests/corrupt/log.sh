#!/bin/bash
# corrupt.sh with damage to the log family's .sst files (the change log,
# the barriers and the version entries): check lists the problems, reads
# are unaffected. Not registered yet: when the flipped byte is in the block
# holding the newest change record, the engine cannot open the pool at all
# (load_last_lsn at open; the daemon does not mount, check cannot run).
export CORRUPT_KINDS=${CORRUPT_KINDS:-sst-log}
exec "$(dirname "$0")/corrupt.sh" "$@"
