#!/usr/bin/env python3
"""Writes an IDX data set (default: Debian's Fashion-MNIST) as an image folder of
JPEG files (train/ and test/, one subfolder per class), with PIL: a fixture for
checking that JPEG folders train like PNG ones. (scripts/make-image-folder.mjs
writes PNG folders, and JPEG too, but jpeg-js encodes at about 90 ms an image.)

    /usr/bin/python3 scripts/make-jpeg-folder.py OUT [--quality 90] [--idx DIR]
"""
import argparse
import gzip
import os
import struct

from PIL import Image

FASHION = ['T-shirt-top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--quality', type=int, default=90)
    ap.add_argument('--idx', default='/usr/share/datasets/fashion-mnist')
    a = ap.parse_args()
    for split, prefix in (('train', 'train'), ('test', 't10k')):
        (n, rows, cols), pixels = read_idx(os.path.join(a.idx, f'{prefix}-images-idx3-ubyte.gz'))
        _, labels = read_idx(os.path.join(a.idx, f'{prefix}-labels-idx1-ubyte.gz'))
        for c in FASHION:
            os.makedirs(os.path.join(a.out, split, c), exist_ok=True)
        size = rows * cols
        for i in range(n):
            img = Image.frombytes('L', (cols, rows), pixels[i * size:(i + 1) * size])
            img.save(os.path.join(a.out, split, FASHION[labels[i]], f'{i:05d}.jpg'), quality=a.quality)
    print(f'make-jpeg-folder: wrote {a.out} (quality {a.quality})')


if __name__ == '__main__':
    main()
