#!/usr/bin/env python3
"""A PyTorch float64 fixture for a convolution over 3-channel input: input,
weights, bias and upstream gradient (seeded), with PyTorch's output and its
gradients of input, weight and bias. test/colour.test.ts checks our conv2d
layer (float32 kernels) against it.

    /usr/bin/python3 scripts/make-conv3-fixture.py > test/fixtures/conv3-torch.json
"""
import json

import torch

torch.manual_seed(7)
n, c, h, w, f, k = 4, 3, 12, 10, 5, 3
x = (torch.rand(n, c, h, w, dtype=torch.float64) * 2 - 1).requires_grad_(True)
weight = ((torch.rand(f, c, k, k, dtype=torch.float64) * 2 - 1) * 0.5).requires_grad_(True)
bias = (torch.rand(f, dtype=torch.float64) - 0.5).requires_grad_(True)
# Inputs are rounded to float32 first: the library computes on float32 values.
with torch.no_grad():
    for t in (x, weight, bias):
        t.copy_(t.float().double())
y = torch.nn.functional.conv2d(x, weight, bias, stride=(2, 1), padding=1)
dy = (torch.rand(y.shape, dtype=torch.float64) * 2 - 1).float().double()
y.backward(dy)
flat = lambda t: [float(v) for v in t.detach().reshape(-1)]
print(json.dumps({
    'torch': torch.__version__, 'shape': {'n': n, 'c': c, 'h': h, 'w': w, 'filters': f, 'kernel': k, 'strides': [2, 1], 'padding': 1},
    'x': flat(x), 'weight': flat(weight), 'bias': flat(bias), 'dy': flat(dy),
    'y': flat(y), 'dx': flat(x.grad), 'dweight': flat(weight.grad), 'dbias': flat(bias.grad),
}))
