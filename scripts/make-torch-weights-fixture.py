#!/usr/bin/python3
"""Writes test/fixtures/torch-weights.json: a small PyTorch network (conv 6x5x5,
batch norm, relu, max pool, linear 864->10) with random weights and trained
batch-norm statistics, and its eval-mode softmax on the first 8 test digits of
the bundled sample. The weights-API test moves these weights into the same
cnn-wasm network with setWeights (transposing nn.Linear.weight) and checks the
probabilities agree.   /usr/bin/python3 scripts/make-torch-weights-fixture.py
"""
import gzip, json, os, struct
import numpy as np
import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
raw = gzip.decompress(open(os.path.join(here, '..', 'data', 'mnist-sample', 't10k-images-idx3-ubyte.gz'), 'rb').read())
n, h, w = struct.unpack('>III', raw[4:16])
imgs = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, h, w)[:8]
x = (torch.from_numpy(imgs.astype(np.float32)) / 255 - 0.1307) / 0.3081

torch.manual_seed(7)
m = nn.Sequential(nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 12 * 12, 10))
m.train()
for _ in range(3):
    m(torch.randn(16, 1, 28, 28) * 0.8 + 0.2)  # moves the running statistics off 0 and 1
m.eval()
with torch.no_grad():
    probs = m(x).softmax(1)
conv, bn, lin = m[0], m[1], m[5]
f32 = lambda t: [float('%.9g' % v) for v in t.flatten().tolist()]  # 9 digits hold any float32 exactly
out = {
    'torch': torch.__version__,
    'images': 'the first 8 test digits of data/mnist-sample, normalised (x/255 - 0.1307)/0.3081',
    'probabilities': f32(probs),
    'state': {k: {'shape': list(v.shape), 'values': f32(v)} for k, v in m.state_dict().items() if v.dtype == torch.float32},
}
path = os.path.join(here, '..', 'test', 'fixtures', 'torch-weights.json')
json.dump(out, open(path, 'w'), separators=(',', ':'))
print(f'wrote {path}')
