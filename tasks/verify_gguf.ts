/**
 * `deno task model-verify <gguf> [options]`: checks a GGUF against its
 * fingerprint, meta.json, gguf-hash manifest and (with --pubkey) signature,
 * naming every mismatch; exit 19 on any. `--gguf-hash` instead prints the
 * llama.cpp gguf-hash manifest of any GGUF. The command line is
 * lib/cli/specs.ts.
 *
 * @example
 * ```sh
 * deno task model-verify models/clean/clean-f16.gguf --pubkey ~/.config/clean-gguf/signing.key.pub
 * deno task model-verify some.gguf --gguf-hash --algos xxh64,sha256 > some.gguf-hash
 * ```
 * @module
 */

import { EXIT, UsageError } from "../lib/errors.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import { VERIFY_SPEC } from "../lib/cli/specs.ts";
import { openGguf } from "../lib/gguf/reader.ts";
import { ggufHashManifest, parseGgufHashAlgos } from "../lib/provenance/gguf_hash.ts";
import { loadKey } from "../lib/provenance/signature.ts";
import {
  assertVerified,
  formatVerifyReport,
  verifyGguf,
  verifyReportJson,
} from "../lib/provenance/verify.ts";

async function printGgufHash(ggufPath: string, algos: string): Promise<void> {
  const gguf = await openGguf(ggufPath);
  try {
    // The label is the path as given, as llama-gguf-hash prints it.
    const manifest = await ggufHashManifest(gguf, ggufPath, parseGgufHashAlgos(algos));
    await Deno.stdout.write(new TextEncoder().encode(manifest));
  } finally {
    gguf.close();
  }
}

/** The task: the verification table (or JSON report), or the gguf-hash manifest. */
export const verifyTask: TaskBody<typeof VERIFY_SPEC> = async ({ flags: f, args }) => {
  if (f["gguf-hash"]) {
    await printGgufHash(args.model, f.algos ?? "xxh64,sha256");
    return EXIT.ok;
  }
  if (f.algos !== undefined) {
    throw new UsageError("model-verify: --algos only applies with --gguf-hash; see --help");
  }
  const report = await verifyGguf({
    ggufPath: args.model,
    ...(f.fingerprint !== undefined && { fingerprintPath: f.fingerprint }),
    ...(f.meta !== undefined && { metaPath: f.meta }),
    ...(f.manifest !== undefined && { manifestPath: f.manifest }),
    ...(f.sig !== undefined && { signaturePath: f.sig }),
    ...(f.pubkey !== undefined && { publicKey: await loadKey(f.pubkey, "public") }),
    ...(f["require-signature"] === true && { requireSignature: true }),
  });
  // On failure the error below lists every mismatch: the table only summarizes.
  if (f.json) printJson(verifyReportJson(report));
  else console.log(formatVerifyReport(report, { mismatches: false }).trimEnd());
  assertVerified(report);
  return EXIT.ok;
};

if (import.meta.main) await runTask(VERIFY_SPEC, verifyTask);
