#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then a small program configured with
# find_package(smolvk) against that prefix only, built, and run on the demo checkpoint.
#   tests/server/test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
for f in bin/smolvk bin/smolvk-serve include/smolvk/model/smolvlm.h include/smolvk/model/chat_session.h; do
  [ -e "$tmp/prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
# Into a file first: grep -q stops reading at the first match, and the help (over one 4 KiB
# stdio buffer) would then die of SIGPIPE on its second write, failing the pipe (pipefail).
"$tmp/prefix/bin/smolvk-serve" --help > "$tmp/help.txt"
grep -q -- '--max-prefill-tokens' "$tmp/help.txt"
mkdir "$tmp/consumer"
cat > "$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(consumer CXX)
find_package(smolvk REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE smolvk::smolvk)
CMAKE
cat > "$tmp/consumer/main.cpp" <<'CPP'
#include <cstdio>
#include "model/smolvlm.h"
int main(int argc, char** argv) {
  smolvk::Context ctx;
  auto model = smolvk::Model::load(ctx, argv[1]);
  smolvk::Request r;
  r.messages.push_back({"user", {{smolvk::ChatItem::Text, "Hello"}}});
  smolvk::GenerateOptions o;
  o.max_new_tokens = 2;
  o.ignore_eos = true;
  smolvk::Result out = model->generate(r, o);
  std::printf("%zu tokens\n", out.output_ids.size());
  return out.output_ids.size() == 2 ? 0 : 1;
}
CPP
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer/build" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/consumer/build/consumer" "$src/examples/demo-model"
