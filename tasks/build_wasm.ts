/**
 * `deno task build:wasm`: assembles lib/inference/kernels/kernels.wat into the
 * generated module lib/inference/kernels/wasm_bytes.ts (both SIMD variants,
 * base64). Run it from the root of a checkout after every change to
 * kernels.wat; a test fails when the two disagree.
 *
 * @example
 * ```sh
 * deno task build:wasm
 * ```
 * @module
 */

import { assembleKernels, renderWasmBytesModule } from "../lib/inference/kernels/assemble.ts";

// From the current folder (the checkout's root), never from this module's URL: the script may be
// loaded from a URL, and the files it rewrites belong to a checkout.
const WAT_PATH = "lib/inference/kernels/kernels.wat";
const OUT_PATH = "lib/inference/kernels/wasm_bytes.ts";

if (import.meta.main) {
  let wat: string;
  try {
    wat = await Deno.readTextFile(WAT_PATH);
  } catch (e) {
    const reason = (e as Error).message;
    console.error(`build_wasm: cannot read ${WAT_PATH} (${reason}): run it from a checkout's root`);
    Deno.exit(3);
  }
  const kernels = await assembleKernels(wat);
  await Deno.writeTextFile(OUT_PATH, renderWasmBytesModule(kernels));
  console.log(
    `wrote ${OUT_PATH}: relaxed ${kernels.relaxed.length} bytes, portable ${kernels.portable.length} bytes`,
  );
}
