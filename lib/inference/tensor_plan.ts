/**
 * The tensors a BitNet or Llama model must have (FORMATS.md §3), with the
 * shape each must have for the hyperparameters, checked against a GGUF file
 * before anything is loaded or computed.
 *
 * @example
 * ```ts
 * import { planTensors } from "./tensor_plan.ts";
 * const plan = planTensors(gguf, readHparams(gguf)); // throws ModelShapeError / UnsupportedError
 * plan.find((t) => t.name === "blk.0.attn_q.weight")?.storage; // "ternary"
 * ```
 * @module
 */

import { ModelShapeError, UnsupportedError } from "../cli/errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { GGML_TYPES } from "../gguf/types.ts";
import type { ModelHparams } from "./hparams.ts";
import {
  FLOAT_DECODERS,
  FLOAT_MATRIX_TYPES,
  isFloatType,
  TERNARY_SOURCES,
  typeNames,
} from "./weight_formats.ts";

/** What a tensor is for, which decides how it is stored in kernel memory. */
export type TensorRole = "embedding" | "output" | "norm" | "projection";

/** How a tensor is kept in kernel memory. */
export type TensorStorage = "ternary" | "float" | "norm";

/** One expected tensor. */
export interface TensorSpec {
  readonly name: string;
  /** PyTorch order: [out, in] for matrices. */
  readonly shape: readonly number[];
  readonly role: TensorRole;
}

/** An expected tensor found in the file with the right shape and a usable type. */
export interface PlannedTensor extends TensorSpec {
  readonly info: GgufTensorInfo;
  readonly storage: TensorStorage;
}

/** Per-layer tensor names (GGUF, FORMATS.md §3). */
export const layerTensorName = {
  attnNorm: (l: number) => `blk.${l}.attn_norm.weight`,
  wq: (l: number) => `blk.${l}.attn_q.weight`,
  wk: (l: number) => `blk.${l}.attn_k.weight`,
  wv: (l: number) => `blk.${l}.attn_v.weight`,
  wo: (l: number) => `blk.${l}.attn_output.weight`,
  attnSubNorm: (l: number) => `blk.${l}.attn_sub_norm.weight`,
  ffnNorm: (l: number) => `blk.${l}.ffn_norm.weight`,
  wGate: (l: number) => `blk.${l}.ffn_gate.weight`,
  wUp: (l: number) => `blk.${l}.ffn_up.weight`,
  wDown: (l: number) => `blk.${l}.ffn_down.weight`,
  ffnSubNorm: (l: number) => `blk.${l}.ffn_sub_norm.weight`,
} as const;

/**
 * The tensors a model with these hyperparameters must have, in a stable order.
 *
 * @example
 * ```ts
 * expectedTensors(hp).length; // 1 + 11·n_layer + 1 for tied BitNet
 * ```
 */
export function expectedTensors(hp: ModelHparams): TensorSpec[] {
  const qDim = hp.nHead * hp.headDim, kvDim = hp.nHeadKv * hp.headDim;
  const n = layerTensorName;
  const specs: TensorSpec[] = [
    { name: "token_embd.weight", shape: [hp.vocabSize, hp.nEmbd], role: "embedding" },
  ];
  for (let l = 0; l < hp.nLayer; l++) {
    specs.push(
      { name: n.attnNorm(l), shape: [hp.nEmbd], role: "norm" },
      { name: n.wq(l), shape: [qDim, hp.nEmbd], role: "projection" },
      { name: n.wk(l), shape: [kvDim, hp.nEmbd], role: "projection" },
      { name: n.wv(l), shape: [kvDim, hp.nEmbd], role: "projection" },
    );
    if (hp.family === "bitnet") specs.push({ name: n.attnSubNorm(l), shape: [qDim], role: "norm" });
    specs.push(
      { name: n.wo(l), shape: [hp.nEmbd, qDim], role: "projection" },
      { name: n.ffnNorm(l), shape: [hp.nEmbd], role: "norm" },
      { name: n.wGate(l), shape: [hp.nFf, hp.nEmbd], role: "projection" },
      { name: n.wUp(l), shape: [hp.nFf, hp.nEmbd], role: "projection" },
    );
    if (hp.family === "bitnet") {
      specs.push({ name: n.ffnSubNorm(l), shape: [hp.nFf], role: "norm" });
    }
    specs.push({ name: n.wDown(l), shape: [hp.nEmbd, hp.nFf], role: "projection" });
  }
  specs.push({ name: "output_norm.weight", shape: [hp.nEmbd], role: "norm" });
  if (!hp.tiedOutput) {
    specs.push({ name: "output.weight", shape: [hp.vocabSize, hp.nEmbd], role: "output" });
  }
  return specs;
}

/** The storage a role gets in a family, and the stored types it accepts. */
function storageOf(role: TensorRole, family: ModelHparams["family"]): {
  storage: TensorStorage;
  types: readonly number[];
} {
  if (role === "norm") return { storage: "norm", types: numericKeys(FLOAT_DECODERS) };
  if (role === "projection" && family === "bitnet") {
    return { storage: "ternary", types: numericKeys(TERNARY_SOURCES) };
  }
  return { storage: "float", types: FLOAT_MATRIX_TYPES };
}

function numericKeys(table: Readonly<Partial<Record<number, unknown>>>): number[] {
  return Object.keys(table).map(Number);
}

/**
 * Checks every expected tensor's presence, shape and type, all before any
 * tensor is read. Missing or misshapen tensors are a {@link ModelShapeError}
 * naming the tensor, the expected and the actual shape; a stored type the
 * engine cannot use for that tensor is an {@link UnsupportedError}.
 *
 * @example
 * ```ts
 * const plan = planTensors(gguf, readHparams(gguf));
 * ```
 */
export function planTensors(g: GgufFile, hp: ModelHparams): PlannedTensor[] {
  const specs = expectedTensors(hp);
  const missing = specs.filter((s) => !g.hasTensor(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).join(", ") + (missing.length > 8 ? ", ..." : "");
    throw new ModelShapeError(
      `${g.path}: ${missing.length} tensor(s) missing for ${hp.arch} with ${hp.nLayer} layers: ${shown}`,
    );
  }
  const plan: PlannedTensor[] = [];
  for (const spec of specs) {
    const info = g.tensor(spec.name);
    if (!sameShape(info.shape, spec.shape)) {
      throw new ModelShapeError(
        `${g.path}: tensor ${spec.name} has shape [${info.shape.join(", ")}], expected [${
          spec.shape.join(", ")
        }] (PyTorch order; GGUF dims [${[...spec.shape].reverse().join(", ")}])`,
      );
    }
    const { storage, types } = storageOf(spec.role, hp.family);
    if (!types.includes(info.type)) {
      throw new UnsupportedError(
        `${g.path}: tensor ${spec.name} is stored as ${
          GGML_TYPES[info.type]?.name ?? info.type
        }, which the engine cannot use for a ${hp.family} ${spec.role} (supported: ${
          typeNames(types)
        })`,
      );
    }
    plan.push({ ...spec, info, storage });
  }
  return plan;
}

/** Leading 1s are ignored: a GGUF vector may be written with dims [n, 1]. */
function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  const a = [...actual];
  while (a.length > expected.length && a[0] === 1) a.shift();
  return a.length === expected.length && a.every((d, i) => d === expected[i]);
}

/**
 * Bytes a planned tensor takes in kernel memory, given the backend's ternary layout.
 *
 * @example
 * ```ts
 * kernelBytes(plan[0]!, (rows, cols) => rows * cols);
 * ```
 */
export function kernelBytes(
  t: PlannedTensor,
  ternaryBytes: (rows: number, cols: number) => number,
): number {
  const [rows = 1, cols = 1] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
  if (t.storage === "ternary") return ternaryBytes(rows, cols);
  if (t.storage === "norm") return rows * cols * 4;
  if (!isFloatType(t.info.type)) throw new UnsupportedError(`${t.name}: not a float type`);
  return t.info.nbytes;
}
