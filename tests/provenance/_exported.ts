/**
 * The fixture exported (F16) and quantized (I2_S) once per test file, with a
 * signing key, for the verify tests; and helpers to run `verifyGguf` on a copy
 * of an output set in which one file was changed.
 *
 * @example
 * ```ts
 * const sets = await exportedSets(await Deno.makeTempDir());
 * const report = await verifyChanged(sets[0]!, "meta.json", (b) => b, { signed: false });
 * ```
 * @module
 */

import { basename, join } from "node:path";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { generateSigningKeyPair, importKeyPem, signGguf } from "../../lib/provenance/signature.ts";
import { verifyGguf, type VerifyReport } from "../../lib/provenance/verify.ts";

/** The files of one output set. */
export type SetFile = "gguf" | "meta.json" | "fingerprint" | "manifest" | "sig";

const SUFFIX: Record<SetFile, string> = {
  gguf: ".gguf",
  "meta.json": ".meta.json",
  fingerprint: ".fingerprint",
  manifest: ".gguf-hash",
  sig: ".sig",
};

/** One exported GGUF with its companions and signature. */
export interface OutputSet {
  /** "f16" or "i2_s". */
  readonly name: string;
  readonly dir: string;
  readonly stem: string;
  readonly publicKey: CryptoKey;
  /** Path of each file of the set. */
  path(file: SetFile): string;
}

/** Exports the fixture to `root/f16`, quantizes it to `root/i2_s`, signs both with one new key. */
export async function exportedSets(root: string): Promise<OutputSet[]> {
  const pair = await generateSigningKeyPair();
  const privateKey = await importKeyPem(pair.privatePem, "test key", "private");
  const publicKey = await importKeyPem(pair.publicPem, "test key", "public");
  const f16 = await exportCleanGguf({
    modelDir: "fixtures/tiny-bitnet",
    tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
    outDir: join(root, "f16"),
    quiet: true,
  });
  const i2s = await quantizeGguf({ input: f16.ggufPath, outDir: join(root, "i2_s"), type: "i2_s" });
  const sets: OutputSet[] = [];
  for (const [name, ggufPath] of [["f16", f16.ggufPath], ["i2_s", i2s.ggufPath]] as const) {
    await signGguf({ ggufPath, privateKey });
    const stem = basename(ggufPath, ".gguf");
    const dir = join(root, name);
    sets.push({ name, dir, stem, publicKey, path: (f) => join(dir, stem + SUFFIX[f]) });
  }
  return sets;
}

/** How to run verify on a changed set. */
export interface VerifyMode {
  /** Keep the set's `.sig` (otherwise the copy has none). */
  readonly signed: boolean;
  /** Give the public key (only with `signed`). */
  readonly withKey?: boolean;
  /** Verify with `requireSignature`. */
  readonly requireSignature?: boolean;
}

let scratchCount = 0;

/**
 * Copies `set` into a new folder (hard links, and the changed file written
 * anew), runs `verifyGguf` on the copy with the mode's signature and key, and
 * removes the copy.
 */
export async function verifyChanged(
  set: OutputSet,
  file: SetFile,
  change: (bytes: Uint8Array) => Uint8Array,
  mode: VerifyMode,
): Promise<VerifyReport> {
  const dir = join(set.dir, "..", `scratch-${scratchCount++}`);
  await Deno.mkdir(dir);
  try {
    for (const f of Object.keys(SUFFIX) as SetFile[]) {
      if (f === "sig" && !mode.signed) continue;
      const to = join(dir, set.stem + SUFFIX[f]);
      if (f === file) await Deno.writeFile(to, change(await Deno.readFile(set.path(f))));
      else await Deno.link(set.path(f), to);
    }
    return await verifyGguf({
      ggufPath: join(dir, set.stem + SUFFIX.gguf),
      ...(mode.signed && mode.withKey ? { publicKey: set.publicKey } : {}),
      ...(mode.requireSignature ? { requireSignature: true } : {}),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
