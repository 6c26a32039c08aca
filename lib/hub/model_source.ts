/**
 * Where a task's checkpoint comes from: a local folder, or the Hugging Face
 * Hub (`--hf-repo OWNER/NAME [--revision REV]`), downloaded first. Shared by
 * `model-export` and `model-clean`. A local folder that does not exist is an
 * {@link InputError} saying so, before any file in it is looked for.
 *
 * @example
 * ```ts
 * import { resolveModelSource } from "./model_source.ts";
 * const src = await resolveModelSource({ modelDir: "fixtures/tiny-bitnet", outDir: "models/clean" });
 * src.modelDir; // "fixtures/tiny-bitnet"
 * ```
 * @module
 */

import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { downloadFromHub } from "./download.ts";

/** What the command line says about the checkpoint. */
export interface ModelSourceRequest {
  /** Local checkpoint folder (ignored with `hfRepo`). */
  readonly modelDir?: string | undefined;
  /** tokenizer.json; wins over the checkpoint's. */
  readonly tokenizer?: string | undefined;
  readonly outDir: string;
  /** Download from the Hub instead. */
  readonly hfRepo?: string | undefined;
  readonly revision?: string | undefined;
  /** Download cache (default models/hub). */
  readonly cacheDir?: string | undefined;
  readonly hubUrl?: string | undefined;
  /** The Hub access token (HF_TOKEN, read by the task). */
  readonly token?: string | undefined;
  /** No progress bars. */
  readonly quiet?: boolean;
}

/** The resolved inputs. */
export interface ModelSource {
  modelDir: string;
  tokenizerPath: string | undefined;
  outDir: string;
  /** Hub repo, revision and commit, for meta.json; undefined for a local folder. */
  origin: Record<string, unknown> | undefined;
  /**
   * The sha256 of each downloaded file, computed while it was checked against
   * the Hub in this run, by absolute path: the export reuses them instead of
   * reading the files again. Undefined for a local folder.
   */
  verifiedSha256?: Record<string, string>;
}

/** Refuses a model folder that is missing or is not a folder, naming it. */
async function assertModelFolder(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new InputError(`${dir}: model folder ${why}`, { cause: e });
  }
  if (!info.isDirectory) {
    throw new InputError(
      `${dir}: not a folder (the model folder holds config.json and *.safetensors)`,
    );
  }
}

/**
 * Resolves the checkpoint, downloading it when `hfRepo` is given.
 *
 * @example
 * ```ts
 * const src = await resolveModelSource({ hfRepo: "me/tiny", outDir: "out", cacheDir: "models/hub" });
 * src.origin; // { hf_repo: "me/tiny", revision: "main", commit: "…" }
 * ```
 */
export async function resolveModelSource(req: ModelSourceRequest): Promise<ModelSource> {
  if (req.hfRepo === undefined) {
    const modelDir = req.modelDir ?? "fixtures/tiny-bitnet";
    await assertModelFolder(modelDir);
    return { modelDir, tokenizerPath: req.tokenizer, outDir: req.outDir, origin: undefined };
  }
  const revision = req.revision ?? "main";
  const hub = await downloadFromHub({
    repo: req.hfRepo,
    revision,
    cacheDir: req.cacheDir ?? "models/hub",
    token: req.token ?? null,
    ...(req.hubUrl ? { hubUrl: req.hubUrl } : {}),
    progress: !req.quiet && Deno.stderr.isTerminal(),
  });
  return {
    modelDir: hub.modelDir,
    tokenizerPath: req.tokenizer,
    outDir: req.outDir,
    origin: { hf_repo: req.hfRepo, revision, commit: hub.commit },
    verifiedSha256: Object.fromEntries(
      hub.files.map((f) => [resolve(join(hub.modelDir, f.path)), f.sha256]),
    ),
  };
}
