/**
 * The exported fixture (once per test process) and broken variants of it:
 * the clean GGUF is read with the project's reader and rewritten with
 * GgufWriter, changing, dropping or reshaping tensors.
 *
 * @example
 * ```ts
 * import { cleanFixture, rewriteGguf } from "./_variants.ts";
 * const clean = await cleanFixture();
 * await rewriteGguf(clean.ggufPath, "/tmp/x.gguf", (t, v) => t.name.includes("norm") ? { values: v.map((x) => x * 50) } : undefined);
 * ```
 * @module
 */

import { f32ToF16Array } from "../../lib/codecs/float_bulk.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { type GgufKv, type GgufTensorInfo, openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType, GgufValueType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { elementCount } from "../../lib/stats/tensor_values.ts";
import { codecOf } from "../../lib/codecs/table.ts";

/** The fixture exported with the project's exporter. */
export interface CleanFixture {
  dir: string;
  ggufPath: string;
  metaPath: string;
}

let cached: Promise<CleanFixture> | undefined;
let root: string | undefined;

/**
 * A fresh folder under one per-process root that is removed when the test
 * process ends, so that the variants (7 MB each) do not pile up in /tmp.
 */
export async function scratchDir(prefix = "v-"): Promise<string> {
  if (!root) {
    root = await Deno.makeTempDir({ prefix: "validate-tests-" });
    const dir = root;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    });
  }
  return await Deno.makeTempDir({ dir: root, prefix });
}

/** Exports fixtures/tiny-bitnet once per process into a temp folder. */
export function cleanFixture(): Promise<CleanFixture> {
  cached ??= (async () => {
    const dir = await scratchDir("fixture-");
    const r = await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
      outDir: dir,
      quiet: true,
    });
    return { dir, ggufPath: r.ggufPath, metaPath: r.metaPath };
  })();
  return cached;
}

/** What an edit does with one tensor: keep (undefined), drop (null), or replace. */
export type TensorEdit =
  | undefined
  | null
  | { values: Float32Array; shape?: number[]; type?: GgmlType }
  | { bytes: Uint8Array; shape?: number[]; type: GgmlType };

/** Encodes f32 values to F32 or F16 bytes. */
export function encodeFloats(values: Float32Array, type: GgmlType): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(values.slice().buffer);
  if (type === GgmlType.F16) {
    const out = new Uint16Array(values.length);
    f32ToF16Array(values, out, "clamp");
    return new Uint8Array(out.buffer);
  }
  throw new Error(`encodeFloats: unsupported type ${type}`);
}

function copyKv(w: GgufWriter, kv: GgufKv): void {
  const T = GgufValueType;
  if (kv.type === T.ARRAY) {
    const v = kv.value as (string | number)[];
    if (kv.arrayType === T.STRING) return w.addStringArray(kv.key, v as string[]);
    if (kv.arrayType === T.INT32) return w.addI32Array(kv.key, v as number[]);
    if (kv.arrayType === T.UINT32) return w.add(kv.key, T.ARRAY, v as number[], T.UINT32);
    if (kv.arrayType === T.FLOAT32) return w.addF32Array(kv.key, v as number[]);
    throw new Error(`copyKv: array type ${kv.arrayType} of ${kv.key}`);
  }
  switch (kv.type) {
    case T.STRING:
      return w.addString(kv.key, kv.value as string);
    case T.UINT32:
      return w.addU32(kv.key, kv.value as number);
    case T.INT32:
      return w.add(kv.key, T.INT32, kv.value as number);
    case T.FLOAT32:
      return w.addF32(kv.key, kv.value as number);
    case T.BOOL:
      return w.addBool(kv.key, kv.value as boolean);
    case T.UINT8:
      return w.add(kv.key, T.UINT8, kv.value as number);
    case T.UINT64:
      return w.add(kv.key, T.UINT64, kv.value as bigint);
    case T.FLOAT64:
      return w.add(kv.key, T.FLOAT64, kv.value as number);
    default:
      throw new Error(`copyKv: value type ${kv.type} of ${kv.key}`);
  }
}

/**
 * Rewrites `src` to `dst`, asking `edit` about each tensor (with its decoded
 * values when it is F32/F16/BF16). Metadata is copied unchanged.
 */
export async function rewriteGguf(
  src: string,
  dst: string,
  edit: (t: GgufTensorInfo, values: Float32Array | null) => TensorEdit,
): Promise<void> {
  const g = await openGguf(src);
  try {
    const w = new GgufWriter(g.alignment);
    for (const kv of g.metadata.values()) if (kv.key !== "general.alignment") copyKv(w, kv);
    const payloads: Uint8Array[] = [];
    for (const t of g.tensors) {
      const bytes = await g.readTensor(t);
      const isFloat = t.type === GgmlType.F32 || t.type === GgmlType.F16 ||
        t.type === GgmlType.BF16;
      const values = isFloat ? codecOf(t.type).decode(bytes, elementCount(t), t.name) : null;
      const e = edit(t, values);
      if (e === null) continue;
      if (e === undefined) {
        w.addTensorInfo(t.name, t.shape, t.type);
        payloads.push(bytes);
      } else if ("values" in e) {
        const type = e.type ?? t.type;
        w.addTensorInfo(t.name, e.shape ?? t.shape, type);
        payloads.push(encodeFloats(e.values, type));
      } else {
        w.addTensorInfo(t.name, e.shape ?? t.shape, e.type);
        payloads.push(e.bytes);
      }
    }
    const file = await Deno.open(dst, { write: true, create: true, truncate: true });
    try {
      await w.write({
        write: async (c) => {
          let done = 0;
          while (done < c.length) done += await file.write(c.subarray(done));
        },
      }, (_t, i) => payloads[i]!);
    } finally {
      file.close();
    }
  } finally {
    g.close();
  }
}

/** True for the norm tensors of the fixture. */
export const isNorm = (name: string) =>
  /(^|\.)(attn_norm|attn_sub_norm|ffn_norm|ffn_sub_norm|output_norm)\.weight$/.test(name);

/** A deterministic PRNG (mulberry32) for random weights. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
