/**
 * The tests' own plain float64 forward pass of the transformers semantics of
 * every ternary family (issue 10's table), on the checkpoint's own tensors
 * as the imitation wrote them: packed U8 codes are unpacked here (transformers'
 * `unpack_weights`), latent weights ternarized here (absmean), activations
 * quantized here (int8 per token, absmax). Shares no code with lib/.
 *
 * @example
 * ```ts
 * const logits = referenceForward(model, [1, 2, 3]); // one Float64Array per position
 * ```
 * @module
 */

/** How one family computes (written from the table, not from lib/arch). */
export interface FamilySemantics {
  /** `hidden_act`: silu(g)·u or relu(g)²·u. */
  activation: "silu" | "relu2";
  /** HF names (after `model.layers.N.`) of the sub-norms before o_proj and before down_proj. */
  subNorms: { attn: string; ffn: string } | null;
  /**
   * How a projection's weight is obtained: absmean of a latent float weight, or packed codes
   * T with W = T ÷ weight_scale (BitLinear) or T × weight_scale (AutoBitLinear offline).
   */
  weights: "latent" | "packed-divide" | "packed-multiply";
}

/** One tensor of the checkpoint, as written. */
export interface RefTensor {
  shape: number[];
  /** Float values (F32/F16/BF16 tensors), exactly as stored. */
  values?: Float64Array;
  /** Packed bytes (U8 tensors). */
  bytes?: Uint8Array;
}

/** A model for the reference: its config numbers, tensors and family. */
export interface RefModel {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  semantics: FamilySemantics;
  tensors: ReadonlyMap<string, RefTensor>;
  /**
   * How a stored file rounds each per-tensor factor (e.g. to f16 in an F16 GGUF, a TQ block's
   * d); absent: the exact value, as transformers computes it.
   */
  roundFactor?: (factor: number) => number;
}

function values(m: RefModel, name: string): Float64Array {
  const t = m.tensors.get(name);
  if (!t?.values) throw new Error(`reference: no float tensor ${name}`);
  return t.values;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** transformers `unpack_weights`: row i·R + r (R = ceil(out/4)) is bits 2i of byte [r, c], minus 1. */
export function unpackCodes(bytes: Uint8Array, out: number, cols: number): Float64Array {
  const R = Math.ceil(out / 4), w = new Float64Array(out * cols);
  for (let i = 0; i < 4; i++) {
    for (let r = 0; r < R && i * R + r < out; r++) {
      for (let c = 0; c < cols; c++) {
        w[(i * R + r) * cols + c] = ((bytes[r * cols + c]! >> (2 * i)) & 3) - 1;
      }
    }
  }
  return w;
}

/** A ternary weight as trits T and the factor W = T · factor. */
export interface Ternary {
  trits: Float64Array;
  factor: number;
}

const cache = new WeakMap<RefModel, Map<string, Ternary>>();

/** The BitLinear weight of projection `name` ([rows, cols]) in the family's convention. */
export function ternaryWeight(m: RefModel, name: string, rows: number, cols: number): Ternary {
  let byName = cache.get(m);
  if (!byName) cache.set(m, byName = new Map());
  const hit = byName.get(name);
  if (hit) return hit;
  let t: Ternary;
  if (m.semantics.weights === "latent") {
    // weight_quant: s = 1 / mean|W| (clamped 1e-5), T = clamp(round(W·s), −1, 1), W = T / s.
    const w = values(m, name);
    let sum = 0;
    for (const v of w) sum += Math.abs(v);
    const mean = Math.max(sum / w.length, 1e-5);
    const trits = w.map((v) => Math.max(-1, Math.min(1, roundHalfEven(v / mean))));
    t = { trits, factor: mean };
  } else {
    const packed = m.tensors.get(name)!.bytes!;
    const scale = values(m, name.replace(/\.weight$/, ".weight_scale"))[0]!;
    const trits = unpackCodes(packed, rows, cols);
    t = { trits, factor: m.semantics.weights === "packed-divide" ? 1 / scale : scale };
  }
  if (m.roundFactor) t = { trits: t.trits, factor: m.roundFactor(t.factor) };
  byName.set(name, t);
  return t;
}

/** BitLinear: x quantized per token (s = 127 / max|x|, clamp 1e-5), y = (x_q · T) / s · factor. */
function bitLinear(m: RefModel, name: string, x: Float64Array, rows: number): Float64Array {
  const cols = x.length, { trits, factor } = ternaryWeight(m, name, rows, cols);
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  const s = 127 / Math.max(max, 1e-5);
  const xq = x.map((v) => Math.max(-128, Math.min(127, roundHalfEven(v * s))));
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += trits[r * cols + c]! * xq[c]!;
    y[r] = (acc / s) * factor;
  }
  return y;
}

function matVec(w: Float64Array, x: Float64Array, rows: number): Float64Array {
  const cols = x.length, y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += w[r * cols + c]! * x[c]!;
    y[r] = acc;
  }
  return y;
}

function rmsNorm(x: Float64Array, g: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => g[i]! * v * inv);
}

/** HF rotate_half RoPE: dim i pairs with i + headDim/2. */
function rope(v: Float64Array, heads: number, headDim: number, pos: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const a = pos / Math.pow(theta, (2 * i) / headDim), c = Math.cos(a), s = Math.sin(a);
      const o = h * headDim, x0 = v[o + i]!, x1 = v[o + i + half]!;
      v[o + i] = x0 * c - x1 * s;
      v[o + i + half] = x1 * c + x0 * s;
    }
  }
}

/** Causal GQA attention of position t over positions 0…t. */
function attend(m: RefModel, q: Float64Array, keys: Float64Array[], vals: Float64Array[]) {
  const d = m.headDim, group = m.heads / m.kvHeads, out = new Float64Array(m.heads * d);
  for (let h = 0; h < m.heads; h++) {
    const kv = Math.floor(h / group) * d;
    const scores = keys.map((k) => {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[h * d + i]! * k[kv + i]!;
      return dot / Math.sqrt(d);
    });
    const max = Math.max(...scores), e = scores.map((s) => Math.exp(s - max));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < keys.length; j++) {
      for (let i = 0; i < d; i++) out[h * d + i]! += (e[j]! / sum) * vals[j]![kv + i]!;
    }
  }
  return out;
}

/** Keys and values of the positions seen so far, per layer. */
type Cache = Array<{ keys: Float64Array[]; vals: Float64Array[] }>;

/** One decoder layer on the hidden state `h` of position t (the cache holds 0…t−1). */
function layer(m: RefModel, l: number, h: Float64Array, t: number, cache: Cache): Float64Array {
  const p = `model.layers.${l}.`, sem = m.semantics, { keys, vals } = cache[l]!;
  const qDim = m.heads * m.headDim, kvDim = m.kvHeads * m.headDim;
  const a = rmsNorm(h, values(m, p + "input_layernorm.weight"), m.eps);
  const q = bitLinear(m, p + "self_attn.q_proj.weight", a, qDim);
  const k = bitLinear(m, p + "self_attn.k_proj.weight", a, kvDim);
  const v = bitLinear(m, p + "self_attn.v_proj.weight", a, kvDim);
  rope(q, m.heads, m.headDim, t, m.ropeTheta);
  rope(k, m.kvHeads, m.headDim, t, m.ropeTheta);
  keys.push(k);
  vals.push(v);
  let o: Float64Array<ArrayBufferLike> = attend(m, q, keys, vals);
  if (sem.subNorms) o = rmsNorm(o, values(m, p + sem.subNorms.attn), m.eps);
  const attnOut = bitLinear(m, p + "self_attn.o_proj.weight", o, m.hidden);
  const h1 = h.map((x, i) => x + attnOut[i]!);
  const f = rmsNorm(h1, values(m, p + "post_attention_layernorm.weight"), m.eps);
  const g = bitLinear(m, p + "mlp.gate_proj.weight", f, m.ff);
  const u = bitLinear(m, p + "mlp.up_proj.weight", f, m.ff);
  let act: Float64Array<ArrayBufferLike> = g.map((x, i) =>
    (sem.activation === "silu" ? x / (1 + Math.exp(-x)) : Math.max(x, 0) ** 2) * u[i]!
  );
  if (sem.subNorms) act = rmsNorm(act, values(m, p + sem.subNorms.ffn), m.eps);
  const down = bitLinear(m, p + "mlp.down_proj.weight", act, m.hidden);
  return h1.map((x, i) => x + down[i]!);
}

/** A decoder over `m`: feed one token at a time, get its logits (keys and values cached). */
function decoder(m: RefModel): (id: number) => Float64Array {
  const embed = values(m, "model.embed_tokens.weight");
  const head = m.tensors.get("lm_head.weight")?.values ?? embed;
  const cache: Cache = Array.from({ length: m.layers }, () => ({ keys: [], vals: [] }));
  let t = 0;
  return (id) => {
    let h: Float64Array<ArrayBufferLike> = embed.slice(id * m.hidden, (id + 1) * m.hidden);
    for (let l = 0; l < m.layers; l++) h = layer(m, l, h, t, cache);
    t++;
    return matVec(head, rmsNorm(h, values(m, "model.norm.weight"), m.eps), m.vocab);
  };
}

/** Logits at every position of `ids` (lm_head when present, else the tied embeddings). */
export function referenceForward(m: RefModel, ids: readonly number[]): Float64Array[] {
  const next = decoder(m);
  return ids.map((id) => next(id));
}

/** The reference's greedy continuation: ids, and the top-1/top-2 gap at each step. */
export function referenceGreedy(
  m: RefModel,
  prompt: readonly number[],
  steps: number,
): { ids: number[]; gaps: number[]; promptLogits: Float64Array<ArrayBufferLike> } {
  const next = decoder(m);
  let logits: Float64Array<ArrayBufferLike> = new Float64Array();
  for (const id of prompt) logits = next(id);
  const promptLogits = logits, ids: number[] = [], gaps: number[] = [];
  for (let s = 0; s < steps; s++) {
    const order = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
    ids.push(order[0]!);
    gaps.push(logits[order[0]!]! - logits[order[1]!]!);
    if (s + 1 < steps) logits = next(order[0]!);
  }
  return { ids, gaps, promptLogits };
}
