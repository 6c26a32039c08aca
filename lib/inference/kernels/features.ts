/**
 * What the engine supports, probed without the kernel module itself (so the
 * build step can use it before the module exists).
 *
 * @example
 * ```ts
 * import { relaxedSimdSupported } from "./features.ts";
 * relaxedSimdSupported(); // true in Deno 2.9 on x86-64
 * ```
 * @module
 */

/** Which kernel variant: relaxed SIMD (faster ternary dot) or portable SIMD. */
export type SimdVariant = "relaxed" | "portable";

// (module (func (result v128) (i16x8.relaxed_dot_i8x16_i7x16_s (v128.const 0) (v128.const 0))))
const RELAXED_PROBE = Uint8Array.from(
  "0061736d010000000105016000017b030201000a2b012900fd0c00000000000000000000000000000000fd0c00000000000000000000000000000000fd92020b"
    .match(/../g)!,
  (h) => parseInt(h, 16),
);

/**
 * Whether this engine accepts relaxed SIMD.
 *
 * @example
 * ```ts
 * import { relaxedSimdSupported } from "./wasm_module.ts";
 * console.log(relaxedSimdSupported() ? "wasm-relaxed-simd" : "wasm-simd");
 * ```
 */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}
