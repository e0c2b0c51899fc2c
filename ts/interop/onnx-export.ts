/**
 * ONNX export: a model as an ONNX graph (opset 13) that any ONNX runtime runs.
 * The graph's input is `pixels`, float [N, C, H, W] of raw values 0..255 (what
 * `predict` takes as u8); the model's normalisation (x * scale - mean) / std
 * is the graph's first three nodes and the softmax its last, so its output
 * `probabilities` [N, classes] is what `predict` returns. Every layer kind
 * maps: conv2d -> Conv (+ Relu), dense -> Gemm (+ Relu), batch norm ->
 * BatchNormalization (inference form), pooling -> MaxPool / AveragePool,
 * zero padding -> Pad, flatten -> Flatten, relu -> Relu, dropout -> nothing.
 * Encoded by ./onnx-proto.ts (the ONNX schema and protobuf wire format).
 */
import { AttributeType, DataType, encodeModel, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-proto.js';
import { convGeometry } from '../kernels/conv.js';
import type { Layer } from '../layers/layer.js';
import { netOf, type HasNet } from '../engine/net.js';
import { VERSION } from '../version.js';

/** metadata_props key under which the export records the model's normalisation. */
export const NORMALIZATION_KEY = 'cnn-wasm:normalization';

/** The ONNX opset the export targets. */
export const ONNX_OPSET = 13;

const FLOAT = DataType.FLOAT, INT64 = DataType.INT64;

function tensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  return { name, dims, dataType: FLOAT, floatData: Array.from(values) };
}

function ints(name: string, values: number[]): TensorProto {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

const attrInts = (name: string, v: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: v });
const attrInt = (name: string, v: number): AttributeProto => ({ name, type: AttributeType.INT, i: v });
const attrFloat = (name: string, v: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f: v });

const pairOf = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** Serialises `model` as an ONNX model (bytes of a .onnx file). */
export function toOnnx(of: HasNet): Uint8Array {
  const model = netOf(of);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const tensors = new Map(model.params().map((p) => [p.name, p]));
  const values = (name: string) => tensors.get(name)!.value.toArray();
  let cur = 'pixels', k = 0;
  const next = (base: string) => `${base}_${k++}`;
  const add = (op: string, inputs: string[], base: string, attribute: AttributeProto[] = []): string => {
    const out = next(base);
    nodes.push({ opType: op, input: inputs, output: [out], name: out, attribute });
    return out;
  };
  // (x * scale - mean) / std, as the model normalises u8 pixels.
  const n = model.normalization;
  // One mean and std for every channel as scalars; one per channel as [1, C, 1, 1] (broadcast over N, H and W).
  const perChannel = (v: number | readonly number[]) => (typeof v === 'number' ? { dims: [] as number[], values: [v] } : { dims: [1, v.length, 1, 1], values: [...v] });
  const mean = perChannel(n.mean), std = perChannel(n.std);
  inits.push(tensor('norm_scale', [], [n.scale]), tensor('norm_mean', mean.dims, mean.values), tensor('norm_std', std.dims, std.values));
  cur = add('Div', [add('Sub', [add('Mul', [cur, 'norm_scale'], 'scaled'), 'norm_mean'], 'centred'), 'norm_std'], 'normalised');

  for (const l of model.layers) cur = exportLayer(l, cur);

  function exportLayer(l: Layer, x: string): string {
    const c = l.config();
    const name = l.name;
    switch (l.kind) {
      case 'conv2d': {
        const [kh, kw] = pairOf(c.kernelSize), [sh, sw] = pairOf(c.strides);
        const [, h, w] = l.inputShape;
        const g = convGeometry([1, l.inputShape[0], h, w], c.filters as number, [kh, kw], [sh, sw], c.padding as never);
        // Our top/left padding is g.ph/g.pw; the far side is what makes the output size.
        const pb = Math.max(0, (g.oh - 1) * sh + kh - h - g.ph), pr = Math.max(0, (g.ow - 1) * sw + kw - w - g.pw);
        const inputs = [x, `${name}/kernel`];
        inits.push(tensor(`${name}/kernel`, tensors.get(`${name}/kernel`)!.shape, values(`${name}/kernel`)));
        if (c.useBias) {
          inits.push(tensor(`${name}/bias`, [c.filters as number], values(`${name}/bias`)));
          inputs.push(`${name}/bias`);
        }
        const y = add('Conv', inputs, name, [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('pads', [g.ph, g.pw, pb, pr])]);
        return c.activation === 'relu' ? add('Relu', [y], `${name}_relu`) : y;
      }
      case 'dense': {
        const inputs = [x, `${name}/kernel`];
        inits.push(tensor(`${name}/kernel`, tensors.get(`${name}/kernel`)!.shape, values(`${name}/kernel`))); // [in, out]: Gemm's B as it is
        if (c.useBias) {
          inits.push(tensor(`${name}/bias`, [c.units as number], values(`${name}/bias`)));
          inputs.push(`${name}/bias`);
        }
        const y = add('Gemm', inputs, name);
        return c.activation === 'relu' ? add('Relu', [y], `${name}_relu`) : y;
      }
      case 'batchNormalization': {
        const ch = l.inputShape[0];
        for (const t of ['gamma', 'beta', 'runningMean', 'runningVar']) inits.push(tensor(`${name}/${t}`, [ch], values(`${name}/${t}`)));
        return add('BatchNormalization', [x, `${name}/gamma`, `${name}/beta`, `${name}/runningMean`, `${name}/runningVar`], name, [attrFloat('epsilon', c.epsilon as number)]);
      }
      case 'relu':
        return add('Relu', [x], name);
      case 'flatten':
        return add('Flatten', [x], name, [attrInt('axis', 1)]);
      case 'dropout':
        return x; // identity at inference
      case 'maxPooling2d':
      case 'averagePooling2d':
        return add(l.kind === 'maxPooling2d' ? 'MaxPool' : 'AveragePool', [x], name, [attrInts('kernel_shape', pairOf(c.poolSize)), attrInts('strides', pairOf(c.strides))]);
      case 'zeroPadding2d': {
        const [[t, b], [le, r]] = c.padding as [[number, number], [number, number]];
        inits.push(ints(`${name}/pads`, [0, 0, t, le, 0, 0, b, r]), tensor(`${name}/value`, [], [c.value as number]));
        return add('Pad', [x, `${name}/pads`, `${name}/value`], name, [{ name: 'mode', type: AttributeType.STRING, s: new TextEncoder().encode('constant') }]);
      }
      default:
        throw new Error(`toOnnx: layer '${name}' of kind ${l.kind} has no ONNX export`);
    }
  }

  const probs = 'probabilities';
  nodes.push({ opType: 'Softmax', input: [cur], output: [probs], name: 'softmax', attribute: [attrInt('axis', 1)] });
  const dim = (v: number | string) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v });
  const graph: GraphProto = {
    name: 'cnn-wasm', node: nodes, initializer: inits,
    input: [{ name: 'pixels', type: { tensorType: { elemType: FLOAT, shape: { dim: [dim('N'), ...model.inputShape.map(dim)] } } }, docString: `raw pixel values 0..255, [N, ${model.inputShape.join(', ')}]` }],
    output: [{ name: probs, type: { tensorType: { elemType: FLOAT, shape: { dim: [dim('N'), dim(model.classes)] } } } }],
  };
  const m: ModelProto = {
    irVersion: 7, producerName: 'cnn-wasm', producerVersion: VERSION, graph,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    // The exact normalisation (the graph's constants are float32), so an import restores it to the bit.
    metadataProps: [{ key: NORMALIZATION_KEY, value: JSON.stringify(model.normalization) }],
  };
  return encodeModel(m);
}
