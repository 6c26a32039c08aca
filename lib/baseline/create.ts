/**
 * Takes a baseline of a GGUF: reads its metadata and tensor list, hashes it
 * (unless the caller already knows the fingerprint, e.g. from the export),
 * validates it (unless the caller already has the report) and assembles the
 * {@link Baseline}.
 *
 * @example
 * ```ts
 * import { createBaseline } from "./create.ts";
 * const { baseline, report } = await createBaseline({
 *   ggufPath: "models/clean/clean-f16.gguf",
 *   tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
 * });
 * console.log(baseline.model.fingerprint, report.exitCode);
 * ```
 * @module
 */

import { basename } from "node:path";
import { openGguf } from "../gguf/reader.ts";
import { typeNames } from "../codecs/table.ts";
import { sha256File } from "../io/hash.ts";
import type { ValidationReport } from "../validate/report.ts";
import { validateGguf, type ValidateOptions } from "../validate/validate.ts";
import { buildBaseline, type FileTensor } from "./build.ts";
import { summarizeMetadata } from "./metadata.ts";
import type { Baseline, MetadataValue } from "./types.ts";

/** Options of {@link createBaseline}: those of validateGguf, plus what the caller already knows. */
export interface CreateBaselineOptions extends ValidateOptions {
  readonly tokenizerPath: string | null;
  /** The report of an earlier validateGguf run on the same file (it is not validated again). */
  readonly report?: ValidationReport;
  /** `sha256-<hex>` of the file when already known (it is not hashed again). */
  readonly fingerprint?: string;
  /** Steps timed by the caller (e.g. `exportMs`), recorded as they are. */
  readonly timings?: Readonly<Record<string, number>>;
}

/**
 * Validates (or reuses a report) and returns the baseline with the report.
 * An unreadable or malformed file throws (InputError, FormatError) before
 * anything is validated: a baseline needs a file that opens.
 *
 * @example
 * ```ts
 * import { validateGguf } from "../validate/validate.ts";
 * const p = "models/clean/clean-f16.gguf";
 * const report = await validateGguf({ ggufPath: p });
 * const { baseline } = await createBaseline({ ggufPath: p, tokenizerPath: null, report });
 * ```
 */
export async function createBaseline(
  opts: CreateBaselineOptions,
): Promise<{ baseline: Baseline; report: ValidationReport }> {
  const gguf = await openGguf(opts.ggufPath);
  let tensors: FileTensor[];
  let metadata: Record<string, MetadataValue>;
  let ggufVersion: number;
  let sizeBytes: number;
  try {
    tensors = gguf.tensors.map((t) => ({
      name: t.name,
      type: typeNames([t.type]),
      shape: [...t.shape],
    }));
    metadata = summarizeMetadata(gguf);
    ggufVersion = gguf.version;
    sizeBytes = gguf.fileSize;
  } finally {
    gguf.close();
  }
  // A missing tokenizer is an input error (exit 3) before any work, not a gate failure later.
  const tokenizerSha = opts.tokenizerPath ? await sha256File(opts.tokenizerPath) : null;
  const report = opts.report ?? await validateGguf(opts);
  const timings: Record<string, number> = { ...opts.timings };
  let fingerprint = opts.fingerprint;
  if (fingerprint === undefined) {
    const t0 = performance.now();
    fingerprint = `sha256-${await sha256File(opts.ggufPath)}`;
    timings.hashMs = performance.now() - t0;
  }
  const baseline = buildBaseline({
    report,
    file: { name: basename(opts.ggufPath), sizeBytes, fingerprint, ggufVersion, metadata, tensors },
    tokenizer: {
      file: opts.tokenizerPath ? basename(opts.tokenizerPath) : null,
      sha256: tokenizerSha,
    },
    timings,
  });
  return { baseline, report };
}
