/**
 * A streaming GGUF v3 writer (docs/reference/formats.md, "GGUF layout"), after gguf-py's `GGUFWriter`:
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
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufScalar,
  GgufValueType,
} from "./types.ts";
import { Keys } from "./keys.ts";
import type { GgufKv } from "./reader.ts";

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

/** Growable little-endian byte buffer, written through the value-type table. */
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
  /** One value of a scalar type (STRING included). */
  scalar(type: number, v: GgufScalar): void {
    if (type === GgufValueType.STRING) {
      const bytes = ByteBuilder.#enc.encode(String(v));
      this.scalar(GgufValueType.UINT64, bytes.length);
      this.#reserve(bytes.length);
      this.#buf.set(bytes, this.length);
      this.length += bytes.length;
      return;
    }
    const row = GGUF_VALUE_TYPES[type]!;
    this.#reserve(row.size);
    row.write(this.#view, this.length, v);
    this.length += row.size;
  }
  u32(v: number): void {
    this.scalar(GgufValueType.UINT32, v);
  }
  u64(v: number): void {
    this.scalar(GgufValueType.UINT64, v);
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

/** Refuses a value that its type cannot hold (a string for a number, an integer out of range). */
function checkValue(key: string, type: number, v: GgufScalar): void {
  const row = GGUF_VALUE_TYPES[type];
  const ok = type === GgufValueType.STRING ? typeof v === "string" : row?.accepts(v) ?? false;
  if (!ok) {
    throw new FormatError(`${key}: ${String(v)} is not a ${row?.name ?? `value of type ${type}`}`);
  }
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** Builds and streams one GGUF v3 file. */
export class GgufWriter {
  readonly alignment: number;
  /** Key/values as the reader returns them (the writer never changes a value once added). */
  #kvs: GgufKv[] = [];
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

  /**
   * Adds one key of any value type; an array gives its element type. Every
   * value is checked against its type (an integer out of range, a string
   * where a number belongs, a nested array: FormatError naming the key).
   * The typed shorthands below cover the types the exporter writes.
   */
  add(
    key: string,
    type: GgufValueType,
    value: GgufScalar | readonly GgufScalar[],
    arrayType?: GgufValueType,
  ): void {
    if (key.length === 0) throw new FormatError("GGUF key must not be empty");
    if (this.#keys.has(key)) throw new FormatError(`duplicate GGUF key "${key}"`);
    if (type === GgufValueType.ARRAY) {
      if (arrayType === undefined || arrayType === GgufValueType.ARRAY || !Array.isArray(value)) {
        throw new FormatError(`${key}: an array needs a scalar element type and a list of values`);
      }
      for (const v of value as readonly GgufScalar[]) checkValue(key, arrayType, v);
    } else checkValue(key, type, value as GgufScalar);
    this.#keys.add(key);
    const kv = { key, type, value: value as GgufKv["value"] };
    this.#kvs.push(arrayType !== undefined ? { ...kv, arrayType } : kv);
  }

  addString(key: string, value: string): void {
    this.add(key, GgufValueType.STRING, value);
  }
  addU32(key: string, value: number): void {
    this.add(key, GgufValueType.UINT32, value);
  }
  addF32(key: string, value: number): void {
    this.add(key, GgufValueType.FLOAT32, value);
  }
  addBool(key: string, value: boolean): void {
    this.add(key, GgufValueType.BOOL, value);
  }
  addStringArray(key: string, values: readonly string[]): void {
    this.add(key, GgufValueType.ARRAY, values, GgufValueType.STRING);
  }
  addI32Array(key: string, values: readonly number[]): void {
    this.add(key, GgufValueType.ARRAY, values, GgufValueType.INT32);
  }
  addF32Array(key: string, values: readonly number[]): void {
    this.add(key, GgufValueType.ARRAY, values, GgufValueType.FLOAT32);
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
      b.scalar(GgufValueType.STRING, kv.key);
      b.u32(kv.type);
      if (kv.type === GgufValueType.ARRAY) {
        const values = kv.value as readonly GgufScalar[];
        b.u32(kv.arrayType!);
        b.u64(values.length);
        for (const v of values) b.scalar(kv.arrayType!, v);
      } else {
        b.scalar(kv.type, kv.value as GgufScalar);
      }
    }
    for (const t of this.#tensors) {
      b.scalar(GgufValueType.STRING, t.name);
      b.u32(t.ne.length);
      for (const d of t.ne) b.u64(d);
      b.u32(t.type);
      b.u64(t.offset);
    }
    b.zeros(alignUp(b.length, this.alignment) - b.length);
    return b.bytes();
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
