/**
 * Gate 1 with its surroundings: finding and reading the export's meta.json
 * (its per-tensor table `tensors: [{ gguf_name, hf_name, gguf_type, shape,
 * source_dtype, rms, min, max, xxh64 }]`, `sha256` instead of `xxh64` in files
 * written before xxh64 became the tensor locator), and (for `model-inspect-ln`)
 * opening the file. An unreadable GGUF or meta.json means the norm inspection
 * could not run (exit 10).
 *
 * @example
 * ```ts
 * import { inspectNormsOfFile } from "./inspect.ts";
 * const { gate, norms } = await inspectNormsOfFile({ ggufPath: "models/clean/clean-f16.gguf" });
 * console.log(gate.exitCode ?? 0, norms.length);
 * ```
 * @module
 */

import { EXIT, FormatError, messageAbout, UnsupportedError } from "../errors.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import { archByGgufName, type Family } from "../arch/registry.ts";
import { readJsonFile } from "../io/json.ts";
import { companionPaths } from "../provenance/meta.ts";
import { type ExportMeta, inspectNorms, type MetaTensorRow, type NormGateResult } from "./norms.ts";
import { failedGate } from "./report.ts";
import { DEFAULT_RULES, type ValidationRules } from "./rules.ts";

/** Gate 1's outcome with the meta.json it used. */
export interface NormInspection extends NormGateResult {
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
  return { gate: failedGate("norms", EXIT.normInspection, id, message), norms: [], metaPath };
}

/** The `.meta.json` beside a GGUF (`x.gguf` → `x.meta.json`), or null when absent. */
async function findMetaBeside(ggufPath: string): Promise<string | null> {
  const path = companionPaths(ggufPath).meta;
  try {
    return (await Deno.stat(path)).isFile ? path : null;
  } catch {
    return null;
  }
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStrOrNull = (v: unknown) => v === null || typeof v === "string";

/** The tensor table of a meta.json; a malformed row is a FormatError naming the file and the row. */
async function readExportMeta(path: string): Promise<ExportMeta> {
  const json = await readJsonFile(path);
  if (!Array.isArray(json.tensors)) throw new FormatError(`${path}: "tensors" is not an array`);
  const tensors = new Map<string, MetaTensorRow>();
  json.tensors.forEach((row: unknown, i: number) => {
    const r = row as Record<string, unknown>;
    const ok = typeof r === "object" && r !== null && typeof r.gguf_name === "string" &&
      isStrOrNull(r.hf_name) && typeof r.gguf_type === "string" && Array.isArray(r.shape) &&
      r.shape.every(isNum) && isStrOrNull(r.source_dtype) && isNum(r.rms) && isNum(r.min) &&
      isNum(r.max) && (typeof r.xxh64 === "string" || typeof r.sha256 === "string");
    if (!ok) {
      throw new FormatError(
        `${path}: tensors[${i}] lacks one of gguf_name, hf_name, gguf_type, shape, source_dtype, rms, min, max, xxh64 (or sha256)`,
      );
    }
    tensors.set(r.gguf_name as string, r as unknown as MetaTensorRow);
  });
  return { path, tensors };
}

/**
 * The hyper-parameters and the family the norm envelopes are chosen by: the
 * hyper-parameters' family, else the architecture name's (for a family the
 * engine does not run). What could not be read is null, with its error.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * readModel(gguf).family; // "bitnet"
 * ```
 */
export function readModel(gguf: GgufFile) {
  let hparams: ModelHparams | null = null, hparamsError: unknown = null;
  try {
    hparams = readHparams(gguf);
  } catch (e) {
    hparamsError = e;
  }
  let architecture: string | null = null, family: Family | null = null, familyError: unknown = null;
  try {
    architecture = gguf.architecture;
    family = hparams?.family ?? archByGgufName(architecture, gguf.path).family;
  } catch (e) {
    familyError = e;
  }
  return { hparams, hparamsError, architecture, family, familyError };
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
      const why = `cannot read the export record: ${(e as Error).message}`;
      return failed(why, "meta_read", metaPath);
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
    const { hparams, hparamsError, family } = readModel(gguf);
    // A family we do not know gets the generic envelopes; a malformed header stops the inspection.
    if (hparamsError !== null && !(hparamsError instanceof UnsupportedError)) {
      return failed(messageAbout(gguf.path, hparamsError), "hparams", null);
    }
    return await runNormGate(gguf, hparams, family, opts);
  } finally {
    gguf.close();
  }
}
