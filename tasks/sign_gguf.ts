/**
 * `deno task model-sign <gguf> --key KEY`: verifies a GGUF against its
 * fingerprint, meta.json and manifest, then writes `<stem>.sig`, a detached
 * Ed25519 signature over the fingerprint and meta.json (message defined in
 * lib/provenance/signature.ts). `--generate-key --key KEY` creates a key pair
 * instead: KEY (PKCS#8 PEM, mode 0600, in a folder created with mode 0700)
 * and KEY.pub (SPKI PEM, or --pubkey PUB); never inside a git work tree
 * unless --force. The command line is lib/cli/specs.ts.
 *
 * @example
 * ```sh
 * deno task model-sign --generate-key --key ~/.config/clean-gguf/signing.key
 * deno task model-sign models/clean/clean-f16.gguf --key ~/.config/clean-gguf/signing.key
 * ```
 * @module
 */

import { EXIT, UsageError } from "../lib/errors.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import { SIGN_SPEC } from "../lib/cli/specs.ts";
import { generateKeyFiles, loadKey, signGguf } from "../lib/provenance/signature.ts";
import { assertVerified, formatVerifyReport, verifyGguf } from "../lib/provenance/verify.ts";

/** The task: a new key pair, or a signature. */
export const signTask: TaskBody<typeof SIGN_SPEC> = async ({ flags: f, args }, ctx) => {
  if (f.key === undefined) throw new UsageError("model-sign: --key KEY is required; see --help");
  if (f["generate-key"]) {
    const pub = f.pubkey ?? `${f.key}.pub`;
    const { keyId } = await generateKeyFiles(f.key, pub, { force: f.force });
    if (f.json) printJson({ private_key: f.key, public_key: pub, key_id: keyId });
    else console.log(`wrote ${f.key} (private) and ${pub} (public), key-id ${keyId}`);
    return EXIT.ok;
  }
  for (const flag of ["pubkey", "force"] as const) {
    if (f[flag] !== undefined && f[flag] !== false) {
      throw new UsageError(`model-sign: --${flag} only applies with --generate-key; see --help`);
    }
  }
  const privateKey = await loadKey(f.key, "private");
  const metaOption = f.meta !== undefined ? { metaPath: f.meta } : {};
  const report = await verifyGguf({ ggufPath: args.model, ...metaOption });
  if (!report.ok && !f.quiet) {
    ctx.log(formatVerifyReport(report, { mismatches: false }).trimEnd());
  }
  assertVerified(report);
  const signed = await signGguf({
    ggufPath: args.model,
    privateKey,
    fileSha256: report.fileSha256,
    ...metaOption,
    ...(f.sig !== undefined && { signaturePath: f.sig }),
  });
  if (f.json) printJson({ signature: signed.signaturePath, key_id: signed.keyId });
  else console.log(`wrote ${signed.signaturePath} (key-id ${signed.keyId})`);
  return EXIT.ok;
};

if (import.meta.main) await runTask(SIGN_SPEC, signTask);
