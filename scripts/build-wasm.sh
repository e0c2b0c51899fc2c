#!/usr/bin/env bash
# Builds crates/kernels three times for wasm32-unknown-unknown into pkg/:
#   kernels.relaxed.wasm  +simd128,+relaxed-simd  (fused multiply-add in the GEMM and convolutions)
#   kernels.simd.wasm     +simd128
#   kernels.scalar.wasm   no SIMD
# and writes pkg/BUILDINFO (toolchain, flags, sha256 of each file).
#
# The toolchain is Debian's rustc-web 1.96 in a private prefix
# (scripts/install-rust.sh installs it): it has relaxed SIMD, which Debian's
# rustc 1.63 lacks. It ships no wasm32 standard library, so the standard
# library is compiled from its sources with -Zbuild-std (RUSTC_BOOTSTRAP=1),
# its dependencies read from the vendored copies that rust-web-src carries:
# nothing is fetched. The build is reproducible: no debug info, paths
# remapped, one codegen unit. wasm-opt is deliberately not run: binaryen's
# default -O3 inlining re-merges the #[inline(never)] GEMM driver and cost
# ~40% in a probe (see docs/benchmarks.md).
#
#   bash scripts/build-wasm.sh [relaxed|simd|scalar ...]    # default: all three
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# Output directory (CI rebuilds into a scratch directory to compare with pkg/).
out="${CNN_WASM_PKG_DIR:-$root/pkg}"

prefix="${CNN_WASM_RUST_PREFIX:-$HOME/.cache/cnn-wasm/rust-1.96}"
if ! LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu" "$prefix/usr/bin/rustc" --version >/dev/null 2>&1 || ! command -v wasm-ld-22 >/dev/null 2>&1; then
  echo "error: the Rust toolchain is not installed in $prefix (or wasm-ld-22 is missing)." >&2
  echo "Install it (Debian's rustc-web 1.96 unpacked there, and lld-22): bash scripts/install-rust.sh" >&2
  exit 1
fi
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
RUSTC="$prefix/usr/bin/rustc"
CARGO="$prefix/usr/bin/cargo"
vendor="$prefix/usr/lib/rustlib/src/rust/library/vendor"
rust_version="$("$RUSTC" --version)"
echo "build-wasm: using $rust_version ($RUSTC)"

target_dir="$root/target/wasm"
common="-C linker=wasm-ld-22 -C debuginfo=0 -C strip=debuginfo -C llvm-args=-disable-lsr --remap-path-prefix=$HOME=/home --remap-path-prefix=$root=/cnn-wasm"
# The last matching remapping wins: the toolchain's prefix (under $HOME by default) maps to /rust wherever it is.
common="$common --remap-path-prefix=$target_dir/cargo-home=/cargo --remap-path-prefix=$prefix=/rust"

declare -A features=([relaxed]="+simd128,+relaxed-simd" [simd]="+simd128" [scalar]="")

build() { # $1 = flavour
  echo "build-wasm: $1"
  # The standard library is built once, without target features, and shared by the three flavours
  # (its code moves bytes and allocates; the arithmetic is ours): only the kernels crate gets the
  # flavour's features, through `cargo rustc -- ...`. A cargo home of its own: the source
  # replacement below must not meet a user's cargo config.
  RUSTC_BOOTSTRAP=1 RUSTC="$RUSTC" RUSTFLAGS="$common" CARGO_TARGET_DIR="$target_dir" CARGO_HOME="$target_dir/cargo-home" \
    "$CARGO" rustc --quiet --release --locked --offline --target wasm32-unknown-unknown -p kernels --crate-type cdylib \
    -Zbuild-std=std,panic_abort \
    --config "source.crates-io.replace-with='rust-std-vendor'" --config "source.rust-std-vendor.directory='$vendor'" \
    -- ${features[$1]:+-C target-feature=${features[$1]}}
  cp "$target_dir/wasm32-unknown-unknown/release/kernels.wasm" "$out/kernels.$1.wasm.tmp"
  mv "$out/kernels.$1.wasm.tmp" "$out/kernels.$1.wasm"
}

flavours=("$@")
[ ${#flavours[@]} -gt 0 ] || flavours=(relaxed simd scalar)
mkdir -p "$out"
for f in "${flavours[@]}"; do
  [ -n "${features[$f]+set}" ] || { echo "error: unknown flavour '$f' (relaxed, simd, scalar)" >&2; exit 2; }
  build "$f"
done

# --- BUILDINFO --------------------------------------------------------------------
{
  echo "rustc: $rust_version"
  echo "target: wasm32-unknown-unknown (standard library built from rust-web-src with -Zbuild-std)"
  echo "flags: $(echo "$common" | sed "s#$root#<root>#g; s#$prefix#<rust>#g; s#$HOME#<home>#g")"
  for f in relaxed simd scalar; do
    if [ -n "${features[$f]}" ]; then echo "flavour $f: -C target-feature=${features[$f]} (the standard library: none)"; else echo "flavour $f: no target features"; fi
  done
  for f in relaxed simd scalar; do
    [ -f "$out/kernels.$f.wasm" ] && echo "sha256 kernels.$f.wasm: $(sha256sum "$out/kernels.$f.wasm" | cut -d' ' -f1)"
  done
} > "$out/BUILDINFO.tmp"
mv "$out/BUILDINFO.tmp" "$out/BUILDINFO"
cat "$out/BUILDINFO"
