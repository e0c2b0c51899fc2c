/**
 * ONNX import of the graphs PyTorch writes (test/fixtures/onnx, made by
 * scripts/make-onnx-fixtures.py): our predictions on the sample digits match
 * the outputs PyTorch recorded; an imported model trains and saves; our own
 * export comes back with byte-identical weights; unsupported operators are
 * refused by name.
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { deserializeModel, serializeModel } from '../ts/model-file.js';
import { importOnnx } from '../ts/interop/onnx-import.js';
import { createPreset, PRESET_NAMES } from '../ts/models/presets.js';
import { optimizerFromConfig, sgd } from '../ts/optim/optimizer.js';
import { allBackends } from './helpers.js';
import { mnistSample } from './data.js';

const fixtures = new URL('./fixtures/onnx/', import.meta.url);
const outputs = JSON.parse(readFileSync(new URL('outputs.json', fixtures), 'utf8')).probabilities as Record<string, number[]>;
const backends = await allBackends();
const digits = mnistSample('t10k', 8).images as Uint8Array;
// PyTorch's input: (x / 255 - 0.1307) / 0.3081, each step in float32.
const normalised = Float32Array.from(digits, (v) => Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(0.1307)) / Math.fround(0.3081)));

describe.each(backends.map((b) => [b.name, b] as const))('%s build', (_name, be) => {
  it.each(['lenet5-bn', 'lenet5', 'padded'])("PyTorch's %s.onnx: our predictions match PyTorch's to 1e-5", (name) => {
    const m = importOnnx(new Uint8Array(readFileSync(new URL(`${name}.onnx`, fixtures))), { backend: be, source: `${name}.onnx` });
    const p = m.predict(normalised);
    let worst = 0;
    p.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - outputs[name][i]))));
    expect(worst).toBeLessThanOrEqual(1e-5);
    if (name === 'lenet5-bn') expect(m.layers.filter((l) => l.kind === 'batchNormalization')).toHaveLength(3);
    m.dispose();
  });

  it('an imported model trains further and saves; its batch-norm statistics came across', async () => {
    const m = importOnnx(new Uint8Array(readFileSync(new URL('lenet5-bn.onnx', fixtures))), { backend: be, normalization: { scale: 1 / 255, mean: 0.1307, std: 0.3081 } });
    const rv = m.getWeights().find((t) => t.name.endsWith('/runningVar'))!;
    expect(Array.from(rv.values).some((v) => v !== 1)).toBe(true);
    // With the normalisation given, u8 pixels give what the float input gave.
    const p = m.predict(digits);
    p.forEach((v, i) => expect(Math.abs(v - outputs['lenet5-bn'][i])).toBeLessThanOrEqual(1e-5));
    const h = await m.fit(mnistSample('train', 256), { optimizer: sgd({ learningRate: 0.01, momentum: 0.9 }), batchSize: 64 });
    expect(h.steps).toBe(4);
    const back = deserializeModel(serializeModel(m), { backend: be });
    expect(back.model.getWeights()).toEqual(m.getWeights());
    back.model.dispose();
    m.dispose();
  });

  it.each(PRESET_NAMES)('%s: export -> import round trip gives byte-identical weights and equal predictions', async (preset) => {
    const { model, recipe } = createPreset(preset, { backend: be, seed: 3 });
    await model.fit(mnistSample('train', 256), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128 });
    const back = importOnnx(model.toOnnx(), { backend: be });
    const ours = model.getWeights().map((t) => t.values), theirs = back.getWeights().map((t) => t.values);
    expect(theirs.length).toBe(ours.length);
    ours.forEach((v, i) => expect(Buffer.from(theirs[i].buffer).equals(Buffer.from(v.buffer))).toBe(true));
    // The graph's normalisation came back as the model's, exactly: u8 pixels give the same probabilities.
    expect(back.normalization).toEqual(model.normalization);
    expect(Array.from(back.predict(digits))).toEqual(Array.from(model.predict(digits)));
    model.dispose();
    back.dispose();
  });
});

describe('refusals', () => {
  const { onnx } = onnxProto;
  const graph = (op: string, attribute: object[] = []) => onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 7, opsetImport: [{ version: 13 }],
    graph: {
      name: 'g', input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1 }, { dimValue: 4 }, { dimValue: 4 }] } } } }],
      node: [{ opType: op, input: ['x'], output: ['y'], name: 'the_node', attribute }],
      output: [{ name: 'y' }],
    },
  })).finish();
  it('an unsupported operator or attribute is refused with its name and node', () => {
    expect(() => importOnnx(graph('LeakyRelu'), { source: 'leaky.onnx' })).toThrow(/^leaky.onnx: node 'the_node' \(LeakyRelu\): operator LeakyRelu is not supported \(supported: Conv, Relu/);
    expect(() => importOnnx(graph('MaxPool', [{ name: 'kernel_shape', type: 7, ints: [2, 2] }, { name: 'ceil_mode', type: 2, i: 1 }]), { source: 'p.onnx' }))
      .toThrow(/^p.onnx: node 'the_node' \(MaxPool\): attribute ceil_mode=1 is not supported/);
    expect(() => importOnnx(new Uint8Array([1, 2, 3, 250]), { source: 'junk.onnx' })).toThrow(/^junk.onnx: not an ONNX file/);
  });
});

describe('cnn-wasm import', () => {
  it('converts a PyTorch ONNX file into a model file that loads and predicts as PyTorch did', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadModel } = await import('../ts/model-file-node.js');
    const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-import-'));
    const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'import', new URL('lenet5.onnx', fixtures).pathname, '--out', join(dir, 'l.cnnw'), '--normalization', 'mnist'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*l\.cnnw: \d+ layers/);
    const { model } = loadModel(join(dir, 'l.cnnw'));
    model.predict(digits).forEach((v, i) => expect(Math.abs(v - outputs.lenet5[i])).toBeLessThanOrEqual(1e-5));
    model.dispose();
    expect(spawnSync(process.execPath, [bin, 'import', join(dir, 'missing.onnx')], { encoding: 'utf8' })).toMatchObject({ status: 1, stderr: expect.stringMatching(/missing.onnx: no such file \(give the path of an ONNX file\)/) });
  }, 30_000);
});
