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
import { MAGIC, MAX_ACTIVATION_VALUES } from '../io/modelfile.js';

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

/** Most values one tensor may declare (2^28: 1 GiB of float32; a model of our layer kinds is far smaller). */
const MAX_TENSOR_VALUES = 1 << 28;
/** Most values a constant computed from shape arithmetic may hold (shapes, pads and axes are tiny). */
const MAX_FOLDED_VALUES = 1 << 16;

/** A tensor's dims, checked to be non-negative integers, and the values they declare (Infinity past 2^53). */
function checkedDims(dims: readonly number[], what: string): { dims: number[]; count: number } {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what} has dimension ${d}, not a non-negative integer`);
    count *= d;
  }
  return { dims: [...dims], count: Number.isSafeInteger(count) ? count : Infinity };
}

const fmtCount = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : 'more than 2^53');

/** A tensor's values, after checking the values its dims declare against the data present (nothing is allocated before). */
function tensorValues(t: TensorProto, what = `tensor '${t.name ?? ''}'`): Const {
  const { dims, count } = checkedDims((t.dims ?? []).map(Number), what);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const size = t.dataType === T.FLOAT || t.dataType === T.INT32 ? 4 : t.dataType === T.INT64 ? 8 : t.dataType === T.DOUBLE ? 8 : 0;
  if (!size) throw new Error(`${what} has data type ${t.dataType}, not float, double, int64 or int32`);
  const field = { [T.FLOAT]: t.floatData, [T.INT32]: t.int32Data, [T.INT64]: t.int64Data, [T.DOUBLE]: t.doubleData }[t.dataType!] ?? [];
  if (raw) {
    if (raw.length !== count * size) throw new Error(`${what}: its dims [${dims.join(', ')}] declare ${fmtCount(count)} values (${fmtCount(count * size)} bytes), its raw_data holds ${raw.length.toLocaleString('en-US')} bytes`);
    if (field.length) throw new Error(`${what} has both raw_data and a typed data field`);
  } else if (field.length !== count) {
    throw new Error(`${what}: its dims [${dims.join(', ')}] declare ${fmtCount(count)} values, its data holds ${field.length.toLocaleString('en-US')}`);
  }
  if (count > MAX_TENSOR_VALUES) throw new Error(`${what} declares dims [${dims.join(', ')}], more than ${MAX_TENSOR_VALUES.toLocaleString('en-US')} values`);
  const dv = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  switch (t.dataType) {
    case T.FLOAT: return { dims, data: dv ? Float32Array.from({ length: count }, (_, i) => dv.getFloat32(4 * i, true)) : Float32Array.from(field) };
    case T.DOUBLE: return { dims, data: dv ? Float32Array.from({ length: count }, (_, i) => dv.getFloat64(8 * i, true)) : Float32Array.from(field) };
    case T.INT64: return { dims, data: dv ? Array.from({ length: count }, (_, i) => Number(dv.getBigInt64(8 * i, true))) : field.map(Number) };
    default: return { dims, data: dv ? Array.from({ length: count }, (_, i) => dv.getInt32(4 * i, true)) : field.map(Number) };
  }
}

const attrs = (n: NodeProto) => new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
const intsOf = (a: AttributeProto | undefined, def: number[]) => (a?.ints?.length ? a.ints.map(Number) : def);
const intOf = (a: AttributeProto | undefined, def: number) => (a && a.i !== undefined && a.i !== null ? Number(a.i) : def);
const floatOf = (a: AttributeProto | undefined, def: number) => (a && a.f !== undefined && a.f !== null ? a.f : def);

/** Evaluates the shape-arithmetic ops PyTorch writes, on constant inputs; every result is bounded by MAX_FOLDED_VALUES. */
function foldConst(op: string, ins: Const[], a: Map<string, AttributeProto>, where: string): Const {
  const arr = (c: Const) => Array.from(c.data);
  const fail = (why: string): never => { throw new Error(`${where}: ${why}`); };
  const need = (k: number) => { if (ins.length < k) fail(`${op} needs ${k} input${k > 1 ? 's' : ''}, it has ${ins.length}`); };
  const index = (v: number, len: number, what: string) => {
    const i = v < 0 ? v + len : v;
    if (!Number.isInteger(i) || i < 0 || i >= len) fail(`${what} ${v} is out of range for ${len} values`);
    return i;
  };
  switch (op) {
    case 'Constant': {
      const t = a.get('value')?.t;
      if (!t) fail(`Constant has no 'value' tensor attribute (${[...a.keys()].join(', ') || 'no attributes'}; only 'value' is supported)`);
      return tensorValues(t!, `${where}: its value`);
    }
    case 'Identity': case 'Cast': need(1); return ins[0];
    case 'ConstantOfShape': {
      need(1);
      const shape = arr(ins[0]);
      const { count } = checkedDims(shape, `${where}: the shape`);
      if (count > MAX_FOLDED_VALUES) fail(`ConstantOfShape of shape [${shape.join(', ')}] = ${count.toLocaleString('en-US')} values; constant shape arithmetic is limited to ${MAX_FOLDED_VALUES.toLocaleString('en-US')}`);
      const vt = a.get('value')?.t, v = vt ? arr(tensorValues(vt, `${where}: its value`))[0] ?? 0 : 0;
      return { dims: shape, data: new Array<number>(count).fill(v) };
    }
    case 'Concat': {
      if (ins.some((c) => c.dims.length > 1)) fail('Concat of constants with more than one dimension is not supported');
      const data = ins.flatMap(arr);
      if (data.length > MAX_FOLDED_VALUES) fail(`Concat of ${data.length} values is larger than constant shape arithmetic allows`);
      return { dims: [data.length], data };
    }
    case 'Reshape': {
      need(2);
      const shape = arr(ins[1]), total = ins[0].data.length;
      if (shape.filter((d) => d === -1).length > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) fail(`cannot reshape to [${shape.join(', ')}]`);
      const dims0 = shape.map((d, i) => (d === 0 ? ins[0].dims[i] : d));
      if (dims0.some((d) => d === undefined)) fail(`cannot reshape [${ins[0].dims.join(', ')}] to [${shape.join(', ')}]`);
      const known = dims0.reduce((p, d) => (d === -1 ? p : p * d), 1);
      const dims = dims0.map((d) => (d === -1 ? total / known : d));
      if (dims.some((d) => !Number.isInteger(d)) || dims.reduce((p, d) => p * d, 1) !== total) fail(`cannot reshape ${total} values to [${shape.join(', ')}]`);
      return { dims, data: ins[0].data };
    }
    case 'Unsqueeze': case 'Squeeze': {
      need(1);
      return { dims: ins[0].data.length === 1 ? [1] : [ins[0].data.length], data: ins[0].data };
    }
    case 'Transpose': {
      need(1);
      const perm = intsOf(a.get('perm'), [1, 0]);
      if (ins[0].dims.length !== 2 || perm[0] !== 1 || perm[1] !== 0) fail('only 2-D constant Transpose is supported');
      const [r, c] = ins[0].dims, d = arr(ins[0]);
      return { dims: [c, r], data: Array.from({ length: r * c }, (_, i) => d[(i % r) * c + Math.floor(i / r)]) };
    }
    case 'Slice': {
      // Along one axis of a 1-D or 2-D constant: starts, ends, axes, steps as inputs (opset 10 and later).
      if (ins.length < 3) fail('Slice with starts and ends as attributes (opset 9 and earlier) is not supported');
      const [x, s, e] = ins, axes = ins[3] ? arr(ins[3]) : [0], steps = ins[4] ? arr(ins[4]) : [1];
      if (axes.length !== 1 || arr(s).length !== 1 || arr(e).length !== 1 || steps.length !== 1) fail('Slice on several axes is not supported');
      if (x.dims.length < 1 || x.dims.length > 2) fail(`Slice of a ${x.dims.length}-D constant is not supported`);
      const ax = index(axes[0], x.dims.length, 'axis'), len = x.dims[ax], step = steps[0];
      if (!Number.isInteger(step) || step === 0) fail(`Slice step ${step}: a step must be a non-zero integer`);
      const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
      let start = arr(s)[0], end = arr(e)[0];
      if (start < 0) start += len;
      if (end < 0) end += len;
      start = step > 0 ? clamp(start, 0, len) : clamp(start, -1, len - 1);
      end = step > 0 ? clamp(end, 0, len) : clamp(end, -1, len - 1);
      const idx: number[] = [];
      for (let i = start; step > 0 ? i < end : i > end; i += step) idx.push(i); // at most len: start and end are clamped
      const d = arr(x);
      if (x.dims.length === 1) return { dims: [idx.length], data: idx.map((i) => d[i]) };
      const [rows, cols] = x.dims;
      if (ax === 0) return { dims: [idx.length, cols], data: idx.flatMap((i) => d.slice(i * cols, (i + 1) * cols)) };
      return { dims: [rows, idx.length], data: Array.from({ length: rows }, (_, r) => idx.map((i) => d[r * cols + i])).flat() };
    }
    case 'Gather': {
      need(2);
      if (intOf(a.get('axis'), 0) !== 0 || ins[0].dims.length > 1) fail('Gather other than from a 1-D constant is not supported');
      const d = arr(ins[0]), ix = arr(ins[1]);
      return { dims: ins[1].dims, data: ix.map((i) => d[index(i, d.length, 'index')]) };
    }
    default:
      return fail(`constant ${op} is not supported`);
  }
}

/** The opsets of the default domain whose semantics of the supported operators this importer implements. */
const MIN_OPSET = 9, MAX_OPSET = 24;

/** How messages name a node: the graph, the node's name (or first output) and its operator. */
function nodeName(n: NodeProto, source: string): string {
  return `${source}: node '${n.name || n.output?.[0] || '?'}' (${n.opType || 'no operator'})`;
}

/**
 * Checks the graph's structure before any layer is built: operators of the
 * default domain only, each tensor computed once, and every node reading only
 * the input, initializers or earlier nodes' outputs (ONNX's topological
 * order): a cycle or a self-loop reads a tensor no earlier node computed.
 */
function checkGraph(nodes: NodeProto[], input: string, consts: Map<string, Const>, source: string): void {
  const known = new Set<string>([input, ...consts.keys()]);
  for (const n of nodes) {
    const where = nodeName(n, source);
    if (n.domain && n.domain !== 'ai.onnx') throw new Error(`${where}: operator domain '${n.domain}' is not supported (only the default ONNX domain)`);
    if (!n.opType) throw new Error(`${where}: the node has no operator`);
    if (!n.output?.length || !n.output[0]) throw new Error(`${where}: the node has no output`);
    for (const x of n.input ?? []) {
      if (!x) continue; // an omitted optional input
      if (n.output.includes(x)) throw new Error(`${where}: reads its own output '${x}' (a self-loop)`);
      if (!known.has(x)) {
        const later = nodes.find((m) => m.output?.includes(x));
        throw new Error(later
          ? `${where}: reads '${x}', which ${nodeName(later, source).slice(source.length + 2)} computes later (a cycle, or nodes out of topological order)`
          : `${where}: reads '${x}', which is not the graph input, an initializer or any node's output`);
      }
    }
    for (const y of n.output) {
      if (!y) continue;
      if (known.has(y)) throw new Error(`${where}: computes '${y}', which the graph already defines`);
      known.add(y);
    }
  }
}

const CONST_OPS = new Set(['Constant', 'Identity', 'Cast', 'ConstantOfShape', 'Concat', 'Reshape', 'Unsqueeze', 'Squeeze', 'Transpose', 'Slice', 'Gather']);

/**
 * Builds a Sequential from an ONNX model's bytes. Weights (and batch-norm
 * running statistics) come across; the model can be trained and saved.
 */
export function importOnnx(bytes: Uint8Array, o: ImportOnnxOptions = {}): Sequential {
  const source = o.source ?? 'the ONNX model';
  if (bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC) {
    throw new Error(`${source}: this is a cnn-wasm model file, not an ONNX file: it needs no import (use it with cnn-wasm eval, predict or serve, or loadModel)`);
  }
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new Error(`${source}: not an ONNX file (its bytes are not an ONNX protobuf: ${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g || !g.node?.length) throw new Error(`${source}: not an ONNX file, or an empty one: it has no graph nodes`);
  const opset = (model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx')?.version;
  if (opset === undefined) throw new Error(`${source}: the model imports no opset of the default ONNX domain (opset_import)`);
  if (opset < MIN_OPSET || opset > MAX_OPSET) throw new Error(`${source}: opset ${opset} of the default domain is not supported (${MIN_OPSET} to ${MAX_OPSET})`);
  const consts = new Map<string, Const>();
  for (const t of g.initializer ?? []) {
    if (consts.has(t.name ?? '')) throw new Error(`${source}: initializer '${t.name}' is defined twice`);
    consts.set(t.name ?? '', tensorValues(t, `${source}: initializer '${t.name ?? ''}'`));
  }
  const inputs = (g.input ?? []).filter((i) => !consts.has(i.name ?? ''));
  if (inputs.length !== 1) throw new Error(`${source}: the graph has ${inputs.length} inputs besides its weights; one image input is supported`);
  const dims = inputs[0].type?.tensorType?.shape?.dim ?? [];
  const inputShape = dims.slice(1).map((d) => Number(d.dimValue));
  if (dims.length !== 4 || !inputShape.every((d) => Number.isInteger(d) && d > 0 && d <= 65536)) {
    throw new Error(`${source}: input '${inputs[0].name}' has shape [${dims.map((d) => d.dimValue ?? d.dimParam).join(', ')}]; [N, C, H, W] with fixed C, H, W is supported`);
  }
  if (inputShape.reduce((a, b) => a * b, 1) > MAX_ACTIVATION_VALUES) {
    throw new Error(`${source}: input '${inputs[0].name}' of shape [N, ${inputShape.join(', ')}] has more than ${MAX_ACTIVATION_VALUES.toLocaleString('en-US')} values per example`);
  }
  const nodes = g.node ?? [];
  checkGraph(nodes, inputs[0].name ?? '', consts, source);
  // Which node each layer comes from, for messages about the layers.
  const origin = new Map<Layer, string>();
  if ((g.output ?? []).length !== 1) throw new Error(`${source}: the graph declares ${(g.output ?? []).length} outputs; one (the class scores) is supported`);
  const declaredOutput = g.output![0].name ?? '';
  const layers: Layer[] = [];
  const weights: { name: string; values: ArrayLike<number>; shape?: number[] }[] = [];
  let chain = inputs[0].name ?? '';
  let pendingMatMul: { units: number; kernel: ArrayLike<number>; inSize: number } | null = null;
  let ended = false, count = 0;
  // Mul / Div / Add / Sub by a scalar or by one constant per channel ([C], [C, 1, 1] or [1, C, 1, 1]) before
  // the first layer (our export's normalisation) become the model's normalisation: x * a[c] + b[c].
  const C = inputShape[0];
  let affine: { a: number[]; b: number[] } | null = null;
  /** A constant's values per channel, when it is a scalar or one value per input channel broadcast over H and W. */
  const perChannel = (k: Const | undefined): number[] | null => {
    if (!k) return null;
    if (k.data.length === 1 && k.dims.every((d) => d === 1)) return new Array<number>(C).fill(Number(k.data[0]));
    const d = k.dims;
    const channelShaped = k.data.length === C && ((d.length === 1 && d[0] === C) || (d.length === 3 && d[0] === C && d[1] === 1 && d[2] === 1) || (d.length === 4 && d[0] === 1 && d[1] === C && d[2] === 1 && d[3] === 1));
    return channelShaped ? Array.from(k.data, Number) : null;
  };
  const constOf = (name: string | undefined, where: string, what: string): Const => {
    if (!name) throw new Error(`${where}: its ${what} input is missing`);
    const c = consts.get(name);
    if (!c) throw new Error(`${where}: its ${what} '${name}' must be a constant (an initializer), but it is computed`);
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
    const op = n.opType ?? '', where = nodeName(n, source);
    const before = layers.length;
    try {
      const ins = n.input ?? [], a = attrs(n);
      const dynamicIn = ins.filter((x) => x && !consts.has(x));
      if (CONST_OPS.has(op) && dynamicIn.length === 0) {
        consts.set(n.output![0], foldConst(op, ins.filter(Boolean).map((x) => consts.get(x)!), a, where));
        continue;
      }
      if (chain === declaredOutput && layers.length + (pendingMatMul ? 1 : 0) > 0) {
        if (['Softmax', 'LogSoftmax', 'Identity', 'Dropout'].includes(op)) continue; // after the output: changes nothing the model computes
        throw new Error(`${where}: the graph's declared output '${declaredOutput}' is computed before this node; importing the nodes after it would make a different model than the file describes`);
      }
      if (!LAYER_OPS.includes(op) && !['Mul', 'Div', 'Sub'].includes(op)) {
        throw new Error(`${where}: operator ${op} is not supported (supported: ${LAYER_OPS.join(', ')}, Mul/Div/Add/Sub on the input by a scalar or one constant per channel, and constant shape arithmetic)`);
      }
      if (ended) throw new Error(`${where}: ${op} after the final softmax is not supported`);
      if (dynamicIn.length !== 1 || dynamicIn[0] !== chain) {
        throw new Error(`${where}: only a chain of layers is supported (this node reads ${dynamicIn.map((x) => `'${x}'`).join(', ') || 'no computed input'}, the chain is at '${chain}')`);
      }
      const ks = ins.length === 2 ? perChannel(consts.get(ins.find((x) => x !== chain) ?? '')) : null;
      if (layers.length === 0 && !pendingMatMul && ['Mul', 'Div', 'Add', 'Sub'].includes(op) && ks && ins[0] === chain) {
        const t: { a: number[]; b: number[] } = affine ?? { a: new Array<number>(C).fill(1), b: new Array<number>(C).fill(0) };
        const bad = ks.find((k) => !Number.isFinite(k) || ((op === 'Div' || op === 'Mul') && k === 0));
        if (bad !== undefined) {
          throw new Error(`${where}: ${op} of the input by ${bad}: the input's normalisation must scale by a finite, non-zero number`);
        }
        const f = (x: number[], g: (v: number, k: number) => number) => x.map((v, c) => g(v, ks[c]));
        affine = op === 'Mul' ? { a: f(t.a, (v, k) => v * k), b: f(t.b, (v, k) => v * k) }
          : op === 'Div' ? { a: f(t.a, (v, k) => v / k), b: f(t.b, (v, k) => v / k) }
            : op === 'Add' ? { a: t.a, b: f(t.b, (v, k) => v + k) } : { a: t.a, b: f(t.b, (v, k) => v - k) };
        chain = n.output![0];
        continue;
      }
      if (pendingMatMul && op !== 'Add') flushMatMul(null);
      const refuse = (what: string) => { throw new Error(`${where}: ${what} is not supported`); };
      switch (op) {
        case 'Conv': {
          const w = constOf(ins[1], where, 'weight');
          if (w.dims.length !== 4) refuse(`a ${w.dims.length}-D weight (Conv takes [out, in, kH, kW])`);
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
          if (ins[2]) weights.push({ name: `${layer.name}/bias`, values: constOf(ins[2], where, 'bias').data });
          break;
        }
        case 'BatchNormalization': {
          const eps = floatOf(a.get('epsilon'), 1e-5), mom = floatOf(a.get('momentum'), 0.9);
          if (intOf(a.get('training_mode'), 0) !== 0) refuse('training_mode=1');
          const layer = batchNormalization({ epsilon: eps, momentum: 1 - mom, name: `batchNormalization_${++count}` });
          layers.push(layer);
          ['gamma', 'beta', 'runningMean', 'runningVar'].forEach((t, i) => weights.push({ name: `${layer.name}/${t}`, values: constOf(ins[i + 1], where, ['scale', 'B', 'input_mean', 'input_var'][i]).data }));
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
          const shape = Array.from(constOf(ins[1], where, 'shape').data);
          if (shape.length !== 2 || !(shape[0] === -1 || shape[0] === 0 || shape[0] > 0)) refuse(`a Reshape to [${shape}] (only [N, -1]-like flattening)`);
          layers.push(flatten({ name: `flatten_${++count}` }));
          break;
        }
        case 'Gemm': {
          if (floatOf(a.get('alpha'), 1) !== 1 || floatOf(a.get('beta'), 1) !== 1) refuse('alpha or beta other than 1');
          if (intOf(a.get('transA'), 0) !== 0) refuse('attribute transA=1');
          const w = constOf(ins[1], where, 'weight'), transB = intOf(a.get('transB'), 0) === 1;
          if (w.dims.length !== 2) refuse(`a ${w.dims.length}-D weight`);
          const [r, c] = w.dims, inSize = transB ? c : r, units = transB ? r : c;
          // Our dense kernel is [in, out]: nn.Linear's weight ([out, in], transB=1) is transposed.
          const kernel = transB ? Float32Array.from({ length: r * c }, (_, i) => w.data[(i % units) * inSize + Math.floor(i / units)]) : w.data;
          const layer = dense({ units, useBias: !!ins[2], name: `dense_${++count}` });
          layers.push(layer);
          weights.push({ name: `${layer.name}/kernel`, values: kernel, shape: [inSize, units] });
          if (ins[2]) {
            const bias = constOf(ins[2], where, 'bias');
            if (bias.data.length !== units) refuse(`a bias of ${bias.data.length} values for ${units} units`);
            weights.push({ name: `${layer.name}/bias`, values: bias.data });
          }
          break;
        }
        case 'MatMul': {
          const w = constOf(ins[1], where, 'weight');
          if (w.dims.length !== 2) refuse(`a MatMul with a ${w.dims.length}-D weight`);
          pendingMatMul = { inSize: w.dims[0], units: w.dims[1], kernel: w.data };
          break;
        }
        case 'Mul': case 'Div': case 'Sub':
          refuse(`${op} inside the network (${op} by a scalar or one constant per channel is taken only before the first layer, as the input's normalisation)`);
          break;
        case 'Add': {
          const bias = constOf(ins.find((x) => x !== chain), where, 'bias');
          if (!pendingMatMul) refuse('an Add that does not follow a MatMul');
          if (bias.data.length !== pendingMatMul!.units) refuse(`a bias of ${bias.data.length} values for ${pendingMatMul!.units} units`);
          flushMatMul(bias.data);
          break;
        }
        case 'Pad': {
          const mode = a.get('mode')?.s ? new TextDecoder().decode(a.get('mode')!.s!) : 'constant';
          if (mode !== 'constant') refuse(`attribute mode=${mode}`);
          const pads = ins[1] ? Array.from(constOf(ins[1], where, 'pads').data) : intsOf(a.get('pads'), []);
          const value = ins[2] ? Number(constOf(ins[2], where, 'constant_value').data[0]) : floatOf(a.get('value'), 0);
          if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) refuse(`pads [${pads}] (only height and width)`);
          if (pads.some((p) => p < 0)) refuse('negative pads');
          if (pads.some((p) => p > 0)) layers.push(zeroPadding2d({ padding: [[pads[2], pads[6]], [pads[3], pads[7]]], value, name: `zeroPadding2d_${++count}` }));
          break;
        }
        case 'Dropout': case 'Identity': break;
        case 'Softmax': case 'LogSoftmax': {
          const axis = intOf(a.get('axis'), opset < 13 ? 1 : -1);
          if (axis !== 1 && axis !== -1) refuse(`a ${op} over axis ${axis} (only over the classes)`);
          ended = true;
          break;
        }
      }
      chain = n.output![0];
    } catch (e) {
      const m = (e as Error).message;
      throw m.startsWith(source) ? e : new Error(`${where}: ${m}`);
    } finally {
      for (const l of layers.slice(before)) origin.set(l, where.slice(source.length + 2));
    }
  }
  if (pendingMatMul) flushMatMul(null);
  if (chain !== declaredOutput) {
    throw new Error(`${source}: the graph's declared output '${declaredOutput}' is not what its last layer computes ('${chain}'); a graph whose output is an intermediate or unrelated tensor is not supported`);
  }
  const last = layers[layers.length - 1];
  if (!last || last.kind !== 'dense') throw new Error(`${source}: the graph must end in a dense layer (Gemm or MatMul) before any softmax`);
  // The graph's own normalisation: exact from our export's metadata, else x * a[c] + b[c] as (x * 1 - mean[c]) / std[c].
  if (affine && !affine.a.every((a, c) => Number.isFinite(a) && a !== 0 && Number.isFinite(affine!.b[c]))) {
    throw new Error(`${source}: the input's normalisation computes x * ${affine.a.join('|')} + ${affine.b.join('|')}, which is not a finite, invertible scaling`);
  }
  let normalization = o.normalization ?? IDENTITY;
  if (affine && !o.normalization) {
    const meta = (model.metadataProps ?? []).find((p) => p.key === NORMALIZATION_KEY)?.value;
    let exact: Normalization | null = null;
    const values = (v: unknown) => (typeof v === 'number' ? new Array<number>(C).fill(v) : Array.isArray(v) && v.length === C && v.every((x) => typeof x === 'number') ? v as number[] : null);
    if (meta) {
      try {
        exact = JSON.parse(meta) as Normalization;
      } catch (e) {
        throw new Error(`${source}: metadata '${NORMALIZATION_KEY}' is not valid JSON (${(e as Error).message})`);
      }
      const mean = values(exact?.mean), std = values(exact?.std);
      if (typeof exact !== 'object' || exact === null || typeof exact.scale !== 'number' || !mean || !std || ![exact.scale, ...mean, ...std].every(Number.isFinite) || std.includes(0)) {
        throw new Error(`${source}: metadata '${NORMALIZATION_KEY}' is not { scale, mean, std } with finite numbers (mean and std one number, or one per channel: ${C}) and std other than 0`);
      }
    }
    const close = (x: number, y: number) => Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y));
    const { a, b } = affine;
    const matches = (e: Normalization) => a.every((ac, c) => close(e.scale / values(e.std)![c], ac) && close(-values(e.mean)![c] / values(e.std)![c], b[c]));
    const uniform = a.every((v) => v === a[0]) && b.every((v) => v === b[0]);
    normalization = exact && matches(exact) ? exact
      : uniform ? { scale: a[0], mean: -b[0], std: 1 }
        : { scale: 1, mean: a.map((ac, c) => -b[c] / ac), std: a.map((ac) => 1 / ac) };
  }
  // Which node a message about a layer means.
  const fromNode = (msg: string) => {
    const l = layers.find((x) => new RegExp(`\\b${x.name}\\b`).test(msg));
    return l && origin.has(l) ? `${msg} (layer ${l.name} is ${origin.get(l)})` : msg;
  };
  const held = [...consts.values()].reduce((t, c) => t + c.data.length, 0);
  let m: Sequential;
  try {
    m = new Sequential(layers, {
      inputShape, classes: (last.config().units as number), normalization, backend: o.backend,
      // The graph's layers may hold no more parameters than its tensors do (slack for the shape check of setWeights, which names both shapes).
      paramBudget: { values: held + Math.max(held, 1 << 20), held, source: 'the file' },
    });
  } catch (e) {
    throw new Error(`${source}: the layers do not fit together: ${fromNode((e as Error).message)}`);
  }
  try {
    const activations = m.layers.reduce((t, l) => t + l.outputSize, 0);
    if (activations > MAX_ACTIVATION_VALUES) throw new Error(`the layers need ${activations.toLocaleString('en-US')} activation values per example, more than the limit of ${MAX_ACTIVATION_VALUES.toLocaleString('en-US')}`);
    m.setWeights(weights);
  } catch (e) {
    m.dispose();
    throw new Error(`${source}: ${fromNode((e as Error).message)}`);
  }
  return m;
}
