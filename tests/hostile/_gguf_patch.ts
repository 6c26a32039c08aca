/**
 * Hostile GGUF headers made from a good file: a small parser of its own (it
 * shares no code with lib/gguf) that finds where every count sits in the
 * header, and edits that write a count in place or retype a key/value to u64.
 * Tensor offsets are relative to the data section, so a header that grows is
 * re-padded to the alignment and the data copied behind it unchanged.
 *
 * @example
 * ```ts
 * import { GgufLayout } from "./_gguf_patch.ts";
 * const good = await Deno.readFile("clean-f16.gguf");
 * const layout = GgufLayout.parse(good);
 * const bad = layout.withU64At(layout.counts.tensorCount, 1_000_000_000n);
 * const worse = layout.withKv("llama.block_count", "u64", 2n ** 64n - 1n);
 * ```
 * @module
 */

const ALIGNMENT = 32;
const SIZES: Readonly<Record<number, number>> = {
  0: 1, // u8
  1: 1, // i8
  2: 2, // u16
  3: 2, // i16
  4: 4, // u32
  5: 4, // i32
  6: 4, // f32
  7: 1, // bool
  10: 8, // u64
  11: 8, // i64
  12: 8, // f64
};
const U32 = 4, STRING = 8, ARRAY = 9, U64 = 10;

/** Where one key/value sits. */
export interface KvFields {
  /** Offset of the key's u64 length. */
  readonly keyLength: number;
  /** Offset of the u32 value type. */
  readonly type: number;
  /** Offset of the value (for an array: of its element type). */
  readonly value: number;
  /** Offset just past the value. */
  readonly end: number;
  /** For an array: offset of its u64 length; for a string value: of its u64 length. */
  readonly length?: number;
  /** For an array of strings: offset of the first element's u64 length. */
  readonly firstElementLength?: number;
}

/** Where one tensor info sits. */
export interface TensorFields {
  readonly nameLength: number;
  readonly nDims: number;
  /** Offset of each u64 dim. */
  readonly dims: readonly number[];
}

/** The offsets of every count in a GGUF header. */
export class GgufLayout {
  readonly counts: { readonly tensorCount: number; readonly kvCount: number };
  readonly kvs: ReadonlyMap<string, KvFields>;
  readonly tensors: ReadonlyMap<string, TensorFields>;
  readonly headerEnd: number;
  readonly dataOffset: number;
  readonly bytes: Uint8Array;

  private constructor(
    bytes: Uint8Array,
    kvs: Map<string, KvFields>,
    tensors: Map<string, TensorFields>,
    headerEnd: number,
  ) {
    this.bytes = bytes;
    this.counts = { tensorCount: 8, kvCount: 16 };
    this.kvs = kvs;
    this.tensors = tensors;
    this.headerEnd = headerEnd;
    this.dataOffset = Math.ceil(headerEnd / ALIGNMENT) * ALIGNMENT;
  }

  /** Parses a well-formed v3 header (the test's own input). */
  static parse(bytes: Uint8Array): GgufLayout {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dec = new TextDecoder();
    let pos = 24;
    const u32 = () => (pos += 4, view.getUint32(pos - 4, true));
    const u64 = () => (pos += 8, Number(view.getBigUint64(pos - 8, true)));
    const str = () => {
      const n = u64();
      pos += n;
      return dec.decode(bytes.subarray(pos - n, pos));
    };
    const skipValue = (type: number) => type === STRING ? void str() : void (pos += SIZES[type]!);
    const kvs = new Map<string, KvFields>();
    const kvCount = Number(view.getBigUint64(16, true));
    for (let i = 0; i < kvCount; i++) {
      const keyLength = pos;
      const key = str();
      const type = pos;
      const t = u32();
      const value = pos;
      if (t === ARRAY) {
        const elem = u32();
        const length = pos;
        const n = u64();
        const firstElementLength = pos;
        for (let j = 0; j < n; j++) skipValue(elem);
        kvs.set(key, {
          keyLength,
          type,
          value,
          end: pos,
          length,
          ...(elem === STRING && n > 0 ? { firstElementLength } : {}),
        });
      } else {
        skipValue(t);
        kvs.set(key, {
          keyLength,
          type,
          value,
          end: pos,
          ...(t === STRING ? { length: value } : {}),
        });
      }
    }
    const tensors = new Map<string, TensorFields>();
    const tensorCount = Number(view.getBigUint64(8, true));
    for (let i = 0; i < tensorCount; i++) {
      const nameLength = pos;
      const name = str();
      const nDims = pos;
      const n = u32();
      const dims = Array.from({ length: n }, (_, d) => pos + 8 * d);
      pos += 8 * n + 4 + 8;
      tensors.set(name, { nameLength, nDims, dims });
    }
    return new GgufLayout(bytes, kvs, tensors, pos);
  }

  /** The key/value `key` (which must exist). */
  kv(key: string): KvFields {
    const kv = this.kvs.get(key);
    if (!kv) throw new Error(`test input has no key ${key}`);
    return kv;
  }

  /** The tensor `name` (which must exist). */
  tensor(name: string): TensorFields {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`test input has no tensor ${name}`);
    return t;
  }

  /** A copy with the u64 at `offset` set to `value`. */
  withU64At(offset: number, value: bigint): Uint8Array {
    const out = this.bytes.slice();
    new DataView(out.buffer).setBigUint64(offset, value, true);
    return out;
  }

  /** A copy with the u32 at `offset` set to `value`. */
  withU32At(offset: number, value: number): Uint8Array {
    const out = this.bytes.slice();
    new DataView(out.buffer).setUint32(offset, value, true);
    return out;
  }

  /**
   * A copy in which scalar `key` holds `value` as a u32 or a u64 (added at
   * the end of the key/values when absent); the header is re-padded, the
   * data unchanged.
   */
  withKv(key: string, type: "u32" | "u64", value: bigint): Uint8Array {
    const typed = new Uint8Array(type === "u32" ? 8 : 12);
    const v = new DataView(typed.buffer);
    v.setUint32(0, type === "u32" ? U32 : U64, true);
    if (type === "u32") v.setUint32(4, Number(value), true);
    else v.setBigUint64(4, value, true);
    const kv = this.kvs.get(key);
    let header: Uint8Array;
    if (kv) {
      header = concat(
        this.bytes.subarray(0, kv.type),
        typed,
        this.bytes.subarray(kv.end, this.headerEnd),
      );
    } else {
      const name = new TextEncoder().encode(key);
      const length = new Uint8Array(8);
      new DataView(length.buffer).setBigUint64(0, BigInt(name.length), true);
      const at = Math.max(24, ...[...this.kvs.values()].map((f) => f.end));
      header = concat(
        this.bytes.subarray(0, at),
        length,
        name,
        typed,
        this.bytes.subarray(at, this.headerEnd),
      );
      const view = new DataView(header.buffer);
      view.setBigUint64(16, view.getBigUint64(16, true) + 1n, true);
    }
    const dataOffset = Math.ceil(header.length / ALIGNMENT) * ALIGNMENT;
    const out = new Uint8Array(dataOffset + this.bytes.length - this.dataOffset);
    out.set(header);
    out.set(this.bytes.subarray(this.dataOffset), dataOffset);
    return out;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
