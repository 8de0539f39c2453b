#!/bin/sh
# The daemon of a build with one-entry.patch, with the experiment on (run-seqw-ab runs this
# as REWINDFS). BUILD: where that build is.
RWF_EXPERIMENT_ONE_ENTRY=1 exec "${BUILD:-/tmp/s/b1}/fs/rewindfs" "$@"
