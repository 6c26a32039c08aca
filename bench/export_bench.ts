/**
 * Export throughput against `cp` of the same bytes, and the export's peak RSS,
 * measured in one run on a synthetic BF16 BitNet checkpoint of ≥ 1 GB
 * (2B-4T-shaped layers: hidden 2560, intermediate 6912).
 *
 *   deno run -A bench/export_bench.ts [--layers 8] [--vocab 2048] [--runs 3]
 *       [--dir CHECKPOINT] [--out FOLDER] [--generate-only]
 *
 * Writes the checkpoint once (under bench/out/, or --dir; reused afterwards).
 * Each pair times `cp model.safetensors` then the export (each a separate
 * process under /usr/bin/time: wall, user, system time, peak RSS), with the
 * default provenance (fingerprint, sources' sha256, xxh64 manifest,
 * meta.json), and prints medians, the ratio cp_time / export_time per pair and
 * the 1-minute load average around each pair. Outputs go to --out (default:
 * beside the checkpoint).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { writeSyntheticCheckpoint } from "./synthetic_checkpoint.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    layers: { type: "string", default: "8" },
    runs: { type: "string", default: "3" },
    vocab: { type: "string", default: "2048" },
    dir: { type: "string" },
    out: { type: "string" },
    "generate-only": { type: "boolean", default: false },
  },
});
const layers = Number(values.layers), runs = Number(values.runs), vocab = Number(values.vocab);
const dir = values.dir ?? `bench/out/synthetic-bitnet-${layers}l-v${vocab}`;

async function ensureCheckpoint(): Promise<void> {
  try {
    await Deno.stat(`${dir}/model.safetensors`);
  } catch {
    await writeSyntheticCheckpoint(dir, { layers, vocab });
  }
}

interface Timed {
  seconds: number;
  rssKb: number;
  user: number;
  sys: number;
}

async function timed(cmd: string, args: string[]): Promise<Timed> {
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M %U %S", cmd, ...args],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const seconds = (performance.now() - t0) / 1000;
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  if (!out.success) throw new Error(`${cmd} failed: ${stderr.join("\n")}`);
  const [rssKb, user, sys] = stderr.at(-1)!.split(" ").map(Number) as [number, number, number];
  return { seconds, rssKb, user, sys };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const loadAverage = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ")[0]!;

await ensureCheckpoint();
if (values["generate-only"]) Deno.exit(0);
const size = (await Deno.stat(`${dir}/model.safetensors`)).size;
const outDir = `${values.out ?? dir}/export`;
const copyPath = `${values.out ?? dir}/copy.safetensors`;
const deno = Deno.execPath();
const cps: Timed[] = [], exports: Timed[] = [], ratios: number[] = [];
const loads = [await loadAverage()];
// Warm the page cache so both read from memory.
await timed("cp", [`${dir}/model.safetensors`, copyPath]);
for (let r = 0; r < runs; r++) {
  // Both sides start without their previous output: cp truncates its target before writing,
  // so the export's earlier files are removed too (else they hold their page cache pages
  // until the new set replaces them).
  const cp = await timed("cp", [`${dir}/model.safetensors`, copyPath]);
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  const ex = await timed(deno, [
    "run",
    "-A",
    "tasks/export_clean_gguf.ts",
    dir,
    `${dir}/tokenizer.json`,
    outDir,
    "--quiet",
  ]);
  cps.push(cp);
  exports.push(ex);
  ratios.push(cp.seconds / ex.seconds);
  loads.push(await loadAverage());
}
await Deno.remove(copyPath);
const gb = size / 1e9;
const m = (xs: Timed[], k: keyof Timed) => median(xs.map((x) => x[k]));
console.log(`input ${gb.toFixed(2)} GB BF16 (${dir}), ${runs} pairs`);
console.log(`1-minute load average before and after each pair: ${loads.join(", ")}`);
for (const [name, xs] of [["cp", cps], ["export", exports]] as const) {
  console.log(
    `${name.padEnd(7)} median ${m(xs, "seconds").toFixed(2)} s (${
      (gb / m(xs, "seconds")).toFixed(2)
    } GB/s), user ${m(xs, "user").toFixed(2)} s, sys ${m(xs, "sys").toFixed(2)} s, peak RSS ${
      (m(xs, "rssKb") / 1024).toFixed(0)
    } MB (max ${(Math.max(...xs.map((x) => x.rssKb)) / 1024).toFixed(0)} MB)`,
  );
}
console.log(
  `speed relative to cp (cp_time / export_time, per pair): median ${
    median(ratios).toFixed(2)
  }x, min ${Math.min(...ratios).toFixed(2)}x, max ${Math.max(...ratios).toFixed(2)}x; per pair: ${
    ratios.map((x) => x.toFixed(3)).join(", ")
  }`,
);
