# Sourced by the tools/gpu scripts on the lent GPU machine (see ../shared/gpu-device.md):
# unpacks the carried Vulkan loader / glvnd / validation-layer packages and points the loader
# at the NVIDIA driver. BIN = the carried binaries, OUT = where results go.
# Besides the packages ../shared/gpu-device.md lists, .gl needs libjpeg62-turbo (smolvk decodes
# JPEG with libjpeg-turbo, WebP with libwebp): (cd .gl && apt-get download libjpeg62-turbo libwebp7).
BIN=${BIN:-build-gpu-bin}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" / ; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export SMOLVK_TEST_DATA=$PWD/tests/data SMOLVK_DEMO_MODEL=$PWD/examples/demo-model
export SMOLVK_CACHE_DIR=/tmp/smolvk-cache
