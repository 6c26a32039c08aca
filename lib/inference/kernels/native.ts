/**
 * Opt-in native kernels: the products that bound the engine's speed (the ternary matmul,
 * the int8 head's screening and the F16 matmul) from a shared library built from
 * `native/kernels_avx2.c` (x86-64 with AVX2 and FMA), called through `Deno.dlopen` on the
 * same shared WebAssembly memory. Every other kernel stays WebAssembly.
 *
 * The library computes the same bits as the WebAssembly exports it replaces (exact integer
 * sums and the same f64 scale-back; for F16 the relaxed tiles' fused multiply-adds in
 * their order; tests/inference/native_kernels_test.ts compares them on every shape class
 * and on the fixture's forward pass), so outputs do not depend on whether
 * it is used. It is off unless `BITNET_NATIVE_KERNELS` names the library: it needs
 * `--allow-ffi` (which `deno task` grants for that one file), a C compiler once
 * (`deno task build:native FILE`), and it is not available to a script run from a URL
 * without both, nor to a compiled binary. docs/explanation/native-kernels.md says why and
 * what it gives (docs/performance.md has the figures).
 *
 * @example
 * ```ts
 * import { openNativeKernels } from "./native.ts";
 * const lib = openNativeKernels("/opt/clean-gguf/libclean_gguf_native.so");
 * lib.close();
 * ```
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { InputError, OutputError, UnsupportedError, UsageError } from "../../errors.ts";
import { tempNameFor } from "../../io/atomic.ts";
import type { KernelExports } from "./wasm_module.ts";

/** The library's ABI version (`cg_abi()`); kernels_avx2.c's CG_ABI. */
export const NATIVE_ABI = 2;

/** The C source, from the root of a checkout (tasks/build_native.ts finds the checkout). */
export const NATIVE_SOURCE = "lib/inference/kernels/native/kernels_avx2.c";

const SYMBOLS = {
  cg_abi: { parameters: [], result: "u32" },
  cg_cpu_ok: { parameters: [], result: "i32" },
  cg_matmul_ternary: {
    parameters: [
      "buffer",
      "u32",
      "f64",
      "u32",
      "u32",
      "u32",
      "u32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  cg_score_rows_i8: {
    parameters: ["buffer", "u32", "u32", "u32", "i32", "i32"],
    result: "void",
  },
  cg_matmul_f16: {
    parameters: ["buffer", "u32", "u32", "u32", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  cg_matmul_f16_prepared: {
    parameters: ["buffer", "u32", "u32", "u32", "i32", "i32", "i32", "i32", "i32"],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** An opened native kernel library. */
export type NativeKernels = Deno.DynamicLibrary<typeof SYMBOLS>;

/**
 * Opens the library at `path` and checks that it is ours (its ABI version) and that this
 * CPU runs it (AVX2 and FMA). Errors name the file: {@link UsageError} without the FFI
 * permission, {@link InputError} when it cannot be loaded (missing, foreign, or built from
 * an older checkout that lacks a function), {@link UnsupportedError} for another ABI
 * version or a CPU without AVX2 and FMA.
 *
 * @example
 * ```ts
 * import { openNativeKernels } from "./native.ts";
 * const lib = openNativeKernels("./libclean_gguf_native.so");
 * lib.symbols.cg_abi(); // NATIVE_ABI
 * lib.close();
 * ```
 */
export function openNativeKernels(path: string): NativeKernels {
  const what = `native kernels ${path} (BITNET_NATIVE_KERNELS)`;
  if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
    throw new UsageError(
      `${what}: loading them needs --allow-ffi=${path} (deno task grants it by itself)`,
    );
  }
  let lib: NativeKernels;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new InputError(
      `${what}: cannot be loaded (${e instanceof Error ? e.message : String(e)}); ` +
        `build it with deno task build:native ${path}`,
    );
  }
  const abi = lib.symbols.cg_abi();
  if (abi !== NATIVE_ABI) {
    lib.close();
    throw new UnsupportedError(
      `${what}: ABI version ${abi}, this checkout needs ${NATIVE_ABI}; rebuild it with ` +
        `deno task build:native ${path}`,
    );
  }
  if (lib.symbols.cg_cpu_ok() !== 1) {
    lib.close();
    throw new UnsupportedError(
      `${what}: this CPU lacks AVX2 or FMA; unset BITNET_NATIVE_KERNELS`,
    );
  }
  return lib;
}

/**
 * The kernel module's exports with `matmul_ternary` and `score_rows_i8` run by `lib` on
 * `memory` (same arguments, same results; the decode scratch arguments are unused), and
 * with `fusedF16` (the relaxed-SIMD variant, whose f16 tiles multiply-add with one
 * rounding, as the library does) `matmul_f16` and `matmul_f16_decoded` too.
 *
 * @example
 * ```ts
 * import { openNativeKernels, withNativeKernels } from "./native.ts";
 * import type { KernelExports } from "./wasm_module.ts";
 * declare const exports: KernelExports, memory: WebAssembly.Memory;
 * const lib = openNativeKernels("./libclean_gguf_native.so");
 * const k = withNativeKernels(exports, memory, lib, true);
 * ```
 */
export function withNativeKernels(
  exports: KernelExports,
  memory: WebAssembly.Memory,
  lib: NativeKernels,
  fusedF16: boolean,
): KernelExports {
  // The whole memory as a "buffer" argument: its first byte, which needs no pointer
  // permission beyond the library's own (Deno.UnsafePointer.of would need --allow-ffi).
  const base = new Uint8Array(memory.buffer);
  const s = lib.symbols;
  // Pointers above 2 GiB arrive as negative i32 (control.ts): the library takes them as u32.
  const native: KernelExports = {
    ...exports,
    matmul_ternary: (w, ws, q, t, sum, y, rows, cols, batch, r0, r1) =>
      s.cg_matmul_ternary(
        base,
        w >>> 0,
        ws,
        q >>> 0,
        t >>> 0,
        sum >>> 0,
        y >>> 0,
        rows,
        cols,
        batch,
        r0,
        r1,
      ),
    score_rows_i8: (w, x, y, rows, cols) =>
      s.cg_score_rows_i8(base, w >>> 0, x >>> 0, y >>> 0, rows, cols),
  };
  if (!fusedF16) return native;
  return {
    ...native,
    matmul_f16: (w, x, y, rows, cols, batch, r0, r1) => {
      if (s.cg_matmul_f16(base, w >>> 0, x >>> 0, y >>> 0, rows, cols, batch, r0, r1) !== 0) {
        throw new RangeError(`native matmul_f16: no memory for ${batch} x ${cols} activations`);
      }
    },
    matmul_f16_decoded: (w, x, y, rows, cols, batch, r0, r1) =>
      s.cg_matmul_f16_prepared(base, w >>> 0, x >>> 0, y >>> 0, rows, cols, batch, r0, r1),
  };
}

/**
 * The compiler command that builds the library from `source` into `out`: optimized, the
 * kernels compiled for AVX2 by their own attributes, and no floating-point contraction (the
 * scale-back must round like the WebAssembly kernel's).
 *
 * @example
 * ```ts
 * nativeBuildCommand("cc", "kernels_avx2.c", "lib.so");
 * // ["cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-o", "lib.so", "kernels_avx2.c"]
 * ```
 */
export function nativeBuildCommand(cc: string, source: string, out: string): string[] {
  return [cc, "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-o", out, source];
}

/**
 * Builds the library into `out` from `source` (the path of {@link NATIVE_SOURCE} in a
 * checkout) with the C compiler `cc` (a temporary name in `out`'s folder, renamed into
 * place once the compiler succeeded: never a half-written library at `out`). Throws a
 * {@link UsageError} when the compiler cannot start, an {@link UnsupportedError} with
 * its output when it fails (not x86-64, say), an {@link OutputError} when `out`'s folder
 * cannot be written.
 *
 * @example
 * ```ts
 * import { buildNativeKernels, NATIVE_SOURCE } from "./native.ts";
 * await buildNativeKernels(NATIVE_SOURCE, "/opt/clean-gguf/libclean_gguf_native.so");
 * ```
 */
export async function buildNativeKernels(
  source: string,
  out: string,
  cc = "cc",
): Promise<void> {
  const isFile = await Deno.stat(source).then((s) => s.isFile, () => false);
  if (!isFile) throw new InputError(`build:native: no source file ${source} (a checkout has it)`);
  const target = resolve(out);
  const folder = dirname(target);
  const isFolder = await Deno.stat(folder).then((s) => s.isDirectory, () => false);
  if (!isFolder) throw new OutputError(`build:native: cannot write ${target}: no folder ${folder}`);
  const temp = join(folder, tempNameFor(basename(target)));
  const [cmd, ...args] = nativeBuildCommand(cc, source, temp);
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cmd!, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new UsageError(
      `build:native: cannot run the C compiler ${cc} (${e instanceof Error ? e.message : e}); ` +
        `install one (gcc or clang) or name it with --cc`,
    );
  }
  try {
    if (!result.success) {
      const said = new TextDecoder().decode(result.stderr).trim();
      throw new UnsupportedError(`build:native: ${cc} failed building ${target}:\n${said}`);
    }
    await Deno.rename(temp, target);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
      throw new OutputError(`build:native: cannot write ${target} (${e.message})`);
    }
    throw e;
  }
}
