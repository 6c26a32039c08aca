/**
 * `deno task build:native FILE [--cc CC]`: builds the opt-in native kernels
 * (lib/inference/kernels/native/kernels_avx2.c, x86-64 with AVX2 and FMA) into the
 * shared library FILE with a C compiler (default `cc`; gcc and clang both work). Then
 * `BITNET_NATIVE_KERNELS=FILE deno task model-validate ...` runs the ternary products,
 * the int8 head's screening and the F16 products natively, with the same results
 * (docs/explanation/native-kernels.md). Exit 2 for bad arguments or no compiler, 5 when
 * the compiler fails (another CPU family, say), 8 when FILE cannot be written.
 *
 * @example
 * ```sh
 * deno task build:native /opt/clean-gguf/libclean_gguf_native.so
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { reportFailure } from "../lib/cli/failure.ts";
import { repositoryPath } from "../lib/cli/paths.ts";
import { buildNativeKernels, NATIVE_SOURCE } from "../lib/inference/kernels/native.ts";

const USAGE = "usage: deno task build:native FILE [--cc CC]";

if (import.meta.main) {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: Deno.args,
        options: { cc: { type: "string", default: "cc" }, help: { type: "boolean", short: "h" } },
        allowPositionals: true,
      });
    } catch (e) {
      throw new UsageError(`build:native: ${(e as Error).message}; ${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    if (positionals.length !== 1) throw new UsageError(`build:native: one FILE needed; ${USAGE}`);
    // deno task runs in the checkout; a relative FILE is relative to the user's folder.
    const out = resolve(Deno.env.get("INIT_CWD") || Deno.cwd(), positionals[0]!);
    await buildNativeKernels(repositoryPath(NATIVE_SOURCE), out, values.cc);
    console.log(`built ${out}: BITNET_NATIVE_KERNELS=${out} turns it on`);
  } catch (e) {
    Deno.exit(reportFailure(e));
  }
}
