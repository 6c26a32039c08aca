/**
 * Where a task's checkpoint comes from: a local folder (positional
 * `[model_dir] [tokenizer.json] [out_dir]`) or the Hugging Face Hub
 * (`--hf-repo OWNER/NAME [--revision REV] [out_dir]`). Shared by
 * `model-export`, `model-clean` and `model-check`.
 *
 * @example
 * ```ts
 * import { HUB_FLAGS, resolveModelSource } from "./model_source.ts";
 * const src = await resolveModelSource({}, ["fixtures/tiny-bitnet"], { quiet: true });
 * src.modelDir; // "fixtures/tiny-bitnet"
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { downloadFromHub } from "./download.ts";

/** The parseArgs options of the Hub flags. */
export const HUB_FLAGS = {
  "hf-repo": { type: "string" },
  revision: { type: "string" },
  "cache-dir": { type: "string" },
  "hub-url": { type: "string" },
  tokenizer: { type: "string" },
} as const;

/** Help text lines for {@link HUB_FLAGS}. */
export const HUB_FLAGS_HELP =
  `  --hf-repo OWNER/NAME       download the checkpoint from the Hugging Face Hub first (needs --allow-net;
                             token from HF_TOKEN); files are checked against the Hub's sha256
  --revision REV             branch, tag or commit (default main)
  --cache-dir DIR            download cache (default models/hub)
  --hub-url URL              another Hub endpoint (default https://huggingface.co)
  --tokenizer FILE           tokenizer.json to use (wins over the checkpoint's)`;

/** The resolved inputs. */
export interface ModelSource {
  modelDir: string;
  tokenizerPath: string | undefined;
  outDir: string;
  /** Hub repo, revision and commit, for meta.json; undefined for a local folder. */
  origin: Record<string, unknown> | undefined;
}

/** Resolves flags and positionals, downloading from the Hub when `--hf-repo` is given. */
export async function resolveModelSource(
  flags: Record<string, unknown>,
  positionals: string[],
  opts: { quiet: boolean; defaultModelDir?: string; defaultOutDir?: string },
): Promise<ModelSource> {
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const defaultOut = opts.defaultOutDir ?? "models/clean";
  const repo = str(flags["hf-repo"]);
  if (repo === undefined) {
    const [
      modelDir = opts.defaultModelDir ?? "fixtures/tiny-bitnet",
      tokenizer,
      outDir = defaultOut,
    ] = positionals;
    return {
      modelDir,
      tokenizerPath: str(flags.tokenizer) ?? (tokenizer || undefined),
      outDir,
      origin: undefined,
    };
  }
  if (positionals.length > 1) {
    throw new UsageError("with --hf-repo, the only positional argument is [out_dir]");
  }
  const revision = str(flags.revision) ?? "main";
  const hubUrl = str(flags["hub-url"]);
  const hub = await downloadFromHub({
    repo,
    revision,
    cacheDir: str(flags["cache-dir"]) ?? "models/hub",
    ...(hubUrl ? { hubUrl } : {}),
    progress: !opts.quiet && Deno.stderr.isTerminal(),
  });
  return {
    modelDir: hub.modelDir,
    tokenizerPath: str(flags.tokenizer),
    outDir: positionals[0] ?? defaultOut,
    origin: { hf_repo: repo, revision, commit: hub.commit },
  };
}
