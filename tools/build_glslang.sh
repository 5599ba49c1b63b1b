#!/usr/bin/env bash
# Builds glslang 15.1 (Debian 13's source package, from Debian's archive) into $1 (default
# build-glslang/), for the VK_NV_cooperative_matrix2 GEMM: Debian 12's glslc builds against
# glslang 12, which cannot compile GL_NV_cooperative_matrix2. Then configure smolvk with
#   cmake -S . -B build -G Ninja -DSMOLVK_GLSLANG_NV2=$PWD/build-glslang/glslang
# (CMake also finds a glslang 15 or later on PATH by itself, e.g. Debian 13's glslang-tools).
# Needs cmake, ninja, g++, python3 and curl; about a minute on 2 cores. Exits 1, saying why,
# when the source cannot be fetched or its checksum differs.
set -euo pipefail
out=$(realpath -m "${1:-build-glslang}")
ver=15.1.0+1.4.309.0
sha=180f17ea51e6b71bf57b9e0fea78ba3ecd76e3ec8e4c91f0771b922eb22bf4b2  # trixie's Sources: glslang_$ver.orig.tar.gz
tarball=glslang_$ver.orig.tar.gz
if [ -x "$out/glslang" ] && "$out/glslang" --version 2>/dev/null | grep -q 'Glslang Version: 11:15'; then
  echo "$out/glslang: $("$out/glslang" --version | head -1)"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ok=0
for base in http://deb.debian.org/debian https://snapshot.debian.org/archive/debian/20250401T000000Z; do
  if curl -fsSL --max-time 120 -o "$work/$tarball" "$base/pool/main/g/glslang/$tarball"; then ok=1; break; fi
done
[ $ok = 1 ] || { echo "build_glslang.sh: could not fetch $tarball from Debian's archive" >&2; exit 1; }
echo "$sha  $work/$tarball" | sha256sum -c --quiet - || { echo "build_glslang.sh: $tarball: checksum mismatch" >&2; exit 1; }
tar xzf "$work/$tarball" -C "$work"
cmake -S "$work/glslang-$ver" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DENABLE_OPT=OFF \
  -DGLSLANG_TESTS=OFF -DBUILD_EXTERNAL=OFF -DENABLE_HLSL=OFF -DBUILD_SHARED_LIBS=OFF > "$work/configure.log" ||
  { cat "$work/configure.log" >&2; exit 1; }
ninja -C "$work/build" glslang-standalone > "$work/build.log" || { tail -30 "$work/build.log" >&2; exit 1; }
mkdir -p "$out"
cp "$work/build/StandAlone/glslang" "$out/glslang"
echo "$out/glslang: $("$out/glslang" --version | head -1)"
