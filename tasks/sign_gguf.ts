/**
 * `deno task model-sign <gguf> --key KEY`: verifies a GGUF against its
 * fingerprint, meta.json and manifest, then writes `<stem>.sig`, a detached
 * Ed25519 signature over the fingerprint and meta.json (message defined in
 * lib/provenance/signature.ts). `--generate-key --key KEY` creates a key pair
 * instead: KEY (PKCS#8 PEM, mode 0600) and KEY.pub (SPKI PEM, or --pubkey PUB).
 *
 * @example
 * ```sh
 * deno task model-sign --generate-key --key keys/signing.pem
 * deno task model-sign models/clean/clean-f16.gguf --key keys/signing.pem
 * ```
 * @module
 */

import { EXIT, UsageError } from "../lib/errors.ts";
import { parseTaskArgs, runTask } from "../lib/cli/run.ts";
import { generateKeyFiles, loadPrivateKey, signGguf } from "../lib/provenance/signature.ts";
import { assertVerified, formatVerifyReport, verifyGguf } from "../lib/provenance/verify.ts";

const USAGE = `usage: deno task model-sign <gguf> --key KEY [--sig FILE] [--meta FILE]
       deno task model-sign --generate-key --key KEY [--pubkey PUB]

Signs <gguf>'s fingerprint and meta.json with an Ed25519 private key (PKCS#8 PEM)
after checking the file against its fingerprint, meta.json and gguf-hash manifest
(exit 19 if they disagree). Writes <stem>.sig (or --sig FILE).

--generate-key writes a new pair: KEY (private, mode 0600) and PUB (default KEY.pub);
existing files are never overwritten.
`;

/** The flags; anything unknown or malformed is a UsageError (exit 2). */
const OPTIONS = {
  key: { type: "string" },
  pubkey: { type: "string" },
  sig: { type: "string" },
  meta: { type: "string" },
  "generate-key": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Runs the task; returns the exit code.
 *
 * @example
 * ```ts
 * await main(["models/clean/clean-f16.gguf", "--key", "keys/signing.pem"]); // 0
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseTaskArgs([...args], OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (values.key === undefined) throw new UsageError(`--key KEY is required\n${USAGE}`);

  if (values["generate-key"]) {
    if (positionals.length > 0) throw new UsageError("--generate-key takes no <gguf>");
    const pub = values.pubkey ?? `${values.key}.pub`;
    const { keyId } = await generateKeyFiles(values.key, pub);
    console.log(`wrote ${values.key} (private) and ${pub} (public), key-id ${keyId}`);
    return EXIT.ok;
  }
  if (values.pubkey !== undefined) {
    throw new UsageError("--pubkey only applies with --generate-key");
  }
  if (positionals.length !== 1) {
    throw new UsageError(`expected one <gguf>, got ${positionals.length}\n${USAGE}`);
  }
  const ggufPath = positionals[0]!;
  const privateKey = await loadPrivateKey(values.key);
  const metaOption = values.meta !== undefined ? { metaPath: values.meta } : {};

  const report = await verifyGguf({ ggufPath, ...metaOption });
  if (!report.ok) console.error(formatVerifyReport(report, { mismatches: false }).trimEnd());
  assertVerified(report);
  const signed = await signGguf({
    ggufPath,
    privateKey,
    fileSha256: report.fileSha256,
    ...metaOption,
    ...(values.sig !== undefined && { signaturePath: values.sig }),
  });
  console.log(`wrote ${signed.signaturePath} (key-id ${signed.keyId})`);
  return EXIT.ok;
}

if (import.meta.main) await runTask(() => main(Deno.args));
