/**
 * Copies a GGUF under another architecture name for a peer program:
 * `general.architecture` and every `{arch}.*` key renamed, the Llama-3
 * tokenizer metadata added when the file has none (llama.cpp and bitnet.cpp
 * refuse a file without `tokenizer.ggml.*`), tensors streamed byte for byte.
 * bitnet.cpp knows no `bitnet-b1.58` name, so bench/peers_bench.ts gives it
 * `bitnet` copies of the synthetic models (speed only: its `bitnet` graph
 * computes SiLU, not relu²).
 *
 *   deno run -A bench/rewrite_arch.ts IN.gguf OUT.gguf [--arch bitnet]
 *
 * @example
 * ```ts
 * import { rewriteArchFile } from "./rewrite_arch.ts";
 * await rewriteArchFile("/tmp/in.gguf", "/tmp/out.gguf", "bitnet");
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { openGguf } from "../lib/gguf/reader.ts";
import { rewriteArchitecture } from "./llamacpp_bench.ts";

/** Writes `output` (through `output.tmp`, renamed at the end) from `input` under `arch`. */
export async function rewriteArchFile(input: string, output: string, arch: string): Promise<void> {
  const src = await openGguf(input);
  try {
    await rewriteArchitecture(src, output, arch);
  } finally {
    src.close();
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { arch: { type: "string" } },
    allowPositionals: true,
  });
  const [input, output] = positionals;
  if (!input || !output) {
    console.error("usage: deno run -A bench/rewrite_arch.ts IN.gguf OUT.gguf [--arch bitnet]");
    Deno.exit(2);
  }
  const t0 = performance.now();
  await rewriteArchFile(input, output, values.arch ?? "bitnet");
  console.error(`wrote ${output} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
