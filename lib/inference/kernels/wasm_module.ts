/**
 * Picks and compiles the kernel module: the relaxed-SIMD variant where the
 * engine validates relaxed SIMD, the portable-SIMD variant elsewhere.
 *
 * @example
 * ```ts
 * import { compileKernelModule, relaxedSimdSupported } from "./wasm_module.ts";
 * const module = await compileKernelModule(relaxedSimdSupported() ? "relaxed" : "portable");
 * ```
 * @module
 */

import { PORTABLE_SIMD_WASM, RELAXED_SIMD_WASM } from "./wasm_bytes.ts";
import { relaxedSimdSupported, type SimdVariant } from "./features.ts";

export { relaxedSimdSupported, type SimdVariant };

/** A pointer (byte offset), a count or a scalar, as WebAssembly passes them. */
type N = number;

/** y[b, r] = W[r]·x[b] for rows r0 ≤ r < r1 (one thread's share of a float matmul). */
export type FloatMatmulExport = (
  w: N,
  x: N,
  y: N,
  rows: N,
  cols: N,
  batch: N,
  r0: N,
  r1: N,
) => void;

/** The functions the kernel module exports (pointers are byte offsets). */
export interface KernelExports {
  matmul_f32: FloatMatmulExport;
  matmul_bf16: FloatMatmulExport;
  matmul_f16: FloatMatmulExport;
  /**
   * matmul_f16 decoding each group of 4 rows once into `scratch` (16·cols bytes), `x`
   * prepared by f16_prepare_x: same results.
   */
  matmul_f16_decoded(...args: [...Parameters<FloatMatmulExport>, N]): void;
  /**
   * The ternary product for rows r0 ≤ r < r1, with per-thread scratch (32 bytes) and decode
   * scratch (4·cols bytes, or 0: no row group decoded once for the batch).
   */
  matmul_ternary(w: N, wScale: N, q: N, t: N, sum: N, y: N, ...rest: [N, N, N, N, N, N, N]): void;
  quantize_rows_i8(x: N, q: N, t: N, sum: N, cols: N, batch: N): void;
  /** The activations of a batched f16 product, shuffled and scaled once, into `xp`. */
  f16_prepare_x(x: N, xp: N, cols: N, batch: N): void;
  /**
   * I2_S codes of `rows` rows at `src` into the packed layout at `dst`; non-zero on a code 3.
   * Stores the number of zero codes and of +1 codes as two i32 at `counts`.
   */
  i2s_pack_rows(src: N, rows: N, cols: N, dst: N, rowOffset: N, counts: N): number;
  /**
   * 16-bit ternary values (−s, ±0, +s; `s` the pattern of +s) of `rows` rows at `src` into the
   * packed layout at `dst`; non-zero on any other value. Stores the counts as i2s_pack_rows does.
   */
  half_pack_rows(src: N, rows: N, cols: N, dst: N, rowOffset: N, s: N, counts: N): number;
  rmsnorm(x: N, g: N, out: N, n: N, batch: N, eps: N): void;
  /** gate = relu(gate)² · up over n floats, each in f64 rounded once. */
  relu2_mul(gate: N, up: N, n: N): void;
  /** One head's scores q·k_j · scale (f64) of n positions into `s` (attention_wasm.ts). */
  attention_scores(q: N, k: N, stride: N, dim: N, n: N, scale: N, s: N): void;
  /** One head's output f32(Σ_j p_j · v_j) from n f64 weights at `p` (attention_wasm.ts). */
  attention_values(p: N, v: N, stride: N, dim: N, n: N, out: N): void;
  /** Exact int32 dot products of `rows` int8 rows with one int16 activation row. */
  score_rows_i8(w: N, x: N, y: N, rows: N, cols: N): void;
  /** The int8 head's copy of `rows` F16 rows and their norms (s = +inf on a non-finite row). */
  int8_head_rows(w: N, q: N, stats: N, row0: N, rows: N, cols: N, gamma: N): void;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The assembled bytes of one variant (from the generated `wasm_bytes.ts`).
 *
 * @example
 * ```ts
 * import { kernelModuleBytes } from "./wasm_module.ts";
 * WebAssembly.validate(kernelModuleBytes("portable")); // true
 * ```
 */
export function kernelModuleBytes(variant: SimdVariant): Uint8Array<ArrayBuffer> {
  return decodeBase64(variant === "relaxed" ? RELAXED_SIMD_WASM : PORTABLE_SIMD_WASM);
}

/**
 * Compiles one variant; throws a RangeError when the engine lacks it.
 *
 * @example
 * ```ts
 * import { compileKernelModule } from "./wasm_module.ts";
 * const module = await compileKernelModule("portable");
 * ```
 */
export async function compileKernelModule(variant: SimdVariant): Promise<WebAssembly.Module> {
  const bytes = kernelModuleBytes(variant);
  if (!WebAssembly.validate(bytes)) {
    throw new RangeError(
      `kernels: this engine cannot run the ${variant}-SIMD WebAssembly kernels ` +
        `(needs SIMD${variant === "relaxed" ? ", relaxed SIMD" : ""} and shared memory)`,
    );
  }
  return await WebAssembly.compile(bytes);
}
