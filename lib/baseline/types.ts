/**
 * The baseline record: what a model looked like when it was last known good
 * (fingerprint, metadata, every norm's and projection's statistics, the probe
 * and the passage NLL), as the JSON that `model-baseline` writes and
 * `model-check --baseline` reads back.
 *
 * @example
 * ```ts
 * import { BASELINE_SCHEMA_ID, type Baseline } from "./types.ts";
 * const b: Baseline = JSON.parse(await Deno.readTextFile("models/clean/clean-f16.baseline.json"));
 * b.schema === BASELINE_SCHEMA_ID; // true
 * ```
 * @module
 */

import type { TensorSummary } from "../stats/summary.ts";
import type { ProjectionFinding } from "../validate/projections.ts";
import type {
  NormFinding,
  ProbeResult,
  TensorStatsEntry,
  ValidationReport,
} from "../validate/report.ts";

/** The baseline format identifier (bump on incompatible changes). */
export const BASELINE_SCHEMA_ID = "clean-gguf/baseline/1";

/** A metadata value as recorded: scalars as they are, u64/i64 beyond 2^53 as decimal strings. */
export type MetadataValue = string | number | boolean;

/** Summary statistics of one tensor's values; the figures are null when they could not be decoded. */
export type BaselineTensorStats =
  & Pick<TensorStatsEntry, "name" | "type" | "shape">
  & {
    readonly [K in keyof TensorSummary]: number | null;
  };

/** One norm tensor: class, layer (null for output_norm), distinct values (null when not decoded). */
export interface BaselineNorm
  extends BaselineTensorStats, Pick<NormFinding, "normClass" | "layer" | "distinct"> {
  /** Gate 1's verdict. */
  readonly verdict: string;
}

/** One projection: gate 2's finding (ternary scale and split, null when not ternary). */
export type BaselineProjection =
  & BaselineTensorStats
  & Pick<ProjectionFinding, "kind" | "layer" | "scale" | "trits">;

/** The greedy probe. */
export type BaselineProbe = Pick<
  ProbeResult,
  "prompt" | "maxTokens" | "promptIds" | "generatedIds" | "text"
>;

/** Teacher-forced mean NLL on the shipped passage (lib/validate/linguistic.ts); logVocab: a uniform guess's. */
export type BaselineNll =
  & { readonly passage: string }
  & Pick<NonNullable<ProbeResult["nll"]>, "meanNll" | "tokens" | "logVocab">;

/** The whole baseline. */
export interface Baseline {
  readonly schema: typeof BASELINE_SCHEMA_ID;
  readonly tool: { readonly name: string; readonly version: string };
  readonly model: {
    /** File name only: a baseline describes the bytes, wherever they live. */
    readonly file: string;
    readonly sizeBytes: number;
    /** `sha256-<hex>` of the whole GGUF, as in `<stem>.fingerprint`. */
    readonly fingerprint: string;
    readonly architecture: string | null;
    readonly family: "bitnet" | "llama" | null;
    readonly ggufVersion: number;
    readonly tensorCount: number;
    /** How many tensors of each ggml type, e.g. { F32: 17, F16: 29 }. */
    readonly tensorTypes: Readonly<Record<string, number>>;
  };
  readonly tokenizer: { readonly file: string | null; readonly sha256: string | null };
  /** Every metadata key: scalars as they are, arrays as "<type>[<length>]", long strings summarized. */
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  /** The validation this baseline was taken from. */
  readonly validation: {
    readonly exitCode: number;
    readonly exitMeaning: string;
    readonly gates: readonly { readonly id: string; readonly status: string }[];
    /** Runtime corrections applied in memory during the probe (triage only; empty when clean). */
    readonly corrections: readonly string[];
    readonly warnings: readonly string[];
  };
  readonly norms: readonly BaselineNorm[];
  readonly projections: readonly BaselineProjection[];
  /** Tensors that are neither norms nor projections (embeddings, output). */
  readonly otherTensors: readonly BaselineTensorStats[];
  readonly probe: BaselineProbe | null;
  readonly nll: BaselineNll | null;
  /** Milliseconds, by step. Recorded for people, never compared. */
  readonly timings: Readonly<Record<string, number>>;
  /** The BITNET_* settings and the runtime. Recorded, never compared. */
  readonly environment: ValidationReport["environment"];
}
