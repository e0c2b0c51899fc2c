/**
 * ONNX import: the graphs torch.onnx.export writes for networks of our layer
 * kinds (eval mode, constant-folded or not) become a Sequential that can be
 * trained further and saved. Conv, Relu, MaxPool, AveragePool,
 * BatchNormalization, Gemm / MatMul + Add, Flatten / Reshape, Pad, Dropout,
 * Identity, and a Softmax / LogSoftmax at the end; scalar Mul / Div / Add /
 * Sub before the first layer (our own export's normalisation) become the
 * model's normalisation, so such a model takes u8 pixels 0..255; the small constant
 * subgraphs PyTorch writes for shapes and pads (Constant, ConstantOfShape,
 * Concat, Reshape, Slice, Transpose, Cast, Unsqueeze, Squeeze, Gather) are
 * evaluated here. Anything else is refused with its operator and node. The
 * model takes the graph's input as it is: its normalisation is the identity
 * unless one is given.
 */
import { DataType, decodeModel, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from './onnx-proto.js';
import type { Backend } from '../backend/load.js';
import { batchNormalization, conv2d, dense, flatten, maxPooling2d, averagePooling2d, relu, zeroPadding2d } from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import { Sequential, type Normalization } from '../model.js';
import { NORMALIZATION_KEY } from './onnx-export.js';

const T = DataType;

/** Options of {@link importOnnx}. */
export interface ImportOnnxOptions {
  /** How u8 pixels become the graph's input (default: the identity, x = pixel). */
  normalization?: Normalization;
  backend?: Backend;
  /** Names the graph in errors (default 'the ONNX model'). */
  source?: string;
}

/** A constant tensor: its dims and values (floats or integers as numbers). */
interface Const { dims: number[]; data: number[] | Float32Array }

const IDENTITY: Normalization = { scale: 1, mean: 0, std: 1 };
const LAYER_OPS = ['Conv', 'Relu', 'MaxPool', 'AveragePool', 'BatchNormalization', 'Gemm', 'MatMul', 'Add', 'Flatten', 'Reshape', 'Pad', 'Dropout', 'Identity', 'Softmax', 'LogSoftmax'];

function tensorValues(t: TensorProto): Const {
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  switch (t.dataType) {
    case T.FLOAT: {
      if (raw) {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return { dims, data: Float32Array.from({ length: count }, (_, i) => dv.getFloat32(4 * i, true)) };
      }
      return { dims, data: Float32Array.from(t.floatData ?? []) };
    }
    case T.INT64: {
      if (raw) {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return { dims, data: Array.from({ length: count }, (_, i) => Number(dv.getBigInt64(8 * i, true))) };
      }
      return { dims, data: (t.int64Data ?? []).map(Number) };
    }
    case T.INT32: {
      if (raw) {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        return { dims, data: Array.from({ length: count }, (_, i) => dv.getInt32(4 * i, true)) };
      }
      return { dims, data: (t.int32Data ?? []).map(Number) };
    }
    default:
      throw new Error(`tensor ${t.name ?? ''} has data type ${t.dataType}, not float, int64 or int32`);
  }
}

const attrs = (n: NodeProto) => new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
const intsOf = (a: AttributeProto | undefined, def: number[]) => (a?.ints?.length ? a.ints.map(Number) : def);
const intOf = (a: AttributeProto | undefined, def: number) => (a && a.i !== undefined && a.i !== null ? Number(a.i) : def);
const floatOf = (a: AttributeProto | undefined, def: number) => (a && a.f !== undefined && a.f !== null ? a.f : def);

/** Evaluates the shape-arithmetic ops PyTorch writes, on constant inputs. */
function foldConst(op: string, ins: Const[], a: Map<string, AttributeProto>, where: string): Const {
  const arr = (c: Const) => Array.from(c.data);
  switch (op) {
    case 'Constant': return tensorValues(a.get('value')!.t!);
    case 'Identity': case 'Cast': return ins[0];
    case 'ConstantOfShape': {
      const shape = arr(ins[0]), v = a.get('value')?.t ? arr(tensorValues(a.get('value')!.t!))[0] : 0;
      return { dims: shape, data: new Array(shape.reduce((x, y) => x * y, 1)).fill(v) };
    }
    case 'Concat': {
      if (ins.some((c) => c.dims.length > 1)) throw new Error(`${where}: Concat of constants with more than one dimension is not supported`);
      const data = ins.flatMap(arr);
      return { dims: [data.length], data };
    }
    case 'Reshape': {
      const shape = arr(ins[1]), total = ins[0].data.length;
      const known = shape.reduce((p, d, i) => (d === -1 ? p : p * (d === 0 ? ins[0].dims[i] : d)), 1);
      return { dims: shape.map((d, i) => (d === -1 ? total / known : d === 0 ? ins[0].dims[i] : d)), data: ins[0].data };
    }
    case 'Unsqueeze': case 'Squeeze': {
      return { dims: ins[0].data.length === 1 ? [1] : [ins[0].data.length], data: ins[0].data };
    }
    case 'Transpose': {
      const perm = intsOf(a.get('perm'), [1, 0]);
      if (ins[0].dims.length !== 2 || perm[0] !== 1) throw new Error(`${where}: only 2-D constant Transpose is supported`);
      const [r, c] = ins[0].dims, d = arr(ins[0]);
      return { dims: [c, r], data: Array.from({ length: r * c }, (_, i) => d[(i % r) * c + Math.floor(i / r)]) };
    }
    case 'Slice': {
      // Along one axis of a 1-D or 2-D constant: starts, ends, axes, steps as inputs.
      const [x, s, e] = ins, axes = ins[3] ? arr(ins[3]) : [0], steps = ins[4] ? arr(ins[4]) : [1];
      if (axes.length !== 1) throw new Error(`${where}: Slice on several axes is not supported`);
      const ax = axes[0] < 0 ? axes[0] + x.dims.length : axes[0], len = x.dims[ax], step = steps[0];
      const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
      let start = arr(s)[0], end = arr(e)[0];
      if (start < 0) start += len;
      if (end < 0) end += len;
      start = step > 0 ? clamp(start, 0, len) : clamp(start, -1, len - 1);
      end = step > 0 ? clamp(end, 0, len) : clamp(end, -1, len - 1);
      const idx: number[] = [];
      for (let i = start; step > 0 ? i < end : i > end; i += step) idx.push(i);
      const d = arr(x);
      if (x.dims.length === 1) return { dims: [idx.length], data: idx.map((i) => d[i]) };
      if (x.dims.length !== 2) throw new Error(`${where}: Slice of a ${x.dims.length}-D constant is not supported`);
      const [rows, cols] = x.dims;
      if (ax === 0) return { dims: [idx.length, cols], data: idx.flatMap((i) => d.slice(i * cols, (i + 1) * cols)) };
      return { dims: [rows, idx.length], data: Array.from({ length: rows }, (_, r) => idx.map((i) => d[r * cols + i])).flat() };
    }
    case 'Gather': {
      const d = arr(ins[0]), ix = arr(ins[1]);
      return { dims: ins[1].dims, data: ix.map((i) => d[i < 0 ? i + d.length : i]) };
    }
    default:
      throw new Error(`${where}: constant ${op} is not supported`);
  }
}

const CONST_OPS = new Set(['Constant', 'Identity', 'Cast', 'ConstantOfShape', 'Concat', 'Reshape', 'Unsqueeze', 'Squeeze', 'Transpose', 'Slice', 'Gather']);

/**
 * Builds a Sequential from an ONNX model's bytes. Weights (and batch-norm
 * running statistics) come across; the model can be trained and saved.
 */
export function importOnnx(bytes: Uint8Array, o: ImportOnnxOptions = {}): Sequential {
  const source = o.source ?? 'the ONNX model';
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new Error(`${source}: not an ONNX model (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g) throw new Error(`${source}: the ONNX model has no graph`);
  const consts = new Map<string, Const>();
  for (const t of g.initializer ?? []) consts.set(t.name ?? '', tensorValues(t));
  const inputs = (g.input ?? []).filter((i) => !consts.has(i.name ?? ''));
  if (inputs.length !== 1) throw new Error(`${source}: the graph has ${inputs.length} inputs besides its weights; one image input is supported`);
  const dims = inputs[0].type?.tensorType?.shape?.dim ?? [];
  const inputShape = dims.slice(1).map((d) => Number(d.dimValue));
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${source}: input '${inputs[0].name}' has shape [${dims.map((d) => d.dimValue ?? d.dimParam).join(', ')}]; [N, C, H, W] with fixed C, H, W is supported`);
  }
  const layers: Layer[] = [];
  const weights: { name: string; values: ArrayLike<number>; shape?: number[] }[] = [];
  let chain = inputs[0].name ?? '';
  let pendingMatMul: { units: number; kernel: ArrayLike<number>; inSize: number } | null = null;
  let ended = false, count = 0;
  // Scalar Mul / Div / Add / Sub before the first layer (our export's normalisation) become the model's normalisation.
  let affine: { a: number; b: number } | null = null;
  const nodes = g.node ?? [];
  const constOf = (name: string, where: string): Const => {
    const c = consts.get(name);
    if (!c) throw new Error(`${where}: input '${name}' must be a constant (a weight), but it is computed`);
    return c;
  };
  const flushMatMul = (bias: ArrayLike<number> | null) => {
    const m = pendingMatMul!;
    const l = dense({ units: m.units, useBias: bias !== null, name: `dense_${++count}` });
    layers.push(l);
    weights.push({ name: `${l.name}/kernel`, values: m.kernel, shape: [m.inSize, m.units] });
    if (bias) weights.push({ name: `${l.name}/bias`, values: bias });
    pendingMatMul = null;
  };

  for (const n of nodes) {
    const op = n.opType ?? '', where = `${source}: node '${n.name || n.output?.[0]}' (${op})`;
    const ins = n.input ?? [], a = attrs(n);
    const dynamicIn = ins.filter((x) => x && !consts.has(x));
    if (CONST_OPS.has(op) && dynamicIn.length === 0) {
      consts.set(n.output![0], foldConst(op, ins.filter(Boolean).map((x) => consts.get(x)!), a, where));
      continue;
    }
    if (!LAYER_OPS.includes(op) && !['Mul', 'Div', 'Sub'].includes(op)) {
      throw new Error(`${where}: operator ${op} is not supported (supported: ${LAYER_OPS.join(', ')}, scalar Mul/Div/Add/Sub on the input, and constant shape arithmetic)`);
    }
    if (ended) throw new Error(`${where}: ${op} after the final softmax is not supported`);
    if (dynamicIn.length !== 1 || dynamicIn[0] !== chain) {
      throw new Error(`${where}: only a chain of layers is supported (this node reads ${dynamicIn.map((x) => `'${x}'`).join(', ') || 'no computed input'}, the chain is at '${chain}')`);
    }
    const scalar = ins.length === 2 ? consts.get(ins.find((x) => x !== chain) ?? '') : undefined;
    if (layers.length === 0 && !pendingMatMul && ['Mul', 'Div', 'Add', 'Sub'].includes(op) && scalar?.data.length === 1 && ins[0] === chain) {
      const k = Number(scalar.data[0]), t: { a: number; b: number } = affine ?? { a: 1, b: 0 };
      affine = op === 'Mul' ? { a: t.a * k, b: t.b * k } : op === 'Div' ? { a: t.a / k, b: t.b / k } : op === 'Add' ? { a: t.a, b: t.b + k } : { a: t.a, b: t.b - k };
      chain = n.output![0];
      continue;
    }
    if (pendingMatMul && op !== 'Add') flushMatMul(null);
    const refuse = (what: string) => { throw new Error(`${where}: ${what} is not supported`); };
    switch (op) {
      case 'Conv': {
        const w = constOf(ins[1], where);
        const [f, c, kh, kw] = w.dims;
        if (intOf(a.get('group'), 1) !== 1) refuse(`attribute group=${intOf(a.get('group'), 1)}`);
        if (intsOf(a.get('dilations'), [1, 1]).some((d) => d !== 1)) refuse(`attribute dilations=${intsOf(a.get('dilations'), [1, 1])}`);
        const ap = a.get('auto_pad')?.s ? new TextDecoder().decode(a.get('auto_pad')!.s!) : 'NOTSET';
        if (ap !== 'NOTSET' && ap !== 'VALID') refuse(`attribute auto_pad=${ap}`);
        const [t, l, b, r] = intsOf(a.get('pads'), [0, 0, 0, 0]);
        const strides = intsOf(a.get('strides'), [1, 1]) as [number, number];
        const ks = intsOf(a.get('kernel_shape'), [kh, kw]);
        if (ks[0] !== kh || ks[1] !== kw) refuse(`kernel_shape ${ks} differing from the weight's ${kh}x${kw}`);
        let padding: [number, number] = [t, l];
        if (t !== b || l !== r) {
          layers.push(zeroPadding2d({ padding: [[t, b], [l, r]], name: `zeroPadding2d_${++count}` }));
          padding = [0, 0];
        }
        const layer = conv2d({ filters: f, kernelSize: [kh, kw], strides, padding, useBias: !!ins[2], name: `conv2d_${++count}` });
        layers.push(layer);
        weights.push({ name: `${layer.name}/kernel`, values: w.data, shape: [f, c, kh, kw] });
        if (ins[2]) weights.push({ name: `${layer.name}/bias`, values: constOf(ins[2], where).data });
        break;
      }
      case 'BatchNormalization': {
        const eps = floatOf(a.get('epsilon'), 1e-5), mom = floatOf(a.get('momentum'), 0.9);
        if (intOf(a.get('training_mode'), 0) !== 0) refuse('training_mode=1');
        const layer = batchNormalization({ epsilon: eps, momentum: 1 - mom, name: `batchNormalization_${++count}` });
        layers.push(layer);
        ['gamma', 'beta', 'runningMean', 'runningVar'].forEach((t, i) => weights.push({ name: `${layer.name}/${t}`, values: constOf(ins[i + 1], where).data }));
        break;
      }
      case 'Relu': layers.push(relu({ name: `relu_${++count}` })); break;
      case 'MaxPool': case 'AveragePool': {
        if (intsOf(a.get('pads'), [0, 0, 0, 0]).some((p) => p !== 0)) refuse(`attribute pads=${intsOf(a.get('pads'), [])}`);
        if (intOf(a.get('ceil_mode'), 0) !== 0) refuse('attribute ceil_mode=1');
        if (intsOf(a.get('dilations'), [1, 1]).some((d) => d !== 1)) refuse('attribute dilations');
        const k = intsOf(a.get('kernel_shape'), []) as [number, number];
        const s = intsOf(a.get('strides'), [1, 1]) as [number, number];
        const make = op === 'MaxPool' ? maxPooling2d : averagePooling2d;
        layers.push(make({ poolSize: k, strides: s, name: `${op === 'MaxPool' ? 'maxPooling2d' : 'averagePooling2d'}_${++count}` }));
        break;
      }
      case 'Flatten': {
        if (intOf(a.get('axis'), 1) !== 1) refuse(`attribute axis=${intOf(a.get('axis'), 1)}`);
        layers.push(flatten({ name: `flatten_${++count}` }));
        break;
      }
      case 'Reshape': {
        const shape = Array.from(constOf(ins[1], where).data);
        if (shape.length !== 2 || !(shape[0] === -1 || shape[0] === 0 || shape[0] > 0)) refuse(`a Reshape to [${shape}] (only [N, -1]-like flattening)`);
        layers.push(flatten({ name: `flatten_${++count}` }));
        break;
      }
      case 'Gemm': {
        if (floatOf(a.get('alpha'), 1) !== 1 || floatOf(a.get('beta'), 1) !== 1) refuse('alpha or beta other than 1');
        if (intOf(a.get('transA'), 0) !== 0) refuse('attribute transA=1');
        const w = constOf(ins[1], where), transB = intOf(a.get('transB'), 0) === 1;
        const [r, c] = w.dims, inSize = transB ? c : r, units = transB ? r : c;
        // Our dense kernel is [in, out]: nn.Linear's weight ([out, in], transB=1) is transposed.
        const kernel = transB ? Float32Array.from({ length: r * c }, (_, i) => w.data[(i % units) * inSize + Math.floor(i / units)]) : w.data;
        const layer = dense({ units, useBias: !!ins[2], name: `dense_${++count}` });
        layers.push(layer);
        weights.push({ name: `${layer.name}/kernel`, values: kernel, shape: [inSize, units] });
        if (ins[2]) {
          const bias = constOf(ins[2], where);
          if (bias.data.length !== units) refuse(`a bias of ${bias.data.length} values for ${units} units`);
          weights.push({ name: `${layer.name}/bias`, values: bias.data });
        }
        break;
      }
      case 'MatMul': {
        const w = constOf(ins[1], where);
        if (w.dims.length !== 2) refuse(`a MatMul with a ${w.dims.length}-D weight`);
        pendingMatMul = { inSize: w.dims[0], units: w.dims[1], kernel: w.data };
        break;
      }
      case 'Mul': case 'Div': case 'Sub':
        refuse(`${op} inside the network (scalar ${op} is taken only before the first layer, as the input's normalisation)`);
        break;
      case 'Add': {
        const bias = constOf(ins.find((x) => x !== chain)!, where);
        if (!pendingMatMul) refuse('an Add that does not follow a MatMul');
        if (bias.data.length !== pendingMatMul!.units) refuse(`a bias of ${bias.data.length} values for ${pendingMatMul!.units} units`);
        flushMatMul(bias.data);
        break;
      }
      case 'Pad': {
        const mode = a.get('mode')?.s ? new TextDecoder().decode(a.get('mode')!.s!) : 'constant';
        if (mode !== 'constant') refuse(`attribute mode=${mode}`);
        const pads = ins[1] ? Array.from(constOf(ins[1], where).data) : intsOf(a.get('pads'), []);
        const value = ins[2] ? Number(constOf(ins[2], where).data[0]) : floatOf(a.get('value'), 0);
        if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) refuse(`pads [${pads}] (only height and width)`);
        if (pads.some((p) => p < 0)) refuse('negative pads');
        if (pads.some((p) => p > 0)) layers.push(zeroPadding2d({ padding: [[pads[2], pads[6]], [pads[3], pads[7]]], value, name: `zeroPadding2d_${++count}` }));
        break;
      }
      case 'Dropout': case 'Identity': break;
      case 'Softmax': case 'LogSoftmax': ended = true; break;
    }
    chain = n.output![0];
  }
  if (pendingMatMul) flushMatMul(null);
  const last = layers[layers.length - 1];
  if (!last || last.kind !== 'dense') throw new Error(`${source}: the graph must end in a dense layer (Gemm or MatMul) before any softmax`);
  // The graph's own normalisation: exact from our export's metadata, else x * a + b as (x * a - (-b)) / 1.
  let normalization = o.normalization ?? IDENTITY;
  if (affine && !o.normalization) {
    const meta = (model.metadataProps ?? []).find((p) => p.key === NORMALIZATION_KEY)?.value;
    const exact = meta ? (JSON.parse(meta) as Normalization) : null;
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y));
    normalization = exact && close(exact.scale / exact.std, affine.a) && close(-exact.mean / exact.std, affine.b) ? exact : { scale: affine.a, mean: -affine.b, std: 1 };
  }
  let m: Sequential;
  try {
    m = new Sequential(layers, { inputShape, classes: (last.config().units as number), normalization, backend: o.backend });
  } catch (e) {
    throw new Error(`${source}: the layers do not fit together: ${(e as Error).message}`);
  }
  try {
    m.setWeights(weights);
  } catch (e) {
    m.dispose();
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return m;
}
