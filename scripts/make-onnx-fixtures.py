#!/usr/bin/python3
"""Writes test/fixtures/onnx/*.onnx with PyTorch's torch.onnx.export (eval mode)
and outputs.json with PyTorch's own outputs on the first 8 test digits of the
bundled sample, for the ONNX import tests:

  lenet5-bn.onnx   LeNet-5 with batch norm (constant-folded export)
  lenet5.onnx      LeNet-5 without batch norm, x.view(-1, 120) (export without constant folding)
  padded.onnx      padded and strided convs, average pooling, a constant pad, MatMul + Add

Inputs are the digits normalised (x/255 - 0.1307)/0.3081, as float [8,1,28,28].
/usr/bin/python3 scripts/make-onnx-fixtures.py
"""
import gzip, json, os, struct
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, '..', 'test', 'fixtures', 'onnx')
os.makedirs(out_dir, exist_ok=True)
raw = gzip.decompress(open(os.path.join(here, '..', 'data', 'mnist-sample', 't10k-images-idx3-ubyte.gz'), 'rb').read())
imgs = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)[:8]
x = (torch.from_numpy(imgs.astype(np.float32)) / 255 - 0.1307) / 0.3081

class LeNet(nn.Module):
    def __init__(self, bn):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5), nn.Conv2d(16, 120, 5)
        self.b1, self.b2, self.b3 = (nn.BatchNorm2d(6), nn.BatchNorm2d(16), nn.BatchNorm2d(120)) if bn else (nn.Identity(), nn.Identity(), nn.Identity())
        self.f1, self.f2 = nn.Linear(120, 84), nn.Linear(84, 10)
        self.drop = nn.Dropout(0.1)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
        x = F.relu(self.b3(self.c3(x)))
        x = x.view(-1, 120)
        return self.f2(self.drop(F.relu(self.f1(x))))

class Padded(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ConstantPad2d((1, 1, 1, 1), -0.4242)
        self.c1 = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(4, 8, 3, stride=1, padding=1)
        self.w = nn.Parameter(torch.randn(8 * 7 * 7, 10) * 0.05)
        self.b = nn.Parameter(torch.randn(10) * 0.1)
    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.c2(F.relu(self.c1(self.pad(x))))), 2)
        return torch.flatten(x, 1) @ self.w + self.b

torch.manual_seed(3)
outputs = {}
for name, m, fold in [('lenet5-bn', LeNet(True), True), ('lenet5', LeNet(False), False), ('padded', Padded(), True)]:
    m.train()
    with torch.no_grad():
        for _ in range(3): m(torch.randn(16, 1, 28, 28))  # batch-norm statistics off 0 and 1
    m.eval()
    with torch.no_grad():
        y = m(x).softmax(1)
    # TrainingMode.PRESERVE keeps the (eval-mode) batch norms as nodes instead of folding them into the convs,
    # so their running statistics come across.
    torch.onnx.export(m, x, os.path.join(out_dir, f'{name}.onnx'), input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, opset_version=13, do_constant_folding=fold,
                      training=torch.onnx.TrainingMode.PRESERVE)
    outputs[name] = [float('%.9g' % v) for v in y.flatten().tolist()]
json.dump({'torch': torch.__version__, 'images': 'first 8 test digits of data/mnist-sample, (x/255 - 0.1307)/0.3081', 'probabilities': outputs},
          open(os.path.join(out_dir, 'outputs.json'), 'w'), separators=(',', ':'))
print('wrote', out_dir)
