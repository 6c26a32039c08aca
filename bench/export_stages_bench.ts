/**
 * CPU time of each stage of the export per GB of BF16 input, one stage at a
 * time on one thread, measured as process CPU time (user + system) rather than
 * wall time, so that a loaded machine slows the figures less:
 *
 *   deno run -A bench/export_stages_bench.ts [--mb 256]
 *
 * Stages: sha256 (node:crypto: sources and fingerprint), xxh64 (ours,
 * WebAssembly; and xxhash-wasm for comparison), BF16 → F16 conversion into a
 * reused buffer, statistics from F16 bit patterns, ternarization by table
 * (histogram + lookup), and one copy into a shared buffer (the writer's slot).
 *
 * @module
 */

import { createHash } from "node:crypto";
import process from "node:process";
import { parseArgs } from "node:util";
import { xxhashWasm } from "../deps.ts";
import { ChunkConverter } from "../lib/export/convert.ts";
import { Ternary16 } from "../lib/export/ternary16.ts";
import { codecByName } from "../lib/codecs/table.ts";
import { Xxh64 } from "../lib/io/xxh64.ts";
import { StatsAccumulator } from "../lib/stats/summary.ts";
import { FuzzRng } from "../tests/_fuzz.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mb: { type: "string", default: "256" } },
});
const CHUNK = 1 << 22;
const total = Number(values.mb) << 20;
const chunk = new Uint8Array(CHUNK);
const rng = new FuzzRng(7);
const bf16 = new Uint16Array(chunk.buffer);
for (let i = 0; i < bf16.length; i++) {
  const r = rng.u32();
  bf16[i] = ((r >>> 16) & 0x8000) | (0x3d00 - 0x80 * ((r >>> 20) & 3)) | (r & 0x7f);
}

function cpuSeconds(run: () => void): number {
  const t0 = process.cpuUsage();
  for (let done = 0; done < total; done += CHUNK) run();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e6;
}

const perGb = (s: number) =>
  `${(s / (total / 1e9)).toFixed(3)} s/GB (${(total / 1e9 / s).toFixed(2)} GB/s)`;
const rows: [string, number][] = [];
const sha = createHash("sha256");
rows.push(["sha256 (node:crypto)", cpuSeconds(() => void sha.update(chunk))]);
const ours = new Xxh64();
rows.push(["xxh64 (lib/io/xxh64.ts, WebAssembly)", cpuSeconds(() => ours.update(chunk))]);
const other = (await xxhashWasm()).create64(0n);
rows.push(["xxh64 (xxhash-wasm, for comparison)", cpuSeconds(() => void other.update(chunk))]);
const conv = new ChunkConverter();
rows.push([
  "BF16 → F16 into a reused buffer",
  cpuSeconds(() => void conv.convert("BF16", chunk, "F16", "refuse")),
]);
const f16 = conv.convert("BF16", chunk, "F16", "refuse");
const stats = new StatsAccumulator();
if ("bits16" in f16) {
  const { bits, table } = f16.bits16;
  rows.push(["statistics from F16 bit patterns", cpuSeconds(() => stats.addBits16(bits, table))]);
}
const ternary = new Ternary16(codecByName("BF16").float!.value, "w");
rows.push(["ternarization pass 1 (histogram)", cpuSeconds(() => ternary.count(bf16))]);
ternary.finish(() => [0xbc00, 0, 0x3c00]);
const out = new Uint16Array(bf16.length);
rows.push(["ternarization pass 2 (lookup)", cpuSeconds(() => ternary.map(bf16, out))]);
const slot = new Uint8Array(new SharedArrayBuffer(CHUNK));
rows.push(["copy into a shared slot", cpuSeconds(() => slot.set(chunk))]);
console.log(
  `${values.mb} MB per stage, 4 MiB chunks, load average ${
    (await Deno.readTextFile("/proc/loadavg")).split(" ")[0]
  }`,
);
for (const [name, s] of rows) console.log(`${name.padEnd(40)} ${perGb(s)}`);
