/**
 * Seeded mutation fuzzing helpers shared by the reader fuzz tests (SafeTensors,
 * GGUF): a deterministic PRNG, byte-level mutations biased towards values that
 * break parsers (lengths, counts, offsets), and a check that only the project's
 * own error classes escape.
 *
 * @example
 * ```ts
 * import { FuzzRng, mutate, expectOnlyCleanErrors } from "./_fuzz.ts";
 * const rng = new FuzzRng(42);
 * const valid = new Uint8Array([1, 2, 3, 4]);
 * for (let i = 0; i < 1000; i++) {
 *   const { bytes, log } = mutate(valid, rng);
 *   await expectOnlyCleanErrors(log, () => parse(bytes));
 * }
 * ```
 * @module
 */

import { CleanGgufError } from "../lib/errors.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";

/** mulberry32: tiny, fast, deterministic; plenty for picking mutations. */
export class FuzzRng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform u32. */
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n) (n ≥ 1). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Integers that tend to break length, count and offset checks. */
export const INTERESTING_U64: readonly bigint[] = [
  0n,
  1n,
  2n,
  7n,
  8n,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x1_0000_0000n,
  (1n << 53n) - 1n,
  1n << 53n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
];

/** Decimal tokens that break JSON numbers: negative, fractional, huge, past 2^53. */
export const INTERESTING_NUMBER_TEXT: readonly string[] = [
  "0",
  "1",
  "-1",
  "-0",
  "1.5",
  "1e3",
  "1e308",
  "1e400",
  "9007199254740991",
  "9007199254740993",
  "18446744073709551615",
  "18446744073709551616",
  "99999999999999999999999",
  "NaN",
  "null",
  '"7"',
  "[]",
  "{}",
  "true",
];

/** Bytes that tend to matter to binary, JSON and string parsers. */
const INTERESTING_BYTES = [
  0x00,
  0x01,
  0x7f,
  0x80,
  0xff,
  0x22,
  0x2c,
  0x3a,
  0x5b,
  0x5d,
  0x7b,
  0x7d,
  0x2d,
  0x39,
  0x5c,
  0xc3,
];

/** Printable ASCII that matters to JSON, for text-only mutations. */
const JSON_BYTES: readonly number[] = [
  ...new TextEncoder().encode('"{}[],:-0123456789.eE ntfu\\_a'),
];

/** Strings that JSON-based headers care about (names, dtypes, keys). */
export const INTERESTING_STRINGS: readonly string[] = [
  "",
  "__metadata__",
  "dtype",
  "shape",
  "data_offsets",
  "F32",
  "F16",
  "BF16",
  "U8",
  "I8",
  "I64",
  "F64",
  "BOOL",
  "Q4",
  "weight_map",
  "../x.safetensors",
  "model-00001-of-00002.safetensors",
];

/** A half-open byte range [start, end) that mutations should target. */
export interface Region {
  readonly start: number;
  readonly end: number;
}

/** The mutation kinds {@link mutate} picks from. */
export const MUTATIONS = [
  "flipBit",
  "setByte",
  "writeU32",
  "writeU64",
  "deleteSpan",
  "insertBytes",
  "duplicateSpan",
  "truncate",
  "replaceNumber",
  "replaceString",
] as const;

/** Mutations that keep text text (with {@link MutateOptions.ascii}), for JSON-like regions. */
export const TEXT_MUTATIONS: readonly MutationKind[] = [
  "setByte",
  "insertBytes",
  "deleteSpan",
  "duplicateSpan",
  "replaceNumber",
  "replaceNumber",
  "replaceNumber",
  "replaceString",
  "replaceString",
];

/** One mutation kind. */
export type MutationKind = (typeof MUTATIONS)[number];

function writeLe(bytes: Uint8Array, at: number, value: bigint, width: number): void {
  for (let k = 0; k < width && at + k < bytes.length; k++) {
    bytes[at + k] = Number((value >> BigInt(8 * k)) & 0xffn);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs of ASCII digits (with an optional leading '-') in [start, end). */
function numberRuns(bytes: Uint8Array, region: Region): Region[] {
  const runs: Region[] = [];
  let i = region.start;
  while (i < region.end) {
    const c = bytes[i]!;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      const s = i;
      i++;
      while (i < region.end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
      runs.push({ start: s, end: i });
    } else {
      i++;
    }
  }
  return runs;
}

/** Quoted strings (without escapes) in [start, end), quotes included. */
function stringRuns(bytes: Uint8Array, region: Region): Region[] {
  const runs: Region[] = [];
  let open = -1;
  for (let i = region.start; i < region.end; i++) {
    if (bytes[i] !== 0x22) continue;
    if (open < 0) {
      open = i;
    } else {
      runs.push({ start: open, end: i + 1 });
      open = -1;
    }
  }
  return runs;
}

/** How {@link applyMutation} and {@link mutate} choose bytes. */
export interface MutateOptions {
  /** Byte range to aim at (default: the whole input); `truncate` ignores it. */
  readonly region?: Region;
  /** Mutations per case: 1 to this (default 3). */
  readonly maxSteps?: number;
  /** Kinds to pick from (default: all of {@link MUTATIONS}). */
  readonly kinds?: readonly MutationKind[];
  /** Only write printable JSON-significant ASCII (keeps a text header decodable). */
  readonly ascii?: boolean;
}

/**
 * Applies one mutation of `kind` to a copy of `input`, aimed at `region`
 * (default: the whole input). Returns the new bytes and a short description.
 *
 * @example
 * ```ts
 * const out = applyMutation(new Uint8Array(16), "writeU64", new FuzzRng(1), { region: { start: 0, end: 8 } });
 * ```
 */
export function applyMutation(
  input: Uint8Array,
  kind: MutationKind,
  rng: FuzzRng,
  options: MutateOptions = {},
): { bytes: Uint8Array; log: string } {
  const region = options.region ?? { start: 0, end: input.length };
  const randomByte = () =>
    options.ascii
      ? rng.pick(JSON_BYTES)
      : rng.chance(0.5)
      ? rng.pick(INTERESTING_BYTES)
      : rng.int(256);
  const start = Math.max(0, Math.min(region.start, input.length));
  const end = Math.max(start, Math.min(region.end, input.length));
  const span = end - start;
  const at = start + rng.int(Math.max(span, 1));
  const bytes = input.slice();
  switch (kind) {
    case "flipBit": {
      if (at >= bytes.length) return { bytes, log: "flipBit(noop)" };
      const bit = rng.int(8);
      bytes[at] = bytes[at]! ^ (1 << bit);
      return { bytes, log: `flipBit(${at}:${bit})` };
    }
    case "setByte": {
      if (at >= bytes.length) return { bytes, log: "setByte(noop)" };
      const v = randomByte();
      bytes[at] = v;
      return { bytes, log: `setByte(${at}=${v})` };
    }
    case "writeU32":
    case "writeU64": {
      const width = kind === "writeU32" ? 4 : 8;
      const v = rng.chance(0.8) ? rng.pick(INTERESTING_U64) : BigInt(rng.u32());
      writeLe(bytes, at, v, width);
      return { bytes, log: `${kind}(${at}=${v})` };
    }
    case "deleteSpan": {
      const len = 1 + rng.int(Math.min(16, Math.max(1, end - at)));
      return {
        bytes: concat(input.subarray(0, at), input.subarray(Math.min(at + len, input.length))),
        log: `deleteSpan(${at},${len})`,
      };
    }
    case "insertBytes": {
      const len = 1 + rng.int(8);
      const ins = new Uint8Array(len).map(randomByte);
      return {
        bytes: concat(input.subarray(0, at), ins, input.subarray(at)),
        log: `insertBytes(${at},${len})`,
      };
    }
    case "duplicateSpan": {
      const from = start + rng.int(Math.max(span, 1));
      const len = 1 + rng.int(32);
      const chunk = input.slice(from, from + len);
      return {
        bytes: concat(input.subarray(0, at), chunk, input.subarray(at)),
        log: `duplicateSpan(${from},${len}->${at})`,
      };
    }
    case "truncate": {
      const to = rng.int(input.length + 1);
      return { bytes: input.slice(0, to), log: `truncate(${to})` };
    }
    case "replaceNumber": {
      const runs = numberRuns(input, { start, end });
      if (runs.length === 0) return applyMutation(input, "setByte", rng, options);
      const run = rng.pick(runs);
      const text = rng.chance(0.7)
        ? rng.pick(INTERESTING_NUMBER_TEXT)
        : String(rng.int(0x1_0000_0000) - (rng.chance(0.2) ? 0x8000_0000 : 0));
      return {
        bytes: concat(
          input.subarray(0, run.start),
          new TextEncoder().encode(text),
          input.subarray(run.end),
        ),
        log: `replaceNumber(${run.start}:${text})`,
      };
    }
    case "replaceString": {
      const runs = stringRuns(input, { start, end });
      if (runs.length === 0) return applyMutation(input, "setByte", rng, options);
      const run = rng.pick(runs);
      const other = rng.pick(runs);
      const replacement = rng.chance(0.5)
        ? new TextEncoder().encode(JSON.stringify(rng.pick(INTERESTING_STRINGS)))
        : input.slice(other.start, other.end);
      return {
        bytes: concat(input.subarray(0, run.start), replacement, input.subarray(run.end)),
        log: `replaceString(${run.start}:${new TextDecoder().decode(replacement)})`,
      };
    }
  }
}

/**
 * Applies 1–`maxSteps` random mutations (aimed at `region`) to a copy of `input`.
 * The third argument is either options or, for short, just the region.
 *
 * @example
 * ```ts
 * const { bytes, log } = mutate(validFile, new FuzzRng(7), { start: 0, end: 64 });
 * const json = mutate(headerJson, new FuzzRng(8), { kinds: TEXT_MUTATIONS, ascii: true });
 * ```
 */
export function mutate(
  input: Uint8Array,
  rng: FuzzRng,
  regionOrOptions: MutateOptions | Region = {},
): { bytes: Uint8Array; log: string } {
  const options: MutateOptions = "start" in regionOrOptions
    ? { region: regionOrOptions }
    : regionOrOptions;
  let bytes = input;
  const logs: string[] = [];
  const steps = 1 + rng.int(options.maxSteps ?? 3);
  const kinds = options.kinds ?? MUTATIONS;
  for (let s = 0; s < steps; s++) {
    const region = options.region
      ? { start: options.region.start, end: Math.min(options.region.end, bytes.length) }
      : undefined;
    const out = applyMutation(
      bytes,
      rng.pick(kinds),
      rng,
      region ? { ...options, region } : options,
    );
    bytes = out.bytes;
    logs.push(out.log);
  }
  return { bytes, log: logs.join(" ") };
}

/**
 * Runs `fn`; returns "ok" or the error's class name when it throws a
 * {@link CleanGgufError} subclass, and fails (rethrowing with `label`) on any
 * other error — a TypeError, a RangeError from a huge allocation, and so on.
 *
 * @example
 * ```ts
 * const outcome = await expectOnlyCleanErrors("case 12", () => openSomething(bytes));
 * ```
 */
export async function expectOnlyCleanErrors(
  label: string,
  fn: () => unknown | Promise<unknown>,
): Promise<string> {
  try {
    await fn();
    return "ok";
  } catch (e) {
    if (e instanceof CleanGgufError) return e.name;
    throw new Error(
      `${label}: threw ${(e as Error)?.name ?? typeof e} instead of a CleanGgufError: ${e}`,
      {
        cause: e,
      },
    );
  }
}

/**
 * `n` seeded trits (−1, 0, +1), the test input of every ternary codec and kernel.
 *
 * @example
 * ```ts
 * randomTrits(256, 1).length; // 256
 * ```
 */
export function randomTrits(n: number, seed: number): Int8Array {
  const rnd = mulberry32(seed);
  return Int8Array.from({ length: n }, () => Math.floor(rnd() * 3) - 1);
}
