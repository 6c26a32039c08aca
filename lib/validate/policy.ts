/**
 * Runtime correction policies, for triage of models that are already broken
 * (never needed for a clean export). A policy file (JSON, path in
 * BITNET_CORRECTION_POLICY; format in docs/explanation/correction-policy.md)
 * lists norm corrections by the model's whole-file sha256. They apply in
 * memory only (the engine's `transformNorm` hook), never to the file, and only
 * with BITNET_ALLOW_RUNTIME_CORRECTIONS=1 outside strict mode; each applied
 * correction is recorded with the values before and after.
 *
 * @example
 * ```ts
 * import { readJsonFile } from "../io/json.ts";
 * import { NormCorrector, parsePolicy } from "./policy.ts";
 * const policy = parsePolicy(await readJsonFile("policy.json"), "policy.json");
 * const entry = policy.models.get("ab12...");
 * const corrector = new NormCorrector(entry?.corrections ?? []);
 * const gamma = new Float32Array([50, 50]);
 * corrector.apply("blk.0.attn_norm.weight", gamma); // gamma is now [1, 1] with a scale 0.02 rule
 * corrector.applied; // [{ tensor, kind: "scale x0.02", before: {...}, after: {...} }]
 * ```
 * @module
 */

import type { BitnetEnv } from "../cli/env.ts";
import { isJsonObject, readJsonFile } from "../io/json.ts";
import { ggufTensorRole } from "../arch/registry.ts";
import { UsageError } from "../errors.ts";
import { summarize } from "../stats/summary.ts";
import type { AppliedCorrection } from "./report.ts";
import { NORM_CLASSES } from "./rules.ts";

/** One correction of named norm tensors. */
export interface NormCorrection {
  /** GGUF names; `*` matches any run of characters. */
  readonly tensors: readonly string[];
  /** Multiply the values by this factor ... */
  readonly scale?: number;
  /** ... or rescale them to this RMS. */
  readonly targetRms?: number;
  readonly reason: string;
}

/** A model's entry in the policy. */
export interface ModelCorrections {
  readonly note: string;
  readonly corrections: readonly NormCorrection[];
}

/** A parsed policy file. */
export interface CorrectionPolicy {
  readonly path: string;
  /** Keyed by lower-case sha256 hex (no prefix). */
  readonly models: ReadonlyMap<string, ModelCorrections>;
}

/** A fingerprint as lower-case hex: accepts `sha256-<hex>`, `sha256:<hex>` or `<hex>`. */
function normalizeFingerprint(text: string): string | null {
  const m = /^(?:sha256[-:])?([0-9a-fA-F]{64})$/.exec(text.trim());
  return m ? m[1]!.toLowerCase() : null;
}

/** One name of each norm class, to tell whether a pattern can name a norm at all. */
const SAMPLE_NORM_NAMES = NORM_CLASSES
  .map((c) => (c === "output_norm" ? `${c}.weight` : `blk.0.${c}.weight`))
  .filter((n) => ggufTensorRole(n)?.role === "norm");

function parseCorrection(v: unknown, where: string): NormCorrection {
  if (!isJsonObject(v)) throw new UsageError(`${where} must be an object`);
  for (const k of Object.keys(v)) {
    if (!["tensors", "scale", "targetRms", "reason"].includes(k)) {
      throw new UsageError(`${where}: unknown key "${k}" (tensors, scale, targetRms, reason)`);
    }
  }
  const tensors = v.tensors;
  if (
    !Array.isArray(tensors) || tensors.length === 0 || !tensors.every((t) => typeof t === "string")
  ) {
    throw new UsageError(`${where}.tensors must be a non-empty array of tensor names`);
  }
  for (const name of tensors as string[]) {
    const re = globToRegExp(name);
    if (!SAMPLE_NORM_NAMES.some((n) => re.test(n))) {
      throw new UsageError(`${where}: "${name}" names no norm tensor; only norms can be corrected`);
    }
  }
  const hasScale = v.scale !== undefined, hasTarget = v.targetRms !== undefined;
  if (hasScale === hasTarget) {
    throw new UsageError(`${where} needs exactly one of scale, targetRms`);
  }
  const factor = hasScale ? v.scale : v.targetRms;
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 0) {
    throw new UsageError(`${where}.${hasScale ? "scale" : "targetRms"} must be a number > 0`);
  }
  if (typeof v.reason !== "string" || v.reason.trim() === "") {
    throw new UsageError(`${where}.reason must say why the correction is needed`);
  }
  return {
    tensors: tensors as string[],
    ...(hasScale ? { scale: factor } : { targetRms: factor }),
    reason: v.reason,
  };
}

/**
 * Parses a policy object; malformed content is a {@link UsageError} naming the key.
 *
 * @example
 * ```ts
 * parsePolicy({ version: 1, models: {} }, "p.json").models.size; // 0
 * ```
 */
export function parsePolicy(json: unknown, path: string): CorrectionPolicy {
  if (!isJsonObject(json)) {
    throw new UsageError(`${path}: a correction policy must be a JSON object`);
  }
  if (json.version !== 1) throw new UsageError(`${path}: "version" must be 1`);
  if (!isJsonObject(json.models)) {
    throw new UsageError(`${path}: "models" must be an object keyed by sha256`);
  }
  const models = new Map<string, ModelCorrections>();
  for (const [key, value] of Object.entries(json.models)) {
    const where = `${path}: models["${key}"]`;
    const fp = normalizeFingerprint(key);
    if (!fp) throw new UsageError(`${where}: the key must be a sha256 fingerprint (64 hex digits)`);
    if (!isJsonObject(value) || !Array.isArray(value.corrections)) {
      throw new UsageError(`${where} must be an object with a "corrections" array`);
    }
    models.set(fp, {
      note: typeof value.note === "string" ? value.note : "",
      corrections: value.corrections.map((c, i) =>
        parseCorrection(c, `${where}.corrections[${i}]`)
      ),
    });
  }
  return { path, models };
}

function globToRegExp(glob: string): RegExp {
  const body = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`);
}

const brief = (v: Float32Array) => {
  const s = summarize(v);
  return { rms: s.rms, min: s.min, max: s.max };
};

/**
 * Applies a model's corrections to norm values as the engine loads them, and
 * records what it did. The first correction whose pattern matches a tensor
 * applies.
 */
export class NormCorrector {
  readonly #rules: { re: RegExp; c: NormCorrection }[];
  readonly applied: AppliedCorrection[] = [];

  constructor(corrections: readonly NormCorrection[]) {
    this.#rules = corrections.flatMap((c) => c.tensors.map((t) => ({ re: globToRegExp(t), c })));
  }

  /** True when no correction is configured. */
  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * Corrects `values` in place when a rule matches `name` (the engine's
   * `transformNorm` hook hands over its own f32 copy of the norm), and records
   * the values before and after.
   */
  apply(name: string, values: Float32Array): void {
    const rule = this.#rules.find((r) => r.re.test(name));
    if (!rule) return;
    const before = brief(values);
    const factor = rule.c.scale ?? (before.rms > 0 ? rule.c.targetRms! / before.rms : 1);
    for (let i = 0; i < values.length; i++) values[i] = values[i]! * factor;
    this.applied.push({
      tensor: name,
      kind: rule.c.scale !== undefined
        ? `scale x${rule.c.scale}`
        : `rescale to RMS ${rule.c.targetRms}`,
      reason: rule.c.reason,
      before,
      after: brief(values),
    });
  }
}

/** What {@link resolveCorrections} decided. */
export interface CorrectionDecision {
  /** The corrector to hand to the engine, or null when nothing is to be applied. */
  readonly corrector: NormCorrector | null;
  /** The model's sha256 when it had to be computed. */
  readonly sha256: string | null;
  /** Why settings were ignored, for the report. */
  readonly warnings: string[];
}

/**
 * Decides which runtime corrections apply to a model outside strict mode
 * (strict mode refuses earlier, in `assertStrictAllows`): none unless both
 * settings are given; BITNET_FIX_LN_SCALE is legacy and never applied.
 *
 * @example
 * ```ts
 * const env = { correctionPolicy: null, allowRuntimeCorrections: false, fixLnScale: "50" };
 * const noHash = () => Promise.reject(new Error("no policy: the model is not hashed"));
 * const d = await resolveCorrections(env, "model.gguf", noHash);
 * d.corrector; // null: no policy is named
 * d.warnings; // ["BITNET_FIX_LN_SCALE=50 is a legacy setting and is ignored: ..."]
 * ```
 */
export async function resolveCorrections(
  env: Pick<BitnetEnv, "correctionPolicy" | "allowRuntimeCorrections" | "fixLnScale">,
  ggufPath: string,
  fingerprint: (path: string) => Promise<string>,
): Promise<CorrectionDecision> {
  const warnings: string[] = [];
  if (env.fixLnScale !== null) {
    warnings.push(
      `BITNET_FIX_LN_SCALE=${env.fixLnScale} is a legacy setting and is ignored: norms are never rescaled implicitly (use a correction policy for triage)`,
    );
  }
  if (env.correctionPolicy === null) {
    if (env.allowRuntimeCorrections) {
      warnings.push(
        "BITNET_ALLOW_RUNTIME_CORRECTIONS=1 without BITNET_CORRECTION_POLICY: nothing to apply",
      );
    }
    return { corrector: null, sha256: null, warnings };
  }
  if (!env.allowRuntimeCorrections) {
    warnings.push(
      `BITNET_CORRECTION_POLICY=${env.correctionPolicy} ignored: corrections also need BITNET_ALLOW_RUNTIME_CORRECTIONS=1`,
    );
    return { corrector: null, sha256: null, warnings };
  }
  // Missing: InputError; not JSON: FormatError; malformed: UsageError.
  const policy = parsePolicy(await readJsonFile(env.correctionPolicy), env.correctionPolicy);
  const sha256 = (await fingerprint(ggufPath)).toLowerCase();
  const entry = policy.models.get(sha256);
  if (!entry) {
    warnings.push(
      `${policy.path} has no entry for this model (sha256 ${sha256}): no correction applied`,
    );
    return { corrector: null, sha256, warnings };
  }
  warnings.push(
    `runtime corrections from ${policy.path} applied in memory for triage (${
      entry.note || "no note"
    }): the file is unchanged and still fails or passes gates 1-2 as stored`,
  );
  return { corrector: new NormCorrector(entry.corrections), sha256, warnings };
}
