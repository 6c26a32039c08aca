/**
 * A model's tensors, from the GGUF file into kernel memory. First the plan: every tensor a
 * BitNet or Llama model must have (docs/reference/formats.md, "Tensor names") is checked for
 * presence, shape and a type the engine can use, all before anything is loaded or computed.
 * Then the load, once: float matrices are streamed in as stored, BitNet projections are
 * streamed in as 2-bit codes when they are I2_S or exactly ternary 16-bit floats
 * (ternary_stream.ts), else decoded to trits + one scale ({@link ternaryWeights}, for every
 * ggml type the codec table can decode: a new type is a row of the codec table, nothing here
 * changes) and packed in the backend's layout; norm weights become f32 (a NaN or ±inf in a
 * norm is refused, naming it).
 *
 * @example
 * ```ts
 * import { loadWeights, planTensors, weightBytes } from "./weights.ts";
 * import { createReferenceKernels } from "./kernels/reference.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const hp = readHparams(gguf);
 * const plan = planTensors(gguf, hp);
 * const kernels = createReferenceKernels(weightBytes(plan, (r, c) => r * c) + (1 << 20));
 * const weights = await loadWeights(gguf, hp, plan, kernels);
 * ```
 * @module
 */

import { NonFiniteError, UnsupportedError } from "../errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import type { CodeCounts, Kernels, Ptr } from "./kernels/api.ts";
import type { FloatMatrix, FloatType, Matrix } from "./linear.ts";
import { alignUp, BUFFER_ALIGN } from "./state.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { checkModelTensors, type ExpectedTensor } from "../arch/model_tensors.ts";
import { layerTensorName } from "../arch/registry.ts";
import { ternarizeAbsmean } from "../codecs/ternary.ts";
import { codecOf, GgmlType, type TernaryDecoded, typeNames, typesWith } from "../codecs/table.ts";
import { streamTernary } from "./ternary_stream.ts";
import type { FileRows } from "./output_head.ts";

/** One transformer block's weights. */
export interface LayerWeights {
  readonly attnNorm: Ptr;
  readonly wq: Matrix;
  readonly wk: Matrix;
  readonly wv: Matrix;
  /** BitNet only: RMSNorm of the attention output before o_proj. */
  readonly attnSubNorm: Ptr | undefined;
  readonly wo: Matrix;
  readonly ffnNorm: Ptr;
  readonly wGate: Matrix;
  readonly wUp: Matrix;
  /** BitNet only: RMSNorm of relu²(gate)·up before down_proj. */
  readonly ffnSubNorm: Ptr | undefined;
  readonly wDown: Matrix;
}

/** Every weight of a model, in kernel memory. */
export interface ModelWeights {
  readonly tokenEmbd: FloatMatrix;
  /** `output.weight`, or `token_embd` itself when tied. */
  readonly output: FloatMatrix;
  /**
   * When `token_embd` is not resident (its `ptr` is {@link NOT_RESIDENT}: the tied matrix
   * behind the streamed int8 head), its rows in the file, read per token.
   */
  readonly tokenEmbdRows?: FileRows | undefined;
  readonly outputNorm: Ptr;
  readonly layers: readonly LayerWeights[];
  /** Projections whose float values were not ternary and were ternarized with absmean at load. */
  readonly ternarizedAtLoad: readonly string[];
}

/** Sees a tensor's payload as the load reads it. */
export interface PayloadSink {
  /** Payload bytes [start, start + bytes.length), as read (a view: copy to keep). */
  bytes(bytes: Uint8Array, start: number): void;
  /**
   * Optional: for a 16-bit projection whose values are all −s, 0 or +s, and for
   * an I2_S one, the load gives the counts of its trits (it checks every value
   * anyway) instead of the bytes that hold them; `scaleBits` is the 16-bit
   * pattern of +s (0 when all are zero). I2_S's f32 scale still comes through
   * `bytes` (the payload's last 4 bytes), and its `scaleBits` is 0.
   */
  ternary?(counts: CodeCounts & { scaleBits: number }): void;
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /** Called with each norm's f32 values (a view of kernel memory: edits take effect). */
  transformNorm?: ((name: string, values: Float32Array) => void) | undefined;
  /**
   * Asked once per weight matrix (again if the load restarts the tensor on the
   * general path): a sink that sees every payload byte the load reads, so
   * that a caller computes statistics from the same read (model-validate's gate 2).
   */
  observe?: ((info: GgufTensorInfo) => PayloadSink | undefined) | undefined;
  /**
   * A float matrix not to load (the output matrix the streamed int8 head reads from the
   * file instead): its matrix gets `ptr` {@link NOT_RESIDENT} and takes no kernel memory.
   */
  notResident?: string | undefined;
}

/** The `ptr` of a float matrix that is not in kernel memory (any kernel refuses it). */
export const NOT_RESIDENT = -1;

/** An expected tensor found in the file with the right shape and a usable type. */
export interface PlannedTensor extends ExpectedTensor {
  readonly info: GgufTensorInfo;
  /** How it is kept in kernel memory. */
  readonly storage: "ternary" | "float" | "norm";
}

/** The storage a tensor gets (BitLinear projections: ternary), and the stored types it accepts. */
function storageOf(spec: ExpectedTensor, hp: ModelHparams): {
  storage: PlannedTensor["storage"];
  types: readonly number[];
} {
  if (spec.role === "norm") return { storage: "norm", types: typesWith("float") };
  if (spec.projection !== undefined && hp.bitlinear.includes(spec.projection)) {
    return { storage: "ternary", types: [...typesWith("float"), ...typesWith("ternary")] };
  }
  return { storage: "float", types: typesWith("float") };
}

/**
 * Checks every expected tensor's presence, shape and type, all before any
 * tensor is read. Missing or misshapen tensors are a {@link ModelShapeError}
 * naming the tensor, the expected and the actual shape; a stored type the
 * engine cannot use for that tensor is an {@link UnsupportedError}.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const plan = planTensors(gguf, readHparams(gguf));
 * ```
 */
export function planTensors(g: GgufFile, hp: ModelHparams): PlannedTensor[] {
  return checkModelTensors(g, hp).map(({ expected: spec, info }) => {
    const { storage, types } = storageOf(spec, hp);
    if (!types.includes(info.type)) {
      throw new UnsupportedError(
        `${g.path}: tensor ${spec.name} is stored as ${
          typeNames([info.type])
        }, which the engine cannot use for a ${hp.family} ${spec.role} (supported: ${
          typeNames(types)
        })`,
      );
    }
    return { ...spec, info, storage };
  });
}

/**
 * Kernel memory the planned tensors take, alignment padding included.
 *
 * @example
 * ```ts
 * import { wasmTernaryBytes } from "./kernels/wasm.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const hp = readHparams(gguf);
 * weightBytes(planTensors(gguf, hp), wasmTernaryBytes);
 * ```
 */
export function weightBytes(
  plan: readonly PlannedTensor[],
  ternaryBytes: (rows: number, cols: number) => number,
): number {
  return plan.reduce((sum, t) => sum + alignUp(kernelBytes(t, ternaryBytes), BUFFER_ALIGN), 0);
}

/** Bytes a planned tensor takes in kernel memory, given the backend's ternary layout. */
function kernelBytes(
  t: PlannedTensor,
  ternaryBytes: (rows: number, cols: number) => number,
): number {
  const [rows = 1, cols = 1] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
  if (t.storage === "ternary") return ternaryBytes(rows, cols);
  if (t.storage === "norm") return rows * cols * 4;
  if (!codecOf(t.info.type).float) throw new UnsupportedError(`${t.name}: not a float type`);
  return t.info.nbytes;
}

/**
 * Reads every planned tensor into kernel memory.
 *
 * @example
 * ```ts
 * import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
 * import type { ModelHparams } from "../arch/hparams.ts";
 * import type { Kernels } from "./kernels/api.ts";
 * declare const gguf: GgufFile, hp: ModelHparams, plan: PlannedTensor[], kernels: Kernels;
 * const weights = await loadWeights(gguf, hp, plan, kernels, { transformNorm: (_name, v) => v.fill(1) });
 * ```
 */
export async function loadWeights(
  g: GgufFile,
  hp: ModelHparams,
  plan: readonly PlannedTensor[],
  k: Kernels,
  opts: LoadWeightsOptions = {},
): Promise<ModelWeights> {
  const loaded = new Map<string, Matrix | Ptr>();
  const ternarizedAtLoad: string[] = [];
  for (const t of plan) {
    if (t.storage === "norm") loaded.set(t.name, await loadNorm(g, t, k, opts));
    else if (t.storage === "float") loaded.set(t.name, await loadFloatMatrix(g, t, k, opts));
    else {
      const m = await loadTernaryMatrix(g, t, k, opts);
      if (m.origin === "absmean") ternarizedAtLoad.push(t.name);
      loaded.set(t.name, m.matrix);
    }
  }
  const matrix = (name: string) => loaded.get(name) as Matrix;
  const ptr = (name: string) => loaded.get(name) as Ptr;
  const optionalPtr = (name: string) => loaded.get(name) as Ptr | undefined;
  const n = layerTensorName;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < hp.nLayer; l++) {
    layers.push({
      attnNorm: ptr(n("attn_norm", l)),
      wq: matrix(n("attn_q", l)),
      wk: matrix(n("attn_k", l)),
      wv: matrix(n("attn_v", l)),
      attnSubNorm: optionalPtr(n("attn_sub_norm", l)),
      wo: matrix(n("attn_output", l)),
      ffnNorm: ptr(n("ffn_norm", l)),
      wGate: matrix(n("ffn_gate", l)),
      wUp: matrix(n("ffn_up", l)),
      ffnSubNorm: optionalPtr(n("ffn_sub_norm", l)),
      wDown: matrix(n("ffn_down", l)),
    });
  }
  const tokenEmbd = matrix("token_embd.weight") as FloatMatrix;
  const output = hp.tied ? tokenEmbd : matrix("output.weight") as FloatMatrix;
  return { tokenEmbd, output, outputNorm: ptr("output_norm.weight"), layers, ternarizedAtLoad };
}

function rowsCols(t: PlannedTensor): [number, number] {
  return [t.shape[0]!, t.shape[1]!];
}

async function loadNorm(
  g: GgufFile,
  t: PlannedTensor,
  k: Kernels,
  opts: LoadWeightsOptions,
): Promise<Ptr> {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const values = codecOf(t.info.type).decode(await g.readTensor(t.info), n, `${g.path}: ${t.name}`);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new NonFiniteError(`${g.path}: tensor ${t.name} element ${bad} is ${values[bad]}`);
  }
  const ptr = k.alloc(n * 4, BUFFER_ALIGN);
  const view = k.f32(ptr, n);
  view.set(values);
  opts.transformNorm?.(t.name, view);
  return ptr;
}

/** Bytes read per slab of a float matrix. */
const FLOAT_SLAB_BYTES = 1 << 22;
/** Slabs of a float matrix read at once. */
const READS_IN_FLIGHT = 3;

/**
 * Reads the stored bytes straight into kernel memory (no staging copy), slab by slab; the
 * matrix `opts.notResident` is not read and gets `ptr` {@link NOT_RESIDENT}.
 */
async function loadFloatMatrix(
  g: GgufFile,
  t: PlannedTensor,
  k: Kernels,
  opts: LoadWeightsOptions,
): Promise<FloatMatrix> {
  const type = t.info.type, [rows, cols] = rowsCols(t);
  if (!codecOf(type).float) throw new RangeError(`${t.name}: not a float type`);
  const matrix = { kind: "float", name: t.name, type: type as FloatType, rows, cols } as const;
  if (t.name === opts.notResident) return { ...matrix, ptr: NOT_RESIDENT };
  const ptr = k.alloc(t.info.nbytes, BUFFER_ALIGN);
  const sink = opts.observe?.(t.info), size = t.info.nbytes;
  // READS_IN_FLIGHT slabs are read at once (each a copy from the page cache, and the first
  // touch of fresh kernel memory, on a runtime thread); the sink sees them in order.
  const read = (at: number) =>
    g.readTensorSlice(t.info, at, k.u8(ptr + at, Math.min(FLOAT_SLAB_BYTES, size - at)));
  const inFlight: Promise<Uint8Array>[] = [];
  let issued = 0;
  try {
    for (let at = 0; at < size; at += FLOAT_SLAB_BYTES) {
      for (; inFlight.length < READS_IN_FLIGHT && issued < size; issued += FLOAT_SLAB_BYTES) {
        const pending = read(issued);
        // Handled from the start: a read may fail while an earlier one is awaited.
        pending.catch(() => undefined);
        inFlight.push(pending);
      }
      // Awaited on its own line: `sink?.bytes(await …)` would skip the await without a sink.
      const slab = await inFlight.shift()!;
      sink?.bytes(slab, at);
    }
  } finally {
    // When a read fails, those issued after it are settled before the error goes on (as in
    // ternary_stream.ts' stagedSlabs): none fails unobserved or lands after the load gave up.
    await Promise.allSettled(inFlight);
  }
  return { ...matrix, ptr };
}

/** I2_S and exactly ternary 16-bit projections stream in as codes; the rest goes through trits. */
async function loadTernaryMatrix(
  g: GgufFile,
  t: PlannedTensor,
  k: Kernels,
  opts: LoadWeightsOptions,
): Promise<{ matrix: Matrix; origin: TernaryWeights["origin"] }> {
  const [rows, cols] = rowsCols(t);
  const ptr = k.alloc(k.ternaryBytes(rows, cols), BUFFER_ALIGN);
  const streamed = await streamTernary(g, t.info, k, ptr, opts.observe?.(t.info));
  if (streamed !== null) {
    const origin = t.info.type === GgmlType.I2_S ? "packed" : "ternary";
    return { matrix: { kind: "ternary", name: t.name, ptr, scale: streamed, rows, cols }, origin };
  }
  const payload = await g.readTensor(t.info);
  opts.observe?.(t.info)?.bytes(payload, 0);
  const { trits, scale, origin } = ternaryWeights(
    t.info.type,
    payload,
    rows,
    cols,
    `${g.path}: ${t.name}`,
  );
  k.packTernary(trits, rows, cols, ptr);
  return { matrix: { kind: "ternary", name: t.name, ptr, scale, rows, cols }, origin };
}

/** Trits (−1, 0, +1) of a `rows × cols` matrix and the one scale they multiply. */
export interface TernaryWeights {
  trits: Int8Array;
  scale: number;
  /**
   * How the trits were obtained: float values that were exactly ternary,
   * float values ternarized with absmean (master weights), or packed codes.
   */
  origin: "ternary" | "absmean" | "packed";
}

/**
 * The one scale every block holding a nonzero trit shares, or null when the
 * blocks disagree (TQ2_0 / TQ1_0 keep max|x| per 256-element block, so a file
 * quantized from non-ternary values has several).
 */
function sharedScale({ trits, scales, block }: TernaryDecoded): number | null {
  if (scales.length === 1) return scales[0]!;
  let common = 0;
  for (let b = 0; b < scales.length; b++) {
    let used = false;
    for (let i = b * block; i < (b + 1) * block && !used; i++) used = trits[i] !== 0;
    if (!used) continue;
    if (common === 0) common = scales[b]!;
    else if (scales[b] !== common) return null;
  }
  return common;
}

/**
 * Trits and one scale of a stored projection of `rows × cols` elements. Float
 * values are read straight from their bit patterns when exactly ternary, else
 * ternarized with absmean; packed types keep their codes and shared scale,
 * and blocks with different scales are dequantized and ternarized with
 * absmean (the closest one-scale BitLinear).
 *
 * @example
 * ```ts
 * import { GgmlType, packTrits } from "../codecs/table.ts";
 * ternaryWeights(GgmlType.I2_S, packTrits(GgmlType.I2_S, new Int8Array(256), 0.25), 2, 128, "w").scale; // 0.25
 * ```
 */
export function ternaryWeights(
  type: number,
  payload: Uint8Array,
  rows: number,
  cols: number,
  name: string,
): TernaryWeights {
  const codec = codecOf(type, name), n = rows * cols;
  if (codec.float) {
    const exact = codec.float.exactTrits(payload, n);
    if (exact) return { ...exact, origin: "ternary" };
    const { trits, scale } = ternarizeAbsmean(codec.decode(payload, n, name), undefined, name);
    return { trits, scale, origin: "absmean" };
  }
  const decoded = codec.ternary!.decode(payload, n, name);
  const scale = sharedScale(decoded);
  if (scale !== null) return { trits: decoded.trits, scale, origin: "packed" };
  // Blocks with different scales: their values, taken as float weights are.
  const values = codec.decode(payload, n, name);
  return ternaryWeights(GgmlType.F32, new Uint8Array(values.buffer), rows, cols, name);
}
