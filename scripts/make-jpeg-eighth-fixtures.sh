#!/usr/bin/env bash
# Writes test/fixtures/jpeg-eighth/: JPEGs from libjpeg-turbo's cjpeg (4:2:0,
# 4:2:2, 4:4:4, gray, restart intervals, optimised tables, progressive, one
# scan per component; an arithmetic-coded one the 1/8 reader hands back), and for each one
# what djpeg decodes at 1/8 scale (-scale 1/8 -nosmooth: chroma repeated, as
# the reader does), the reference test/jpeg-eighth.test.ts compares against.
# Needs: apt-get install -y libjpeg-turbo-progs python3. The files are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/jpeg-eighth
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A 203x150 picture (sides that are not whole MCUs): gradients, a disc, stripes.
python3 - "$tmp/src.ppm" <<'PY'
import math, sys
w, h = 203, 150
px = bytearray()
for y in range(h):
    for x in range(w):
        r = int(255 * x / (w - 1))
        g = int(255 * y / (h - 1))
        b = 200 if (x - 120) ** 2 + (y - 70) ** 2 < 40 ** 2 else 60
        if 20 <= x < 60 and (y // 6) % 2 == 0:
            r, g, b = 250, 250, 250
        px += bytes((r, g, b))
open(sys.argv[1], 'wb').write(b'P6\n%d %d\n255\n' % (w, h) + bytes(px))
PY
cjpeg -quality 90 -sample 2x2 "$tmp/src.ppm" > "$out/colour420.jpg"
cjpeg -quality 85 -sample 2x1 -optimize "$tmp/src.ppm" > "$out/colour422.jpg"
cjpeg -quality 95 -sample 1x1 "$tmp/src.ppm" > "$out/colour444.jpg"
cjpeg -quality 90 -grayscale "$tmp/src.ppm" > "$out/gray.jpg"
cjpeg -quality 90 -sample 2x2 -restart 3B "$tmp/src.ppm" > "$out/restart.jpg"
cjpeg -quality 90 -progressive "$tmp/src.ppm" > "$out/progressive.jpg"
cjpeg -quality 90 -progressive -restart 2B "$tmp/src.ppm" > "$out/progressive-restart.jpg"
cjpeg -quality 90 -progressive -grayscale "$tmp/src.ppm" > "$out/progressive-gray.jpg"
# Sequential, one scan per component (not interleaved).
printf '0;\n1;\n2;\n' > "$tmp/scans"
cjpeg -quality 90 -sample 2x2 -scans "$tmp/scans" "$tmp/src.ppm" > "$out/separate-scans.jpg"
cjpeg -quality 90 -arithmetic "$tmp/src.ppm" > "$out/arithmetic.jpg"
for f in colour420 colour422 colour444 gray restart progressive progressive-restart progressive-gray separate-scans; do
  djpeg -scale 1/8 -nosmooth -pnm "$out/$f.jpg" > "$out/$f.eighth.pnm"
done
ls -l "$out"
