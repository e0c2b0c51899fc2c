/**
 * The ONNX protobuf codec against protobufjs with the official ONNX schema
 * (onnx-proto, a dev dependency only): PyTorch's files decode to the same
 * messages, our encoding decodes in protobufjs to what we wrote, and the wire
 * details protobufjs does not write (unpacked repeated scalars, negative int64,
 * unknown fields) and malformed bytes are handled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, type ModelProto } from '../ts/interop/onnx-proto.js';
import { toOnnx } from '../ts/interop/onnx-export.js';
import { createPreset } from '../ts/models/presets.js';
import { allBackends } from './helpers.js';

const { onnx } = onnxProto;
const fixtures = new URL('./fixtures/onnx/', import.meta.url);

/** A message as plain JSON: int64 as numbers, bytes as arrays, empty lists dropped. */
function plain(o: unknown): unknown {
  return JSON.parse(JSON.stringify(o, (_k, v) => {
    if (v instanceof Uint8Array) return Array.from(v);
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return v.data;
    if (Array.isArray(v) && v.length === 0) return undefined;
    return v;
  }));
}
const viaProtobufjs = (b: Uint8Array) => plain(onnx.ModelProto.toObject(onnx.ModelProto.decode(b), { longs: Number, bytes: Array }));

/** A hand-written varint, for bytes protobufjs would not produce. */
function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return out;
}
const field = (num: number, wire: number) => varint(BigInt((num << 3) | wire));
const lenField = (num: number, body: number[]) => [...field(num, 2), ...varint(BigInt(body.length)), ...body];

describe('ONNX protobuf codec', () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.onnx'));
  it.each(files)('decodes PyTorch\'s %s as protobufjs does, and re-encodes it losslessly', (f) => {
    const bytes = new Uint8Array(readFileSync(new URL(f, fixtures)));
    const ours = plain(decodeModel(bytes));
    expect(ours).toEqual(viaProtobufjs(bytes));
    const again = encodeModel(decodeModel(bytes));
    expect(viaProtobufjs(again)).toEqual(ours);
  });

  it('encodes an exported model that protobufjs reads back field for field', async () => {
    const [backend] = await allBackends();
    const { model } = createPreset('lenet5-bn', { seed: 3, backend });
    const bytes = toOnnx(model);
    const theirs = viaProtobufjs(bytes) as ModelProto;
    expect(theirs).toEqual(plain(decodeModel(bytes)));
    expect(theirs.graph?.node?.map((n) => n.opType)).toContain('BatchNormalization');
    expect(theirs.opsetImport).toEqual([{ domain: '', version: 13 }]);
    model.dispose();
  });

  it('reads unpacked repeated scalars, negative int64 and skips unknown fields', () => {
    // AttributeProto { name: 'axes', type: INTS, ints: [-1, 2] (unpacked), field 99 (unknown varint) }
    const attr = [...lenField(1, [...new TextEncoder().encode('axes')]), ...field(20, 0), 7, ...field(8, 0), ...varint(-1n), ...field(8, 0), 2, ...field(99, 0), 5];
    // TensorProto { dims: [2] unpacked, dataType FLOAT, floatData: 1.5 as fixed32 unpacked, then packed 2.5 }
    const f32 = (x: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, x, true); return [...b]; };
    const tensor = [...field(1, 0), 2, ...field(2, 0), 1, ...field(4, 5), ...f32(1.5), ...lenField(4, f32(2.5))];
    const node = [...lenField(4, [...new TextEncoder().encode('Squeeze')]), ...lenField(5, attr)];
    const graph = [...lenField(1, node), ...lenField(5, tensor), ...lenField(77, [1, 2, 3])];
    const bytes = new Uint8Array([...field(1, 0), 7, ...lenField(7, graph)]);
    const m = decodeModel(bytes);
    expect(m.irVersion).toBe(7);
    expect(m.graph?.node?.[0].attribute?.[0]).toEqual({ name: 'axes', type: 7, ints: [-1, 2] });
    expect(m.graph?.initializer?.[0]).toEqual({ dims: [2], dataType: 1, floatData: [1.5, 2.5] });
    expect(viaProtobufjs(bytes)).toEqual(plain(m));
    // and written: negative ints survive our encoder as protobufjs reads them
    const back = viaProtobufjs(encodeModel(m)) as ModelProto;
    expect(back.graph?.node?.[0].attribute?.[0].ints).toEqual([-1, 2]);
  });

  it('refuses malformed bytes with what is wrong', () => {
    const good = encodeModel({ irVersion: 7, producerName: 'x', graph: { name: 'g' } });
    expect(() => decodeModel(good.subarray(0, good.length - 1))).toThrow(/runs past the end/);
    expect(() => decodeModel(new Uint8Array([0x08, 0x80]))).toThrow(/truncated varint/);
    expect(() => decodeModel(new Uint8Array([0x0b]))).toThrow(/wire type 3/);
    expect(() => decodeModel(new Uint8Array([0x3a, 0x02, 0x12, 0x05]))).toThrow(/runs past the end/); // a graph's name longer than the graph
    expect(() => decodeModel(new Uint8Array([0x3a, 0x01, 0x08]))).toThrow(/field node: wire type 0 where a message/);
    expect(() => decodeModel(new Uint8Array([0x12, 0x02, 0xff, 0xfe]))).toThrow(); // producer_name not UTF-8
    expect(() => encodeModel({ irVersion: 1.5 })).toThrow(/irVersion = 1.5 is not an integer/);
  });
});
