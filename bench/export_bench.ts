/**
 * Export throughput against `cp` of the same bytes, and the export's peak RSS,
 * measured in one run on a synthetic BF16 BitNet checkpoint of ≥ 1 GB
 * (2B-4T-shaped layers: hidden 2560, intermediate 6912).
 *
 *   deno run -A bench/export_bench.ts [--layers 8] [--runs 3]
 *
 * Writes the checkpoint once under bench/out/ (reused afterwards). Each run
 * times `cp model.safetensors` then the export (as a separate process under
 * /usr/bin/time for its peak RSS), alternating, and prints medians and the
 * ratio cp_time / export_time per pair.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeSyntheticCheckpoint } from "./synthetic_checkpoint.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { layers: { type: "string", default: "8" }, runs: { type: "string", default: "3" } },
});
const layers = Number(values.layers), runs = Number(values.runs);
const dir = `bench/out/synthetic-bitnet-${layers}l`;
const vocab = 2048;

async function ensureCheckpoint(): Promise<void> {
  try {
    await Deno.stat(`${dir}/model.safetensors`);
  } catch {
    await writeSyntheticCheckpoint(dir, { layers, vocab });
  }
}

async function timed(cmd: string, args: string[]): Promise<{ seconds: number; rssKb: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", cmd, ...args],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const seconds = (performance.now() - t0) / 1000;
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) throw new Error(`${cmd} failed: ${stderr.join("\n")}`);
  return { seconds, rssKb: Number(stderr.at(-1)) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await ensureCheckpoint();
const size = (await Deno.stat(`${dir}/model.safetensors`)).size;
const outDir = `${dir}/export`;
const deno = Deno.execPath();
const cpTimes: number[] = [], exportTimes: number[] = [], ratios: number[] = [], rss: number[] = [];
// Warm the page cache so both read from memory.
await timed("cp", [`${dir}/model.safetensors`, `${dir}/copy.safetensors`]);
for (let r = 0; r < runs; r++) {
  const cp = await timed("cp", [`${dir}/model.safetensors`, `${dir}/copy.safetensors`]);
  const ex = await timed(deno, [
    "run",
    "-A",
    "tasks/export_clean_gguf.ts",
    dir,
    `${dir}/tokenizer.json`,
    outDir,
    "--quiet",
  ]);
  cpTimes.push(cp.seconds);
  exportTimes.push(ex.seconds);
  ratios.push(cp.seconds / ex.seconds);
  rss.push(ex.rssKb);
}
await Deno.remove(`${dir}/copy.safetensors`);
const gb = size / 1e9;
console.log(`input ${gb.toFixed(2)} GB BF16 (${layers} layers of 2B-4T shape), ${runs} runs`);
console.log(
  `cp:     median ${median(cpTimes).toFixed(2)} s  (${(gb / median(cpTimes)).toFixed(2)} GB/s)`,
);
console.log(
  `export: median ${median(exportTimes).toFixed(2)} s  (${
    (gb / median(exportTimes)).toFixed(2)
  } GB/s)`,
);
console.log(
  `speed relative to cp (cp_time / export_time, per pair): median ${
    median(ratios).toFixed(2)
  }x, min ${Math.min(...ratios).toFixed(2)}x, max ${Math.max(...ratios).toFixed(2)}x`,
);
console.log(
  `export peak RSS: median ${(median(rss) / 1024).toFixed(0)} MB, max ${
    (Math.max(...rss) / 1024).toFixed(0)
  } MB`,
);
