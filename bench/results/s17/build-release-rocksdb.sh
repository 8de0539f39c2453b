#!/bin/sh
# build-release-rocksdb.sh DIR - session 17's scratch build of a release
# librocksdb from Debian's own source package (the same 7.8.3 as
# librocksdb-dev), to measure what Debian's build (CMAKE_BUILD_TYPE=None: no
# NDEBUG, RocksDB's assertions live) costs rewindfs. Not part of the
# project's setup. Took 12 minutes on this 2-core machine. Use:
#   LD_LIBRARY_PATH=DIR/lib rewindctl mount ...   (or any command that starts
#   the daemon; it links librocksdb.so.7.8, which DIR/lib provides)
set -eu
dir=$1
mkdir -p "$dir" && cd "$dir"
# apt-get source needs a deb-src entry for Debian's archive.
printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	> /etc/apt/sources.list.d/src-scratch.sources
apt-get update -qq
apt-get source --download-only rocksdb=7.8.3-2
tar xzf rocksdb_7.8.3.orig.tar.gz
mkdir -p rocksdb-7.8.3/build && cd rocksdb-7.8.3/build
# Debian's options (debian/rules) but Release, and only the shared library
# with the one codec rewindfs uses.
cmake .. -DCMAKE_BUILD_TYPE=Release -DWITH_LZ4=ON -DWITH_ZLIB=OFF \
	-DWITH_ZSTD=OFF -DWITH_SNAPPY=OFF -DWITH_BZ2=OFF \
	-DROCKSDB_BUILD_SHARED=ON -DWITH_BENCHMARK_TOOLS=OFF \
	-DWITH_CORE_TOOLS=OFF -DWITH_TOOLS=OFF -DWITH_TESTS=OFF \
	-DWITH_GFLAGS=OFF -DPORTABLE=ON -DFAIL_ON_WARNINGS=OFF
make -j"$(nproc)" rocksdb-shared
mkdir -p "$dir/lib"
cp -a librocksdb.so.7.8.3 "$dir/lib/"
ln -sf librocksdb.so.7.8.3 "$dir/lib/librocksdb.so.7.8"
rm /etc/apt/sources.list.d/src-scratch.sources
apt-get update -qq
