/**
 * The part of an export's `.meta.json` the validator trusts: the per-tensor
 * table `tensors: [{ gguf_name, hf_name, gguf_type, shape, source_dtype, rms,
 * min, max, xxh64 }]` (`sha256` instead of `xxh64` in files written before
 * xxh64 became the tensor locator). Nothing else in the file is read, so the validator
 * keeps working when the provenance format grows.
 *
 * @example
 * ```ts
 * import { findMetaBeside, readExportMeta } from "./source_meta.ts";
 * const path = await findMetaBeside("models/clean/clean-f16.gguf"); // ".../clean-f16.meta.json" or null
 * const meta = path ? await readExportMeta(path) : null;
 * meta?.tensors.get("blk.0.attn_norm.weight")?.rms;
 * ```
 * @module
 */

import { readJsonFile } from "../io/json.ts";
import { FormatError } from "../errors.ts";
import { companionPaths } from "../provenance/meta.ts";

/** One tensor row of meta.json. */
export interface MetaTensorRow {
  readonly gguf_name: string;
  readonly hf_name: string | null;
  readonly gguf_type: string;
  readonly shape: readonly number[];
  readonly source_dtype: string | null;
  readonly rms: number;
  readonly min: number;
  readonly max: number;
  /** The payload's xxh64; absent in files that record sha256 instead. */
  readonly xxh64?: string;
  readonly sha256?: string;
}

/** The parsed table, by GGUF name. */
export interface ExportMeta {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, MetaTensorRow>;
}

/**
 * The `.meta.json` beside a GGUF (`x.gguf` → `x.meta.json`), or null when absent.
 *
 * @example
 * ```ts
 * await findMetaBeside("/tmp/none.gguf"); // null
 * ```
 */
export async function findMetaBeside(ggufPath: string): Promise<string | null> {
  const path = companionPaths(ggufPath).meta;
  try {
    const st = await Deno.stat(path);
    return st.isFile ? path : null;
  } catch {
    return null;
  }
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStrOrNull = (v: unknown) => v === null || typeof v === "string";

/**
 * Reads the tensor table of a meta.json; a malformed row is a
 * {@link FormatError} naming the file and the row.
 *
 * @example
 * ```ts
 * const meta = await readExportMeta("models/clean/clean-f16.meta.json");
 * ```
 */
export async function readExportMeta(path: string): Promise<ExportMeta> {
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
    tensors.set(r.gguf_name as string, {
      gguf_name: r.gguf_name as string,
      hf_name: r.hf_name as string | null,
      gguf_type: r.gguf_type as string,
      shape: r.shape as number[],
      source_dtype: r.source_dtype as string | null,
      rms: r.rms as number,
      min: r.min as number,
      max: r.max as number,
      ...(typeof r.xxh64 === "string" ? { xxh64: r.xxh64 } : { sha256: r.sha256 as string }),
    });
  });
  return { path, tensors };
}
