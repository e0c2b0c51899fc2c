#!/usr/bin/env bash
# Installs the Rust toolchain scripts/build-wasm.sh uses: Debian bookworm's
# rustc-web 1.96 with cargo-web and rust-web-src (the standard library's
# sources with their dependencies vendored, which -Zbuild-std compiles for
# wasm32 offline), unpacked into a private prefix with dpkg-deb -x, because
# `apt-get install rustc-web` would remove Debian's rustc 1.63 and cargo; and
# lld-22 (wasm-ld-22, the linker) through apt, which removes nothing.
#
#   bash scripts/install-rust.sh            # prints the prefix on its last line
#
# The prefix is $CNN_WASM_RUST_PREFIX, or ~/.cache/cnn-wasm/rust-1.96. Run it
# again at will: a complete prefix is left as it is. Needs Debian's package
# lists (apt-get update) and, for lld-22, root.
set -euo pipefail

version=1.96
prefix="${CNN_WASM_RUST_PREFIX:-$HOME/.cache/cnn-wasm/rust-$version}"
packages=(rustc-web cargo-web rust-web-src libstd-rust-web-dev "libstd-rust-web-$version")

works() {
  LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu" "$prefix/usr/bin/rustc" --version 2>/dev/null | grep -q "^rustc $version" &&
    LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu" "$prefix/usr/bin/cargo" --version >/dev/null 2>&1 &&
    [ -d "$prefix/usr/lib/rustlib/src/rust/library/vendor" ]
}

if ! command -v wasm-ld-22 >/dev/null 2>&1; then
  echo "install-rust: installing lld-22 (wasm-ld-22)" >&2
  apt-get install -y -q lld-22 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q lld-22 >/dev/null; }
fi

if ! works; then
  # The libraries rustc-web and cargo-web link against (libgit2, libcurl, libssh2, ...) come from
  # the system: those not installed are installed through apt (plain libraries: nothing is removed).
  libs=()
  for p in $(apt-cache depends rustc-web cargo-web 2>/dev/null | awk '/^ *Depends: lib/ {print $2}' | grep -v '^libstd-rust' | sort -u); do
    dpkg -s "$p" >/dev/null 2>&1 || libs+=("$p")
  done
  if [ "${#libs[@]}" -gt 0 ]; then
    echo "install-rust: installing the libraries the toolchain needs: ${libs[*]}" >&2
    apt-get install -y -q --no-upgrade "${libs[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q --no-upgrade "${libs[@]}" >/dev/null; }
  fi
  echo "install-rust: unpacking Debian's rustc-web $version into $prefix" >&2
  debs="$(mktemp -d)"
  trap 'rm -rf "$debs"' EXIT
  # apt-get download writes to the working directory; _apt may not read a private one, hence the chmod.
  chmod 755 "$debs"
  (cd "$debs" && { apt-get download -q "${packages[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q "${packages[@]}" >/dev/null; }; })
  tmp="$prefix.partial"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$tmp"; done
  # cargo's own libraries (libgit2, libcurl, ...) come from the system; name what is missing.
  missing="$(LD_LIBRARY_PATH="$tmp/usr/lib/x86_64-linux-gnu" ldd "$tmp/usr/bin/cargo" "$tmp/usr/bin/rustc" | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')"
  if [ -n "$missing" ]; then
    echo "install-rust: libraries cargo or rustc need are missing: $missing(apt-cache depends rustc-web cargo-web names their packages; apt-get install -y cargo-web would also remove Debian's rustc 1.63)" >&2
    exit 1
  fi
  rm -rf "$prefix"
  mv "$tmp" "$prefix"
  works || { echo "install-rust: $prefix does not run rustc $version" >&2; exit 1; }
fi
echo "$prefix"
