/**
 * The companion files every GGUF we write gets — `<stem>.meta.json`,
 * `<stem>.fingerprint` and `<stem>.gguf-hash` — written the same way by the
 * export and the quantizer: payload digests are taken as the writer emits the
 * tensors (no second read), then the three files join the GGUF in the same
 * atomic commit.
 *
 * @example
 * ```ts
 * import { companionHasher, writeCompanions } from "./companions.ts";
 * const hashes = await companionHasher();
 * // per tensor, as it is written: await hashes.begin(); hashes.update(bytes); hashes.end(name);
 * // after the GGUF: await writeCompanions(outputs, "clean-f16", meta, ggufSha256, hashes);
 * ```
 * @module
 */

import type { AtomicOutputs, ByteSink } from "../io/atomic.ts";
import type { GgufTensorPlan, GgufWriter } from "../gguf/writer.ts";
import { formatGgufHashManifest, PayloadHashing } from "./gguf_hash.ts";
import { fingerprintLine, type GgufMeta, type MetaTensor, serializeMeta } from "./meta.ts";

/** Digests of the gguf-hash manifest (llama.cpp's format) written beside every GGUF. */
export const MANIFEST_ALGOS = ["xxh64", "sha256"] as const;

/**
 * Per-tensor and whole-model hashers for the manifest; each tensor's sha256 is
 * also the `sha256` of its meta.json row.
 */
export function companionHasher(): Promise<PayloadHashing> {
  return PayloadHashing.create({ tensor: MANIFEST_ALGOS, model: MANIFEST_ALGOS });
}

/** One tensor's bytes as written, and its meta.json row, known once the bytes have passed. */
export interface ProducedTensor {
  readonly chunks: AsyncIterable<Uint8Array>;
  row(): Omit<MetaTensor, "gguf_name" | "shape" | "sha256">;
}

/**
 * Streams every tensor planned in `w` into `file`, taking each payload's
 * digests as it goes by (into `hashes`, or a sha256 of its own per tensor
 * when no manifest is kept), and returns the meta.json rows in file order.
 *
 * @example
 * ```ts
 * import { GgufWriter } from "../gguf/writer.ts";
 * const w = new GgufWriter();
 * const rows = await writeTensors(w, { write: async () => {} }, null, () => ({
 *   chunks: (async function* () {})(),
 *   row: () => ({ hf_name: null, gguf_type: "F32", source_dtype: null, rms: 0, min: 0, max: 0, action: "copied" }),
 * }));
 * rows.length; // 0
 * ```
 */
export async function writeTensors(
  w: GgufWriter,
  file: ByteSink,
  hashes: PayloadHashing | null,
  produce: (tensor: GgufTensorPlan, index: number) => ProducedTensor,
): Promise<MetaTensor[]> {
  const rows: MetaTensor[] = [];
  await w.write(file, async function* (tensor, i) {
    const produced = produce(tensor, i);
    const hash = hashes ?? await PayloadHashing.create({ tensor: ["sha256"] });
    await hash.begin();
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
      sha256: hash.tensors.at(-1)!.hex.sha256!,
      action: row.action,
      ...(clamped !== undefined ? { clamped } : {}),
      ...(ternary_scale !== undefined ? { ternary_scale } : {}),
    });
  });
  return rows;
}

/** Where the companions will land once committed. */
export interface CompanionPaths {
  metaPath: string;
  fingerprintPath: string;
  /** Null when no manifest was asked for. */
  manifestPath: string | null;
}

/**
 * Writes meta.json, the fingerprint and (when `hashes` is given) the manifest
 * into `outputs`, to be committed with the GGUF.
 */
export async function writeCompanions(
  outputs: AtomicOutputs,
  stem: string,
  meta: GgufMeta,
  ggufSha256: string,
  hashes: PayloadHashing | null,
): Promise<CompanionPaths> {
  const metaFile = await outputs.file(`${stem}.meta.json`);
  await metaFile.writeText(serializeMeta(meta));
  const fpFile = await outputs.file(`${stem}.fingerprint`);
  await fpFile.writeText(fingerprintLine(ggufSha256));
  let manifestPath: string | null = null;
  if (hashes) {
    const manifestFile = await outputs.file(`${stem}.gguf-hash`);
    await manifestFile.writeText(
      formatGgufHashManifest(
        { tensors: hashes.tensors, model: hashes.modelHex() },
        `${stem}.gguf`,
        MANIFEST_ALGOS,
      ),
    );
    manifestPath = manifestFile.finalPath;
  }
  return { metaPath: metaFile.finalPath, fingerprintPath: fpFile.finalPath, manifestPath };
}
