/**
 * The part of the ONNX protobuf schema (onnx.proto3, IR version 7+) that
 * export and import use, with a small wire-format codec: no dependency and no
 * install script. Messages are plain objects with camelCase fields; int64
 * fields are numbers (shapes, axes and counts fit well within 2^53). Unknown
 * fields are skipped on decode, as protobuf requires; repeated scalars are
 * read packed or not, and written packed.
 */

/** TensorProto.DataType values used here. */
export const DataType = { UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values. */
export const AttributeType = { UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

export interface TensorProto { name?: string; dims?: number[]; dataType?: number; floatData?: number[]; int32Data?: number[]; int64Data?: number[]; doubleData?: number[]; rawData?: Uint8Array; docString?: string }
export interface AttributeProto { name?: string; type?: number; f?: number; i?: number; s?: Uint8Array; t?: TensorProto; floats?: number[]; ints?: number[]; strings?: Uint8Array[]; docString?: string }
export interface NodeProto { input?: string[]; output?: string[]; name?: string; opType?: string; domain?: string; attribute?: AttributeProto[]; docString?: string }
export interface Dimension { dimValue?: number; dimParam?: string }
export interface TypeProto { tensorType?: { elemType?: number; shape?: { dim?: Dimension[] } } }
export interface ValueInfoProto { name?: string; type?: TypeProto; docString?: string }
export interface GraphProto { node?: NodeProto[]; name?: string; initializer?: TensorProto[]; docString?: string; input?: ValueInfoProto[]; output?: ValueInfoProto[]; valueInfo?: ValueInfoProto[] }
export interface OperatorSetIdProto { domain?: string; version?: number }
export interface ModelProto { irVersion?: number; opsetImport?: OperatorSetIdProto[]; producerName?: string; producerVersion?: string; domain?: string; modelVersion?: number; docString?: string; graph?: GraphProto; metadataProps?: { key?: string; value?: string }[] }

type Kind = 'string' | 'bytes' | 'int64' | 'int32' | 'float' | 'double' | Schema;
interface Field { name: string; kind: Kind; repeated?: boolean }
interface Schema { [num: number]: Field }

const TENSOR: Schema = {
  1: { name: 'dims', kind: 'int64', repeated: true }, 2: { name: 'dataType', kind: 'int32' },
  4: { name: 'floatData', kind: 'float', repeated: true }, 5: { name: 'int32Data', kind: 'int32', repeated: true },
  7: { name: 'int64Data', kind: 'int64', repeated: true }, 8: { name: 'name', kind: 'string' },
  9: { name: 'rawData', kind: 'bytes' }, 10: { name: 'doubleData', kind: 'double', repeated: true }, 12: { name: 'docString', kind: 'string' },
};
const ATTRIBUTE: Schema = {
  1: { name: 'name', kind: 'string' }, 20: { name: 'type', kind: 'int32' }, 2: { name: 'f', kind: 'float' }, 3: { name: 'i', kind: 'int64' },
  4: { name: 's', kind: 'bytes' }, 5: { name: 't', kind: TENSOR }, 7: { name: 'floats', kind: 'float', repeated: true },
  8: { name: 'ints', kind: 'int64', repeated: true }, 9: { name: 'strings', kind: 'bytes', repeated: true }, 13: { name: 'docString', kind: 'string' },
};
const NODE: Schema = {
  1: { name: 'input', kind: 'string', repeated: true }, 2: { name: 'output', kind: 'string', repeated: true }, 3: { name: 'name', kind: 'string' },
  4: { name: 'opType', kind: 'string' }, 7: { name: 'domain', kind: 'string' }, 5: { name: 'attribute', kind: ATTRIBUTE, repeated: true },
  6: { name: 'docString', kind: 'string' },
};
const DIMENSION: Schema = { 1: { name: 'dimValue', kind: 'int64' }, 2: { name: 'dimParam', kind: 'string' } };
const TYPE: Schema = {
  1: { name: 'tensorType', kind: { 1: { name: 'elemType', kind: 'int32' }, 2: { name: 'shape', kind: { 1: { name: 'dim', kind: DIMENSION, repeated: true } } } } },
};
const VALUE_INFO: Schema = { 1: { name: 'name', kind: 'string' }, 2: { name: 'type', kind: TYPE }, 3: { name: 'docString', kind: 'string' } };
const GRAPH: Schema = {
  1: { name: 'node', kind: NODE, repeated: true }, 2: { name: 'name', kind: 'string' }, 5: { name: 'initializer', kind: TENSOR, repeated: true },
  10: { name: 'docString', kind: 'string' }, 11: { name: 'input', kind: VALUE_INFO, repeated: true },
  12: { name: 'output', kind: VALUE_INFO, repeated: true }, 13: { name: 'valueInfo', kind: VALUE_INFO, repeated: true },
};
const MODEL: Schema = {
  1: { name: 'irVersion', kind: 'int64' }, 8: { name: 'opsetImport', kind: { 1: { name: 'domain', kind: 'string' }, 2: { name: 'version', kind: 'int64' } }, repeated: true },
  2: { name: 'producerName', kind: 'string' }, 3: { name: 'producerVersion', kind: 'string' }, 4: { name: 'domain', kind: 'string' },
  5: { name: 'modelVersion', kind: 'int64' }, 6: { name: 'docString', kind: 'string' }, 7: { name: 'graph', kind: GRAPH },
  14: { name: 'metadataProps', kind: { 1: { name: 'key', kind: 'string' }, 2: { name: 'value', kind: 'string' } }, repeated: true },
};

/** The wire type each scalar kind is written with (messages, strings, bytes and packed lists: 2). */
const wireOf = (kind: Exclude<Kind, Schema>) => (kind === 'float' ? 5 : kind === 'double' ? 1 : kind === 'int64' || kind === 'int32' ? 0 : 2);
/** A schema's fields in field-number order, computed once per schema. */
const ordered = new Map<Schema, [number, Field][]>();
const fieldsOf = (schema: Schema) => {
  let f = ordered.get(schema);
  if (!f) ordered.set(schema, (f = Object.entries(schema).map(([k, v]) => [Number(k), v] as [number, Field]).sort((a, b) => a[0] - b[0])));
  return f;
};

const utf8Out = new TextEncoder(), utf8In = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private buf = new Uint8Array(1024);
  len = 0;
  private room(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  varint(v: number | bigint) {
    let x = BigInt.asUintN(64, BigInt(v));
    this.room(10);
    while (x >= 0x80n) { this.buf[this.len++] = Number(x & 0x7fn) | 0x80; x >>= 7n; }
    this.buf[this.len++] = Number(x);
  }
  bytes(b: Uint8Array) { this.varint(b.length); this.room(b.length); this.buf.set(b, this.len); this.len += b.length; }
  fixed(n: number, put: (dv: DataView) => void) { this.room(n); put(new DataView(this.buf.buffer, this.len, n)); this.len += n; }
  finish() { return this.buf.slice(0, this.len); }
}

function int64Of(v: number, field: string): bigint {
  if (!Number.isSafeInteger(v)) throw new Error(`ONNX encode: ${field} = ${v} is not an integer`);
  return BigInt(v);
}

function writeScalar(w: Writer, kind: Exclude<Kind, Schema>, v: unknown, field: string) {
  switch (kind) {
    case 'int64': w.varint(int64Of(v as number, field)); break;
    case 'int32': w.varint(int64Of(v as number, field)); break; // negative int32 is sign-extended to 10 bytes, as protobuf writes it
    case 'float': w.fixed(4, (dv) => dv.setFloat32(0, v as number, true)); break;
    case 'double': w.fixed(8, (dv) => dv.setFloat64(0, v as number, true)); break;
    case 'string': w.bytes(utf8Out.encode(v as string)); break;
    case 'bytes': w.bytes(v as Uint8Array); break;
  }
}

function encodeInto(w: Writer, msg: Record<string, unknown>, schema: Schema) {
  for (const [num, f] of fieldsOf(schema)) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const values: unknown[] = f.repeated ? Array.from(v as ArrayLike<unknown>) : [v];
    if (f.repeated && values.length === 0) continue;
    if (typeof f.kind === 'object') {
      for (const m of values) {
        w.varint((num << 3) | 2);
        const inner = new Writer();
        encodeInto(inner, m as Record<string, unknown>, f.kind);
        w.bytes(inner.finish());
      }
    } else if (f.repeated && f.kind !== 'string' && f.kind !== 'bytes') {
      w.varint((num << 3) | 2); // packed
      const inner = new Writer();
      for (const x of values) writeScalar(inner, f.kind, x, f.name);
      w.bytes(inner.finish());
    } else {
      for (const x of values) { w.varint((num << 3) | wireOf(f.kind)); writeScalar(w, f.kind, x, f.name); }
    }
  }
}

class Reader {
  pos: number;
  constructor(readonly b: Uint8Array, start: number, readonly end: number) { this.pos = start; }
  varint(): bigint {
    let x = 0n, shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.b[this.pos++];
      x |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return x;
      shift += 7n;
    }
    throw new Error('varint longer than 10 bytes');
  }
  length(): number {
    const n = this.varint();
    if (n > BigInt(this.end - this.pos)) throw new Error(`a field of ${n} bytes runs past the end of its message (${this.end - this.pos} bytes left)`);
    return Number(n);
  }
  take(n: number): DataView {
    if (this.pos + n > this.end) throw new Error('truncated fixed-width field');
    const dv = new DataView(this.b.buffer, this.b.byteOffset + this.pos, n);
    this.pos += n;
    return dv;
  }
}

const toInt = (x: bigint) => Number(BigInt.asIntN(64, x));

function readScalar(r: Reader, kind: Exclude<Kind, Schema>, wire: number): unknown {
  const expect = wireOf(kind);
  if (wire !== expect) throw new Error(`wire type ${wire} where ${kind} (wire type ${expect}) is expected`);
  switch (kind) {
    case 'int64': return toInt(r.varint());
    case 'int32': return Number(BigInt.asIntN(32, r.varint()));
    case 'float': return r.take(4).getFloat32(0, true);
    case 'double': return r.take(8).getFloat64(0, true);
    case 'string': { const n = r.length(); const s = utf8In.decode(r.b.subarray(r.pos, r.pos + n)); r.pos += n; return s; }
    case 'bytes': { const n = r.length(); const s = r.b.slice(r.pos, r.pos + n); r.pos += n; return s; }
  }
}

function skip(r: Reader, wire: number) {
  switch (wire) {
    case 0: r.varint(); break;
    case 1: r.take(8); break;
    case 2: { const n = r.length(); r.pos += n; break; } // not r.pos += r.length(): that adds to the position before the length
    case 5: r.take(4); break;
    default: throw new Error(`unsupported wire type ${wire} (groups are not used by ONNX)`);
  }
}

function decodeFrom(r: Reader, schema: Schema, depth: number): Record<string, unknown> {
  if (depth > 64) throw new Error('messages nested more than 64 deep');
  const out: Record<string, unknown> = {};
  while (r.pos < r.end) {
    const tag = r.varint();
    const num = Number(tag >> 3n), wire = Number(tag & 7n);
    if (num === 0) throw new Error('field number 0');
    const f = schema[num];
    if (!f) { skip(r, wire); continue; }
    let value: unknown[];
    if (typeof f.kind === 'object') {
      if (wire !== 2) throw new Error(`field ${f.name}: wire type ${wire} where a message is expected`);
      const n = r.length();
      value = [decodeFrom(new Reader(r.b, r.pos, r.pos + n), f.kind, depth + 1)];
      r.pos += n;
    } else if (f.repeated && wire === 2 && f.kind !== 'string' && f.kind !== 'bytes') {
      const n = r.length(), inner = new Reader(r.b, r.pos, r.pos + n);
      value = [];
      if (f.kind === 'float') {
        // weights: one view for the whole list
        if (n % 4) throw new Error(`field ${f.name}: packed floats of ${n} bytes`);
        const dv = inner.take(n);
        for (let i = 0; i < n; i += 4) value.push(dv.getFloat32(i, true));
      } else {
        while (inner.pos < inner.end) value.push(readScalar(inner, f.kind, wireOf(f.kind)));
      }
      r.pos += n;
    } else {
      try { value = [readScalar(r, f.kind, wire)]; } catch (e) { throw new Error(`field ${f.name}: ${(e as Error).message}`); }
    }
    if (f.repeated) {
      const list = (out[f.name] ??= []) as unknown[];
      for (const x of value) list.push(x); // not push(...value): a packed weight can hold millions
    }
    else out[f.name] = value[0];
  }
  return out;
}

/** Serialises a ModelProto. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer();
  encodeInto(w, m as Record<string, unknown>, MODEL);
  return w.finish();
}

/** Parses a ModelProto; malformed bytes throw an Error saying what is wrong. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return decodeFrom(new Reader(bytes, 0, bytes.length), MODEL, 0) as ModelProto;
}
