/**
 * ONNX files from strangers: every size is checked against the bytes present
 * before anything is allocated, graphs that compute something else than what
 * would be imported are refused, and every message names the node or tensor.
 * The files are written with protobufjs (onnx-proto), not our own encoder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { importOnnx } from '../ts/interop/onnx-import.js';
import { serializeModel } from '../ts/model-file.js';
import { dense, flatten } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';

const { onnx } = onnxProto;
const be = await initBackend({ backend: 'simd' });
const FLOAT = 1, INT64 = 7;

type Node = { opType: string; input: string[]; output: string[]; name?: string; domain?: string; attribute?: object[] };
type Tensor = { name: string; dims: number[]; dataType: number; floatData?: number[]; int64Data?: number[]; rawData?: Uint8Array };
const f32 = (n: number, v = 0.01) => Array.from({ length: n }, (_, i) => v * ((i % 7) - 3));
/** Flatten -> Gemm(W [16, 3], b): a valid model of 1x4x4 inputs; each part can be replaced. */
function model(o: { nodes?: Node[]; init?: Tensor[]; output?: string; opset?: number; extraNodes?: Node[]; meta?: { key: string; value: string }[] } = {}): Uint8Array {
  const init = o.init ?? [{ name: 'W', dims: [16, 3], dataType: FLOAT, floatData: f32(48) }, { name: 'b', dims: [3], dataType: FLOAT, floatData: [0.1, 0.2, 0.3] }];
  const nodes = o.nodes ?? [
    { opType: 'Flatten', input: ['x'], output: ['f'], name: 'flat' },
    { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'], name: 'fc' },
  ];
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7, opsetImport: [{ version: o.opset ?? 13 }], metadataProps: o.meta ?? [],
    graph: {
      name: 'g', initializer: init, node: [...(o.extraNodes ?? []), ...nodes],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1 }, { dimValue: 4 }, { dimValue: 4 }] } } } }],
      output: [{ name: o.output ?? 'y' }],
    },
  })).finish();
}
const imp = (bytes: Uint8Array) => importOnnx(bytes, { backend: be, source: 'm.onnx' });
const i64 = (name: string, values: number[]) => ({ name, dims: [values.length], dataType: INT64, int64Data: values });

describe('a valid graph still imports', () => {
  it('Flatten -> Gemm computes x W + b', () => {
    const m = imp(model());
    const x = new Float32Array(16).map((_, i) => i / 16);
    const w = f32(48), logits = [0.1, 0.2, 0.3].map((b, j) => b + Array.from(x).reduce((s, v, i) => s + v * w[i * 3 + j], 0));
    const e = logits.map((v) => Math.exp(v - Math.max(...logits))), z = e.reduce((a, b) => a + b, 0);
    Array.from(m.predict(x)).forEach((p, j) => expect(p).toBeCloseTo(e[j] / z, 6));
    m.dispose();
  });
  it('a trailing Softmax after the declared output changes nothing and is accepted', () => {
    imp(model({ nodes: [{ opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'] }, { opType: 'Softmax', input: ['y'], output: ['p'] }] })).dispose();
  });
});

describe('sizes are checked against the bytes present, at once', () => {
  it('a Gemm weight declaring [784, 342393] in a tiny file', () => {
    const bytes = model({ init: [{ name: 'W', dims: [784, 342393], dataType: FLOAT, rawData: new Uint8Array(8) }, { name: 'b', dims: [3], dataType: FLOAT, floatData: [0, 0, 0] }] });
    expect(bytes.length).toBeLessThan(200);
    expect(() => imp(bytes)).toThrow(/^m\.onnx: initializer 'W': its dims \[784, 342393\] declare 268,436,112 values \(1,073,744,448 bytes\), its raw_data holds 8 bytes$/);
  });
  it('dims beyond 2^28 values, negative dims', () => {
    expect(() => imp(model({ init: [{ name: 'W', dims: [2 ** 40, 2 ** 20], dataType: FLOAT, rawData: new Uint8Array(4) }] }))).toThrow(/initializer 'W': its dims \[1099511627776, 1048576\] declare more than 2\^53 values \(more than 2\^53 bytes\)/);
    expect(() => imp(model({ init: [{ name: 'W', dims: [-1, 3], dataType: FLOAT, floatData: [1] }] }))).toThrow(/initializer 'W' has dimension -1/);
  });
  it('raw_data longer or shorter than its dims, like float_data', () => {
    const b = { name: 'b', dims: [3], dataType: FLOAT, floatData: [0, 0, 0] };
    expect(() => imp(model({ init: [{ name: 'W', dims: [16, 3], dataType: FLOAT, rawData: new Uint8Array(48 * 4 + 4) }, b] }))).toThrow(/initializer 'W': its dims \[16, 3\] declare 48 values \(192 bytes\), its raw_data holds 196 bytes/);
    expect(() => imp(model({ init: [{ name: 'W', dims: [16, 3], dataType: FLOAT, rawData: new Uint8Array(40) }, b] }))).toThrow(/its raw_data holds 40 bytes/);
    expect(() => imp(model({ init: [{ name: 'W', dims: [16, 3], dataType: FLOAT, floatData: f32(49) }, b] }))).toThrow(/initializer 'W': its dims \[16, 3\] declare 48 values, its data holds 49/);
  });
  it('a constant Slice with step 0 and a ConstantOfShape of 1e9 values are refused by node', () => {
    const slice = model({ init: [...[i64('s', [0]), i64('e', [1]), i64('ax', [0]), i64('st', [0])], { name: 'W', dims: [16, 3], dataType: FLOAT, floatData: f32(48) }, { name: 'b', dims: [3], dataType: FLOAT, floatData: [0, 0, 0] }, i64('v', [1, 2, 3])],
      extraNodes: [{ opType: 'Slice', input: ['v', 's', 'e', 'ax', 'st'], output: ['sl'], name: 'the_slice' }] });
    expect(() => imp(slice)).toThrow(/^m\.onnx: node 'the_slice' \(Slice\): Slice step 0: a step must be a non-zero integer$/);
    const cos = model({ init: [i64('shape', [1e9]), { name: 'W', dims: [16, 3], dataType: FLOAT, floatData: f32(48) }, { name: 'b', dims: [3], dataType: FLOAT, floatData: [0, 0, 0] }],
      extraNodes: [{ opType: 'ConstantOfShape', input: ['shape'], output: ['big'], name: 'fill' }] });
    expect(() => imp(cos)).toThrow(/^m\.onnx: node 'fill' \(ConstantOfShape\): ConstantOfShape of shape \[1000000000\] = 1,000,000,000 values; constant shape arithmetic is limited to 65,536$/);
  });
});

describe('graphs that compute something else are refused', () => {
  const W = { name: 'W', dims: [16, 3], dataType: FLOAT, floatData: f32(48) }, B = { name: 'b', dims: [3], dataType: FLOAT, floatData: [0, 0, 0] };
  it.each([
    ['a cycle', { nodes: [{ opType: 'Relu', input: ['y'], output: ['r'], name: 'r1' }, { opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'], name: 'fc' }] },
      /node 'r1' \(Relu\): reads 'y', which node 'fc' \(Gemm\) computes later \(a cycle/],
    ['a self-loop', { nodes: [{ opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Relu', input: ['g'], output: ['g'], name: 'loop' }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'] }] },
      /node 'loop' \(Relu\): reads its own output 'g' \(a self-loop\)/],
    ['an operator in another domain', { nodes: [{ opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Relu', input: ['f'], output: ['r'], name: 'custom', domain: 'com.example.custom' }, { opType: 'Gemm', input: ['r', 'W', 'b'], output: ['y'] }] },
      /node 'custom' \(Relu\): operator domain 'com\.example\.custom' is not supported/],
    ['opset 1', { opset: 1 }, /opset 1 of the default domain is not supported \(9 to 24\)/],
    ['opset 99', { opset: 99 }, /opset 99 of the default domain is not supported/],
    ['an intermediate output', { output: 'f' }, /node 'fc' \(Gemm\): the graph's declared output 'f' is computed before this node/],
    ['an output no layer computes', { output: 'nothing' }, /the graph's declared output 'nothing' is not what its last layer computes \('y'\)/],
    ['a missing initializer', { init: [B] }, /node 'fc' \(Gemm\): reads 'W', which is not the graph input, an initializer or any node's output/],
    ['a Div by 0 in the normalisation', { init: [W, B, { name: 'z', dims: [], dataType: FLOAT, floatData: [0] }], extraNodes: [], nodes: [{ opType: 'Div', input: ['x', 'z'], output: ['d'], name: 'norm' }, { opType: 'Flatten', input: ['d'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'] }] },
      /node 'norm' \(Div\): Div of the input by 0: the input's normalisation must scale by a finite, non-zero number/],
    ['a Constant without a value', { extraNodes: [{ opType: 'Constant', input: [], output: ['c'], name: 'k', attribute: [{ name: 'value_float', type: 1, f: 1 }] }] },
      /node 'k' \(Constant\): Constant has no 'value' tensor attribute \(value_float; only 'value' is supported\)/],
    ['a Gemm without its weight', { nodes: [{ opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Gemm', input: ['f'], output: ['y'], name: 'fc' }] }, /node 'fc' \(Gemm\): its weight input is missing/],
    ['a Gemm whose weight is computed', { nodes: [{ opType: 'Flatten', input: ['x'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'f', 'b'], output: ['y'], name: 'fc' }] }, /node 'fc' \(Gemm\): only a chain of layers/],
    ['bad normalisation metadata', { meta: [{ key: 'cnn-wasm:normalization', value: '{"scale":' }], init: [W, B, { name: 'k', dims: [], dataType: FLOAT, floatData: [2] }], nodes: [{ opType: 'Mul', input: ['x', 'k'], output: ['d'] }, { opType: 'Flatten', input: ['d'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'] }] },
      /metadata 'cnn-wasm:normalization' is not valid JSON/],
    ['a MaxPool without kernel_shape', { nodes: [{ opType: 'MaxPool', input: ['x'], output: ['p'], name: 'mp' }, { opType: 'Flatten', input: ['p'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'] }] },
      /^m\.onnx: node 'mp' \(MaxPool\): .*poolSize must be a positive integer/],
    ['a Gemm weight that does not fit its input', { init: [{ name: 'W', dims: [9, 3], dataType: FLOAT, floatData: f32(27) }, B] },
      /setWeights: dense_\d+\/kernel has shape \(16, 3\), got \(9, 3\) \(layer dense_\d+ is node 'fc' \(Gemm\)\)/],
    ['padding that would make a layer far larger than the file', { nodes: [{ opType: 'Pad', input: ['x'], output: ['p'], name: 'pad', attribute: [{ name: 'pads', type: 7, ints: [0, 0, 100000, 100000, 0, 0, 100000, 100000] }] }, { opType: 'Flatten', input: ['p'], output: ['f'] }, { opType: 'Gemm', input: ['f', 'W', 'b'], output: ['y'], name: 'fc' }] },
      /the layers do not fit together: .*far more than the file holds .*\(layer dense_\d+ is node 'fc' \(Gemm\)\)/],
  ] as const)('%s', (_what, o, msg) => {
    expect(() => imp(model(o as Parameters<typeof model>[0]))).toThrow(msg);
  });
});

it('an input of more than 16,777,216 values per example is refused before any layer is built', () => {
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7, opsetImport: [{ version: 13 }],
    graph: { name: 'g', node: [{ opType: 'Flatten', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1 }, { dimValue: 65536 }, { dimValue: 65536 }] } } } }], output: [{ name: 'y' }] },
  })).finish();
  expect(() => imp(bytes)).toThrow(/^m\.onnx: input 'x' of shape \[N, 1, 65536, 65536\] has more than 16,777,216 values per example$/);
});

describe('files that are not ONNX', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-onnx-hostile-'));
  const cnnw = join(dir, 'model.cnnw');
  const m = sequential([flatten(), dense({ units: 3 })], { inputShape: [1, 4, 4], classes: 3, backend: be });
  writeFileSync(cnnw, serializeModel(m));
  m.dispose();
  it('a cnn-wasm model file is named as one, through the API and the CLI', () => {
    expect(() => importOnnx(serializeModel(imp(model())), { source: 'x.cnnw', backend: be })).toThrow(/^x\.cnnw: this is a cnn-wasm model file, not an ONNX file: it needs no import/);
    const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'import', cnnw, '--out', join(dir, 'o.cnnw')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`cnn-wasm: ${cnnw}: this is a cnn-wasm model file, not an ONNX file: it needs no import (use it with cnn-wasm eval, predict or serve, or loadModel)`);
  });
  it('text and empty files', () => {
    expect(() => imp(new TextEncoder().encode('hello, I am not a model\n'))).toThrow(/^m\.onnx: not an ONNX file/);
    expect(() => imp(new Uint8Array(0))).toThrow(/^m\.onnx: not an ONNX file, or an empty one: it has no graph nodes/);
  });
});
