/**
 * Opens a Hugging Face checkpoint folder — one `model.safetensors`, or shards
 * listed by `model.safetensors.index.json` — validates every header before any
 * tensor data is read, and then reads or streams tensor payloads on demand.
 *
 * Errors: a missing folder, file or shard is an {@link InputError} (exit 3); a
 * malformed header or index a {@link FormatError} (exit 4); a dtype other than
 * F32, F16, BF16, U8, I8 an {@link UnsupportedError} (exit 5); asking for a
 * tensor that is not there a {@link ModelShapeError} (exit 9).
 *
 * @example
 * ```ts
 * import { SafetensorsCheckpoint } from "./reader.ts";
 * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
 * try {
 *   const t = ckpt.get("model.norm.weight"); // { dtype: "BF16", shape: [256], ... }
 *   const bytes = await ckpt.read(t.name);
 *   for await (const chunk of ckpt.stream("model.embed_tokens.weight", 1 << 16)) {
 *     console.log(chunk.length); // the buffer is reused: copy it to keep it
 *   }
 * } finally {
 *   ckpt.close();
 * }
 * ```
 * @module
 */

import { dirname, join } from "node:path";
import { FormatError, InputError, ModelShapeError } from "../errors.ts";
import { RandomAccessFile } from "../io/random_access.ts";
import {
  assertSupportedDtypes,
  DTYPE_SIZE,
  headerLength,
  MAX_HEADER_BYTES,
  parseHeader,
  SAFETENSORS_PREFIX_BYTES,
  type SafetensorsDtype,
  type SafetensorsHeader,
} from "./header.ts";
import { parseShardIndex, SHARD_INDEX_NAME, type ShardIndex } from "./index_file.ts";

export { DTYPE_SIZE, type SafetensorsDtype } from "./header.ts";

/** File name of an unsharded checkpoint. */
export const SINGLE_FILE_NAME = "model.safetensors";

/** Default chunk size of {@link SafetensorsCheckpoint.stream}. */
export const DEFAULT_CHUNK_BYTES = 1 << 22;

/** One tensor of a checkpoint: where its bytes are and what they mean. */
export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** PyTorch order (outermost first). */
  readonly shape: readonly number[];
  /** Path of the file that holds it. */
  readonly file: string;
  /** Absolute offset of the payload in `file`. */
  readonly fileOffset: number;
  /** Payload size: product(shape) × DTYPE_SIZE[dtype]. */
  readonly nbytes: number;
}

/** A source file of a checkpoint. */
export interface SafetensorsFile {
  readonly path: string;
  readonly size: number;
}

/** Where the checkpoint's files are. */
type Layout =
  | { readonly kind: "single"; readonly path: string }
  | { readonly kind: "sharded"; readonly dir: string; readonly indexPath: string };

/**
 * A validated, open checkpoint. Tensors keep the order of their bytes on disk
 * (files in {@link SafetensorsCheckpoint.files} order, then by offset), so that
 * reading them in `names()` order streams each file front to back.
 */
export class SafetensorsCheckpoint {
  /** The folder (or file) it was opened from. */
  readonly source: string;
  /** Source files in a stable order (the single file, or the shards sorted by name). */
  readonly files: readonly SafetensorsFile[];
  /** `__metadata__` of every file merged; the first file that sets a key wins. */
  readonly metadata: Readonly<Record<string, string>>;
  #tensors: ReadonlyMap<string, SafetensorsTensor>;
  #readers: ReadonlyMap<string, RandomAccessFile>;
  #closed = false;

  private constructor(
    source: string,
    files: readonly SafetensorsFile[],
    metadata: Readonly<Record<string, string>>,
    tensors: ReadonlyMap<string, SafetensorsTensor>,
    readers: ReadonlyMap<string, RandomAccessFile>,
  ) {
    this.source = source;
    this.files = files;
    this.metadata = metadata;
    this.#tensors = tensors;
    this.#readers = readers;
  }

  /**
   * Opens `modelDir`: a folder holding `model.safetensors` (preferred, as in
   * transformers) or `model.safetensors.index.json` plus its shards. A path to a
   * `.safetensors` file or to an index file is accepted too. Every header is
   * validated before this returns; no tensor data is read.
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * ckpt.names().length; // 46
   * ckpt.close();
   * ```
   */
  static async open(modelDir: string): Promise<SafetensorsCheckpoint> {
    const layout = await locate(modelDir);
    const opened: RandomAccessFile[] = [];
    try {
      const index = layout.kind === "sharded" ? await readShardIndex(layout.indexPath) : undefined;
      const paths = layout.kind === "single"
        ? [layout.path]
        : index!.shards.map((s) => join(layout.dir, s));
      const headers: SafetensorsHeader[] = [];
      const tensors = new Map<string, SafetensorsTensor>();
      const metadata: Record<string, string> = {};
      for (const [i, path] of paths.entries()) {
        const file = await openSource(path, layout, index, index?.shards[i]);
        opened.push(file);
        const header = await readHeader(file);
        headers.push(header);
        for (const [key, value] of Object.entries(header.metadata)) {
          if (!Object.hasOwn(metadata, key)) metadata[key] = value;
        }
        for (const entry of header.tensors) {
          const earlier = tensors.get(entry.name);
          if (earlier) {
            throw new FormatError(
              `tensor "${entry.name}" appears in both ${earlier.file} and ${path}`,
            );
          }
          tensors.set(entry.name, {
            name: entry.name,
            // Checked by assertSupportedDtypes below, once every header is known to be well formed.
            dtype: entry.dtype as SafetensorsDtype,
            shape: entry.shape,
            file: path,
            fileOffset: header.dataStart + entry.begin,
            nbytes: entry.end - entry.begin,
          });
        }
      }

      if (index && layout.kind === "sharded") {
        for (const [name, shard] of index.weightMap) {
          const expected = join(layout.dir, shard);
          const found = tensors.get(name);
          if (!found || found.file !== expected) {
            throw new FormatError(
              `${layout.indexPath}: lists tensor "${name}" in ${expected}, but that shard does not hold it${
                found ? ` (it is in ${found.file})` : ""
              }`,
            );
          }
        }
      }
      for (const [i, header] of headers.entries()) assertSupportedDtypes(header, paths[i]!);

      // Positional reads: concurrent reads of one file (e.g. stream read-ahead) are safe.
      const readers = new Map(opened.map((f) => [f.path, f]));
      const files = opened.map((f) => Object.freeze({ path: f.path, size: f.size }));
      return new SafetensorsCheckpoint(
        modelDir,
        Object.freeze(files),
        Object.freeze(metadata),
        tensors,
        readers,
      );
    } catch (e) {
      for (const f of opened) f.close();
      throw e;
    }
  }

  /**
   * Tensor names in on-disk order.
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * ckpt.names()[0]; // "model.embed_tokens.weight"
   * ```
   */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  /**
   * True when the checkpoint holds `name`.
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * ckpt.has("lm_head.weight"); // false for a tied-embedding model
   * ```
   */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /**
   * The tensor `name`; a missing one is a {@link ModelShapeError}.
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * ckpt.get("model.norm.weight").shape; // [256]
   * ```
   */
  get(name: string): SafetensorsTensor {
    const t = this.#tensors.get(name);
    if (!t) throw new ModelShapeError(`${this.source}: tensor "${name}" is missing`);
    return t;
  }

  /**
   * The whole payload of `name` in a new buffer (little-endian, as stored).
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * const bytes = await ckpt.read("model.norm.weight");
   * const bf16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
   * ```
   */
  read(name: string): Promise<Uint8Array> {
    const t = this.get(name);
    return this.#reader(t).readInto(t.fileOffset, new Uint8Array(t.nbytes), `tensor "${name}"`);
  }

  /**
   * Streams the payload of `name` in chunks of at most `chunkSize` bytes, each
   * holding whole elements (the size is rounded down to a multiple of the dtype
   * size). The yielded buffer is reused and starts 8-byte aligned: copy it to
   * keep it.
   *
   * @example
   * ```ts
   * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
   * for await (const chunk of ckpt.stream("model.embed_tokens.weight")) {
   *   const bf16 = new Uint16Array(chunk.buffer, chunk.byteOffset, chunk.length / 2);
   * }
   * ```
   */
  async *stream(name: string, chunkSize = DEFAULT_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
    const t = this.get(name);
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
      throw new RangeError(
        `stream("${name}"): chunkSize must be a positive integer, got ${chunkSize}`,
      );
    }
    const reader = this.#reader(t);
    const elementSize = DTYPE_SIZE[t.dtype];
    const step = Math.max(elementSize, chunkSize - (chunkSize % elementSize));
    yield* reader.stream(t.fileOffset, t.nbytes, step, `tensor "${name}"`);
  }

  /** Closes every file; later reads throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const r of this.#readers.values()) r.close();
  }

  #reader(t: SafetensorsTensor): RandomAccessFile {
    const r = this.#readers.get(t.file);
    if (this.#closed || !r) throw new Error(`${this.source}: checkpoint is closed`);
    return r;
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new InputError(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
}

async function locate(modelDir: string): Promise<Layout> {
  const st = await statOrNull(modelDir);
  if (!st) throw new InputError(`${modelDir}: model folder not found`);
  if (st.isFile) {
    return modelDir.endsWith(".index.json")
      ? { kind: "sharded", dir: dirname(modelDir), indexPath: modelDir }
      : { kind: "single", path: modelDir };
  }
  if (!st.isDirectory) throw new InputError(`${modelDir}: not a folder or a file`);

  const single = join(modelDir, SINGLE_FILE_NAME);
  if ((await statOrNull(single))?.isFile) return { kind: "single", path: single };
  const indexPath = join(modelDir, SHARD_INDEX_NAME);
  if ((await statOrNull(indexPath))?.isFile) return { kind: "sharded", dir: modelDir, indexPath };

  const others: string[] = [];
  try {
    for await (const e of Deno.readDir(modelDir)) {
      if (e.name.endsWith(".safetensors") || e.name.endsWith(".bin")) others.push(e.name);
    }
  } catch (e) {
    throw new InputError(`${modelDir}: cannot list the folder (${(e as Error).message})`, {
      cause: e,
    });
  }
  const hint = others.length ? `; found only ${others.sort().join(", ")}` : "";
  throw new InputError(
    `${modelDir}: no ${SINGLE_FILE_NAME} or ${SHARD_INDEX_NAME} in this folder${hint}`,
  );
}

async function readShardIndex(indexPath: string): Promise<ShardIndex> {
  const file = await RandomAccessFile.open(indexPath);
  try {
    if (file.size > MAX_HEADER_BYTES) {
      throw new FormatError(
        `${indexPath}: ${file.size} bytes is larger than the ${MAX_HEADER_BYTES}-byte limit for an index`,
      );
    }
    const bytes = await file.readAt(0, file.size, "index");
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      throw new FormatError(`${indexPath}: not valid UTF-8`, { cause: e });
    }
    return parseShardIndex(text, indexPath);
  } finally {
    file.close();
  }
}

async function openSource(
  path: string,
  layout: Layout,
  index: ShardIndex | undefined,
  shard: string | undefined,
): Promise<RandomAccessFile> {
  try {
    return await RandomAccessFile.open(path);
  } catch (e) {
    if (layout.kind !== "sharded" || !index || !(e instanceof InputError)) throw e;
    const holder = [...index.weightMap].find(([, s]) => s === shard)?.[0] ?? "";
    throw new InputError(
      `${path}: shard listed in ${layout.indexPath} (it should hold tensor "${holder}") cannot be opened (${e.message})`,
      { cause: e },
    );
  }
}

async function readHeader(file: RandomAccessFile): Promise<SafetensorsHeader> {
  if (file.size < SAFETENSORS_PREFIX_BYTES) {
    headerLength(new Uint8Array(0), file.path, file.size); // throws the "too small" FormatError
  }
  const prefix = await file.readAt(0, SAFETENSORS_PREFIX_BYTES, "header length");
  const n = headerLength(prefix, file.path, file.size);
  const json = await file.readAt(SAFETENSORS_PREFIX_BYTES, n, "header");
  return parseHeader(json, file.path, file.size);
}
