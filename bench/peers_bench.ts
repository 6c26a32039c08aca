/**
 * Issue 11's side-by-side measures: our engine and tasks against bitnet.cpp
 * (its first release, the plain I2_S kernel) on the same weights, the two
 * programs alternated round by round in one run (ours first in even rounds,
 * the peer first in odd ones), each figure with the 1-minute load average
 * seen before it. Prints every ratio with both raw figures (min / median over
 * the rounds); `--json` prints everything measured as JSON instead of the
 * table, `--out FILE` also writes it to FILE.
 *
 *   BITNET_CPP_BIN=/work/peers/bitnet.cpp/build/bin \
 *   LLAMA_CPP_BIN=/work/peers/llama.cpp/build/bin \
 *   deno run -A bench/peers_bench.ts [--models /work/models] [--rounds 3] [--reps 2] [--head int8|f16]
 *     [--threads 1,2] [--only speed,probe,validate,quantize,membw,export] [--json] [--out FILE.json]
 *
 * Files (see /work/models/README.md; bench/synthetic_model.ts writes them;
 * the copies by bench/rewrite_arch.ts, see docs/performance.md):
 * `bitnet-2b4t-synthetic-{f16,i2_s}.gguf` (ours, `bitnet-b1.58`) and, for the
 * peers, `bitnet-arch/bitnet-2b4t-synthetic-{f16,i2_s}.gguf`, the same files
 * under the `bitnet` name with the Llama-3 tokenizer metadata
 * (bench/rewrite_arch.ts). bitnet.cpp's `bitnet` graph computes SiLU, not
 * relu²: the two sides compute different functions, so only speed is compared.
 *
 * Measures (issue 11's targets):
 * - speed: pp64 and tg32 at each thread count: ours by bench/engine_speed.ts in
 *   a process of its own (load, warm-up, `--reps` repetitions; `--head int8`, the
 *   engine's default exact greedy head, or `--head f16`), bitnet.cpp by
 *   `llama-bench -p 64 -n 32 -t N -r REPS -mmp 0,1` (its better of the two).
 *   With LLAMA_CPP_BIN and a `bitnet-arch/…-tq2_0.gguf`, llama.cpp's TQ2_0
 *   figures are printed beside them for orientation.
 * - probe: `model-probe FILE --ids … 1` (our task's own command line, load +
 *   6-token prompt + 1 token) against `llama-cli -p "The capital of France is"
 *   -n 1` (the same 6 ids with its BOS), wall time and peak RSS of each.
 * - validate: `model-validate` of the F16 and the I2_S file (their copies in
 *   `with-tokenizer/`, the same tensors with the Llama-3 tokenizer metadata
 *   added by bench/rewrite_arch.ts: without tokenizer metadata gate 2 fails
 *   and skips the engine load, so the time would leave loading out) against
 *   `cat FILE > /dev/null` with the page cache warm, wall time and peak RSS.
 * - quantize: F16 → I2_S, `model-quantize-i2s` against bitnet.cpp's
 *   `llama-quantize IN OUT I2_S 1` (1 thread: more breaks its I2_S).
 * - rss: the peak RSS of probe and validate against the bytes our engine keeps
 *   for the weights (`keptWeightBytes` of the file's plan, loaded as each task loads it:
 *   the probe streams the output matrix from the file, validate keeps it resident).
 * - export (only when asked: `--only export`): `model-export` of the 4.8 GB
 *   BF16 checkpoint `synthetic-bitnet-30l-v128256/` against `cp` of its
 *   safetensors, both from a warm page cache.
 * - membw: read bandwidth (bench/membw_bench.ts) and the bytes one token
 *   reads, hence the memory-bound ceiling of generation.
 *
 * A peer whose variable is unset is skipped with a note; ours always runs.
 * `--native FILE` runs our side with the opt-in native kernels (BITNET_NATIVE_KERNELS=FILE
 * for every task and engine_speed process; `deno task build:native FILE` builds it).
 * Peak RSS comes from GNU time (`/usr/bin/time -f`), wall time from our clock.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { openGguf } from "../lib/gguf/reader.ts";
import { readHparams } from "../lib/arch/hparams.ts";
import { planTensors } from "../lib/inference/weights.ts";
import { keptWeightBytes } from "../lib/inference/engine.ts";
import { probeOutputHead } from "../lib/inference/probe.ts";
import { wasmTernaryBytes } from "../lib/inference/kernels/wasm.ts";
import type { BandwidthResult } from "./membw_bench.ts";
import type { EngineSpeed } from "./engine_speed.ts";

// ---------------------------------------------------------------------------
// Processes.

/** One timed process. */
interface Timed {
  wallS: number;
  userS: number;
  sysS: number;
  /** Peak resident set, in MB (10⁶ bytes). */
  maxRssMb: number;
  code: number;
  stdout: string;
  stderr: string;
  /** 1-minute load average just before it started. */
  load: number;
}

async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "NaN");
  return Number(text.split(" ")[0]);
}

/** Runs `cmd args` under GNU time; stdout/stderr captured. */
async function timed(cmd: string, args: string[], opts: { stdoutNull?: boolean } = {}) {
  const timeFile = await Deno.makeTempFile({ prefix: "peers-bench-time-" });
  try {
    const load = await loadAverage();
    const t0 = performance.now();
    const out = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%U %S %M", "-o", timeFile, cmd, ...args],
      stdin: "null",
      stdout: opts.stdoutNull ? "null" : "piped",
      stderr: "piped",
    }).output();
    const wallS = (performance.now() - t0) / 1000;
    const [user, sys, rssKb] = (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1)!
      .split(" ").map(Number);
    const dec = new TextDecoder();
    return {
      wallS,
      userS: user!,
      sysS: sys!,
      maxRssMb: (rssKb! * 1024) / 1e6, // GNU time prints KiB
      code: out.code,
      stdout: opts.stdoutNull ? "" : dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      load,
    } satisfies Timed;
  } finally {
    await Deno.remove(timeFile).catch(() => {});
  }
}

/** Our task's command line, exactly as `deno task NAME` runs it (deno.json). */
async function ourTask(name: string): Promise<{ cmd: string; args: string[] }> {
  const config = JSON.parse(await Deno.readTextFile("deno.json")) as {
    tasks: Record<string, { command: string }>;
  };
  const words = config.tasks[name]!.command.split(/\s+/);
  if (words[0] !== "deno") throw new Error(`task ${name} does not start with deno`);
  return { cmd: Deno.execPath(), args: words.slice(1) };
}

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b), m = s.length >> 1;
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const min = (xs: number[]): number => Math.min(...xs.filter(Number.isFinite));
const max = (xs: number[]): number => Math.max(...xs.filter(Number.isFinite));

/** Runs `a` and `b` `rounds` times, alternating which goes first. */
async function alternate<A, B>(
  rounds: number,
  a: () => Promise<A>,
  b: (() => Promise<B>) | null,
): Promise<{ a: A[]; b: B[] }> {
  const as: A[] = [], bs: B[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 1 && b) bs.push(await b());
    as.push(await a());
    if (r % 2 === 0 && b) bs.push(await b());
  }
  return { a: as, b: bs };
}

// ---------------------------------------------------------------------------
// Report lines.

interface Line {
  measure: string;
  /** model-validate's time per gate (medians), when measured. */
  gates?: string;
  ours: string;
  peer: string;
  ratio: string;
  target: string;
  load: string;
}

const lines: Line[] = [];
const record: Record<string, unknown> = {};

function fmt(xs: number[], digits: number, unit = ""): string {
  if (xs.length === 0) return "—";
  return xs.length === 1
    ? `${xs[0]!.toFixed(digits)}${unit}`
    : `${median(xs).toFixed(digits)}${unit} (min ${min(xs).toFixed(digits)}, max ${
      max(xs).toFixed(digits)
    })`;
}

function loads(xs: Timed[] | number[]): string {
  const ls = xs.map((x) => typeof x === "number" ? x : x.load);
  return ls.length ? `${min(ls).toFixed(1)}–${max(ls).toFixed(1)}` : "—";
}

/** `--out FILE`: rewritten after every line, so an interrupted run keeps what it measured. */
let outPath: string | undefined;

function addLine(l: Line): void {
  lines.push(l);
  if (outPath) Deno.writeTextFileSync(outPath, JSON.stringify({ lines, record }, null, 1));
  console.error(`${l.measure}: ours ${l.ours} | peer ${l.peer} | ${l.ratio} | load ${l.load}`);
  if (l.gates) console.error(`  gates: ${l.gates}`);
}

// ---------------------------------------------------------------------------
// Speed: pp64 / tg32.

interface PeerSpeed {
  load: number;
  /** tokens/s samples per use_mmap value. */
  pp: Record<string, number[]>;
  tg: Record<string, number[]>;
  error?: string;
}

async function llamaBench(
  bin: string,
  file: string,
  threads: number,
  reps: number,
  mmaps: string,
): Promise<PeerSpeed> {
  const r = await timed(join(bin, "llama-bench"), [
    ...["-m", file, "-p", "64", "-n", "32", "-t", String(threads), "-r", String(reps)],
    ...["-mmp", mmaps, "-o", "json"],
  ]);
  const out: PeerSpeed = { load: r.load, pp: {}, tg: {} };
  if (r.code !== 0) return { ...out, error: r.stderr.split("\n").slice(-4).join(" ") };
  const rows = JSON.parse(r.stdout) as {
    use_mmap: boolean;
    n_prompt: number;
    n_gen: number;
    samples_ts: number[];
  }[];
  for (const row of rows) {
    const key = `mmp${row.use_mmap ? 1 : 0}`, into = row.n_gen > 0 ? out.tg : out.pp;
    (into[key] ??= []).push(...row.samples_ts);
  }
  return out;
}

async function ourSpeed(
  file: string,
  threads: number,
  o: Options,
): Promise<EngineSpeed & { load: number }> {
  const r = await timed(Deno.execPath(), [
    ...["run", "-A", "bench/engine_speed.ts", file],
    ...["--threads", String(threads), "--reps", String(o.reps), "--prompt", "64", "--gen", "32"],
    ...["--head", o.head],
  ]);
  if (r.code !== 0) throw new Error(`engine_speed failed: ${r.stderr.slice(-800)}`);
  return { ...(JSON.parse(r.stdout) as EngineSpeed), load: r.load };
}

/** The peer's better mmap setting: the one with the higher median. */
function better(samples: Record<string, number[]>): { key: string; xs: number[] } {
  let best = { key: "—", xs: [] as number[] };
  for (const [key, xs] of Object.entries(samples)) {
    if (best.xs.length === 0 || median(xs) > median(best.xs)) best = { key, xs };
  }
  return best;
}

async function measureSpeed(o: Options): Promise<void> {
  for (const threads of o.threads) {
    const peer = o.bitnetBin;
    const { a: ours, b: theirs } = await alternate(
      o.rounds,
      () => ourSpeed(o.files.oursI2s, threads, o),
      peer ? () => llamaBench(peer, o.files.peerI2s, threads, o.reps, "0,1") : null,
    );
    record[`speed_t${threads}`] = { ours, bitnetCpp: theirs };
    for (const kind of ["pp", "tg"] as const) {
      const oursTps = ours.flatMap((r) => kind === "pp" ? r.ppTps : r.tgTps);
      const merged: Record<string, number[]> = {};
      for (const t of theirs) {
        for (const [k, xs] of Object.entries(t[kind])) (merged[k] ??= []).push(...xs);
      }
      const best = better(merged);
      const errors = theirs.filter((t) => t.error).map((t) => t.error);
      const peerText = !peer
        ? "skipped: peer absent (BITNET_CPP_BIN unset)"
        : errors.length
        ? `failed: ${errors[0]}`
        : `${fmt(best.xs, 2)} tok/s (${best.key}; other: ${
          Object.entries(merged).filter(([k]) => k !== best.key)
            .map(([k, xs]) => `${k} ${median(xs).toFixed(2)}`).join(", ")
        })`;
      addLine({
        measure: `${kind === "pp" ? "prompt pp64" : "generation tg32"}, I2_S, ${threads} thread(s)`,
        ours: `${fmt(oursTps, 2)} tok/s (load ${fmt(ours.map((r) => r.loadS), 1, " s")})`,
        peer: peerText,
        ratio: best.xs.length
          ? `${(median(oursTps) / median(best.xs)).toFixed(2)}× (ours ÷ bitnet.cpp, medians)`
          : "—",
        target: kind === "tg" ? (threads >= 2 ? "≥ 1.1×" : "≥ 1.0×") : "≥ 1.0×",
        load: loads([...ours.map((r) => r.load), ...theirs.map((t) => t.load)]),
      });
    }
  }
  if (o.llamaBin && o.files.peerTq2) await measureLlamaCppTq2(o);
}

async function measureLlamaCppTq2(o: Options): Promise<void> {
  for (const threads of o.threads) {
    const r = await llamaBench(o.llamaBin!, o.files.peerTq2!, threads, o.reps, "0,1");
    record[`llamacpp_tq2_t${threads}`] = r;
    for (const kind of ["pp", "tg"] as const) {
      const best = better(r[kind]);
      addLine({
        measure: `(orientation) llama.cpp TQ2_0 ${kind}, ${threads} thread(s)`,
        ours: "—",
        peer: r.error ? `failed: ${r.error}` : `${fmt(best.xs, 2)} tok/s (${best.key})`,
        ratio: "—",
        target: "—",
        load: r.load.toFixed(1),
      });
    }
  }
}

// ---------------------------------------------------------------------------
// Probe, validate, quantize, RSS.

/** "The capital of France is" in the Llama-3 tokenizer, with its BOS (what llama-cli feeds). */
const PROBE_IDS = [128000, 791, 6864, 315, 9822, 374];
const PROBE_TEXT = "The capital of France is";

async function measureProbe(o: Options, threads: number): Promise<void> {
  const task = await ourTask("model-probe");
  const ours = () =>
    timed(task.cmd, [
      ...task.args,
      ...["--ids", PROBE_IDS.join(","), o.files.oursI2s, "1", "--threads", String(threads)],
      "--quiet",
    ]);
  const bin = o.bitnetBin;
  const peer = bin
    ? () =>
      timed(join(bin, "llama-cli"), [
        ...["-m", o.files.peerI2s, "-p", PROBE_TEXT, "-n", "1", "-t", String(threads)],
        ...["--temp", "0"],
      ])
    : null;
  const r = await alternate(o.rounds, ours, peer);
  record[`probe_t${threads}`] = strip(r);
  failIfAny("model-probe", r.a);
  addLine({
    measure: `probe: load + 6-token prompt + 1 token, I2_S, ${threads} thread(s)`,
    ours: `${fmt(r.a.map((x) => x.wallS), 2, " s")}, peak RSS ${
      fmt(r.a.map((x) => x.maxRssMb), 0, " MB")
    }`,
    peer: peer
      ? `${fmt(r.b.map((x) => x.wallS), 2, " s")}, peak RSS ${
        fmt(r.b.map((x) => x.maxRssMb), 0, " MB")
      }${r.b.some((x) => x.code !== 0) ? " (exit ≠ 0!)" : ""}`
      : "skipped: peer absent (BITNET_CPP_BIN unset)",
    ratio: peer ? `${ratio(r.a, r.b)}× the time (ours ÷ llama-cli -n 1)` : "—",
    target: "≤ 2×",
    load: loads([...r.a, ...r.b]),
  });
  // One greedy token: the probe streams the output matrix (probe.ts).
  await rssLine(o, "probe", r.a, o.files.oursI2s, probeOutputHead({}, 1));
}

function ratio(a: Timed[], b: Timed[]): string {
  return (median(a.map((x) => x.wallS)) / median(b.map((x) => x.wallS))).toFixed(2);
}

function strip(r: { a: Timed[]; b: Timed[] }) {
  const f = (t: Timed) => ({
    ...t,
    stdout: t.stdout.slice(0, 2000),
    stderr: t.stderr.slice(-2000),
  });
  return { ours: r.a.map(f), peer: r.b.map(f) };
}

function failIfAny(what: string, runs: Timed[]): void {
  const bad = runs.find((r) => r.code !== 0);
  if (bad) console.error(`warning: ${what} exited ${bad.code}: ${bad.stderr.slice(-600)}`);
}

async function measureValidate(o: Options, type: "f16" | "i2_s"): Promise<void> {
  const file = type === "f16" ? o.files.validateF16 : o.files.validateI2s;
  const task = await ourTask("model-validate");
  const cat = () => timed("/bin/sh", ["-c", `cat "$0" > /dev/null`, file]);
  await cat(); // warm the page cache
  const validate = () => timed(task.cmd, [...task.args, file, "--quiet", "--json"]);
  const r = await alternate(o.rounds, validate, cat);
  record[`validate_${type}`] = strip(r);
  const gates = r.a.map(gateSeconds);
  record[`validate_${type}_gates`] = gates;
  const codes = [...new Set(r.a.map((x) => x.code))].join(",");
  addLine({
    measure: `model-validate ${type.toUpperCase()} (${gb(file)}) vs cat FILE > /dev/null (warm)`,
    ours: `${fmt(r.a.map((x) => x.wallS), 1, " s")} (user ${fmt(r.a.map((x) => x.userS), 1)}, sys ${
      fmt(r.a.map((x) => x.sysS), 1)
    }; exit ${codes}), peak RSS ${fmt(r.a.map((x) => x.maxRssMb), 0, " MB")}`,
    peer: `cat ${fmt(r.b.map((x) => x.wallS), 3, " s")}`,
    gates: gateSummary(gates),
    ratio: `${ratio(r.a, r.b)}× the read time`,
    target: type === "f16" ? "≤ 25×" : "≤ 40×",
    load: loads([...r.a, ...r.b]),
  });
  // Validate keeps the F16 output matrix resident (its NLL needs every logit: validate.ts).
  await rssLine(o, `validate ${type}`, r.a, file, { int8Head: false });
}

/** Seconds per gate from model-validate's JSON report (empty when it printed none). */
function gateSeconds(t: Timed): Record<string, number> {
  try {
    const report = JSON.parse(t.stdout) as { gates?: { title: string; durationMs: number }[] };
    return Object.fromEntries((report.gates ?? []).map((g) => [g.title, g.durationMs / 1000]));
  } catch {
    return {};
  }
}

function gateSummary(runs: Record<string, number>[]): string {
  const titles = [...new Set(runs.flatMap((g) => Object.keys(g)))];
  return titles.map((t) => `${t} ${median(runs.map((g) => g[t] ?? NaN)).toFixed(1)} s`).join("; ");
}

const sizes = new Map<string, number>();
function gb(file: string): string {
  return `${((sizes.get(file) ?? 0) / 1e9).toFixed(2)} GB`;
}

/**
 * Peak RSS against the bytes our engine keeps for the file's weights, loaded the way the
 * task loads it (`head`: the probe streams the output matrix from the file, validate keeps
 * it resident).
 */
async function rssLine(
  o: Options,
  what: string,
  runs: Timed[],
  file: string,
  head: { readonly int8Head?: boolean; readonly streamOutput?: boolean },
): Promise<void> {
  const g = await openGguf(file);
  let bytes: number;
  try {
    const hp = readHparams(g);
    bytes = keptWeightBytes(planTensors(g, hp), hp, head, wasmTernaryBytes);
  } finally {
    g.close();
  }
  const rss = runs.map((x) => x.maxRssMb * 1e6);
  addLine({
    measure: `peak RSS of ${what} vs the engine's weight bytes`,
    ours: `${fmt(rss.map((x) => x / 1e6), 0, " MB")}`,
    peer: `weights in kernel memory ${(bytes / 1e6).toFixed(0)} MB`,
    ratio: `${(median(rss) / bytes).toFixed(2)}×`,
    target: "≤ 1.3×",
    load: loads(runs),
  });
  void o;
}

async function measureQuantize(o: Options): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: o.models, prefix: "peers-bench-quantize-" });
  try {
    const task = await ourTask("model-quantize-i2s");
    const ours = () => timed(task.cmd, [...task.args, o.files.oursF16, dir, "--quiet"]);
    const bin = o.bitnetBin;
    const peer = bin
      ? () =>
        timed(join(bin, "llama-quantize"), [
          o.files.peerF16,
          join(dir, "peer-i2_s.gguf"),
          "I2_S",
          "1",
        ])
      : null;
    const r = await alternate(o.rounds, ours, peer);
    record.quantize = strip(r);
    failIfAny("model-quantize-i2s", r.a);
    addLine({
      measure: `quantize F16 → I2_S (${gb(o.files.oursF16)} in)`,
      ours: `${fmt(r.a.map((x) => x.wallS), 1, " s")}, peak RSS ${
        fmt(r.a.map((x) => x.maxRssMb), 0, " MB")
      }`,
      peer: peer
        ? `${fmt(r.b.map((x) => x.wallS), 1, " s")}, peak RSS ${
          fmt(r.b.map((x) => x.maxRssMb), 0, " MB")
        } (1 thread)`
        : "skipped: peer absent (BITNET_CPP_BIN unset)",
      ratio: peer ? `${(1 / Number(ratio(r.a, r.b))).toFixed(2)}× bitnet.cpp's speed` : "—",
      target: "≥ 2×",
      load: loads([...r.a, ...r.b]),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Export of the BF16 checkpoint against `cp` of its safetensors (both from a warm page cache). */
async function measureExport(o: Options): Promise<void> {
  const src = join(o.models, "synthetic-bitnet-30l-v128256");
  const weights = join(src, "model.safetensors");
  const dir = await Deno.makeTempDir({ dir: o.models, prefix: "peers-bench-export-" });
  try {
    const task = await ourTask("model-export");
    const out = join(dir, "ours"), copy = join(dir, "copy.safetensors");
    const cp = async () => {
      const r = await timed("/bin/cp", [weights, copy]);
      await Deno.remove(copy);
      return r;
    };
    await timed("/bin/sh", ["-c", `cat "$0" > /dev/null`, weights]); // warm the page cache
    const ours = async () => {
      const r = await timed(task.cmd, [
        ...task.args,
        src,
        join(src, "tokenizer.json"),
        out,
        "--quiet",
      ]);
      await Deno.remove(out, { recursive: true });
      return r;
    };
    const r = await alternate(o.rounds, ours, cp);
    record.export = strip(r);
    failIfAny("model-export", r.a);
    const size = (await Deno.stat(weights)).size;
    addLine({
      measure: `export BF16 checkpoint (${(size / 1e9).toFixed(2)} GB) vs cp`,
      ours: `${fmt(r.a.map((x) => x.wallS), 1, " s")}, peak RSS ${
        fmt(r.a.map((x) => x.maxRssMb), 0, " MB")
      }`,
      peer: `cp ${fmt(r.b.map((x) => x.wallS), 1, " s")}`,
      ratio: `${(1 / Number(ratio(r.a, r.b))).toFixed(2)}× cp's speed`,
      target: "≥ 0.7× (issue 3)",
      load: loads([...r.a, ...r.b]),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// Memory-bound ceiling.

/** Bytes one generated token reads: every weight the forward pass multiplies (not the embedding row). */
async function bytesPerToken(file: string): Promise<{ ours: number; fileWeights: number }> {
  const g = await openGguf(file);
  try {
    const hp = readHparams(g);
    // Ours: the engine's kernel layout with its default int8 head (what engine_speed times): the
    // output layer's int8 copy and norms instead of the F16 matrix, which stays in the file.
    const ours = keptWeightBytes(planTensors(g, hp), hp, {}, wasmTernaryBytes);
    const fileWeights = g.tensors.reduce((s, t) => s + t.nbytes, 0);
    return { ours, fileWeights };
  } finally {
    g.close();
  }
}

async function measureBandwidth(o: Options): Promise<void> {
  const r = await timed(Deno.execPath(), [
    ...["run", "-A", "--v8-flags=--no-liftoff", "bench/membw_bench.ts"],
    ...["--mib", "1024", "--passes", "5", "--threads", o.threads.join(","), "--json"],
  ]);
  if (r.code !== 0) throw new Error(`membw_bench failed: ${r.stderr.slice(-600)}`);
  const bw = JSON.parse(r.stdout) as BandwidthResult[];
  const b = await bytesPerToken(o.files.oursI2s);
  record.membw = { bandwidth: bw, bytesPerToken: b, load: r.load };
  for (const x of bw) {
    addLine({
      measure: `memory-bound ceiling, ${x.threads} thread(s)`,
      ours: `read bandwidth ${
        x.gbPerS.toFixed(1)
      } GB/s (WebAssembly SIMD loads, best of ${x.passes.length})`,
      peer: `bytes per token: ours ${
        (b.ours / 1e9).toFixed(3)
      } GB (engine layout, int8 head), file ${(b.fileWeights / 1e9).toFixed(3)} GB`,
      ratio: `ceiling ${((x.gbPerS * 1e9) / b.ours).toFixed(1)} tok/s (ours), ${
        ((x.gbPerS * 1e9) / b.fileWeights).toFixed(1)
      } tok/s (file layout)`,
      target: "—",
      load: r.load.toFixed(1),
    });
  }
}

// ---------------------------------------------------------------------------

interface Options {
  models: string;
  rounds: number;
  reps: number;
  threads: number[];
  /** Our output head in the speed rows: "int8" (the engine's default, greedy) or "f16". */
  head: "int8" | "f16";
  bitnetBin: string | null;
  llamaBin: string | null;
  files: {
    oursF16: string;
    oursI2s: string;
    /** Ours with the Llama-3 tokenizer metadata (what model-validate needs to load the engine). */
    validateF16: string;
    validateI2s: string;
    peerF16: string;
    peerI2s: string;
    peerTq2: string | null;
  };
}

async function binDir(variable: string, tools: string[]): Promise<string | null> {
  const dir = Deno.env.get(variable);
  if (!dir) {
    console.error(`skipped: peer absent (${variable} unset)`);
    return null;
  }
  for (const t of tools) {
    const ok = await Deno.stat(join(dir, t)).then((s) => s.isFile, () => false);
    if (!ok) {
      console.error(`skipped: peer absent (${variable}=${dir} has no ${t})`);
      return null;
    }
  }
  return dir;
}

async function options(): Promise<
  { o: Options; only: Set<string>; json: boolean; out: string | undefined }
> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      models: { type: "string" },
      rounds: { type: "string" },
      reps: { type: "string" },
      threads: { type: "string" },
      only: { type: "string" },
      head: { type: "string" },
      json: { type: "boolean" },
      out: { type: "string" },
      native: { type: "string" },
    },
  });
  // Our side with the opt-in native kernels: every task and engine_speed process inherits it.
  if (values.native) Deno.env.set("BITNET_NATIVE_KERNELS", values.native);
  const models = values.models ?? "/work/models";
  const stem = "bitnet-2b4t-synthetic";
  const tq2 = join(models, "bitnet-arch", `${stem}-tq2_0.gguf`);
  const o: Options = {
    models,
    rounds: Number(values.rounds ?? 3),
    reps: Number(values.reps ?? 2),
    threads: (values.threads ?? "1,2").split(",").map(Number),
    head: values.head === "f16" ? "f16" : "int8",
    bitnetBin: await binDir("BITNET_CPP_BIN", ["llama-bench", "llama-cli", "llama-quantize"]),
    llamaBin: await binDir("LLAMA_CPP_BIN", ["llama-bench"]),
    files: {
      oursF16: join(models, `${stem}-f16.gguf`),
      oursI2s: join(models, `${stem}-i2_s.gguf`),
      validateF16: join(models, "with-tokenizer", `${stem}-f16.gguf`),
      validateI2s: join(models, "with-tokenizer", `${stem}-i2_s.gguf`),
      peerF16: join(models, "bitnet-arch", `${stem}-f16.gguf`),
      peerI2s: join(models, "bitnet-arch", `${stem}-i2_s.gguf`),
      peerTq2: await Deno.stat(tq2).then(() => tq2, () => null),
    },
  };
  for (const f of Object.values(o.files)) {
    if (f) sizes.set(f, (await Deno.stat(f)).size);
  }
  const only = new Set((values.only ?? "speed,probe,validate,quantize,membw").split(","));
  return { o, only, json: values.json ?? false, out: values.out };
}

async function machine(): Promise<Record<string, string>> {
  const lscpu = await new Deno.Command("lscpu", { stdout: "piped" }).output()
    .then((r) => new TextDecoder().decode(r.stdout), () => "");
  const model = lscpu.match(/Model name:\s*(.+)/)?.[1] ?? "?";
  return {
    cpu: model,
    cores: String(navigator.hardwareConcurrency),
    deno: Deno.version.deno,
    date: new Date().toISOString(),
  };
}

if (import.meta.main) {
  const { o, only, json, out } = await options();
  outPath = out;
  const env = await machine();
  console.error(`${env.date}: ${env.cpu}, ${env.cores} cores, deno ${env.deno}`);
  if (only.has("speed")) await measureSpeed(o);
  if (only.has("probe")) { for (const t of o.threads) await measureProbe(o, t); }
  if (only.has("validate")) {
    await measureValidate(o, "f16");
    await measureValidate(o, "i2_s");
  }
  if (only.has("quantize")) await measureQuantize(o);
  if (only.has("membw")) await measureBandwidth(o);
  if (only.has("export")) await measureExport(o);
  const result = JSON.stringify({ env, options: o, lines, record }, null, 1);
  if (out) await Deno.writeTextFile(out, result);
  if (json) console.log(result);
  else {
    console.log(`\n${env.date} · ${env.cpu} · ${env.cores} cores · deno ${env.deno}\n`);
    console.log("| measure | ours | peer | ratio | target | load avg |");
    console.log("|---|---|---|---|---|---|");
    for (const l of lines) {
      console.log(
        `| ${l.measure} | ${l.ours} | ${l.peer} | ${l.ratio} | ${l.target} | ${l.load} |`,
      );
    }
  }
}
