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
 * const g2 = await inspectProjections({ gguf, hparams, rules: DEFAULT_RULES });
 * g2.gate.status; // "pass"
 * g2.blocks[0]?.trits; // { neg: 0.25, zero: 0.5, pos: 0.25 }
 * ```
 * @module
 */

import { ggufTensorRole } from "../arch/registry.ts";
import { EXIT } from "../errors.ts";
import { type Codec, codecOf, typeNames, typesWith } from "../codecs/table.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { expectedTensors, type TensorSpec } from "../inference/tensor_plan.ts";
import { medianOfOthers } from "../stats/robust.ts";
import { StatsAccumulator } from "../stats/summary.ts";
import { TernaryAccumulator, type TernaryStats } from "../stats/ternary_stats.ts";
import { elementCount, tensorValueChunks } from "../stats/tensor_values.ts";
import type {
  BlockFinding,
  Check,
  GateResult,
  ProjectionFinding,
  TensorStatsEntry,
} from "./report.ts";
import type { ValidationRules } from "./rules.ts";

const FLOAT_TYPES: readonly number[] = typesWith("float");
const TERNARY_TYPES: readonly number[] = typesWith("ternary");

/** Inputs of gate 2. */
export interface ProjectionGateInput {
  readonly gguf: GgufFile;
  /** Null when the hyperparameters could not be read (`hparamsError` says why). */
  readonly hparams: ModelHparams | null;
  readonly hparamsError?: string;
  readonly rules: ValidationRules;
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
  sumSq: number;
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

async function matrixStats(
  gguf: GgufFile,
  t: GgufTensorInfo,
  wantTernary: boolean,
): Promise<MatrixStats> {
  const codec = codecOf(t.type);
  const base = { name: t.name, type: codec.name, shape: [...t.shape] };
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
  const s = stats.result();
  return { entry: { ...base, ...s }, ternary, sumSq: s.rms * s.rms * s.count };
}

/** A vector may be written with extra leading 1s; compare the squeezed shape. */
function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  const a = [...actual];
  while (a.length > expected.length && a[0] === 1) a.shift();
  return a.length === expected.length && a.every((d, i) => d === expected[i]);
}

const fmt = (x: number) => Number(x.toPrecision(6)).toString();

/**
 * Runs gate 2.
 *
 * @example
 * ```ts
 * const { gate, blocks } = await inspectProjections({ gguf, hparams, rules: DEFAULT_RULES });
 * ```
 */
export async function inspectProjections(
  input: ProjectionGateInput,
): Promise<ProjectionGateResult> {
  const started = performance.now();
  const { gguf, hparams, rules } = input;
  const checks: Check[] = [];
  const projections: ProjectionFinding[] = [];
  const tensors: TensorStatsEntry[] = [];
  const fail = (id: string, message: string, tensor?: string) =>
    checks.push({ id, status: "fail", message, ...(tensor ? { tensor } : {}) });

  let specs: TensorSpec[] = [];
  if (!hparams) {
    fail("hparams", `cannot read the hyperparameters: ${input.hparamsError ?? "unknown error"}`);
  } else {
    checks.push({
      id: "hparams",
      status: "pass",
      message:
        `${hparams.arch} (${hparams.family}): ${hparams.nLayer} layers, n_embd ${hparams.nEmbd}, n_ff ${hparams.nFf}, heads ${hparams.nHead}/${hparams.nHeadKv}, vocab ${hparams.vocabSize}`,
    });
    specs = expectedTensors(hparams).filter((s) => s.role !== "norm");
  }
  const bitnet = hparams?.family === "bitnet";

  const missing = specs.filter((s) => !gguf.hasTensor(s.name));
  if (hparams) {
    if (missing.length === 0) {
      checks.push({
        id: "present",
        status: "pass",
        message: `all ${specs.length} weight matrices present`,
      });
    } else {
      fail(
        "present",
        `${missing.length} weight matrices missing: ${
          missing.slice(0, 8).map((s) => s.name).join(", ")
        }${missing.length > 8 ? ", ..." : ""}`,
      );
    }
  }
  let misshapen = 0;
  for (const spec of specs) {
    if (!gguf.hasTensor(spec.name)) continue;
    const t = gguf.tensor(spec.name);
    if (!sameShape(t.shape, spec.shape)) {
      misshapen++;
      fail(
        "shape",
        `${spec.name} has shape [${t.shape.join(", ")}], expected [${
          spec.shape.join(", ")
        }] (PyTorch order)`,
        spec.name,
      );
    }
    const allowed = spec.role === "projection" && bitnet
      ? [...FLOAT_TYPES, ...TERNARY_TYPES]
      : FLOAT_TYPES;
    if (!allowed.includes(t.type)) {
      fail(
        "type",
        `${spec.name} is stored as ${
          codecOf(t.type).name
        }; a ${hparams?.family} ${spec.role} must be ${typeNames(allowed).replaceAll(", ", "/")}`,
        spec.name,
      );
    }
  }
  if (hparams && misshapen === 0 && missing.length === 0) {
    checks.push({
      id: "shape",
      status: "pass",
      message: "every weight matrix has the shape the metadata implies",
    });
  }

  // Statistics of every non-norm tensor; ternary checks for BitNet projections.
  const byLayer = new Map<number, Map<string, MatrixStats>>();
  let notTernary = 0, nonFinite = 0;
  for (const t of gguf.tensors) {
    const role = ggufTensorRole(t.name);
    if (role?.role === "norm") continue;
    const isProjection = role?.role === "projection" && role.projection !== undefined;
    let ms: MatrixStats;
    try {
      ms = await matrixStats(gguf, t, bitnet && isProjection);
    } catch (e) {
      fail("decode", (e as Error).message, t.name);
      continue;
    }
    tensors.push(ms.entry);
    if (ms.entry.nonFinite > 0) {
      nonFinite++;
      fail("finite", `${t.name} has ${ms.entry.nonFinite} NaN/inf values`, t.name);
    }
    if (!isProjection || role.layer === null) continue;
    const tern = ms.ternary;
    if (bitnet && tern) {
      const s = tern.scale;
      if (!tern.ternary || !(s > 0)) {
        notTernary++;
        fail(
          "ternary",
          !tern.ternary
            ? `${t.name} (${ms.entry.type}) is not ternary: a BitNet projection must hold only -s, 0, +s (the export must ternarize master weights)`
            : `${t.name} is all zero: a ternary scale must be > 0`,
          t.name,
        );
      }
      if (tern.distinctScales > 1) {
        checks.push({
          id: "block_scales",
          status: "warn",
          message:
            `${t.name}: ${tern.distinctScales} different block scales (BitNet has one per tensor)`,
          tensor: t.name,
        });
      }
    }
    projections.push({
      name: t.name,
      kind: role.projection!,
      layer: role.layer,
      type: ms.entry.type,
      rms: ms.entry.rms,
      scale: tern && tern.ternary ? tern.scale : null,
      trits: tern && tern.ternary && tern.count > 0
        ? { neg: tern.neg / tern.count, zero: tern.zero / tern.count, pos: tern.pos / tern.count }
        : null,
    });
    if (!byLayer.has(role.layer)) byLayer.set(role.layer, new Map());
    byLayer.get(role.layer)!.set(role.projection!, ms);
  }
  if (bitnet && notTernary === 0 && projections.length > 0) {
    checks.push({
      id: "ternary",
      status: "pass",
      message: `all ${projections.length} projections are ternary {-s, 0, +s} with s > 0`,
    });
  }
  if (nonFinite === 0) {
    checks.push({ id: "finite", status: "pass", message: "all weight values are finite" });
  }

  const blocks = blockFindings(byLayer, rules.projections.blockRmsFactor, checks);

  const failed = checks.some((c) => c.status === "fail");
  return {
    gate: {
      id: "projections",
      title: "Gate 2: projections and model loading",
      status: failed ? "fail" : "pass",
      exitCode: failed ? EXIT.modelLoad : null,
      summary: failed
        ? `${checks.filter((c) => c.status === "fail").length} check(s) failed`
        : `${projections.length} projections in ${blocks.length} blocks ${
          bitnet ? "ternary, " : ""
        }consistent`,
      durationMs: performance.now() - started,
      checks,
    },
    projections,
    blocks,
    tensors,
  };
}

/** Per-layer RMS and trit split; flags a layer whose RMS for a kind departs from the other layers' median. */
function blockFindings(
  byLayer: Map<number, Map<string, MatrixStats>>,
  factor: number,
  checks: Check[],
): BlockFinding[] {
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
      const ref = medianOfOthers(values, i);
      if (!(ref > 0)) continue;
      const ratio = row.rms / ref;
      if (ratio > factor || ratio < 1 / factor) {
        flags++;
        if (!flagged.has(row.layer)) flagged.set(row.layer, []);
        flagged.get(row.layer)!.push(kind);
        checks.push({
          id: "block_rms",
          status: "fail",
          message: `blk.${row.layer}.${kind}: RMS ${fmt(row.rms)} is ${
            fmt(ratio)
          }x the other blocks' median ${fmt(ref)} (allowed factor ${factor})`,
          tensor: `blk.${row.layer}.${kind}.weight`,
        });
      }
    }
  }
  if (flags === 0 && layers.length > 0) {
    checks.push({
      id: "block_rms",
      status: "pass",
      message: `every block's projection RMS is within ${factor}x of the other blocks' median`,
    });
  }
  return layers.map((layer) => {
    const m = byLayer.get(layer)!;
    let sumSq = 0, count = 0, neg = 0, zero = 0, pos = 0, tcount = 0, allTernary = true;
    for (const ms of m.values()) {
      sumSq += ms.sumSq;
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
      rms: count ? Math.sqrt(sumSq / count) : 0,
      trits: allTernary && tcount > 0
        ? { neg: neg / tcount, zero: zero / tcount, pos: pos / tcount }
        : null,
      flagged: flagged.get(layer) ?? [],
    };
  });
}
