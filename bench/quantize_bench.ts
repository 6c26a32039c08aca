/**
 * Quantization throughput and the speed of the quantized files, on a
 * synthetic model with the real BitNet b1.58 2B-4T shapes
 * (bench/synthetic_model.ts, F16 projections holding ±s like a clean
 * export; random weights, so its text means nothing):
 *
 * 1. `quantizeGguf` to I2_S, TQ2_0 and TQ1_0: GB/s of input (the F16 file
 *    size over wall time), end to end (input sha256, scan, encode, output
 *    gguf-hash manifest, meta.json) and without the manifest;
 * 2. generation tokens/s of the F16, I2_S and TQ2_0 files in the engine.
 *
 *   deno run -A bench/quantize_bench.ts [--dir DIR] [--layers 30] [--prompt 8] [--gen 16]
 *     [--threads N] [--backend wasm|reference] [--keep] [--input synthetic-f16.gguf]
 *
 * `--input` reuses a synthetic F16 file written earlier (by this script or by
 * `bench/synthetic_model.ts --type f16`).
 *
 * The input was just written, so it is read from the page cache: the
 * figures are CPU throughput, not disk throughput.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { openGguf } from "../lib/gguf/reader.ts";
import type { BackendName } from "../lib/inference/backend.ts";
import { InferenceEngine } from "../lib/inference/engine.ts";
import type { QuantTypeName } from "../lib/quantize/formats.ts";
import { quantizeGguf } from "../lib/quantize/quantize.ts";
import { writeSyntheticModel } from "./synthetic_model.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    input: { type: "string" },
    layers: { type: "string" },
    prompt: { type: "string" },
    gen: { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    keep: { type: "boolean" },
  },
});
const dir = values.dir ?? await Deno.makeTempDir({ prefix: "quantize-bench-" });
const layers = Number(values.layers ?? 30);
const promptTokens = Number(values.prompt ?? 8);
const genTokens = Number(values.gen ?? 16);
const threads = values.threads ? Number(values.threads) : undefined;
const backend = values.backend as BackendName | undefined;

const GB = 1e9;
await Deno.mkdir(dir, { recursive: true });
const f16Path = values.input ?? join(dir, "synthetic-f16.gguf");
let t0 = performance.now();
if (values.input === undefined) {
  console.error(`writing ${f16Path} (2B-4T shapes, ${layers} layers, F16 ternary projections)…`);
  await writeSyntheticModel(f16Path, { type: "f16", layers });
}
const inputBytes = (await Deno.stat(f16Path)).size;
console.error(
  `  ${(inputBytes / GB).toFixed(2)} GB input (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

interface QuantRow {
  type: QuantTypeName;
  manifest: boolean;
  seconds: number;
  inputGBps: number;
  outputGB: number;
}
const quantRows: QuantRow[] = [];
const outputs = new Map<QuantTypeName, string>();
for (const type of ["i2_s", "tq2_0", "tq1_0"] as const) {
  for (const manifest of [false, true]) {
    t0 = performance.now();
    const r = await quantizeGguf({
      input: f16Path,
      outDir: join(dir, manifest ? "with-manifest" : "plain"),
      type,
      hashManifest: manifest,
    });
    const seconds = (performance.now() - t0) / 1000;
    outputs.set(type, r.ggufPath);
    quantRows.push({
      type,
      manifest,
      seconds,
      inputGBps: inputBytes / GB / seconds,
      outputGB: r.meta.size / GB,
    });
    console.error(`  quantized ${type}${manifest ? " + manifest" : ""}: ${seconds.toFixed(1)} s`);
  }
}

interface GenRow {
  model: string;
  loadS: number;
  promptTps: number;
  genTps: number;
  backend: string;
  threads: number;
}
const genRows: GenRow[] = [];
const models: [string, string][] = [
  ["F16", f16Path],
  ["I2_S", outputs.get("i2_s")!],
  ["TQ2_0", outputs.get("tq2_0")!],
];
for (const [model, path] of models) {
  const g = await openGguf(path);
  try {
    t0 = performance.now();
    const engine = await InferenceEngine.load(g, {
      maxContext: promptTokens + genTokens + 1,
      ...(backend ? { backend } : {}),
      ...(threads ? { threads } : {}),
    });
    const loadS = (performance.now() - t0) / 1000;
    try {
      const vocab = engine.hparams.vocabSize;
      const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % vocab);
      engine.generate(prompt.slice(0, 2), { maxTokens: 2 }); // warm-up
      const out = engine.generate(prompt, { maxTokens: genTokens });
      genRows.push({
        model,
        loadS,
        promptTps: out.timings.promptTokensPerSec,
        genTps: out.timings.genTokensPerSec,
        backend: engine.backendName,
        threads: engine.threads,
      });
      console.error(`  ${model}: ${out.timings.genTokensPerSec.toFixed(2)} tokens/s`);
    } finally {
      engine.close();
    }
  } finally {
    g.close();
  }
}

console.log(`\nQuantization of ${(inputBytes / GB).toFixed(2)} GB F16 (${f16Path})\n`);
console.log("| type | gguf-hash manifest | seconds | input GB/s | output GB |");
console.log("|---|---|---:|---:|---:|");
for (const r of quantRows) {
  console.log(
    `| ${r.type} | ${r.manifest ? "yes" : "no"} | ${r.seconds.toFixed(1)} | ${
      r.inputGBps.toFixed(3)
    } | ${r.outputGB.toFixed(3)} |`,
  );
}
console.log(`\nGeneration (${promptTokens}-token prompt, ${genTokens} tokens)\n`);
console.log("| model | backend | threads | load s | prompt tok/s | gen tok/s | vs F16 |");
console.log("|---|---|---:|---:|---:|---:|---:|");
const f16Gen = genRows.find((r) => r.model === "F16")?.genTps ?? 0;
for (const r of genRows) {
  console.log(
    `| ${r.model} | ${r.backend} | ${r.threads} | ${r.loadS.toFixed(1)} | ${
      r.promptTps.toFixed(2)
    } | ${r.genTps.toFixed(2)} | ${f16Gen ? (r.genTps / f16Gen).toFixed(2) : "-"}× |`,
  );
}
if (!values.keep && values.dir === undefined) await Deno.remove(dir, { recursive: true });
