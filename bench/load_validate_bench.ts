/**
 * Load, validate, NLL and generation costs of one GGUF, each with wall time
 * and this process's CPU time (user, system): the figures issue 11's
 * targets are about, measured so that a loaded machine still gives
 * comparable CPU seconds.
 *
 *   deno run -A bench/load_validate_bench.ts FILE [--threads 2] [--no-validate] [--gen 16]
 *
 * 1. `cat FILE > /dev/null` twice (the second, page cache warm, is the unit);
 * 2. `InferenceEngine.load` (wall, user, sys);
 * 3. NLL of 75 tokens (model-validate's passage length with the fixture's
 *    tokenizer) and a 8-token prompt + `--gen` greedy tokens;
 * 4. `model-validate FILE --json` as a child under /usr/bin/time (wall, user,
 *    sys, peak RSS; its own per-gate timings), unless --no-validate.
 *
 * Prints one JSON object. The 1-minute load average before and after is
 * included: on a shared machine wall times mean little, CPU times more.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { openGguf } from "../lib/gguf/reader.ts";
import { InferenceEngine } from "../lib/inference/engine.ts";

/** Wall seconds and this process's CPU seconds of `fn`. */
async function measured<T>(fn: () => Promise<T> | T) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    value,
    wallS: round((performance.now() - t0) / 1000),
    userS: round(c.user / 1e6),
    sysS: round(c.system / 1e6),
  };
}

async function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function catSeconds(path: string): Promise<number> {
  await run("sh", ["-c", `cat '${path}' > /dev/null`]);
  const t0 = performance.now();
  await run("sh", ["-c", `cat '${path}' > /dev/null`]);
  return Math.round((performance.now() - t0) / 10) / 100;
}

async function validate(path: string) {
  const t0 = performance.now();
  const { stdout, stderr } = await run("/usr/bin/time", [
    "-f",
    "%U %S %M",
    Deno.execPath(),
    "run",
    "-A",
    "tasks/validate_gguf.ts",
    path,
    "--json",
  ]);
  const wallS = Math.round((performance.now() - t0) / 10) / 100;
  const [user, sys, rssKb] = stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  const report = JSON.parse(stdout);
  return {
    wallS,
    userS: user,
    sysS: sys,
    peakRssMb: Math.round(rssKb! / 1024),
    exitCode: report.exitCode,
    timingsMs: report.timings,
    probeMs: report.probe?.timings,
  };
}

async function engineCosts(path: string, threads: number, gen: number) {
  const g = await openGguf(path);
  try {
    const load = await measured(() => InferenceEngine.load(g, { threads, maxContext: 128 }));
    const engine = load.value;
    try {
      const ids = Array.from({ length: 75 }, (_, i) => (i * 7919 + 13) % 2048);
      const nll = await measured(() => engine.nll(ids));
      const generate = await measured(() => engine.generate(ids.slice(0, 8), { maxTokens: gen }));
      const t = generate.value.timings;
      return {
        load: { ...load, value: undefined },
        nll75: { ...nll, value: undefined },
        generate: {
          ...generate,
          value: undefined,
          promptTokS: Math.round(t.promptTokensPerSec * 10) / 10,
          genTokS: Math.round(t.genTokensPerSec * 100) / 100,
        },
      };
    } finally {
      engine.close();
    }
  } finally {
    g.close();
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      threads: { type: "string", default: "2" },
      gen: { type: "string", default: "16" },
      "no-validate": { type: "boolean" },
    },
    allowPositionals: true,
  });
  const path = positionals[0];
  if (!path) throw new Error("usage: load_validate_bench.ts FILE [--threads N] [--no-validate]");
  const loadBefore = Deno.loadavg()[0];
  const catS = await catSeconds(path);
  const engine = await engineCosts(path, Number(values.threads), Number(values.gen));
  const validation = values["no-validate"] ? null : await validate(path);
  console.log(JSON.stringify(
    {
      file: path,
      bytes: (await Deno.stat(path)).size,
      threads: Number(values.threads),
      loadAverage: [loadBefore, Deno.loadavg()[0]],
      catS,
      ...engine,
      validate: validation,
      validateOverCat: validation ? Math.round((validation.wallS / catS) * 10) / 10 : null,
    },
    null,
    1,
  ));
}
