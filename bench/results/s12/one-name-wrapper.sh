#!/bin/sh
# The daemon of a build with one-name.patch, with the experiment on. BUILD: that build.
RWF_EXPERIMENT_ONE_NAME=1 exec "${BUILD:-/tmp/s/bn}/fs/rewindfs" "$@"
