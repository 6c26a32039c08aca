/**
 * Gate 2: the projections and the other weight matrices. Every Q/K/V/O and
 * FFN weight (and the embeddings, and output.weight when untied) must be
 * present with the shape the metadata implies, stored in a type the engine
 * loads, and finite. For BitNet, each float projection must be exactly
 * ternary ({−s, 0, +s}, s > 0) and each ternary-typed one (I2_S, TQ2_0,
 * TQ1_0) must decode. The RMS and the −1/0/+1 split are reported per block
 * (layer); a block whose projection RMS departs from the other blocks' median
 * by more than the declared factor is flagged. Any failure maps to exit 13.
 *
 * This module also computes the statistics of every non-norm tensor for the
 * report.
 *
 * @example
 * ```ts
 * import { inspectProjections } from "./projections.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const g2 = await inspectProjections({ gguf, hparams: readHparams(gguf), rules: DEFAULT_RULES });
 * g2.gate.status; // "pass"
 * g2.blocks[0]?.trits; // { neg: 0.25, zero: 0.5, pos: 0.25 }
 * ```
 * @module
 */

import { ggufTensorRole, type ProjectionKind } from "../arch/registry.ts";
import { EXIT } from "../errors.ts";
import { type Codec, codecOf, GgmlType, typeNames, typesWith } from "../codecs/table.ts";
import {
  EXACT_RMS_ELEMENTS,
  type PayloadCounter,
  recomputeStatistics,
} from "../provenance/tensor_stats.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { expectedModelTensors, type ExpectedTensor, sameShape } from "../arch/model_tensors.ts";
import { median, StatsAccumulator } from "../stats/summary.ts";
import { TernaryAccumulator, type TernaryStats } from "../stats/ternary_stats.ts";
import { elementCount, tensorValueChunks } from "../stats/tensor_values.ts";
import { type Check, check, gate, type GateResult, type TensorStatsEntry } from "./report.ts";
import type { ValidationRules } from "./rules.ts";

const FLOAT_TYPES: readonly number[] = typesWith("float");
const TERNARY_TYPES: readonly number[] = typesWith("ternary");

/**
 * A tensor's counted statistics: a PayloadCounter fed by the engine's load, or
 * `recomputeStatistics` already done elsewhere (validate's side worker);
 * `result()` undefined when the statistics are to be read here.
 */
export type CountedStatistics = Pick<PayloadCounter, "result">;

/** Inputs of gate 2. */
export interface ProjectionGateInput {
  readonly gguf: GgufFile;
  /** Null when the hyperparameters could not be read (`hparamsError` says why). */
  readonly hparams: ModelHparams | null;
  readonly hparamsError?: string;
  readonly rules: ValidationRules;
  /**
   * Called when every matrix is present with the expected shape and a loadable type, before any
   * value is read (only then is the engine worth loading): it returns counters fed while the
   * engine loads the same tensors (one read for both), or statistics computed elsewhere; a tensor
   * without a complete count is read here.
   */
  readonly beforeValues?: () => Promise<ReadonlyMap<string, CountedStatistics>>;
}

/** Gate 2's outcome (the tokenizer and engine-load checks are added by the caller). */
export interface ProjectionGateResult {
  readonly gate: GateResult;
  readonly projections: ProjectionFinding[];
  readonly blocks: BlockFinding[];
  /** Statistics of every non-norm tensor, in file order. */
  readonly tensors: TensorStatsEntry[];
}

/** Statistics of one matrix: summary plus ternary split. */
interface MatrixStats {
  entry: TensorStatsEntry;
  ternary: TernaryStats | null;
}

/** Statistics of a ternary-typed tensor from its trits and scales, block by block. */
async function ternaryMatrixStats(
  gguf: GgufFile,
  t: GgufTensorInfo,
  codec: Codec,
): Promise<{ stats: StatsAccumulator; ternary: TernaryStats }> {
  const n = elementCount(t);
  const d = codec.ternary!.decode(await gguf.readTensor(t), n, `${gguf.path}: tensor ${t.name}`);
  const acc = new TernaryAccumulator(), stats = new StatsAccumulator();
  for (let b = 0; b * d.block < n; b++) {
    acc.addTrits(d.trits, d.scales[b]!, b * d.block, Math.min(n, (b + 1) * d.block));
  }
  const chunk = new Float32Array(Math.min(n, 1 << 16));
  for (let start = 0; start < n; start += chunk.length) {
    const m = Math.min(chunk.length, n - start);
    for (let i = 0; i < m; i++) {
      chunk[i] = d.trits[start + i]! * d.scales[Math.floor((start + i) / d.block)]!;
    }
    stats.add(chunk.subarray(0, m));
  }
  return { stats, ternary: acc.result() };
}

/**
 * I2_S from its trit counts, large F16/BF16 tensors from a histogram of their
 * bit patterns (lib/provenance/tensor_stats.ts: one counting pass, min, max and
 * trit split exact, RMS and mean summed per distinct value instead of per
 * element); null for the rest, which the float path below sums as before.
 */
async function countedStats(
  gguf: GgufFile,
  t: GgufTensorInfo,
  codec: Codec,
  wantTernary: boolean,
  counted: CountedStatistics | undefined,
): Promise<MatrixStats | null> {
  const large16 = codec.float?.bytes === 2 && elementCount(t) > EXACT_RMS_ELEMENTS;
  if (t.type !== GgmlType.I2_S && !large16) return null;
  const r = counted?.result() ?? await recomputeStatistics(gguf, t);
  if (!r) return null;
  const s = r.summary, c = r.ternary;
  const ternary: TernaryStats | null = wantTernary || codec.ternary
    ? {
      ternary: c.ternary && Number.isFinite(c.scale),
      scale: c.ternary ? c.scale : 0,
      distinctScales: c.ternary && c.scale !== 0 ? 1 : 0,
      neg: c.neg,
      zero: c.zero,
      pos: c.pos,
      count: r.elements,
    }
    : null;
  return { entry: { name: t.name, type: codec.name, shape: [...t.shape], ...s }, ternary };
}

async function matrixStats(
  gguf: GgufFile,
  t: GgufTensorInfo,
  wantTernary: boolean,
  counter?: CountedStatistics,
): Promise<MatrixStats> {
  const codec = codecOf(t.type);
  const counted = await countedStats(gguf, t, codec, wantTernary, counter);
  if (counted) return counted;
  let stats = new StatsAccumulator(), ternary: TernaryStats | null = null;
  if (codec.ternary) ({ stats, ternary } = await ternaryMatrixStats(gguf, t, codec));
  else {
    const acc = wantTernary ? new TernaryAccumulator() : null;
    for await (const chunk of tensorValueChunks(gguf, t)) {
      stats.add(chunk);
      acc?.addValues(chunk);
    }
    ternary = acc?.result() ?? null;
  }
  const entry = { name: t.name, type: codec.name, shape: [...t.shape], ...stats.result() };
  return { entry, ternary };
}

const fmt = (x: number) => Number(x.toPrecision(6)).toString();

/** The hyper-parameters check and the weight matrices they imply (none when unreadable). */
function expectedMatrices(input: ProjectionGateInput, checks: Check[]): ExpectedTensor[] {
  const h = input.hparams;
  if (!h) {
    const why = input.hparamsError ?? "unknown error";
    checks.push(check("fail", "hparams", `cannot read the hyperparameters: ${why}`));
    return [];
  }
  const dims =
    `n_embd ${h.nEmbd}, n_ff ${h.nFf}, heads ${h.nHead}/${h.nHeadKv}, vocab ${h.vocabSize}`;
  checks.push(check("pass", "hparams", `${h.arch} (${h.family}): ${h.nLayer} layers, ${dims}`));
  return expectedModelTensors(h).filter((s) => s.role !== "norm");
}

/** Every expected matrix present, with the shape the metadata implies and a type the engine loads. */
function shapeChecks(input: ProjectionGateInput, specs: ExpectedTensor[], checks: Check[]): void {
  const { gguf, hparams } = input;
  const missing = specs.filter((s) => !gguf.hasTensor(s.name)).map((s) => s.name);
  if (hparams && missing.length === 0) {
    checks.push(check("pass", "present", `all ${specs.length} weight matrices present`));
  } else if (hparams) {
    const shown = missing.slice(0, 8).join(", ") + (missing.length > 8 ? ", ..." : "");
    checks.push(check("fail", "present", `${missing.length} weight matrices missing: ${shown}`));
  }
  let misshapen = 0;
  for (const spec of specs.filter((s) => gguf.hasTensor(s.name))) {
    const t = gguf.tensor(spec.name);
    if (!sameShape(t.shape, spec.shape)) {
      misshapen++;
      const shapes = `[${t.shape.join(", ")}], expected [${spec.shape.join(", ")}]`;
      checks.push(
        check("fail", "shape", `${spec.name} has shape ${shapes} (PyTorch order)`, spec.name),
      );
    }
    const ternary = isBitlinear(hparams, spec.projection);
    const allowed = ternary ? [...FLOAT_TYPES, ...TERNARY_TYPES] : FLOAT_TYPES;
    if (!allowed.includes(t.type)) {
      const must = `a ${hparams?.family} ${spec.role} must be ${
        typeNames(allowed).replaceAll(", ", "/")
      }`;
      const why = `${spec.name} is stored as ${codecOf(t.type).name}; ${must}`;
      checks.push(check("fail", "type", why, spec.name));
    }
  }
  if (hparams && misshapen === 0 && missing.length === 0) {
    checks.push(check("pass", "shape", "every weight matrix has the shape the metadata implies"));
  }
}

/** A BitLinear projection (every BitNet one; a ternary Llama's listed ones) is checked as ternary. */
function isBitlinear(hp: ModelHparams | null | undefined, kind: ProjectionKind | undefined) {
  return kind !== undefined && (hp?.bitlinear.includes(kind) ?? false);
}

/** A BitNet projection must be ternary with s > 0 (one scale: several block scales are a warning). */
function ternaryCheck(name: string, ms: MatrixStats, checks: Check[]): boolean {
  const tern = ms.ternary!;
  const ok = tern.ternary && tern.scale > 0;
  if (!ok) {
    const why = !tern.ternary
      ? `${name} (${ms.entry.type}) is not ternary: a BitNet projection must hold only -s, 0, +s (the export must ternarize master weights)`
      : `${name} is all zero: a ternary scale must be > 0`;
    checks.push(check("fail", "ternary", why, name));
  }
  if (tern.distinctScales > 1) {
    const why = `${tern.distinctScales} different block scales (BitNet has one per tensor)`;
    checks.push(check("warn", "block_scales", `${name}: ${why}`, name));
  }
  return ok;
}

/** Ternary distribution of one projection, for the report. */
export type ProjectionFinding = ReturnType<typeof projectionFinding>;

function projectionFinding(name: string, kind: string, layer: number, ms: MatrixStats) {
  const tern = ms.ternary?.ternary ? ms.ternary : null;
  const n = tern?.count ?? 0;
  return {
    name,
    kind,
    layer,
    type: ms.entry.type,
    rms: ms.entry.rms,
    /** Ternary scale s (the single scale, or the largest block scale of TQ types); null when not ternary. */
    scale: tern ? tern.scale : null,
    /** Fractions of −1, 0, +1 (of −s, 0, +s values); null when not ternary. */
    trits: tern && n > 0 ? { neg: tern.neg / n, zero: tern.zero / n, pos: tern.pos / n } : null,
  };
}

/** Statistics of every non-norm tensor, with the finite and (BitNet) ternary checks. */
async function tensorFindings(
  input: ProjectionGateInput,
  counted: ReadonlyMap<string, CountedStatistics> | undefined,
  checks: Check[],
) {
  const { gguf } = input;
  const bitnet = (input.hparams?.bitlinear.length ?? 0) > 0;
  const byLayer = new Map<number, Map<string, MatrixStats>>();
  const projections: ProjectionFinding[] = [], tensors: TensorStatsEntry[] = [];
  let ternaryOk = true, finite = true;
  for (const t of gguf.tensors) {
    const role = ggufTensorRole(t.name);
    if (role?.role === "norm") continue;
    const kind = role?.role === "projection" ? role.projection : undefined;
    let ms: MatrixStats;
    try {
      ms = await matrixStats(gguf, t, isBitlinear(input.hparams, kind), counted?.get(t.name));
    } catch (e) {
      checks.push(check("fail", "decode", (e as Error).message, t.name));
      continue;
    }
    tensors.push(ms.entry);
    if (ms.entry.nonFinite > 0) {
      finite = false;
      checks.push(
        check("fail", "finite", `${t.name} has ${ms.entry.nonFinite} NaN/inf values`, t.name),
      );
    }
    if (kind === undefined || role!.layer === null) continue;
    if (isBitlinear(input.hparams, kind) && ms.ternary) {
      ternaryOk = ternaryCheck(t.name, ms, checks) && ternaryOk;
    }
    projections.push(projectionFinding(t.name, kind, role!.layer, ms));
    if (!byLayer.has(role!.layer)) byLayer.set(role!.layer, new Map());
    byLayer.get(role!.layer)!.set(kind, ms);
  }
  if (bitnet && ternaryOk && projections.length > 0) {
    const all = `all ${projections.length} projections are ternary {-s, 0, +s} with s > 0`;
    checks.push(check("pass", "ternary", all));
  }
  if (finite) checks.push(check("pass", "finite", "all weight values are finite"));
  return { byLayer, projections, tensors };
}

/**
 * Runs gate 2.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const { gate, blocks } = await inspectProjections({ gguf, hparams: readHparams(gguf), rules: DEFAULT_RULES });
 * ```
 */
export async function inspectProjections(
  input: ProjectionGateInput,
): Promise<ProjectionGateResult> {
  const started = performance.now();
  const checks: Check[] = [];
  shapeChecks(input, expectedMatrices(input, checks), checks);
  const loadable = !checks.some((c) => c.status === "fail");
  const counted = loadable ? await input.beforeValues?.() : undefined;
  const { byLayer, projections, tensors } = await tensorFindings(input, counted, checks);
  const blocks = blockFindings(byLayer, input.rules.projections.blockRmsFactor, checks);
  const failed = checks.filter((c) => c.status === "fail").length;
  const ternary = (input.hparams?.bitlinear.length ?? 0) > 0 ? "ternary, " : "";
  const summary = failed
    ? `${failed} check(s) failed`
    : `${projections.length} projections in ${blocks.length} blocks ${ternary}consistent`;
  const exitCode = failed ? EXIT.modelLoad : null;
  const result = gate("projections", { exitCode, summary, checks, started });
  return { gate: result, projections, blocks, tensors };
}

/** Per block (layer): the RMS of each projection kind and the outlier verdict. */
export type BlockFinding = ReturnType<typeof blockFindings>[number];

/** Per-layer RMS and trit split; flags a layer whose RMS for a kind departs from the other layers' median. */
function blockFindings(
  byLayer: Map<number, Map<string, MatrixStats>>,
  factor: number,
  checks: Check[],
) {
  const layers = [...byLayer.keys()].sort((a, b) => a - b);
  const kinds = new Set<string>();
  for (const m of byLayer.values()) for (const k of m.keys()) kinds.add(k);
  const flagged = new Map<number, string[]>();
  let flags = 0;
  for (const kind of kinds) {
    const rows = layers.flatMap((l) => {
      const ms = byLayer.get(l)!.get(kind);
      return ms ? [{ layer: l, rms: ms.entry.rms }] : [];
    });
    if (rows.length < 2) continue;
    const values = rows.map((r) => r.rms);
    for (const [i, row] of rows.entries()) {
      // The other blocks' median: an outlier does not pull its own reference.
      const ref = median(values.filter((_, j) => j !== i));
      if (!(ref > 0)) continue;
      const ratio = row.rms / ref;
      if (ratio > factor || ratio < 1 / factor) {
        flags++;
        if (!flagged.has(row.layer)) flagged.set(row.layer, []);
        flagged.get(row.layer)!.push(kind);
        const why = `blk.${row.layer}.${kind}: RMS ${fmt(row.rms)} is ${
          fmt(ratio)
        }x the other blocks' median ${fmt(ref)} (allowed factor ${factor})`;
        checks.push(check("fail", "block_rms", why, `blk.${row.layer}.${kind}.weight`));
      }
    }
  }
  if (flags === 0 && layers.length > 0) {
    const within = `every block's projection RMS is within ${factor}x of the other blocks' median`;
    checks.push(check("pass", "block_rms", within));
  }
  return layers.map((layer) => {
    const m = byLayer.get(layer)!;
    let sumSq = 0, count = 0, neg = 0, zero = 0, pos = 0, tcount = 0, allTernary = true;
    for (const ms of m.values()) {
      sumSq += ms.entry.rms * ms.entry.rms * ms.entry.count;
      count += ms.entry.count;
      if (ms.ternary && ms.ternary.ternary) {
        neg += ms.ternary.neg;
        zero += ms.ternary.zero;
        pos += ms.ternary.pos;
        tcount += ms.ternary.count;
      } else allTernary = false;
    }
    return {
      layer,
      /** RMS of all projection values of the layer together. */
      rms: count ? Math.sqrt(sumSq / count) : 0,
      /** Fractions of −1, 0, +1 over the layer's ternary projections (null for float models). */
      trits: allTernary && tcount > 0
        ? { neg: neg / tcount, zero: zero / tcount, pos: pos / tcount }
        : null,
      /** Projection kinds whose RMS departs from the other layers' median by more than the factor. */
      flagged: flagged.get(layer) ?? [],
    };
  });
}
