#!/usr/bin/python3
"""PyTorch reference for the lenet5-bn recipe on the bundled MNIST sample (or a
directory of the four IDX files): the same architecture, padding, normalisation,
SGD(momentum 0.9, weight decay 4e-4), lr 0.1 * 0.9^(step // 30), batch 128,
dropout 0.1, shuffled every epoch. Prints one JSON line per seed and the mean.

  /usr/bin/python3 scripts/torch-lenet5bn.py [--data DIR] [--epochs 3] [--seeds 1,2,3] [--init torch|he]
                                             [--epochs-data N] [--no-dropout]

Used to compare cnn-wasm's accuracy with PyTorch's on the same data (README,
Results); PyTorch is never a runtime dependency.
"""
import argparse, gzip, json, os, struct, sys
import numpy as np
import torch
import torch.nn as nn

def read_idx(path):
    raw = open(path, 'rb').read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    ndim = raw[3]
    dims = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)

def find(d, base):
    for f in (base, base + '.gz'):
        if os.path.exists(os.path.join(d, f)):
            return os.path.join(d, f)
    sys.exit(f'{d}: missing {base}')

def split(d, name):
    return read_idx(find(d, f'{name}-images-idx3-ubyte')), read_idx(find(d, f'{name}-labels-idx1-ubyte'))

def model(init, dropout):
    m = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.BatchNorm2d(120), nn.ReLU(), nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(), nn.Dropout(0.1 if dropout else 0.0), nn.Linear(84, 10))
    if init == 'he':
        for l in m:
            if isinstance(l, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(l.weight, nonlinearity='relu')
                nn.init.zeros_(l.bias)
    return m

def prep(x):
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    x = nn.functional.pad(x, (2, 2, 2, 2))  # raw zeros, then normalised, as seed 001
    return (x - 0.1307) / 0.3081

def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--data', default=os.path.join(here, '..', 'data', 'mnist-sample'))
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--seeds', default='1,2,3')
    ap.add_argument('--init', choices=['torch', 'he'], default='torch')
    ap.add_argument('--no-dropout', action='store_true')
    ap.add_argument('--val-size', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    (xtr, ytr), (xte, yte) = split(a.data, 'train'), split(a.data, 't10k')
    if a.val_size:
        xtr, ytr = xtr[:-a.val_size], ytr[:-a.val_size]
    Xtr, Ytr, Xte, Yte = prep(xtr), torch.from_numpy(ytr.astype(np.int64)), prep(xte), torch.from_numpy(yte.astype(np.int64))
    accs = []
    for seed in [int(s) for s in a.seeds.split(',')]:
        torch.manual_seed(seed)
        m = model(a.init, not a.no_dropout)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.9 ** (step // 30))
        lossf = nn.CrossEntropyLoss()
        for _ in range(a.epochs):
            m.train()
            perm = torch.randperm(len(Xtr))
            for i in range(0, len(Xtr), 128):
                idx = perm[i:i + 128]
                opt.zero_grad()
                lossf(m(Xtr[idx]), Ytr[idx]).backward()
                opt.step()
                sched.step()
        m.eval()
        with torch.no_grad():
            acc = (m(Xte).argmax(1) == Yte).float().mean().item()
        accs.append(acc)
        print(json.dumps({'seed': seed, 'testAccuracy': round(acc, 4)}), flush=True)
    print(json.dumps({'init': a.init, 'epochs': a.epochs, 'mean': round(sum(accs) / len(accs), 5), 'runs': len(accs)}))

main()
