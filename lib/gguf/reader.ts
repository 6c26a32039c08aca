/**
 * A GGUF v2/v3 reader (docs/reference/formats.md, "GGUF layout"): header, key/values and tensor infos are
 * parsed with streaming reads; tensor payloads are read on demand. Every count,
 * length and offset is checked against the file size before anything is
 * allocated, so a hostile file cannot make us allocate more than it holds.
 *
 * @example
 * ```ts
 * import { openGguf } from "./reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * console.log(gguf.getString("general.architecture"));
 * const norm = gguf.tensor("output_norm.weight");
 * const bytes = await gguf.readTensor(norm);
 * gguf.close();
 * ```
 * @module
 */

import { FormatError, ModelShapeError, UnsupportedError } from "../errors.ts";
import { RandomAccessFile } from "../io/random_access.ts";
import { Keys } from "./keys.ts";
import { codecOf, tensorByteSize } from "../codecs/table.ts";
import type { GgufTensorPlan } from "./writer.ts";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufScalar,
  GgufValueType,
} from "./types.ts";

export type { GgufScalar };

/** One metadata entry. */
export interface GgufKv {
  readonly key: string;
  readonly type: GgufValueType;
  /** Element type when `type` is ARRAY. */
  readonly arrayType?: GgufValueType;
  readonly value: GgufScalar | GgufScalar[];
}

/** One tensor's description: as the writer plans it, and where its payload sits in the file. */
export interface GgufTensorInfo extends GgufTensorPlan {
  /** Absolute file offset of the payload. */
  readonly fileOffset: number;
}

/** Limits from ggml's reader. */
const MAX_STRING = 1 << 30;
const MAX_ARRAY = 1 << 30;
const MAX_DIMS = 4;

/** UTF-16 units of {@link decodeShortUtf8}'s string (reused). */
const shortUnits = new Uint16Array(64);

/**
 * UTF-8 bytes [start, end) of at most 64 bytes made only of 1- to 3-byte
 * sequences, decoded without a call into the runtime; undefined for anything
 * else (longer, 4-byte sequences, any ill-formed byte), which TextDecoder then
 * decides. Well-formed means what a fatal TextDecoder accepts: no overlong
 * forms, no surrogates (ED A0..BF), continuation bytes 80..BF.
 */
function decodeShortUtf8(b: Uint8Array, start: number, end: number): string | undefined {
  if (end - start > shortUnits.length) return undefined;
  let k = 0;
  for (let i = start; i < end; k++) {
    const c = b[i]!;
    if (c < 0x80) {
      shortUnits[k] = c;
      i += 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      const c1 = i + 1 < end ? b[i + 1]! : 0;
      if ((c1 & 0xc0) !== 0x80) return undefined;
      shortUnits[k] = ((c & 0x1f) << 6) | (c1 & 0x3f);
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= end) return undefined;
      const c1 = b[i + 1]!, c2 = b[i + 2]!;
      const lo = c === 0xe0 ? 0xa0 : 0x80, hi = c === 0xed ? 0x9f : 0xbf;
      if (c1 < lo || c1 > hi || (c2 & 0xc0) !== 0x80) return undefined;
      shortUnits[k] = ((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f);
      i += 3;
    } else return undefined;
  }
  // apply takes any array-like (no copy into an array); TypeScript's signature asks for number[].
  return String.fromCharCode.apply(null, shortUnits.subarray(0, k) as unknown as number[]);
}

/** Buffered cursor over a file, for the header. */
class Cursor {
  #file: RandomAccessFile;
  #buf: Uint8Array = new Uint8Array(0);
  #bufStart = 0;
  pos = 0;
  // ignoreBOM: a string that starts with U+FEFF keeps it (Llama-2's token 30143 is exactly "\ufeff").
  static readonly #dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  constructor(file: RandomAccessFile) {
    this.#file = file;
  }

  async #ensure(n: number, what: string): Promise<DataView> {
    if (this.pos + n > this.#file.size) {
      throw new FormatError(
        `${this.#file.path}: ${what} at offset ${this.pos} needs ${n} bytes but the file ends at ${this.#file.size}`,
      );
    }
    const rel = this.pos - this.#bufStart;
    if (rel < 0 || rel + n > this.#buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.#file.size - this.pos);
      this.#buf = await this.#file.readAt(this.pos, len, what);
      this.#bufStart = this.pos;
    }
    return new DataView(
      this.#buf.buffer,
      this.#buf.byteOffset + (this.pos - this.#bufStart),
      n,
    );
  }

  get remaining(): number {
    return this.#file.size - this.pos;
  }

  async u32(what: string): Promise<number> {
    return await this.scalar(GgufValueType.UINT32, what) as number;
  }
  async u64(what: string): Promise<bigint> {
    return await this.scalar(GgufValueType.UINT64, what) as bigint;
  }
  /** A u64 that must be a safe count no larger than `max`. */
  async count(what: string, max: number): Promise<number> {
    const v = await this.u64(what);
    if (v > BigInt(max)) {
      throw new FormatError(
        `${this.#file.path}: ${what} = ${v} at offset ${
          this.pos - 8
        } is larger than the file allows (${max})`,
      );
    }
    return Number(v);
  }
  async string(what: string): Promise<string> {
    const len = await this.count(`${what} length`, Math.min(MAX_STRING, this.remaining));
    const view = await this.#ensure(len, what);
    this.pos += len;
    try {
      return Cursor.#dec.decode(new Uint8Array(view.buffer, view.byteOffset, len));
    } catch {
      throw new FormatError(`${this.#file.path}: ${what} at offset ${this.pos - len} is not UTF-8`);
    }
  }
  /**
   * Elements `j..` of an array of `elem` values into `out`, synchronously from
   * the bytes already buffered; returns the index of the first element not read.
   * An await per element costs more than the parsing (a tokenizer's arrays hold
   * some 400,000 strings), so the awaited {@link Cursor.scalar} only takes the
   * elements this stops at: one that runs past the buffer, or anything unusual
   * (a length out of range, bytes that fail to decode, a value `read` refuses),
   * which it then reads again with its checks and its error message.
   */
  bufferedElements(elem: number, out: GgufScalar[], j: number, n: number): number {
    const buf = this.#buf, view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    let rel = this.pos - this.#bufStart;
    if (rel < 0) return j;
    if (elem === GgufValueType.STRING) {
      for (; j < n && rel + 8 <= buf.length; j++) {
        const len = view.getUint32(rel, true);
        const end = rel + 8 + len;
        if (view.getUint32(rel + 4, true) !== 0 || len > MAX_STRING || end > buf.length) break;
        let text = decodeShortUtf8(buf, rel + 8, end);
        if (text === undefined) {
          try {
            text = Cursor.#dec.decode(buf.subarray(rel + 8, end));
          } catch {
            break;
          }
        }
        out[j] = text;
        rel = end;
      }
    } else {
      const row = GGUF_VALUE_TYPES[elem];
      if (row === undefined) return j;
      try {
        for (; j < n && rel + row.size <= buf.length; j++, rel += row.size) {
          out[j] = row.read(view, rel);
        }
      } catch {
        // The awaited read of element j reports it.
      }
    }
    this.pos = this.#bufStart + rel;
    return j;
  }
  async scalar(type: number, what: string): Promise<GgufScalar> {
    if (type === GgufValueType.STRING) return await this.string(what);
    const row = GGUF_VALUE_TYPES[type];
    if (row === undefined) {
      throw new FormatError(`${this.#file.path}: ${what} has unknown value type ${type}`);
    }
    const v = await this.#ensure(row.size, what);
    this.pos += row.size;
    try {
      return row.read(v, 0);
    } catch (e) {
      throw new FormatError(`${this.#file.path}: ${what}: ${(e as Error).message}`);
    }
  }
}

/** An open GGUF file: metadata, tensor infos, and tensor bytes on demand. */
export class GgufFile {
  readonly path: string;
  readonly version: number;
  readonly alignment: number;
  /** Absolute offset of the data section. */
  readonly dataOffset: number;
  readonly fileSize: number;
  readonly metadata: ReadonlyMap<string, GgufKv>;
  readonly tensors: readonly GgufTensorInfo[];
  #byName: Map<string, GgufTensorInfo>;
  #file: RandomAccessFile;

  constructor(
    file: RandomAccessFile,
    version: number,
    alignment: number,
    dataOffset: number,
    metadata: Map<string, GgufKv>,
    tensors: GgufTensorInfo[],
  ) {
    this.#file = file;
    this.path = file.path;
    this.fileSize = file.size;
    this.version = version;
    this.alignment = alignment;
    this.dataOffset = dataOffset;
    this.metadata = metadata;
    this.tensors = tensors;
    this.#byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** The raw entry for `key`, or undefined. */
  kv(key: string): GgufKv | undefined {
    return this.metadata.get(key);
  }

  /** The value of `key` when its type passes `is`; a missing key or another type names the key. */
  #value(key: string, is: (type: GgufValueType) => boolean, what: string): GgufKv["value"] {
    const kv = this.metadata.get(key);
    if (!kv) throw new FormatError(`${this.path}: metadata key "${key}" is missing`);
    if (!is(kv.type)) throw new FormatError(`${this.path}: metadata key "${key}" is not ${what}`);
    return kv.value;
  }

  /** A string value; a missing key or another type is an error naming the key. */
  getString(key: string): string {
    return this.#value(key, (t) => t === GgufValueType.STRING, "a string") as string;
  }

  /** A numeric scalar as a number (any integer or float type). */
  getNumber(key: string): number {
    const NOT_NUMBERS: number[] = [GgufValueType.STRING, GgufValueType.ARRAY, GgufValueType.BOOL];
    return Number(this.#value(key, (t) => !NOT_NUMBERS.includes(t), "a number"));
  }

  /** A bool value. */
  getBool(key: string): boolean {
    return this.#value(key, (t) => t === GgufValueType.BOOL, "a bool") as boolean;
  }

  /** An array value. */
  getArray(key: string): GgufScalar[] {
    return this.#value(key, (t) => t === GgufValueType.ARRAY, "an array") as GgufScalar[];
  }

  /** `general.architecture`. */
  get architecture(): string {
    return this.getString(Keys.general.architecture);
  }

  /** True when a tensor named `name` exists. */
  hasTensor(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The tensor named `name`; missing is a {@link ModelShapeError}. */
  tensor(name: string): GgufTensorInfo {
    const t = this.#byName.get(name);
    if (!t) throw new ModelShapeError(`${this.path}: tensor "${name}" is missing`);
    return t;
  }

  /** Reads one tensor's payload into a new buffer. */
  readTensor(t: GgufTensorInfo): Promise<Uint8Array> {
    return this.#file.readAt(t.fileOffset, t.nbytes, `tensor ${t.name}`);
  }

  /**
   * Fills `into` with the tensor's payload bytes from `start` (relative to the
   * payload): lets a loader read a large tensor slab by slab into one reused buffer.
   */
  readTensorSlice(t: GgufTensorInfo, start: number, into: Uint8Array): Promise<Uint8Array> {
    if (!Number.isSafeInteger(start) || start < 0 || start + into.length > t.nbytes) {
      throw new RangeError(
        `${t.name}: bytes ${start}..${start + into.length} lie outside its ${t.nbytes} bytes`,
      );
    }
    return this.#file.readInto(t.fileOffset + start, into, `tensor ${t.name}`);
  }

  /** Streams one tensor's payload in chunks (the chunk buffer is reused). */
  streamTensor(t: GgufTensorInfo, chunkSize = 1 << 22): AsyncGenerator<Uint8Array> {
    return this.#file.stream(t.fileOffset, t.nbytes, chunkSize, `tensor ${t.name}`);
  }

  close(): void {
    this.#file.close();
  }
}

/**
 * Opens and parses a GGUF file. Malformed files are a {@link FormatError};
 * unknown ggml types and versions an {@link UnsupportedError}.
 */
export async function openGguf(path: string): Promise<GgufFile> {
  const file = await RandomAccessFile.open(path);
  try {
    return await parse(file);
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Magic, version and the two counts, each checked against what the file can hold. */
async function readPreamble(c: Cursor, file: RandomAccessFile) {
  const p = file.path;
  if (file.size < 24) {
    throw new FormatError(`${p}: too small to be a GGUF file (${file.size} bytes)`);
  }
  const magic = await c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    throw new FormatError(`${p}: not a GGUF file (magic 0x${magic.toString(16).padStart(8, "0")})`);
  }
  const version = await c.u32("version");
  if ((version & 0xffff) === 0 && version !== 0) {
    throw new UnsupportedError(
      `${p}: big-endian GGUF files are not supported (version field ${version})`,
    );
  }
  if (version !== 2 && version !== 3) {
    throw new UnsupportedError(`${p}: GGUF version ${version} is not supported (2 and 3 are)`);
  }
  // Each tensor info takes at least 8+1+4+4+8+8 bytes, each KV at least 8+1+4+1.
  const tensorCount = await c.count("tensor_count", Math.floor(file.size / 32));
  const kvCount = await c.count("kv_count", Math.floor(file.size / 14));
  return { version, tensorCount, kvCount };
}

/** One key/value: its key, value type and value (arrays of any scalar type; never nested). */
async function readKv(c: Cursor, p: string, i: number, seen: Map<string, GgufKv>): Promise<GgufKv> {
  const key = await c.string(`key #${i}`);
  if (key.length === 0) throw new FormatError(`${p}: key #${i} is empty`);
  if (seen.has(key)) throw new FormatError(`${p}: duplicate metadata key "${key}"`);
  const type = await c.u32(`type of "${key}"`);
  if (type !== GgufValueType.ARRAY) {
    // An unknown type is refused by the cursor, with the key named.
    return { key, type: type as GgufValueType, value: await c.scalar(type, `"${key}"`) };
  }
  const elem = await c.u32(`element type of "${key}"`);
  if (elem === GgufValueType.ARRAY) {
    throw new FormatError(`${p}: "${key}" is a nested array (llama.cpp rejects them)`);
  }
  if (elem !== GgufValueType.STRING && GGUF_VALUE_TYPES[elem] === undefined) {
    throw new FormatError(`${p}: "${key}" has unknown array element type ${elem}`);
  }
  const minSize = GGUF_VALUE_TYPES[elem]?.size ?? 8;
  const n = await c.count(
    `length of "${key}"`,
    Math.min(MAX_ARRAY, Math.floor(c.remaining / minSize)),
  );
  const values: GgufScalar[] = new Array(n);
  for (let j = 0; j < n;) {
    j = c.bufferedElements(elem, values, j, n);
    if (j < n) values[j] = await c.scalar(elem, `"${key}"[${j}]`), j++;
  }
  return { key, type, arrayType: elem as GgufValueType, value: values };
}

/** `general.alignment` when present (a u32 power of two), else the default. */
function alignmentOf(metadata: Map<string, GgufKv>, p: string): number {
  const kv = metadata.get(Keys.general.alignment);
  if (!kv) return GGUF_DEFAULT_ALIGNMENT;
  const a = Number(kv.value);
  if (kv.type !== GgufValueType.UINT32 || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
    throw new FormatError(`${p}: general.alignment must be a u32 power of two, got ${kv.value}`);
  }
  return a;
}

/** One tensor info: name, dims (each checked), type (known to the codec table), aligned offset. */
async function readTensorInfo(c: Cursor, file: RandomAccessFile, i: number, alignment: number) {
  const p = file.path;
  const name = await c.string(`name of tensor #${i}`);
  const nDims = await c.u32(`n_dims of ${name}`);
  if (nDims < 1 || nDims > MAX_DIMS) {
    throw new FormatError(`${p}: tensor ${name} has ${nDims} dims (1 to ${MAX_DIMS} allowed)`);
  }
  const ne: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const v = await c.u64(`dim ${d} of ${name}`);
    if (v === 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError(`${p}: tensor ${name} has invalid dim ${d} = ${v}`);
    }
    ne.push(Number(v));
    elements *= Number(v);
    if (!Number.isSafeInteger(elements) || elements > file.size * 8) {
      throw new FormatError(`${p}: tensor ${name} has more elements than the file can hold`);
    }
  }
  const type = codecOf(await c.u32(`type of ${name}`), `${p}: tensor ${name}`).id;
  const offset = await c.count(`offset of ${name}`, file.size);
  if (offset % alignment !== 0) {
    throw new FormatError(`${p}: tensor ${name} offset ${offset} is not aligned to ${alignment}`);
  }
  return { name, ne, type, offset, nbytes: tensorByteSize(type, ne, `${p}: tensor ${name}`) };
}

/** Every payload lies inside the file, and no two overlap. */
function checkLayout(tensors: GgufTensorInfo[], file: RandomAccessFile): void {
  const p = file.path;
  for (const t of tensors) {
    if (t.fileOffset + t.nbytes > file.size) {
      throw new FormatError(
        `${p}: tensor ${t.name} data (offset ${t.fileOffset}, ${t.nbytes} bytes) lies past the end of the file (${file.size} bytes)`,
      );
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (prev.offset + prev.nbytes > cur.offset) {
      throw new FormatError(`${p}: tensors ${prev.name} and ${cur.name} overlap`);
    }
  }
}

async function parse(file: RandomAccessFile): Promise<GgufFile> {
  const c = new Cursor(file);
  const { version, tensorCount, kvCount } = await readPreamble(c, file);
  const metadata = new Map<string, GgufKv>();
  for (let i = 0; i < kvCount; i++) {
    const kv = await readKv(c, file.path, i, metadata);
    metadata.set(kv.key, kv);
  }
  const alignment = alignmentOf(metadata, file.path);
  const raw = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const info = await readTensorInfo(c, file, i, alignment);
    if (names.has(info.name)) {
      throw new FormatError(`${file.path}: duplicate tensor name "${info.name}"`);
    }
    names.add(info.name);
    raw.push(info);
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = raw.map((r) => ({
    ...r,
    shape: [...r.ne].reverse(),
    fileOffset: dataOffset + r.offset,
  }));
  checkLayout(tensors, file);
  return new GgufFile(file, version, alignment, dataOffset, metadata, tensors);
}
