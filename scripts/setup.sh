#!/usr/bin/env bash
# Sets evoscope up on a fresh Debian bookworm machine: installs every dependency from Debian's
# packages, builds the release preset and runs the main job on the bundled demo data.
#   bash scripts/setup.sh                 # everything (as root; as another user it calls sudo for apt)
#   bash scripts/setup.sh --deps          # only the apt packages (what .ci/run uses)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    cmake ninja-build g++ pkg-config ccache git
    libtorch-dev libopenblas0-pthread
    libhts-dev libseqan3-dev libsdsl-dev libboost-dev libbigwig-dev zlib1g-dev
    nlohmann-json3-dev libfmt-dev libcli11-dev libyaml-cpp-dev catch2
    samtools tabix bcftools python3-numpy clang-format
    chromium
    python3-pybigwig bedtools    # independent readers of the tracks in the e2e tests
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    echo "[I::setup] installing: ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's libtorch calls the system BLAS; OpenBLAS is ~40x faster than the reference BLAS.
if command -v update-alternatives >/dev/null; then
    blas=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-pthread | head -1 || true)
    if [[ -n "$blas" ]]; then
        ${SUDO:-} update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas" >/dev/null 2>&1 || true
    fi
fi

# The report's web dependencies (package.json, versions locked in package-lock.json): igv.js,
# which the build copies into `evoscope report`, and playwright-core, which drives Debian's
# chromium in the browser test. Node.js >= 20 and npm come with the machine; Debian's are the
# fallback.
if ! command -v npm >/dev/null; then
    echo "[I::setup] installing: nodejs npm" >&2
    ${SUDO:-} apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "[I::setup] npm ci (igv, playwright-core)" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi

if [[ "${1:-}" == "--deps" ]]; then
    exit 0
fi

cmake --preset release
cmake --build --preset release -j "$(nproc)"
./build/release/bin/evoscope run -o evoscope-demo
echo "[I::setup] done: results in evoscope-demo/ (run.json, align/concepts.tsv, motifs/, and the report when built)" >&2
