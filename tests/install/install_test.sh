#!/usr/bin/env bash
# usage: install_test.sh BUILD_DIR CONSUMER_SRC SCRATCH
set -euo pipefail
build=$1 src=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name libmallocim.so | head -n 1)")

echo "== pkg-config, shared"
cc "$src/consumer.c" $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs mallocim) \
   -Wl,-rpath,"$libdir" -o "$scratch/consumer_pc"
"$scratch/consumer_pc"

echo "== static archive"
cc "$src/consumer.c" -I"$prefix/include" "$libdir/libmallocim.a" -lpthread -o "$scratch/consumer_static"
"$scratch/consumer_static"

echo "== find_package(mallocim)"
cmake -S "$src" -B "$scratch/cm" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$scratch/cm" >/dev/null
"$scratch/cm/consumer_shared"
"$scratch/cm/consumer_static"
echo "install test: all consumers use malloc-im"
