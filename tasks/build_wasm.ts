/**
 * `deno task build:wasm`: assembles lib/inference/kernels/kernels.wat into the
 * generated module lib/inference/kernels/wasm_bytes.ts (both SIMD variants,
 * base64). Run it after every change to kernels.wat; a test fails when the two
 * disagree.
 *
 * @example
 * ```sh
 * deno run --allow-read --allow-write tasks/build_wasm.ts
 * ```
 * @module
 */

import { assembleKernels, renderWasmBytesModule } from "../lib/inference/kernels/assemble.ts";

const watUrl = new URL("../lib/inference/kernels/kernels.wat", import.meta.url);
const outUrl = new URL("../lib/inference/kernels/wasm_bytes.ts", import.meta.url);

if (import.meta.main) {
  if (watUrl.protocol !== "file:") {
    console.error(
      "build_wasm: run from a local checkout (it writes lib/inference/kernels/wasm_bytes.ts)",
    );
    Deno.exit(2);
  }
  const kernels = await assembleKernels(await Deno.readTextFile(watUrl));
  await Deno.writeTextFile(outUrl, renderWasmBytesModule(kernels));
  console.log(
    `wrote ${outUrl.pathname}: relaxed ${kernels.relaxed.length} bytes, portable ${kernels.portable.length} bytes`,
  );
}
