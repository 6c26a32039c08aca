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

import type { AtomicOutputs } from "../io/atomic.ts";
import { formatGgufHashManifest, PayloadHashing } from "./gguf_hash.ts";
import { fingerprintLine, type GgufMeta, serializeMeta } from "./meta.ts";

/** Digests of the gguf-hash manifest (llama.cpp's format) written beside every GGUF. */
export const MANIFEST_ALGOS = ["xxh64", "sha256"] as const;

/**
 * Per-tensor and whole-model hashers for the manifest; each tensor's sha256 is
 * also the `sha256` of its meta.json row.
 */
export function companionHasher(): Promise<PayloadHashing> {
  return PayloadHashing.create({ tensor: MANIFEST_ALGOS, model: MANIFEST_ALGOS });
}

/** The sha256 of the tensor that was just ended. */
export function lastTensorSha256(hashes: PayloadHashing): string {
  return hashes.tensors.at(-1)!.hex.sha256!;
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
