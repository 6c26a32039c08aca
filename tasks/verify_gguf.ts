/**
 * `deno task model-verify <gguf> [options]`: checks a GGUF against its
 * fingerprint, meta.json, gguf-hash manifest and (with --pubkey) signature,
 * naming every mismatch; exit 19 on any. `--gguf-hash` instead prints the
 * llama.cpp gguf-hash manifest of any GGUF.
 *
 * @example
 * ```sh
 * deno task model-verify models/clean/clean-f16.gguf --pubkey keys/signing.pem.pub
 * deno task model-verify some.gguf --gguf-hash --algos xxh64,sha256 > some.gguf-hash
 * ```
 * @module
 */

import { EXIT, UsageError } from "../lib/errors.ts";
import { parseTaskArgs, runTask } from "../lib/cli/run.ts";
import { openGguf } from "../lib/gguf/reader.ts";
import { ggufHashManifest, parseGgufHashAlgos } from "../lib/provenance/gguf_hash.ts";
import { loadPublicKey } from "../lib/provenance/signature.ts";
import { assertVerified, formatVerifyReport, verifyGguf } from "../lib/provenance/verify.ts";

const USAGE = `usage: deno task model-verify <gguf> [options]

Checks <gguf> against the files beside it (found by stem: x.gguf → x.fingerprint,
x.meta.json, x.gguf-hash, x.sig) and names every mismatch. Exit 0 when verified,
19 on any mismatch (or when there is nothing to verify against).

options:
  --fingerprint FILE  fingerprint file (default <stem>.fingerprint)
  --meta FILE         meta.json (default <stem>.meta.json)
  --manifest FILE     gguf-hash manifest (default <stem>.gguf-hash)
  --sig FILE          signature (default <stem>.sig)
  --pubkey PUB        Ed25519 public key (SPKI PEM); the signature must then verify
  --require-signature a missing signature, or one not checked (no --pubkey), is exit 19
  --gguf-hash         print the llama.cpp gguf-hash manifest of <gguf> instead
  --algos LIST        with --gguf-hash: xxh64,sha1,sha256,uuid (default xxh64,sha256)
  -h, --help          this help
`;

/** The flags; anything unknown or malformed is a UsageError (exit 2). */
const OPTIONS = {
  fingerprint: { type: "string" },
  meta: { type: "string" },
  manifest: { type: "string" },
  sig: { type: "string" },
  pubkey: { type: "string" },
  "require-signature": { type: "boolean" },
  "gguf-hash": { type: "boolean" },
  algos: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Runs the task; returns the exit code.
 *
 * @example
 * ```ts
 * await main(["models/clean/clean-f16.gguf", "--pubkey", "keys/signing.pem.pub"]); // 0 or 19
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseTaskArgs([...args], OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(`expected one <gguf>, got ${positionals.length}\n${USAGE}`);
  }
  const ggufPath = positionals[0]!;

  if (values["gguf-hash"]) {
    const algos = parseGgufHashAlgos(values.algos ?? "xxh64,sha256");
    const gguf = await openGguf(ggufPath);
    try {
      // The label is the path as given, as llama-gguf-hash prints it.
      await Deno.stdout.write(
        new TextEncoder().encode(await ggufHashManifest(gguf, ggufPath, algos)),
      );
    } finally {
      gguf.close();
    }
    return EXIT.ok;
  }
  if (values.algos !== undefined) throw new UsageError("--algos only applies with --gguf-hash");

  const report = await verifyGguf({
    ggufPath,
    ...(values.fingerprint !== undefined && { fingerprintPath: values.fingerprint }),
    ...(values.meta !== undefined && { metaPath: values.meta }),
    ...(values.manifest !== undefined && { manifestPath: values.manifest }),
    ...(values.sig !== undefined && { signaturePath: values.sig }),
    ...(values.pubkey !== undefined && { publicKey: await loadPublicKey(values.pubkey) }),
    ...(values["require-signature"] === true && { requireSignature: true }),
  });
  // On failure the error below lists every mismatch: the table only summarizes.
  console.log(formatVerifyReport(report, { mismatches: false }).trimEnd());
  assertVerified(report);
  return EXIT.ok;
}

if (import.meta.main) await runTask(() => main(Deno.args));
