/**
 * A gguf-hash manifest (llama.cpp's format, see docs/explanation/provenance.md
 * §4) against the digests of a GGUF: every line must name this file or one of
 * its tensors, with an algorithm gguf-hash writes, and match; every tensor
 * needs a line for each per-tensor algorithm the manifest uses.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { checkManifest, manifestAlgorithms } from "./verify_manifest.ts";
 * import { hashGguf, parseGgufHashManifest } from "./gguf_hash.ts";
 * const gguf = await openGguf("m.gguf");
 * const entries = parseGgufHashManifest(await Deno.readTextFile("m.gguf-hash"), "m.gguf-hash");
 * const need = manifestAlgorithms(entries);
 * const hashes = await hashGguf(gguf, { tensor: need.tensor, model: need.model });
 * const { mismatches } = checkManifest("m.gguf-hash", entries, gguf, hashes);
 * ```
 * @module
 */

import type { GgufFile } from "../gguf/reader.ts";
import {
  GGUF_HASH_ALGOS,
  type GgufHashAlgo,
  type GgufHashes,
  type GgufHashManifestEntry,
  type TensorHashAlgo,
} from "./gguf_hash.ts";

const TENSOR_ALGOS: readonly TensorHashAlgo[] = ["xxh64", "sha1", "sha256"];

/**
 * The digests a manifest needs: per tensor (xxh64 always, meta.json's
 * locator, and `also`: sha256 for a meta.json written before xxh64) and for
 * the whole model.
 *
 * @example
 * ```ts
 * manifestAlgorithms([]); // { tensor: ["xxh64"], model: [] }
 * manifestAlgorithms([], ["sha256"]); // { tensor: ["xxh64", "sha256"], model: [] }
 * ```
 */
export function manifestAlgorithms(
  entries: readonly GgufHashManifestEntry[],
  also: readonly TensorHashAlgo[] = [],
): { tensor: TensorHashAlgo[]; model: GgufHashAlgo[] } {
  const model = GGUF_HASH_ALGOS.filter((a) => entries.some((e) => e.algo === a));
  const tensor = TENSOR_ALGOS.filter((a) => a === "xxh64" || also.includes(a) || model.includes(a));
  return { tensor, model };
}

/** Splits a manifest label into (file label, tensor) using the GGUF's tensor names. */
function tensorOfLabel(label: string, names: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  for (let i = label.indexOf(":"); i >= 0; i = label.indexOf(":", i + 1)) {
    const candidate = label.slice(i + 1);
    if (names.has(candidate) && (best === undefined || candidate.length > best.length)) {
      best = candidate;
    }
  }
  return best;
}

/** The one file label the tensor lines share (whatever precedes ":<tensor>"). */
function fileLabelOf(
  tensorOf: ReadonlyMap<GgufHashManifestEntry, string | undefined>,
  file: string,
  bad: string[],
): string | undefined {
  const prefixes = new Set<string>();
  for (const [e, t] of tensorOf) if (t !== undefined) prefixes.add(e.label.slice(0, -t.length - 1));
  if (prefixes.size > 1) {
    bad.push(`${file}: tensor lines name several files (${[...prefixes].join(", ")})`);
  }
  return prefixes.size === 1 ? [...prefixes][0]! : undefined;
}

/** A line without a tensor: the whole model's digest, or a label that names nothing here. */
function checkModelLine(
  e: GgufHashManifestEntry,
  fileLabel: string | undefined,
  where: string,
  gguf: GgufFile,
  hashes: GgufHashes,
): string | undefined {
  if (fileLabel !== undefined && e.label.startsWith(`${fileLabel}:`)) {
    return `${where}: tensor ${e.label.slice(fileLabel.length + 1)} is not in ${gguf.path}`;
  }
  if (fileLabel !== undefined && e.label !== fileLabel) {
    return `${where}: label ${e.label} is neither ${fileLabel} nor one of its tensors`;
  }
  const algo = e.algo as GgufHashAlgo;
  const have = hashes.model[algo];
  return have === e.hex
    ? undefined
    : `${where}: whole-model ${algo} ${e.hex} recorded, ${have} computed`;
}

/**
 * Checks every line (see the module comment). A line with an algorithm
 * gguf-hash does not write is a mismatch: it cannot be checked, and a
 * manifest this tool or gguf-hash wrote never has one.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { hashGguf, parseGgufHashManifest } from "./gguf_hash.ts";
 * const gguf = await openGguf("m.gguf");
 * const entries = parseGgufHashManifest(await Deno.readTextFile("m.gguf-hash"), "m.gguf-hash");
 * const hashes = await hashGguf(gguf, manifestAlgorithms(entries));
 * const check = checkManifest("m.gguf-hash", entries, gguf, hashes);
 * console.log(check.detail, check.mismatches);
 * ```
 */
export function checkManifest(
  file: string,
  entries: readonly GgufHashManifestEntry[],
  gguf: GgufFile,
  hashes: GgufHashes,
): { detail: string; mismatches: string[] } {
  const names = new Set(gguf.tensors.map((t) => t.name));
  const byName = new Map(hashes.tensors.map((t) => [t.name, t]));
  const bad: string[] = [];
  const known = entries.filter((e) => {
    const ok = (GGUF_HASH_ALGOS as readonly string[]).includes(e.algo);
    if (!ok) {
      bad.push(
        `${file} line ${e.line}: unknown algorithm ${e.algo} (gguf-hash writes ${
          GGUF_HASH_ALGOS.join(", ")
        })`,
      );
    }
    return ok;
  });
  const tensorOf = new Map(known.map((e) => [e, tensorOfLabel(e.label, names)]));
  const fileLabel = fileLabelOf(tensorOf, file, bad);
  const seen = new Map<string, Set<string>>(); // algo → tensors that have a line
  let checked = 0;
  for (const e of known) {
    const algo = e.algo as GgufHashAlgo;
    const tensor = tensorOf.get(e);
    const where = `${file} line ${e.line}`;
    if (tensor === undefined) {
      const problem = checkModelLine(e, fileLabel, where, gguf, hashes);
      if (problem === undefined) checked++;
      else bad.push(problem);
    } else if (algo === "uuid") {
      bad.push(
        `${where}: a uuid line for tensor ${tensor} (gguf-hash writes uuid for the model only)`,
      );
    } else {
      checked++;
      if (!seen.has(algo)) seen.set(algo, new Set());
      seen.get(algo)!.add(tensor);
      const have = byName.get(tensor)!.hex[algo];
      if (have !== e.hex) {
        bad.push(`${where}: tensor ${tensor}: ${algo} ${e.hex} recorded, ${have} computed`);
      }
    }
  }
  for (const [algo, got] of seen) {
    for (const t of gguf.tensors) {
      if (!got.has(t.name)) bad.push(`${file}: tensor ${t.name} has no ${algo} line`);
    }
  }
  if (checked === 0 && bad.length === 0) bad.push(`${file}: no line to check`);
  return { detail: `${checked} lines checked`, mismatches: bad };
}
