/**
 * Inference speed: prompt processing and generation tokens/s, with 1 thread
 * and with every thread, on the fixture (exported to F16) and on a synthetic
 * model with the real BitNet b1.58 2B-4T shapes (bench/synthetic_model.ts,
 * written on first use).
 *
 *   deno run -A bench/inference_bench.ts [--synthetic PATH] [--no-synthetic]
 *     [--backends wasm,reference] [--prompt 64] [--gen 32] [--reference-2b]
 *
 * The reference backend is plain TypeScript and is only run on the 2B shapes
 * with --reference-2b (it takes minutes there).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { exportCleanGguf } from "../lib/export/export.ts";
import { openGguf } from "../lib/gguf/reader.ts";
import type { BackendName } from "../lib/inference/backend.ts";
import { InferenceEngine } from "../lib/inference/engine.ts";
import { writeSyntheticModel } from "./synthetic_model.ts";

interface Row {
  model: string;
  backend: string;
  threads: number;
  loadS: number;
  promptTokens: number;
  promptTps: number;
  genTokens: number;
  genTps: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function measure(
  model: string,
  path: string,
  backend: BackendName,
  threads: number,
  promptTokens: number,
  genTokens: number,
): Promise<Row> {
  const g = await openGguf(path);
  const t0 = performance.now();
  const engine = await InferenceEngine.load(g, {
    backend,
    threads,
    maxContext: promptTokens + genTokens + 1,
  });
  const loadS = (performance.now() - t0) / 1000;
  try {
    const vocab = engine.hparams.vocabSize;
    // Deterministic, spread-out ids (the speed does not depend on them).
    const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % vocab);
    engine.generate(prompt.slice(0, 4), { maxTokens: 2 }); // warm-up (JIT, worker start)
    const r = engine.generate(prompt, { maxTokens: genTokens });
    return {
      model,
      backend: engine.backendName,
      threads: engine.threads,
      loadS,
      promptTokens,
      promptTps: r.timings.promptTokensPerSec,
      genTokens: r.ids.length,
      genTps: r.timings.genTokensPerSec,
    };
  } finally {
    engine.close();
    g.close();
  }
}

function printTable(rows: Row[]): void {
  console.log(
    "| model | backend | threads | load s | prompt tokens | prompt tok/s | generated | gen tok/s |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.backend} | ${r.threads} | ${r.loadS.toFixed(1)} | ${r.promptTokens} | ${
        r.promptTps.toFixed(1)
      } | ${r.genTokens} | ${r.genTps.toFixed(2)} |`,
    );
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      synthetic: { type: "string" },
      "no-synthetic": { type: "boolean" },
      backends: { type: "string" },
      prompt: { type: "string" },
      gen: { type: "string" },
      "reference-2b": { type: "boolean" },
    },
  });
  const backends = (values.backends?.split(",") ?? ["wasm", "reference"]) as BackendName[];
  const promptTokens = Number(values.prompt ?? 64), genTokens = Number(values.gen ?? 32);
  const allThreads = Math.max(1, navigator.hardwareConcurrency || 1);
  const threadCounts = [...new Set([1, allThreads])];
  const rows: Row[] = [];

  const tmp = await Deno.makeTempDir({ prefix: "inference-bench-" });
  try {
    const fixture = (await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      outDir: tmp,
      quiet: true,
    })).ggufPath;
    for (const backend of backends) {
      for (const threads of backend === "reference" ? [1] : threadCounts) {
        const row = await measure(
          "tiny-bitnet F16",
          fixture,
          backend,
          threads,
          promptTokens,
          genTokens,
        );
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    }
    if (!values["no-synthetic"]) {
      const synthetic = values.synthetic ?? "/tmp/bitnet-2b4t-synthetic-i2_s.gguf";
      if (!(await exists(synthetic))) {
        console.error(`writing ${synthetic} (2B-4T shapes, random ternary weights)...`);
        await writeSyntheticModel(synthetic, { type: "i2_s" });
      }
      for (const backend of backends) {
        if (backend === "reference" && !values["reference-2b"]) continue;
        for (const threads of backend === "reference" ? [1] : threadCounts) {
          const row = await measure(
            `2B-4T shapes (${synthetic.split("/").at(-1)})`,
            synthetic,
            backend,
            threads,
            promptTokens,
            Math.min(genTokens, 16),
          );
          rows.push(row);
          console.error(JSON.stringify(row));
        }
      }
    }
  } finally {
    await Deno.remove(join(tmp), { recursive: true });
  }
  printTable(rows);
}
