/**
 * The fixture's baseline, taken once per test file: the fixture is exported
 * with the project's exporter (tests/validate/_variants.ts) and validated
 * once; tests copy and alter the result rather than recompute it.
 *
 * @example
 * ```ts
 * import { fixtureBaseline } from "./_fixture.ts";
 * const { baseline, report, ggufPath } = await fixtureBaseline();
 * ```
 * @module
 */

import { createBaseline } from "../../lib/baseline/create.ts";
import type { Baseline } from "../../lib/baseline/types.ts";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import type { ValidationReport } from "../../lib/validate/report.ts";
import { cleanFixture } from "../validate/_variants.ts";

export const FIXTURE_TOKENIZER = "fixtures/tiny-bitnet/tokenizer.json";

/** The exported fixture and its baseline. */
export interface FixtureBaseline {
  readonly dir: string;
  readonly ggufPath: string;
  readonly baseline: Baseline;
  readonly report: ValidationReport;
}

let cached: Promise<FixtureBaseline> | undefined;

/** The fixture's baseline (BITNET_* settings ignored: a fixed, empty environment). */
export function fixtureBaseline(): Promise<FixtureBaseline> {
  cached ??= (async () => {
    const clean = await cleanFixture();
    const { baseline, report } = await createBaseline({
      ggufPath: clean.ggufPath,
      tokenizerPath: FIXTURE_TOKENIZER,
      env: readBitnetEnv(new Map()),
    });
    return { dir: clean.dir, ggufPath: clean.ggufPath, baseline, report };
  })();
  return cached;
}

/** A deep, mutable copy of a baseline (for making altered variants). */
export function copyBaseline(b: Baseline): Baseline & Record<string, unknown> {
  return structuredClone(b) as Baseline & Record<string, unknown>;
}

/**
 * Reads one BF16 tensor of a SafeTensors file straight from its bytes (header
 * JSON, data offsets, bf16 = the top 16 bits of an f32), independently of
 * lib/safetensors.
 */
export async function readBf16Tensor(path: string, name: string): Promise<Float32Array> {
  const bytes = await Deno.readFile(path);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const entry = header[name] as { dtype: string; data_offsets: [number, number] };
  if (entry.dtype !== "BF16") throw new Error(`${name} is ${entry.dtype}`);
  const start = 8 + n + entry.data_offsets[0];
  const count = (entry.data_offsets[1] - entry.data_offsets[0]) / 2;
  const out = new Float32Array(count);
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) u32[i] = dv.getUint16(start + 2 * i, true) << 16;
  return out;
}

/** sqrt(mean(x²)) in float64. */
export function rmsOf(values: Float32Array): number {
  let s = 0;
  for (const v of values) s += v * v;
  return Math.sqrt(s / values.length);
}
