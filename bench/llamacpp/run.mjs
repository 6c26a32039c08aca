// Benchmark only: llama.cpp (through node-llama-cpp 3.21.1, installed in this folder by
// `npm ci`) timing greedy generation on one GGUF file. Never imported by lib/ or tests/.
// bench/llamacpp_bench.ts starts it under Node and talks to it in JSON lines:
//
//   node bench/llamacpp/run.mjs MODEL.gguf
//   → {"ready":true,...} or {"error":"...","log":[...]} (then exit 2)
//   ← {"op":"run","threads":1,"prompt":[ids],"gen":32}
//   → {"promptMs":..,"genMs":..,"promptTps":..,"genTps":..,"ids":[..],"threads":1}
//   ← {"op":"quit"}
//
// Timing matches InferenceEngine.generate: the prompt time runs from the
// start of evaluation to the first generated id (prompt decode + one greedy
// pick); generation tokens/s counts the gen - 1 single-token decodes after it.
// End-of-generation ids do not stop it (yieldEogToken), as our engine feeds
// every id back: both sides always decode the same number of tokens.

import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";

// A computed specifier: Deno's checker and linter never try to resolve this
// Node-only package, which lives in bench/llamacpp/node_modules.
const packageName = ["node", "llama", "cpp"].join("-");
const { getLlama, LlamaLogLevel } = await import(packageName);

const modelPath = process.argv[2];
const log = [];
const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

if (!modelPath) {
  reply({ error: "usage: node bench/llamacpp/run.mjs MODEL.gguf" });
  process.exit(2);
}

const llama = await getLlama({
  gpu: false,
  build: "never",
  // 0: a context's `threads` is the exact number of threads used.
  maxThreads: 0,
  logLevel: LlamaLogLevel.warn,
  logger: (level, message) => {
    const line = `${level}: ${String(message).trimEnd()}`;
    log.push(line);
    if (log.length > 200) log.shift();
  },
});

let model;
const t0 = performance.now();
try {
  model = await llama.loadModel({ modelPath, gpuLayers: 0 });
} catch (e) {
  reply({ error: String(e instanceof Error ? e.message : e), log });
  await llama.dispose();
  process.exit(2);
}
const loadS = (performance.now() - t0) / 1000;

reply({
  ready: true,
  loadS,
  llamaCppRelease: llama.llamaCppRelease,
  buildType: llama.buildType,
  cpuMathCores: llama.cpuMathCores,
  systemInfo: llama.systemInfo,
  vocabSize: model.tokens.vocabSize ?? null,
  trainContextSize: model.trainContextSize,
  log,
});

async function run({ threads, prompt, gen }) {
  const context = await model.createContext({
    contextSize: Math.max(64, prompt.length + gen + 8),
    batchSize: prompt.length,
    threads: { ideal: threads, min: threads },
    sequences: 1,
  });
  try {
    const sequence = context.getSequence();
    const ids = [];
    let first = 0, last = 0;
    const start = performance.now();
    for await (const id of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
      const now = performance.now();
      if (ids.length === 0) first = now;
      last = now;
      ids.push(id);
      if (ids.length >= gen) break;
    }
    const promptMs = first - start, genMs = last - first;
    return {
      threads: context.currentThreads,
      flashAttention: context.flashAttention,
      promptMs,
      genMs,
      promptTps: (prompt.length * 1000) / promptMs,
      genTps: ids.length > 1 ? ((ids.length - 1) * 1000) / genMs : 0,
      ids,
    };
  } finally {
    await context.dispose();
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") continue;
  const cmd = JSON.parse(line);
  if (cmd.op === "quit") break;
  try {
    reply(await run(cmd));
  } catch (e) {
    reply({ error: String(e instanceof Error ? e.message : e), log });
  }
}
await model.dispose();
await llama.dispose();
