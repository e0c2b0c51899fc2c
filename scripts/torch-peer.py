#!/usr/bin/python3
"""PyTorch as a benchmark peer of `cnn-wasm bench`: builds the same network from
cnn-wasm layer configs, trains and infers on the same batch of real digits, and
times steps on command, so that it runs in the same process tree and the same
interleaved rounds as the other systems.

  python3 scripts/torch-peer.py CONFIG.json BATCH.bin THREADS

CONFIG.json: {"layers": [...], "inputShape": [1, 28, 28], "classes": 10}
BATCH.bin:   n*784 u8 pixels then n u8 labels
stdin:       lines "train K" or "infer K" (K steps); each is answered on stdout
             with the seconds the K steps took. "quit" ends it.
PyTorch is only ever a benchmark peer, never a dependency of the library.
"""
import json, sys, time
import torch
import torch.nn as nn

def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)

def build(cfg):
    layers = []
    for c in cfg['layers']:
        k = c['kind']
        if k == 'conv2d':
            kh, kw = pair(c['kernelSize']); pad = c.get('padding', 'valid')
            p = (kh // 2, kw // 2) if pad == 'same' else (0, 0) if pad == 'valid' else pair(pad)
            layers.append(nn.LazyConv2d(c['filters'], (kh, kw), stride=pair(c.get('strides', 1)), padding=p, bias=c.get('useBias', True)))
            if c.get('activation') == 'relu': layers.append(nn.ReLU())
        elif k == 'dense':
            if not any(isinstance(l, nn.Flatten) for l in layers): layers.append(nn.Flatten())
            layers.append(nn.LazyLinear(c['units'], bias=c.get('useBias', True)))
            if c.get('activation') == 'relu': layers.append(nn.ReLU())
        elif k == 'maxPooling2d':
            layers.append(nn.MaxPool2d(pair(c['poolSize']), stride=pair(c.get('strides') or c['poolSize'])))
        elif k == 'averagePooling2d':
            layers.append(nn.AvgPool2d(pair(c['poolSize']), stride=pair(c.get('strides') or c['poolSize'])))
        elif k == 'batchNormalization':
            layers.append(nn.LazyBatchNorm2d(eps=c.get('epsilon', 1e-5), momentum=c.get('momentum', 0.1)) if not any(isinstance(l, nn.Flatten) for l in layers)
                          else nn.LazyBatchNorm1d(eps=c.get('epsilon', 1e-5), momentum=c.get('momentum', 0.1)))
        elif k == 'relu':
            layers.append(nn.ReLU())
        elif k == 'flatten':
            layers.append(nn.Flatten())
        elif k == 'dropout':
            layers.append(nn.Dropout(c['rate']))
        elif k == 'zeroPadding2d':
            (t, b), (l, r) = c['padding']
            layers.append(nn.ConstantPad2d((l, r, t, b), c.get('value', 0)))
        else:
            raise SystemExit(f'torch-peer: no PyTorch equivalent of layer kind {k}')
    return nn.Sequential(*layers)

def main():
    cfg = json.load(open(sys.argv[1]))
    raw = open(sys.argv[2], 'rb').read()
    torch.set_num_threads(int(sys.argv[3]))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    size = 1
    for d in cfg['inputShape']: size *= d
    n = len(raw) // (size + 1)
    x = torch.frombuffer(bytearray(raw[:n * size]), dtype=torch.uint8).float().div(255).sub(0.1307).div(0.3081).reshape(n, *cfg['inputShape'])
    y = torch.frombuffer(bytearray(raw[n * size:n * size + n]), dtype=torch.uint8).long()
    m = build(cfg)
    m(x)  # materialise the lazy layers
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    def train():
        m.train(); opt.zero_grad(); lossf(m(x), y).backward(); opt.step()
    def infer():
        m.eval()
        with torch.no_grad(): m(x).softmax(1)
    print('ready', flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == 'quit': break
        fn = train if cmd[0] == 'train' else infer
        t = time.perf_counter()
        for _ in range(int(cmd[1])): fn()
        print(time.perf_counter() - t, flush=True)

main()
