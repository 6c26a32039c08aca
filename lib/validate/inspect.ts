/**
 * Gate 1 with its surroundings: finding and reading the export's meta.json,
 * and (for `model-inspect-ln`) opening the file. An unreadable GGUF or
 * meta.json means the norm inspection could not run (exit 10).
 *
 * @example
 * ```ts
 * import { inspectNormsOfFile } from "./inspect.ts";
 * const { gate, norms } = await inspectNormsOfFile({ ggufPath: "models/clean/clean-f16.gguf" });
 * console.log(gate.exitCode ?? 0, norms.length);
 * ```
 * @module
 */

import { EXIT, messageAbout, UnsupportedError } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import { archByGgufName } from "../arch/registry.ts";
import { inspectNorms } from "./norms.ts";
import type { GateResult, NormFinding } from "./report.ts";
import { DEFAULT_RULES, type ValidationRules } from "./rules.ts";
import { type ExportMeta, findMetaBeside, readExportMeta } from "./source_meta.ts";

/** Gate 1's outcome with the meta.json it used. */
export interface NormInspection {
  readonly gate: GateResult;
  readonly norms: NormFinding[];
  /** The meta.json compared against, or null. */
  readonly metaPath: string | null;
}

/** Options shared by {@link runNormGate} and {@link inspectNormsOfFile}. */
export interface NormGateOptions {
  /** meta.json of the export; undefined: look beside the GGUF; null: none. */
  readonly metaPath?: string | null;
  readonly rules?: ValidationRules;
}

function failed(message: string, id: string, metaPath: string | null): NormInspection {
  return {
    gate: {
      id: "norms",
      title: "Gate 1: norm tensors",
      status: "fail",
      exitCode: EXIT.normInspection,
      summary: message,
      durationMs: 0,
      checks: [{ id, status: "fail", message }],
    },
    norms: [],
    metaPath,
  };
}

/**
 * Gate 1 on an open file: finds the meta.json (unless told), reads it, and
 * inspects the norms.
 *
 * @example
 * ```ts
 * import { readHparams } from "../arch/hparams.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const r = await runNormGate(gguf, readHparams(gguf), "bitnet", {});
 * ```
 */
export async function runNormGate(
  gguf: GgufFile,
  hparams: ModelHparams | null,
  family: "bitnet" | "llama" | null,
  opts: NormGateOptions,
): Promise<NormInspection> {
  const metaPath = opts.metaPath === undefined ? await findMetaBeside(gguf.path) : opts.metaPath;
  let meta: ExportMeta | null = null;
  if (metaPath) {
    try {
      meta = await readExportMeta(metaPath);
    } catch (e) {
      return failed(
        `cannot read the export record: ${(e as Error).message}`,
        "meta_read",
        metaPath,
      );
    }
  }
  const r = await inspectNorms({ gguf, hparams, family, rules: opts.rules ?? DEFAULT_RULES, meta });
  return { ...r, metaPath };
}

/**
 * Opens a GGUF and runs gate 1 (for `model-inspect-ln`).
 *
 * @example
 * ```ts
 * const r = await inspectNormsOfFile({ ggufPath: "model.gguf", metaPath: null });
 * ```
 */
export async function inspectNormsOfFile(
  opts: NormGateOptions & { readonly ggufPath: string },
): Promise<NormInspection> {
  let gguf: GgufFile;
  try {
    gguf = await openGguf(opts.ggufPath);
  } catch (e) {
    return failed(messageAbout(opts.ggufPath, e), "read", null);
  }
  try {
    let hparams: ModelHparams | null = null;
    let family: "bitnet" | "llama" | null = null;
    try {
      hparams = readHparams(gguf);
      family = hparams.family;
    } catch (e) {
      // A family we do not know gets the generic envelopes; a malformed header stops the inspection.
      if (!(e instanceof UnsupportedError)) {
        return failed(messageAbout(gguf.path, e), "hparams", null);
      }
      try {
        family = archByGgufName(gguf.architecture, gguf.path).family;
      } catch {
        family = null;
      }
    }
    return await runNormGate(gguf, hparams, family, opts);
  } finally {
    gguf.close();
  }
}
