#!/bin/bash
# damage.sh with a shorter page log: after a clean close, the newest segment
# loses its last records (1 to 3, the first of them partly), as a damaged
# filesystem or an interrupted copy of the pool leaves it. Those versions
# were synced and the close recorded the page log's durable point past
# them, so this is damage, not a crash's loss: check lists each lost
# version naming its record ("... is past its end"), and after a remount
# those pages give EIO and every other page reads back exactly.
#
# Why it holds (volume/pagelog.c): records before the durable point a
# sync recorded cannot be a crash's tear, so the open keeps the versions
# that refer to them; check also names the lost stretch of the log.
export CORRUPT_KINDS=${CORRUPT_KINDS:-seg-cut}
exec "$(dirname "$0")/damage.sh" "$@"
