/**
 * An independent float64 forward pass in the Hugging Face convention, on HF
 * (unpermuted) weights: RMSNorm, rotate_half RoPE (dim i with i + d/2),
 * causal GQA attention, SiLU-gated FFN (Llama) or relu² with the BitNet
 * sub-norms and BitLinear quantization (FORMATS.md §4). Written from the
 * formulas, sharing no code with lib/inference.
 *
 * @example
 * ```ts
 * const logits = hfForward(weights, shape, [1, 2, 3]); // one Float64Array per position
 * ```
 * @module
 */

/** Shape of the model. */
export interface HfShape {
  family: "llama" | "bitnet";
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
}

/** HF tensor name → values (row-major, PyTorch shape). */
export type HfWeights = ReadonlyMap<string, ArrayLike<number>>;

function get(w: HfWeights, name: string): ArrayLike<number> {
  const v = w.get(name);
  if (!v) throw new Error(`missing ${name}`);
  return v;
}

function rmsNorm(x: Float64Array, g: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => g[i]! * v * inv);
}

/** y = W x, W [rows, cols] row-major. */
function matVec(w: ArrayLike<number>, x: Float64Array, rows: number): Float64Array {
  const cols = x.length, y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function roundHalfEvenRef(v: number): number {
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** BitLinear: AQ(x) per token, absmean WQ(W) per tensor (FORMATS.md §4). */
function bitLinear(w: ArrayLike<number>, x: Float64Array, rows: number): Float64Array {
  let absSum = 0;
  for (let i = 0; i < w.length; i++) absSum += Math.abs(w[i]!);
  const s = Math.max(Math.fround(absSum / w.length), Math.fround(1e-5));
  const wq = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    wq[i] = Math.min(1, Math.max(-1, roundHalfEvenRef(Math.fround(w[i]! / s)))) * s;
  }
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  const t = 127 / Math.max(max, 1e-5);
  const xq = x.map((v) => Math.min(127, Math.max(-128, roundHalfEvenRef(v * t))) / t);
  return matVec(wq, xq, rows);
}

/** HF rotate_half RoPE on every head of `v` at position `pos`. */
function ropeHalf(
  v: Float64Array,
  heads: number,
  headDim: number,
  pos: number,
  theta: number,
): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    const o = h * headDim;
    for (let i = 0; i < half; i++) {
      const angle = pos / Math.pow(theta, (2 * i) / headDim);
      const c = Math.cos(angle), s = Math.sin(angle);
      const x0 = v[o + i]!, x1 = v[o + i + half]!;
      // out = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁]
      v[o + i] = x0 * c - x1 * s;
      v[o + i + half] = x1 * c + x0 * s;
    }
  }
}

/** Logits at every position of `ids`. */
export function hfForward(w: HfWeights, m: HfShape, ids: readonly number[]): Float64Array[] {
  const headDim = m.hidden / m.heads, group = m.heads / m.kvHeads;
  const qDim = m.heads * headDim, kvDim = m.kvHeads * headDim;
  const lin = m.family === "bitnet" ? bitLinear : matVec;
  const embed = get(w, "model.embed_tokens.weight");
  const head = w.get("lm_head.weight") ?? embed;
  const hs = ids.map((id) =>
    Float64Array.from({ length: m.hidden }, (_, c) => embed[id * m.hidden + c]!)
  );
  for (let l = 0; l < m.layers; l++) {
    const p = `model.layers.${l}.`;
    const keys: Float64Array[] = [], values: Float64Array[] = [];
    const queries: Float64Array[] = [];
    for (let t = 0; t < ids.length; t++) {
      const a = rmsNorm(hs[t]!, get(w, p + "input_layernorm.weight"), m.eps);
      const q = lin(get(w, p + "self_attn.q_proj.weight"), a, qDim);
      const k = lin(get(w, p + "self_attn.k_proj.weight"), a, kvDim);
      const v = lin(get(w, p + "self_attn.v_proj.weight"), a, kvDim);
      ropeHalf(q, m.heads, headDim, t, m.ropeTheta);
      ropeHalf(k, m.kvHeads, headDim, t, m.ropeTheta);
      queries.push(q);
      keys.push(k);
      values.push(v);
    }
    for (let t = 0; t < ids.length; t++) {
      let o: Float64Array = new Float64Array(qDim);
      for (let h = 0; h < m.heads; h++) {
        const kv = Math.floor(h / group) * headDim;
        const scores = [];
        for (let j = 0; j <= t; j++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) {
            dot += queries[t]![h * headDim + d]! * keys[j]![kv + d]!;
          }
          scores.push(dot / Math.sqrt(headDim));
        }
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) {
          for (let d = 0; d < headDim; d++) {
            o[h * headDim + d]! += (e[j]! / sum) * values[j]![kv + d]!;
          }
        }
      }
      if (m.family === "bitnet") {
        o = rmsNorm(o, get(w, p + "self_attn.attn_sub_norm.weight"), m.eps);
      }
      const attnOut = lin(get(w, p + "self_attn.o_proj.weight"), o, m.hidden);
      const h1 = hs[t]!.map((v, i) => v + attnOut[i]!);
      const f = rmsNorm(h1, get(w, p + "post_attention_layernorm.weight"), m.eps);
      const g = lin(get(w, p + "mlp.gate_proj.weight"), f, m.ff);
      const u = lin(get(w, p + "mlp.up_proj.weight"), f, m.ff);
      let act: Float64Array = g.map((gv, i) =>
        m.family === "bitnet" ? Math.max(gv, 0) ** 2 * u[i]! : (gv / (1 + Math.exp(-gv))) * u[i]!
      );
      if (m.family === "bitnet") act = rmsNorm(act, get(w, p + "mlp.ffn_sub_norm.weight"), m.eps);
      const down = lin(get(w, p + "mlp.down_proj.weight"), act, m.hidden);
      hs[t] = h1.map((v, i) => v + down[i]!);
    }
  }
  return hs.map((h) => matVec(head, rmsNorm(h, get(w, "model.norm.weight"), m.eps), m.vocab));
}

/**
 * llama.cpp's q/k row permutation (FORMATS.md §3): reshape(n_head, 2,
 * rows/n_head/2, cols) → swap axes 1, 2 → reshape(rows, cols).
 */
export function permuteRows(
  w: ArrayLike<number>,
  nHead: number,
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols), headRows = rows / nHead, half = headRows / 2;
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const from = h * headRows + i * half + j, to = h * headRows + j * 2 + i;
        for (let c = 0; c < cols; c++) out[to * cols + c] = w[from * cols + c]!;
      }
    }
  }
  return out;
}
