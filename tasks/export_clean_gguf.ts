/**
 * `deno task model-export [model_dir] [tokenizer.json] [out_dir]`: a Hugging
 * Face checkpoint becomes `clean-<type>.gguf` with its `.fingerprint`,
 * `.meta.json` and `.gguf-hash`. With no arguments it exports the bundled
 * fixture. The command line is lib/cli/specs.ts.
 *
 * @module
 */

import { readHubToken } from "../lib/cli/env.ts";
import {
  printJson,
  runTask,
  type TaskBody,
  type TaskContext,
  writtenSummary,
} from "../lib/cli/run.ts";
import type { ParsedArgs } from "../lib/cli/spec.ts";
import { EXPORT_SPEC } from "../lib/cli/specs.ts";
import { exportCleanGguf, type ExportResult } from "../lib/export/export.ts";
import { resolveModelSource } from "../lib/hub/download.ts";
import { parseGgufHashAlgos } from "../lib/provenance/gguf_hash.ts";

/**
 * The export the command line asks for (model-export's flags; model-clean
 * takes the same), from a local folder or the Hub.
 *
 * @example
 * ```ts
 * import { executeTask } from "../lib/cli/run.ts";
 * import { EXPORT_SPEC } from "../lib/cli/specs.ts";
 * await executeTask(EXPORT_SPEC, async (parsed, ctx) => {
 *   const { result } = await exportFromCommandLine(parsed, ctx);
 *   console.log(result.ggufPath);
 *   return 0;
 * }, ["ckpt", "", "out"]);
 * ```
 */
export async function exportFromCommandLine(
  { flags: f, args }: ParsedArgs<typeof EXPORT_SPEC>,
  ctx: TaskContext,
): Promise<{ result: ExportResult; tokenizerPath: string | undefined }> {
  const tokenizerPath = f.tokenizer ?? args.tokenizer;
  const source = await resolveModelSource({
    modelDir: args.model_dir,
    hfRepo: f["hf-repo"],
    revision: f.revision,
    cacheDir: f["cache-dir"],
    hubUrl: f["hub-url"],
    token: f["hf-repo"] !== undefined ? readHubToken() : undefined,
    quiet: f.quiet,
  });
  const progress = ctx.progress("Exporting");
  const result = await exportCleanGguf({
    modelDir: source.modelDir,
    ...(tokenizerPath ? { tokenizerPath } : {}),
    outDir: args.out_dir,
    outType: f.outtype,
    normType: f["norm-type"],
    ...(f["arch-name"] !== undefined ? { archName: f["arch-name"] } : {}),
    allowOverflow: f["allow-overflow"],
    ...(f.name !== undefined ? { name: f.name } : {}),
    timestamp: f.timestamp,
    ...(f.manifest !== undefined ? { manifest: parseGgufHashAlgos(f.manifest) } : {}),
    ...(source.origin ? { origin: source.origin } : {}),
    ...(source.verifiedSha256 ? { verifiedSha256: source.verifiedSha256 } : {}),
    onProgress: progress.update,
    onWarning: ctx.warn,
  });
  progress.finish();
  return { result, tokenizerPath };
}

/** The task: export, then print the GGUF's path and fingerprint (or a JSON summary). */
export const exportTask: TaskBody<typeof EXPORT_SPEC> = async (parsed, ctx) => {
  const { result } = await exportFromCommandLine(parsed, ctx);
  if (parsed.flags.json) printJson(writtenSummary(result));
  else {
    ctx.log(`exported ${result.meta.tensors.length} tensors`);
    console.log(`${result.ggufPath}\n${result.fingerprint}`);
  }
  return 0;
};

if (import.meta.main) await runTask(EXPORT_SPEC, exportTask);
