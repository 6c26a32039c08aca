/**
 * The forward pass, one step per line, as in docs/reference/formats.md, "BitNet b1.58 forward pass" (BitNet b1.58) and
 * its Llama twin. A batch of tokens at consecutive positions goes through
 * every layer as a matrix (prompt processing); generation is a batch of one.
 *
 * BitNet and Llama differ only in data, not in code paths here: BitNet layers
 * carry the two sub-norms and ternary weights (so their inputs are quantized
 * to int8 per token), Llama layers float weights; relu² vs SiLU and the RoPE
 * pairing come from the hyperparameters. The element-wise steps (embedding
 * lookup, residual add, Llama's SiLU gate) are plain TypeScript over views of
 * kernel memory: O(width) per token, next to O(width²) for the projections; BitNet's
 * relu² gate is a kernel (TypeScript took ~1.5 ms of a 1-thread token, 30 layers).
 *
 * @example
 * ```ts
 * import { forward, type Model } from "./forward.ts";
 * import type { RunState } from "./state.ts";
 * declare const model: Model, state: RunState;
 * forward(model, state, [2046, 463, 275], "all"); // logits of the three tokens in state.logits
 * ```
 * @module
 */

import { codecOf } from "../codecs/table.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { Activation } from "../arch/registry.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { type FloatMatrix, linear, linearGroup, type LinearInput, type Matrix } from "./linear.ts";
import type { FileRows } from "./output_head.ts";
import type { RopeTable } from "./rope.ts";
import type { RunState } from "./state.ts";
import type { ModelWeights } from "./weights.ts";

/** A loaded model: hyperparameters, weights in kernel memory, RoPE table. */
export interface Model {
  readonly hparams: ModelHparams;
  readonly weights: ModelWeights;
  readonly kernels: Kernels;
  readonly rope: RopeTable;
}

/**
 * What the batch leaves for the output layer: "all", the logits of every token (rows 0…n−1
 * of `state.logits`); "none", nothing (a prompt batch that is not the last); "normed", the
 * last token's output-normed hidden state in row 0 of `state.xb`, for a caller that runs the
 * output layer itself ({@link outputLayer}, or the exact int8 head); "normedAll", the same for
 * every token of the batch, rows 0…n−1 of `state.xb`.
 */
export type LogitRows = "all" | "none" | "normed" | "normedAll";

/**
 * Runs `tokens` at positions `state.pos`… through the model, appends their
 * keys and values to the cache and advances `state.pos`, leaving what `rows`
 * says for the output layer. The caller checks that the batch and the cache
 * have room and that the ids are in the vocabulary.
 *
 * @example
 * ```ts
 * import type { RunState } from "./state.ts";
 * declare const model: Model, state: RunState;
 * forward(model, state, [2046, 463], "all"); // logits of both tokens in state.logits
 * ```
 */
export function forward(m: Model, s: RunState, tokens: readonly number[], rows: LogitRows): void {
  const k = m.kernels, p = m.hparams, w = m.weights;
  const n = tokens.length, pos = s.pos, eps = p.eps;
  const qDim = p.nHead * p.headDim;
  const view = (ptr: number, width: number) => k.f32(ptr, n * width);
  // BitLinear quantizes its input per token (AQ: int8 with t = 127 / max|x|, once for every
  // projection that reads the same rows); float linear layers take x as is. A weight is
  // ternary exactly when the model lists its kind as BitLinear (hparams.bitlinear).
  const input = (x: number, cols: number, ...readers: Matrix[]): LinearInput => {
    if (!readers.some((w) => w.kind === "ternary")) return { x, cols };
    const q = s.quantized;
    k.quantizeRowsI8(x, q.q, q.scale, q.sum, cols, n);
    return { x, cols, quantized: q };
  };
  const rope = (x: number, heads: number) =>
    ropeRows(m.rope, view(x, heads * p.headDim), heads, p.headDim, pos, n);
  const attend = (l: number) =>
    k.attention(p, {
      q: s.q,
      keys: s.keyRows(l, 0),
      values: s.valueRows(l, 0),
      out: s.att,
      pos0: pos,
      batch: n,
    });
  const residual = () => {
    const h = view(s.x, p.nEmbd), d = view(s.xb, p.nEmbd);
    for (let i = 0; i < h.length; i++) h[i] = h[i]! + d[i]!;
  };

  embed(k, w.tokenEmbd, tokens, s.x, w.tokenEmbdRows); // h = E[tokens]
  for (let l = 0; l < p.nLayer; l++) {
    const L = w.layers[l]!, keys = s.keyRows(l, pos), values = s.valueRows(l, pos);
    k.rmsnorm(s.x, L.attnNorm, s.xb, p.nEmbd, n, eps); // a = rms(h, attn_norm)
    const a = input(s.xb, p.nEmbd, L.wq, L.wk, L.wv); // AQ(a), once for q, k and v
    // q = BL(a, Wq); k = BL(a, Wk), v = BL(a, Wv) straight into the cache (one kernel job)
    linearGroup(k, [L.wq, L.wk, L.wv], a, [s.q, keys, values], n);
    rope(s.q, p.nHead); // q = RoPE(q)
    rope(keys, p.nHeadKv); // k = RoPE(k)
    attend(l); // o = softmax(q·kᵀ/√d + causal mask)·v, kv head = q head / group
    if (L.attnSubNorm !== undefined) k.rmsnorm(s.att, L.attnSubNorm, s.att, qDim, n, eps); // o = rms(o, attn_sub_norm)
    linear(k, L.wo, input(s.att, qDim, L.wo), s.xb, n); // o = BL(o, Wo)
    residual(); // h = h + o
    k.rmsnorm(s.x, L.ffnNorm, s.xb, p.nEmbd, n, eps); // f = rms(h, ffn_norm)
    const f = input(s.xb, p.nEmbd, L.wGate, L.wUp); // AQ(f), once for gate and up
    linearGroup(k, [L.wGate, L.wUp], f, [s.gate, s.up], n); // g = BL(f, Wgate), u = BL(f, Wup)
    gatedActivation(k, p.activation, s.gate, s.up, n * p.nFf); // m = relu(g)²·u (Llama: silu(g)·u)
    if (L.ffnSubNorm !== undefined) k.rmsnorm(s.gate, L.ffnSubNorm, s.gate, p.nFf, n, eps); // m = rms(m, ffn_sub_norm)
    linear(k, L.wDown, input(s.gate, p.nFf, L.wDown), s.xb, n); // d = BL(m, Wdown)
    residual(); // h = h + d
  }
  s.pos = pos + n;
  if (rows === "none") return;
  const first = rows === "normed" ? n - 1 : 0, count = n - first;
  k.rmsnorm(s.x + first * p.nEmbd * 4, w.outputNorm, s.xb, p.nEmbd, count, eps); // y = rms(h, output_norm)
  if (rows === "all") outputLayer(m, s, count); // logits = y·Eᵀ, full precision
}

/**
 * The output layer with the matrix in kernel memory: the logits of the first `count`
 * output-normed rows of `state.xb`, into rows 0…count−1 of `state.logits`.
 *
 * @example
 * ```ts
 * import type { RunState } from "./state.ts";
 * declare const model: Model, state: RunState;
 * forward(model, state, [2046, 463], "normed"); // the last token's y in state.xb
 * outputLayer(model, state, 1); // its logits in state.logits
 * ```
 */
export function outputLayer(m: Model, s: RunState, count: number): void {
  linear(m.kernels, m.weights.output, { x: s.xb, cols: m.hparams.nEmbd }, s.logits, count);
}

/** RoPE on `n` consecutive rows of `nHeads` heads, row t at position pos + t. */
function ropeRows(
  rope: RopeTable,
  rows: Float32Array,
  nHeads: number,
  headDim: number,
  pos: number,
  n: number,
): void {
  for (let t = 0; t < n; t++) rope.rotate(rows, t * nHeads * headDim, nHeads, headDim, pos + t);
}

/**
 * Copies row `tokens[t]` of the (full-precision) embedding matrix to row t of `out` as f32;
 * with `file`, the rows are read from the file (a matrix not resident in kernel memory).
 */
function embed(
  k: Kernels,
  table: FloatMatrix,
  tokens: readonly number[],
  out: Ptr,
  file?: FileRows,
): void {
  const cols = table.cols, x = k.f32(out, tokens.length * cols);
  const float = codecOf(table.type).float!, rowBytes = cols * float.bytes;
  const buf = file ? new Uint8Array(rowBytes) : undefined;
  for (let t = 0; t < tokens.length; t++) {
    const row = file
      ? file.read(tokens[t]!, 1, buf!)
      : k.u8(table.ptr + tokens[t]! * rowBytes, rowBytes);
    float.decodeInto(row, x.subarray(t * cols, (t + 1) * cols));
  }
}

/**
 * gate ← relu(gate)²·up (BitNet, a kernel: one pass in SIMD) or silu(gate)·up (Llama),
 * element-wise over `n` floats.
 */
function gatedActivation(k: Kernels, kind: Activation, gate: Ptr, up: Ptr, n: number): void {
  if (kind === "relu2") return k.relu2Mul(gate, up, n);
  const g = k.f32(gate, n), u = k.f32(up, n);
  for (let i = 0; i < n; i++) g[i] = (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!;
}
