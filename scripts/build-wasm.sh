#!/usr/bin/env bash
# Builds crates/kernels twice for wasm32-unknown-unknown — with SIMD128 and
# without — into pkg/kernels.simd.wasm and pkg/kernels.scalar.wasm, and writes
# pkg/BUILDINFO (toolchain + sha256 of each file).
#
# The build is reproducible: no debug info, paths remapped, one codegen unit.
# wasm-opt is deliberately not run: binaryen's default -O3 inlining re-merges the
# #[inline(never)] GEMM driver and cost ~40% in a probe (see shared notes).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Output directory (CI rebuilds into a scratch directory to compare with pkg/).
out="${CNN_WASM_PKG_DIR:-$root/pkg}"

# --- find a toolchain with the wasm32-unknown-unknown standard library ---------
has_wasm_std() { # $1 = rustc
  local sysroot
  sysroot="$("$1" --print sysroot 2>/dev/null)" || return 1
  [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]
}

CARGO="" RUSTC=""
if command -v rustc >/dev/null 2>&1 && has_wasm_std "$(command -v rustc)"; then
  RUSTC="$(command -v rustc)"; CARGO="$(dirname "$RUSTC")/cargo"
  [ -x "$CARGO" ] || CARGO="$(command -v cargo)"
elif [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && has_wasm_std /usr/bin/rustc; then
  RUSTC=/usr/bin/rustc; CARGO=/usr/bin/cargo
else
  echo "error: no Rust toolchain with the wasm32-unknown-unknown standard library was found." >&2
  echo "Install one of:" >&2
  echo "  apt-get install -y rustc cargo libstd-rust-dev-wasm32      # Debian (Rust 1.63)" >&2
  echo "  rustup target add wasm32-unknown-unknown                  # rustup" >&2
  exit 1
fi
rust_version="$("$RUSTC" --version)"
echo "build-wasm: using $rust_version ($RUSTC)"

# --- build twice ----------------------------------------------------------------
target_dir="$root/target/wasm"
common="-C debuginfo=0 -C strip=debuginfo -C llvm-args=-disable-lsr --remap-path-prefix=$root=/cnn-wasm"
if [ -n "${CARGO_HOME:-}" ]; then common="$common --remap-path-prefix=$CARGO_HOME=/cargo"; fi
common="$common --remap-path-prefix=$HOME=/home"

build() { # $1 = flavour, $2 = extra rustflags
  echo "build-wasm: $1"
  RUSTC="$RUSTC" RUSTFLAGS="$common $2" CARGO_TARGET_DIR="$target_dir/$1" \
    "$CARGO" build --quiet --release --locked --offline --target wasm32-unknown-unknown \
    -p kernels
  cp "$target_dir/$1/wasm32-unknown-unknown/release/kernels.wasm" "$out/kernels.$1.wasm.tmp"
  mv "$out/kernels.$1.wasm.tmp" "$out/kernels.$1.wasm"
}

mkdir -p "$out"
build simd "-C target-feature=+simd128"
build scalar ""

# --- BUILDINFO --------------------------------------------------------------------
{
  echo "rustc: $rust_version"
  echo "target: wasm32-unknown-unknown"
  echo "flags: $(echo "$common" | sed "s#$root#<root>#g; s#$HOME#<home>#g")"
  for f in simd scalar; do
    echo "sha256 kernels.$f.wasm: $(sha256sum "$out/kernels.$f.wasm" | cut -d' ' -f1)"
  done
} > "$out/BUILDINFO.tmp"
mv "$out/BUILDINFO.tmp" "$out/BUILDINFO"
cat "$out/BUILDINFO"
