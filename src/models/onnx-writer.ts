/**
 * A small ONNX writer: a graph (nodes, initializers, typed inputs and outputs) encoded as the
 * ModelProto protobuf (onnx/onnx.proto3, opset 17, IR version 8), so models are made in code
 * without Python's onnx package: the tests' fixtures and the export of kensa's own models. Only
 * the fields those need are written; field numbers are onnx.proto's.
 */
import { f32ToF16Bits } from '../dtype.js';
import { KensaError } from '../errors.js';
import { integerInRange } from '../validate.js';

/** Element types of tensors and values (TensorProto.DataType). */
export type OnnxDType = 'f32' | 'f16' | 'u8' | 'i8' | 'i32' | 'i64';

const DATA_TYPE: Record<OnnxDType, number> = { f32: 1, u8: 2, i8: 3, i32: 6, i64: 7, f16: 10 };

/** A constant tensor of the graph (weights, shapes, scales). f16 data is given as f32 values. */
export interface OnnxInitializer {
  name: string;
  dtype: OnnxDType;
  dims: readonly number[];
  data: ArrayLike<number>;
}

/** A graph input or output: a dimension is a size or a symbolic name (dynamic: batch, height…). */
export interface OnnxValue {
  name: string;
  dtype: OnnxDType;
  shape: readonly (number | string)[];
}

/** An attribute value, tagged with its protobuf type. */
export type OnnxAttribute = { int: number } | { float: number } | { ints: readonly number[] } | { floats: readonly number[] } | { string: string };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
}

export const ONNX_OPSET = 17;
/** The opsets a graph may be written for: every operator kensa writes is unchanged over them. */
export const ONNX_OPSETS = { min: 13, max: 21 } as const;

/** The lowest IR version each opset needs (onnx/helper.py's VERSION_TABLE). */
function irVersion(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

export interface OnnxModelOptions {
  /** producer_name; default 'kensa'. */
  producer?: string;
  /** The default domain's opset, ONNX_OPSETS.min … max; default ONNX_OPSET (17). */
  opset?: number;
  /** metadata_props: what a deployment reads beside the graph (preprocessing, the head). */
  metadata?: Readonly<Record<string, string>>;
}

/** Protobuf wire encoding: varints (int64 as two's complement), length-delimited fields, fixed32 floats. */
class ProtoWriter {
  readonly #bytes: number[] = [];

  #varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.#bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#bytes.push(Number(v));
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  int(field: number, value: number): this {
    this.#tag(field, 0);
    this.#varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.#tag(field, 5);
    this.#raw(new Uint8Array(Float32Array.of(value).buffer));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(BigInt(value.length));
    this.#raw(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  #raw(value: Uint8Array): void {
    for (const b of value) this.#bytes.push(b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** Little-endian raw bytes of an initializer's data (TensorProto.raw_data). */
function rawData(t: OnnxInitializer): Uint8Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new KensaError(
      'KENSA_ERR_INVALID_ARGUMENT',
      `Expected ${n} values for initializer ${t.name} of dims [${t.dims.join(', ')}] but received ${t.data.length}`,
    );
  }
  const values = Array.from(t.data);
  switch (t.dtype) {
    case 'f32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'f16':
      return new Uint8Array(Uint16Array.from(values, f32ToF16Bits).buffer);
    case 'u8':
      return Uint8Array.from(values);
    case 'i8':
      return new Uint8Array(Int8Array.from(values).buffer);
    case 'i32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'i64':
      return new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer);
  }
}

function tensorProto(w: ProtoWriter, t: OnnxInitializer): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, DATA_TYPE[t.dtype]);
  w.string(8, t.name);
  w.bytes(9, rawData(t));
}

function valueInfo(w: ProtoWriter, v: OnnxValue): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DATA_TYPE[v.dtype]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

/** AttributeProto: name, the value's field and its AttributeType (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7). */
function attribute(w: ProtoWriter, name: string, a: OnnxAttribute): void {
  w.string(1, name);
  if ('float' in a) w.float(2, a.float).int(20, 1);
  else if ('int' in a) w.int(3, a.int).int(20, 2);
  else if ('string' in a) w.string(4, a.string).int(20, 3);
  else if ('floats' in a) {
    for (const f of a.floats) w.float(7, f);
    w.int(20, 6);
  } else {
    for (const i of a.ints) w.int(8, i);
    w.int(20, 7);
  }
}

function nodeProto(w: ProtoWriter, node: OnnxNode, index: number): void {
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, `${node.op.toLowerCase()}_${index}`);
  w.string(4, node.op);
  for (const [name, a] of Object.entries(node.attributes ?? {})) w.message(5, (m) => attribute(m, name, a));
}

/** The graph as an ONNX model file's bytes (opset 17 of the default domain unless `opset` says). */
export function encodeOnnxModel(graph: OnnxGraph, options: OnnxModelOptions = {}): Uint8Array {
  const opset = integerInRange('opset', options.opset ?? ONNX_OPSET, ONNX_OPSETS.min, ONNX_OPSETS.max);
  const w = new ProtoWriter();
  w.int(1, irVersion(opset));
  w.string(2, options.producer ?? 'kensa');
  w.message(7, (g) => {
    for (const [i, n] of graph.nodes.entries()) g.message(1, (m) => nodeProto(m, n, i));
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (m) => tensorProto(m, t));
    for (const v of graph.inputs) g.message(11, (m) => valueInfo(m, v));
    for (const v of graph.outputs) g.message(12, (m) => valueInfo(m, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, opset));
  for (const [key, value] of Object.entries(options.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}

/**
 * Builds a graph node by node: each call adds a node and returns its output's name, so a network
 * reads as its forward pass. Weights are initializers of the dtype given at construction (f32 or
 * f16; shapes and scales stay i64 and f32 as the operators require).
 */
export class OnnxGraphBuilder {
  readonly #nodes: OnnxNode[] = [];
  readonly #initializers: OnnxInitializer[] = [];
  readonly #inputs: OnnxValue[] = [];
  readonly #outputs: OnnxValue[] = [];
  readonly #dtype: 'f32' | 'f16';
  #count = 0;

  constructor(dtype: 'f32' | 'f16' = 'f32') {
    this.#dtype = dtype;
  }

  /** A graph input; returns its name. */
  input(name: string, shape: readonly (number | string)[]): string {
    this.#inputs.push({ name, dtype: this.#dtype, shape });
    return name;
  }

  /** Marks `name` as a graph output of this shape. */
  output(name: string, shape: readonly (number | string)[]): void {
    this.#outputs.push({ name, dtype: this.#dtype, shape });
  }

  /** A constant; returns its name. Weights take the graph's dtype unless another is given. */
  constant(dims: readonly number[], data: ArrayLike<number>, dtype: OnnxDType = this.#dtype): string {
    const name = `c${this.#initializers.length}`;
    this.#initializers.push({ name, dtype, dims, data });
    return name;
  }

  /** A node of one output, named `out` or after the op; returns the output's name (`''` inputs are omitted optional ones). */
  node(op: string, inputs: readonly string[], attributes: Readonly<Record<string, OnnxAttribute>> = {}, out = `${op.toLowerCase()}${this.#count++}`): string {
    this.#nodes.push({ op, inputs, outputs: [out], attributes });
    return out;
  }

  /** Conv with `weight` (O×I×k×k) and `bias` (O), stride 1, same padding. */
  conv(x: string, weight: ArrayLike<number>, bias: ArrayLike<number>, out: number, inChannels: number, k: number): string {
    const w = this.constant([out, inChannels, k, k], weight);
    const b = this.constant([out], bias);
    const p = (k - 1) >> 1;
    return this.node('Conv', [x, w, b], { kernel_shape: { ints: [k, k] }, pads: { ints: [p, p, p, p] } });
  }

  /**
   * The same convolution in QDQ form (INT8): the input quantized to u8 with `inputScale` (zero
   * point 0: a non-negative input) and its weights to i8 per tensor, each followed by its
   * DequantizeLinear, so ONNX Runtime may fuse them into an integer convolution. The bias stays f32.
   */
  quantizedConv(x: string, weight: ArrayLike<number>, bias: ArrayLike<number>, out: number, inChannels: number, k: number, inputScale: number): string {
    const scale = this.constant([], [inputScale], 'f32');
    const zero = this.constant([], [0], 'u8');
    const xd = this.node('DequantizeLinear', [this.node('QuantizeLinear', [x, scale, zero]), scale, zero]);
    const w = Array.from(weight);
    const ws = Math.max(1e-12, ...w.map(Math.abs)) / 127;
    const wq = this.constant(
      [out, inChannels, k, k],
      w.map((v) => Math.round(v / ws)),
      'i8',
    );
    const wd = this.node('DequantizeLinear', [wq, this.constant([], [ws], 'f32'), this.constant([], [0], 'i8')]);
    const p = (k - 1) >> 1;
    return this.node('Conv', [xd, wd, this.constant([out], bias, 'f32')], { kernel_shape: { ints: [k, k] }, pads: { ints: [p, p, p, p] } });
  }

  /** Nearest-neighbour upsampling by an integer factor (Resize with scales). */
  upsample(x: string, factor: number): string {
    return this.node('Resize', [x, '', this.constant([4], [1, 1, factor, factor], 'f32')], { mode: { string: 'nearest' } });
  }

  graph(name: string): OnnxGraph {
    return { name, nodes: this.#nodes, initializers: this.#initializers, inputs: this.#inputs, outputs: this.#outputs };
  }
}
