/**
 * The companion files every GGUF we write gets — `<stem>.meta.json`,
 * `<stem>.fingerprint` and `<stem>.gguf-hash` — written the same way by the
 * export and the quantizer: payload digests are taken as the writer emits the
 * tensors (no second read), then the three files join the GGUF in the same
 * atomic commit.
 *
 * Files beside the GGUF that describe an earlier one — a `.sig`, a
 * `.baseline.md/.json/.svg`, a `.gguf-hash` this run did not write — would
 * otherwise stay beside the new bytes and speak for them. Unless the new
 * GGUF and meta.json are byte-identical to the ones they described (a
 * reproducible re-export keeps its signature), they are listed as `stale`
 * and removed by the commit itself, before the new GGUF is placed
 * (lib/io/atomic.ts), so they never stand beside it.
 *
 * @example
 * ```ts
 * import { commitModel, companionHasher } from "./companions.ts";
 * const hashes = companionHasher(); // xxh64, llama-gguf-hash's default
 * // or: companionHasher(["xxh64", "sha256"]) for sha256 lines too
 * // per tensor, as it is written: hashes.begin(); hashes.update(bytes); hashes.end(name);
 * // after the GGUF: const written = await commitModel(outputs, ggufFile, "clean-f16", meta, ggufSha256, hashes);
 * // written.removed: the stale companions of an earlier export
 * ```
 * @module
 */

import { join, resolve } from "node:path";
import type { AtomicFile, AtomicOutputs, ByteSink, CommitHooks } from "../io/atomic.ts";
import { PipelinedWriter } from "../io/pipelined_writer.ts";
import type { GgufTensorPlan, GgufWriter } from "../gguf/writer.ts";
import { type GgufHashAlgo, manifestRequest, PayloadHashing } from "./gguf_hash.ts";
import { fingerprintLine, type GgufMeta, type MetaTensor, serializeMeta } from "./meta.ts";

/**
 * Digests of the gguf-hash manifest (llama.cpp's format) written beside every
 * GGUF unless others are asked for: llama-gguf-hash's default, xxh64 per tensor
 * and for the model. The whole-file sha256 (the fingerprint) is the integrity
 * guarantee; sha256 lines cost a full sha256 pass more and are opt-in.
 */
export const MANIFEST_ALGOS: readonly GgufHashAlgo[] = ["xxh64"];

/**
 * Per-tensor and whole-model hashers for a manifest of `algos` (any order;
 * empty means the default). Every tensor's xxh64 is taken whatever the
 * manifest holds: it is the `xxh64` of its meta.json row.
 *
 * @example
 * ```ts
 * companionHasher(["sha256"]).manifest("m.gguf");
 * // "sha256    e3b0c442…  m.gguf\n": the model's sha256 line (per tensor: xxh64 and sha256)
 * ```
 */
export function companionHasher(
  algos: readonly GgufHashAlgo[] = MANIFEST_ALGOS,
): PayloadHashing {
  return new PayloadHashing(
    manifestRequest(algos.length === 0 ? MANIFEST_ALGOS : algos, ["xxh64"]),
  );
}

/** One tensor's bytes as written, and its meta.json row, known once the bytes have passed. */
export interface ProducedTensor {
  readonly chunks: AsyncIterable<Uint8Array>;
  row(): Omit<MetaTensor, "gguf_name" | "shape" | "xxh64" | "sha256">;
}

/**
 * Streams every tensor planned in `w` into `file`, taking each payload's
 * digests as it goes by (into `hashes`, or an xxh64 of its own per tensor
 * when no manifest is kept), and returns the meta.json rows in file order.
 */
async function writeTensors(
  w: GgufWriter,
  file: ByteSink,
  hashes: PayloadHashing | null,
  produce: (tensor: GgufTensorPlan, index: number) => ProducedTensor,
): Promise<MetaTensor[]> {
  const rows: MetaTensor[] = [];
  const hash = hashes ?? new PayloadHashing({ tensor: ["xxh64"] });
  await w.write(file, async function* (tensor, i) {
    const produced = produce(tensor, i);
    hash.begin();
    for await (const chunk of produced.chunks) {
      hash.update(chunk);
      yield chunk;
    }
    hash.end(tensor.name);
    const { clamped, ternary_scale, ...row } = produced.row();
    rows.push({
      gguf_name: tensor.name,
      hf_name: row.hf_name,
      gguf_type: row.gguf_type,
      shape: [...tensor.shape],
      source_dtype: row.source_dtype,
      rms: row.rms,
      min: row.min,
      max: row.max,
      xxh64: hash.tensors.at(-1)!.hex.xxh64!,
      action: row.action,
      ...(clamped !== undefined ? { clamped } : {}),
      ...(ternary_scale !== undefined ? { ternary_scale } : {}),
    });
  });
  return rows;
}

/**
 * Fills `file`'s temporary file with the GGUF planned in `w` through a
 * {@link PipelinedWriter} (reused buffers, positional writes, the fingerprint
 * computed on the other core as the bytes are written), taking the payload
 * digests of each tensor as it goes by; then closes `file`, which its outputs
 * still sync and rename at commit (or remove on abort). Returns
 * the meta.json rows, and the GGUF's sha256 and size.
 *
 * @example
 * ```ts
 * import { AtomicOutputs } from "../io/atomic.ts";
 * import { GgufWriter } from "../gguf/writer.ts";
 * const outputs = await AtomicOutputs.create("models/x");
 * const file = await outputs.file("x.gguf");
 * const written = await writeGguf(file, new GgufWriter(), null, () => {
 *   throw new Error("no tensors planned");
 * });
 * written.sha256; // the fingerprint's hex
 * ```
 */
export async function writeGguf(
  file: AtomicFile,
  w: GgufWriter,
  hashes: PayloadHashing | null,
  produce: (tensor: GgufTensorPlan, index: number) => ProducedTensor,
): Promise<{ tensors: MetaTensor[]; sha256: string; bytes: number }> {
  const sink = await PipelinedWriter.open(file.tempPath);
  let tensors: MetaTensor[];
  let written: { sha256: string; bytes: number };
  try {
    tensors = await writeTensors(w, sink, hashes, produce);
    written = await sink.finish();
  } finally {
    sink.abort();
  }
  await file.close(); // early: it is still renamed only at commit
  return { tensors, ...written };
}

/** What {@link writeGguf} wrote. */
export type WrittenGguf = Awaited<ReturnType<typeof writeGguf>>;

/** Files named after a GGUF's stem that describe its bytes, besides those every run writes. */
export const DESCRIBING_SUFFIXES: readonly string[] = [
  ".sig",
  ".baseline.md",
  ".baseline.json",
  ".baseline.svg",
  ".gguf-hash",
];

/** The file's text, or null when there is no such file. */
async function readIfExists(path: string): Promise<string | null> {
  return await Deno.readTextFile(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  });
}

/**
 * The files beside `<dir>/<stem>.gguf` that describe an earlier export and
 * will not be rewritten: none when the fingerprint and meta.json about to be
 * written equal the ones on disk byte for byte, else every existing
 * {@link DESCRIBING_SUFFIXES} file that is neither `written` nor in `keep`.
 *
 * @example
 * ```ts
 * await staleCompanions("models/clean", "clean-f16", { fingerprint: "sha256-…\n", meta: "{…}" }, [], []);
 * // ["models/clean/clean-f16.sig"] after an export that changed the bytes
 * ```
 */
export async function staleCompanions(
  dir: string,
  stem: string,
  next: { readonly fingerprint: string; readonly meta: string },
  written: readonly string[],
  keep: readonly string[],
): Promise<string[]> {
  const base = join(dir, stem);
  const [fingerprint, meta] = await Promise.all([
    readIfExists(`${base}.fingerprint`),
    readIfExists(`${base}.meta.json`),
  ]);
  if (fingerprint === next.fingerprint && meta === next.meta) return [];
  const spared = new Set([...written, ...keep].map((p) => resolve(p)));
  const stale: string[] = [];
  for (const suffix of DESCRIBING_SUFFIXES) {
    const path = `${base}${suffix}`;
    if (spared.has(resolve(path))) continue;
    try {
      await Deno.lstat(path);
      stale.push(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return stale;
}

/** The options an export and a quantization share: what the run records and whom it tells. */
export interface ModelOutputOptions {
  /** Digests of the `.gguf-hash` manifest; default xxh64 alone, as llama-gguf-hash. */
  manifest?: readonly GgufHashAlgo[];
  /** Record the time in meta.json (off by default: reproducible files). */
  timestamp?: boolean;
  /** Called before each tensor is written, and once at the end. */
  onProgress?: (done: number, total: number, tensor: string) => void;
  /** Called with each warning (also recorded in meta.json). */
  onWarning?: (message: string) => void;
  /** Observers of the output commit's steps, for crash tests (no task sets them). */
  commitHooks?: CommitHooks;
}

/** What an export or a quantization wrote, once committed. */
export interface WrittenModel {
  ggufPath: string;
  metaPath: string;
  fingerprintPath: string;
  /** Null when no manifest was asked for. */
  manifestPath: string | null;
  /** `sha256-<hex>` of the written GGUF. */
  fingerprint: string;
  meta: GgufMeta;
  /** Companions of an earlier file (.sig, .baseline.*) removed because they no longer match. */
  removed: string[];
}

/**
 * The last step of an export or a quantization: meta.json, the fingerprint
 * and (when `hashes` is given) the manifest of the GGUF written into
 * `ggufFile`, added to `outputs`; the stale companions of an earlier export
 * (`keep`: paths never counted stale) marked for removal before the new GGUF
 * is placed; then the whole output set committed.
 *
 * @example
 * ```ts
 * import { commitModel } from "./companions.ts";
 * import type { AtomicFile, AtomicOutputs } from "../io/atomic.ts";
 * import type { GgufMeta } from "./meta.ts";
 * declare const outputs: AtomicOutputs, ggufFile: AtomicFile, meta: GgufMeta, sha: string;
 * const written = await commitModel(outputs, ggufFile, "clean-f16", meta, sha, null);
 * written.ggufPath; // ".../clean-f16.gguf", now in place
 * ```
 */
export async function commitModel(
  outputs: AtomicOutputs,
  ggufFile: AtomicFile,
  stem: string,
  meta: GgufMeta,
  ggufSha256: string,
  hashes: PayloadHashing | null,
  keep: readonly string[] = [],
): Promise<WrittenModel> {
  const next = { fingerprint: fingerprintLine(ggufSha256), meta: serializeMeta(meta) };
  const written = hashes ? [join(outputs.dir, `${stem}.gguf-hash`)] : [];
  outputs.replaces(await staleCompanions(outputs.dir, stem, next, written, keep));
  const files: [string, string][] = [[".meta.json", next.meta], [".fingerprint", next.fingerprint]];
  if (hashes) files.push([".gguf-hash", hashes.manifest(`${stem}.gguf`)]);
  const paths: string[] = [];
  for (const [suffix, text] of files) {
    const file = await outputs.file(`${stem}${suffix}`);
    await file.writeText(text);
    paths.push(file.finalPath);
  }
  const removed = await outputs.commit();
  const [metaPath, fingerprintPath, manifestPath = null] = paths as [string, string, string?];
  return {
    ggufPath: ggufFile.finalPath,
    metaPath,
    fingerprintPath,
    manifestPath,
    fingerprint: meta.fingerprint,
    meta,
    removed,
  };
}
