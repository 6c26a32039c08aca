/**
 * A streaming GGUF v3 writer (FORMATS.md §1), after gguf-py's `GGUFWriter`:
 * typed `add*` helpers for key/values, `addTensorInfo` with the PyTorch shape,
 * then `write` emits the header with precomputed offsets and asks for each
 * tensor's bytes in info order, padding every tensor (the last one too) to the
 * alignment.
 *
 * @example
 * ```ts
 * import { GgufWriter } from "./writer.ts";
 * import { GgmlType } from "./types.ts";
 * const w = new GgufWriter();
 * w.addString("general.architecture", "llama");
 * w.addTensorInfo("output_norm.weight", [4], GgmlType.F32);
 * const chunks: Uint8Array[] = [];
 * await w.write({ write: async (c) => void chunks.push(c.slice()) }, () => new Uint8Array(16));
 * ```
 * @module
 */

import type { ByteSink } from "../io/atomic.ts";
import { FormatError } from "../errors.ts";
import { type GgmlType, tensorByteSize } from "../codecs/table.ts";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufValueType } from "./types.ts";
import { Keys } from "./keys.ts";

/** A tensor as planned in the header. */
export interface GgufTensorPlan {
  readonly name: string;
  /** PyTorch order (outermost first). */
  readonly shape: readonly number[];
  /** ggml order (ne[0] contiguous): the shape reversed. */
  readonly ne: readonly number[];
  readonly type: GgmlType;
  /** Payload bytes (without padding). */
  readonly nbytes: number;
  /** Offset relative to the start of the data section. */
  readonly offset: number;
}

/** Produces one tensor's payload: a buffer or a stream of chunks. */
export type TensorProducer = (
  tensor: GgufTensorPlan,
  index: number,
) => Uint8Array | Promise<Uint8Array> | AsyncIterable<Uint8Array>;

/** Growable little-endian byte buffer. */
class ByteBuilder {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;
  static readonly #enc = new TextEncoder();

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number): void {
    this.#reserve(1);
    this.#view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number): void {
    this.#reserve(2);
    this.#view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.#reserve(4);
    this.#view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: number | bigint): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  i64(v: number | bigint): void {
    this.#reserve(8);
    this.#view.setBigInt64(this.length, BigInt(v), true);
    this.length += 8;
  }
  string(s: string): void {
    const bytes = ByteBuilder.#enc.encode(s);
    this.u64(bytes.length);
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  zeros(n: number): void {
    this.#reserve(n);
    this.#buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

type ScalarType = Exclude<GgufValueType, typeof GgufValueType.ARRAY>;
type Scalar = number | bigint | boolean | string;

interface PlannedKv {
  key: string;
  type: GgufValueType;
  arrayType?: ScalarType;
  value: Scalar | readonly Scalar[];
}

function writeScalar(b: ByteBuilder, type: ScalarType, v: Scalar): void {
  switch (type) {
    case GgufValueType.UINT8:
      return b.u8(Number(v));
    case GgufValueType.INT8:
      return b.i8(Number(v));
    case GgufValueType.UINT16:
      return b.u16(Number(v));
    case GgufValueType.INT16:
      return b.i16(Number(v));
    case GgufValueType.UINT32:
      return b.u32(Number(v));
    case GgufValueType.INT32:
      return b.i32(Number(v));
    case GgufValueType.FLOAT32:
      return b.f32(Number(v));
    case GgufValueType.BOOL:
      return b.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      return b.string(String(v));
    case GgufValueType.UINT64:
      return b.u64(typeof v === "bigint" ? v : BigInt(Number(v)));
    case GgufValueType.INT64:
      return b.i64(typeof v === "bigint" ? v : BigInt(Number(v)));
    case GgufValueType.FLOAT64:
      return b.f64(Number(v));
  }
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Builds and streams one GGUF v3 file. */
export class GgufWriter {
  readonly alignment: number;
  #kvs: PlannedKv[] = [];
  #keys = new Set<string>();
  #tensors: GgufTensorPlan[] = [];
  #names = new Set<string>();
  #dataSize = 0;

  /** `general.alignment` is always written, first, so readers need not assume the default. */
  constructor(alignment = GGUF_DEFAULT_ALIGNMENT) {
    if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new FormatError(`general.alignment must be a power of two, got ${alignment}`);
    }
    this.alignment = alignment;
    this.addU32(Keys.general.alignment, alignment);
  }

  #add(kv: PlannedKv): void {
    if (kv.key.length === 0) throw new FormatError("GGUF key must not be empty");
    if (this.#keys.has(kv.key)) throw new FormatError(`duplicate GGUF key "${kv.key}"`);
    this.#keys.add(kv.key);
    this.#kvs.push(kv);
  }

  /** True when `key` was already added. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  addString(key: string, value: string): void {
    this.#add({ key, type: GgufValueType.STRING, value });
  }
  addU8(key: string, value: number): void {
    this.#add({ key, type: GgufValueType.UINT8, value });
  }
  addU32(key: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new FormatError(`${key}: ${value} is not a u32`);
    }
    this.#add({ key, type: GgufValueType.UINT32, value });
  }
  addI32(key: string, value: number): void {
    this.#add({ key, type: GgufValueType.INT32, value });
  }
  addU64(key: string, value: number | bigint): void {
    this.#add({ key, type: GgufValueType.UINT64, value });
  }
  addF32(key: string, value: number): void {
    this.#add({ key, type: GgufValueType.FLOAT32, value });
  }
  addF64(key: string, value: number): void {
    this.#add({ key, type: GgufValueType.FLOAT64, value });
  }
  addBool(key: string, value: boolean): void {
    this.#add({ key, type: GgufValueType.BOOL, value });
  }
  addStringArray(key: string, values: readonly string[]): void {
    this.#add({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: values });
  }
  addI32Array(key: string, values: readonly number[]): void {
    this.#add({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: values });
  }
  addU32Array(key: string, values: readonly number[]): void {
    this.#add({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.UINT32, value: values });
  }
  addF32Array(key: string, values: readonly number[]): void {
    this.#add({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.FLOAT32, value: values });
  }

  /**
   * Plans a tensor. `shape` is in PyTorch order (HF [out, in]); the info is
   * written with dims reversed (ne[0] = in, the contiguous dimension).
   */
  addTensorInfo(name: string, shape: readonly number[], type: GgmlType): GgufTensorPlan {
    const nameBytes = new TextEncoder().encode(name).length;
    if (nameBytes === 0 || nameBytes > 63) {
      throw new FormatError(`tensor name "${name}" must be 1 to 63 bytes long, got ${nameBytes}`);
    }
    if (this.#names.has(name)) throw new FormatError(`duplicate tensor name "${name}"`);
    if (shape.length < 1 || shape.length > 4) {
      throw new FormatError(`${name}: a tensor has 1 to 4 dims, got ${shape.length}`);
    }
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d <= 0) {
        throw new FormatError(`${name}: bad dimension ${d} in shape [${shape.join(", ")}]`);
      }
    }
    const ne = [...shape].reverse();
    const nbytes = tensorByteSize(type, ne, name);
    const plan: GgufTensorPlan = {
      name,
      shape: [...shape],
      ne,
      type,
      nbytes,
      offset: this.#dataSize,
    };
    this.#dataSize += alignUp(nbytes, this.alignment);
    this.#names.add(name);
    this.#tensors.push(plan);
    return plan;
  }

  /** The planned tensors, in file order. */
  get tensors(): readonly GgufTensorPlan[] {
    return this.#tensors;
  }

  /** The header bytes: magic, counts, key/values, tensor infos, padding to alignment. */
  header(): Uint8Array {
    const b = new ByteBuilder();
    b.u32(GGUF_MAGIC);
    b.u32(3);
    b.u64(this.#tensors.length);
    b.u64(this.#kvs.length);
    for (const kv of this.#kvs) {
      b.string(kv.key);
      b.u32(kv.type);
      if (kv.type === GgufValueType.ARRAY) {
        const values = kv.value as readonly Scalar[];
        b.u32(kv.arrayType!);
        b.u64(values.length);
        for (const v of values) writeScalar(b, kv.arrayType!, v);
      } else {
        writeScalar(b, kv.type as ScalarType, kv.value as Scalar);
      }
    }
    for (const t of this.#tensors) {
      b.string(t.name);
      b.u32(t.ne.length);
      for (const d of t.ne) b.u64(d);
      b.u32(t.type);
      b.u64(t.offset);
    }
    b.zeros(alignUp(b.length, this.alignment) - b.length);
    return b.bytes();
  }

  /** Total file size once written. */
  fileSize(): number {
    return this.header().length + this.#dataSize;
  }

  /**
   * Writes the header, then each tensor's payload in info order. A producer that
   * yields the wrong number of bytes is an error naming the tensor.
   */
  async write(sink: ByteSink, produce: TensorProducer): Promise<void> {
    await sink.write(this.header());
    const pad = new Uint8Array(this.alignment);
    for (const [i, t] of this.#tensors.entries()) {
      const produced = await produce(t, i);
      let n = 0;
      if (produced instanceof Uint8Array) {
        n = produced.length;
        if (n === t.nbytes) await sink.write(produced);
      } else {
        for await (const chunk of produced) {
          n += chunk.length;
          if (n > t.nbytes) break;
          await sink.write(chunk);
        }
      }
      if (n !== t.nbytes) {
        throw new FormatError(`${t.name}: produced ${n} bytes, expected ${t.nbytes}`);
      }
      const padding = alignUp(t.nbytes, this.alignment) - t.nbytes;
      if (padding > 0) await sink.write(pad.subarray(0, padding));
    }
  }
}
