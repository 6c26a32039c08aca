/**
 * Outputs of the engine on the 2B-4T-shaped synthetic models (F16 and I2_S,
 * bench/synthetic_model.ts), recorded once and checked after every speed
 * change: greedy ids and the top-10 logits at each step.
 *
 *   deno run -A bench/check_2b_outputs.ts record [--models DIR] [--cases short,long]
 *   deno run -A bench/check_2b_outputs.ts check [--models DIR] [--threads 1,2] [--heads f16,int8] [--cases short,long]
 *
 * Two cases: "short", a 15-token prompt (bench/baselines/2b-outputs.json,
 * recorded before the speed work of issue 11), and "long", a 40-token prompt
 * (2b-outputs-long.json), long enough for the prompt path's batched kernels
 * (rows decoded once from 24 rows on); it was recorded with the engine of
 * 06092c0, before that path existed. Record mode runs with 1 thread and writes
 * the cases listed; check mode runs every listed thread count and exits 1 on
 * any difference.
 *
 * Tolerance: the greedy ids and the top-10 ids must be equal, the logits
 * within 1e-4 (absolute). The ternary products are exact integer sums, but
 * the float parts (RMSNorm, attention, the F16 output layer: 2560-term f32 dot
 * products of logits of a few units) may legitimately be summed in another
 * order by a faster kernel; each such reordering moves a logit by a few f32
 * ulps of its partial sums, about 1e-6 here, so 1e-4 admits reordering but
 * not a wrong value (a wrong row, scale or trit moves logits by 1e-2 or more).
 * The report also says whether every recorded logit is bit-identical.
 *
 * Check mode runs each model with the F16 output head (`forward`, every logit)
 * and with the exact int8 head (`int8Head` option, `forwardTop(ids, 10)`: only
 * the logits that may be in the top 10), which must give the same ids and
 * top-10 logits.
 *
 * With BITNET_NATIVE_KERNELS set, the engine runs with that native kernel library (as the
 * tasks do): the outputs must be the same bits as the baseline's.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { openGguf } from "../lib/gguf/reader.ts";
import { InferenceEngine, topK } from "../lib/inference/engine.ts";

const MODELS = ["bitnet-2b4t-synthetic-f16.gguf", "bitnet-2b4t-synthetic-i2_s.gguf"];
/** Spread-out fixed ids well inside the 128,256 vocabulary. */
const PROMPT = [128000, 791, 3938, 315, 279, 1917, 374, 264, 2697, 15592, 1288, 11, 323, 433, 690];
/** The short prompt and 25 more fixed ids: 40 rows, past the decoded prompt path's 24. */
const LONG_PROMPT = [
  ...PROMPT,
  ...Array.from({ length: 25 }, (_, i) => 1000 + ((i * 7919) % 120000)),
];
const CASES: Record<string, { prompt: number[]; file: string }> = {
  short: { prompt: PROMPT, file: "bench/baselines/2b-outputs.json" },
  long: { prompt: LONG_PROMPT, file: "bench/baselines/2b-outputs-long.json" },
};
const STEPS = 8, TOP = 10, TOLERANCE = 1e-4;
const NATIVE = Deno.env.get("BITNET_NATIVE_KERNELS") || undefined;

/** What one run of one model gives. */
interface Outputs {
  ids: number[];
  /** Per step: the top-10 [id, logit] pairs of the logits the step's id was chosen from. */
  top: Array<Array<[number, number]>>;
}

interface Baseline {
  prompt: number[];
  steps: number;
  models: Record<string, Outputs>;
}

/** Which output head a run uses: the F16 kernel over every row, or the exact int8 head. */
type Head = "f16" | "int8";

async function run(
  path: string,
  prompt: number[],
  threads: number,
  head: Head = "f16",
): Promise<Outputs> {
  const g = await openGguf(path);
  const t0 = performance.now();
  const engine = await InferenceEngine.load(g, {
    threads,
    maxContext: prompt.length + STEPS + 1,
    int8Head: head === "int8",
    ...(NATIVE ? { nativeKernels: NATIVE } : {}),
  });
  const step = (ids: number[]) =>
    head === "int8" ? engine.forwardTop(ids, TOP) : engine.forward(ids);
  const loadS = (performance.now() - t0) / 1000;
  try {
    const ids: number[] = [], top: Outputs["top"] = [];
    let logits = step(prompt);
    for (let s = 0; s < STEPS; s++) {
      const best = topK(logits, TOP);
      top.push(best);
      ids.push(best[0]![0]);
      if (s + 1 < STEPS) logits = step([best[0]![0]]);
    }
    const runS = (performance.now() - t0) / 1000 - loadS;
    console.error(
      `${path}: ${prompt.length}-token prompt, ${engine.backendName}, ${threads} thread(s), ${head} head, load ${
        loadS.toFixed(1)
      } s, run ${runS.toFixed(1)} s`,
    );
    return { ids, top };
  } finally {
    engine.close();
    g.close();
  }
}

/** Differences between a run and the baseline, and whether every logit is bit-identical. */
function compare(want: Outputs, got: Outputs): { problems: string[]; exact: boolean } {
  const problems: string[] = [];
  let exact = true, maxDiff = 0;
  if (want.ids.join() !== got.ids.join()) {
    problems.push(`greedy ids ${got.ids.join(",")} instead of ${want.ids.join(",")}`);
  }
  for (let s = 0; s < want.top.length; s++) {
    const w = want.top[s]!, o = got.top[s] ?? [];
    if (w.map((p) => p[0]).join() !== o.map((p) => p[0]).join()) {
      problems.push(
        `step ${s}: top-${TOP} ids ${o.map((p) => p[0])} instead of ${w.map((p) => p[0])}`,
      );
      continue;
    }
    for (let i = 0; i < w.length; i++) {
      const d = Math.abs(w[i]![1] - o[i]![1]);
      maxDiff = Math.max(maxDiff, d);
      if (w[i]![1] !== o[i]![1]) exact = false;
      if (!(d <= TOLERANCE)) {
        problems.push(`step ${s}: logit of ${w[i]![0]} is ${o[i]![1]} instead of ${w[i]![1]}`);
      }
    }
  }
  console.error(`  max |Δlogit| ${maxDiff.toExponential(2)}, bit-identical: ${exact}`);
  return { problems, exact };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string", default: "/work/models" },
      threads: { type: "string", default: "1,2" },
      heads: { type: "string", default: "f16,int8" },
      cases: { type: "string", default: "short,long" },
    },
    allowPositionals: true,
  });
  const mode = positionals[0];
  if (mode !== "record" && mode !== "check") {
    throw new Error("usage: check_2b_outputs.ts record|check [--models DIR] [--threads 1,2]");
  }
  const cases = values.cases.split(",").map((name) => {
    const c = CASES[name];
    if (!c) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(", ")})`);
    return { name, ...c };
  });
  if (mode === "record") {
    for (const { prompt, file } of cases) {
      const baseline: Baseline = { prompt, steps: STEPS, models: {} };
      for (const m of MODELS) baseline.models[m] = await run(join(values.models, m), prompt, 1);
      await Deno.mkdir("bench/baselines", { recursive: true });
      await Deno.writeTextFile(file, JSON.stringify(baseline, null, 2) + "\n");
      console.error(`wrote ${file}`);
    }
  } else {
    let failed = false;
    for (const { name, prompt, file } of cases) {
      const baseline: Baseline = JSON.parse(await Deno.readTextFile(file));
      if (baseline.prompt.join() !== prompt.join()) throw new Error(`${file}: another prompt`);
      for (const head of values.heads.split(",") as Head[]) {
        for (const threads of values.threads.split(",").map(Number)) {
          for (const m of MODELS) {
            const { problems } = compare(
              baseline.models[m]!,
              await run(join(values.models, m), prompt, threads, head),
            );
            for (const p of problems) {
              console.error(`  ${name}: ${m}, ${threads} thread(s), ${head}: ${p}`);
            }
            failed ||= problems.length > 0;
          }
        }
      }
    }
    console.log(failed ? "2B outputs DIFFER from the baseline" : "2B outputs match the baseline");
    if (failed) Deno.exit(1);
  }
}
