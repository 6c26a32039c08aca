/**
 * Small GGUF files and hand-made companions for the provenance tests. Payload
 * byte ranges are found with the independent reader `hfGguf` and the type
 * sizes of FORMATS.md §1, never with our reader.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const { ggufPath } = await writeSmallGguf(`${dir}/small.gguf`);
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { hfGguf } from "../../deps.ts";
import { xxh64Reference } from "../io/_xxh64_reference.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgmlType } from "../../lib/gguf/types.ts";

/** Bytes per block and elements per block, FORMATS.md §1 (by ggml type id). */
const TYPE_SIZES: Record<number, [elements: number, bytes: number]> = {
  0: [1, 4],
  1: [1, 2],
  8: [32, 34],
  30: [1, 2],
  34: [256, 54],
  35: [256, 66],
};

/** One tensor's payload range, from the independent reader. */
export interface PayloadRange {
  name: string;
  start: number;
  end: number;
}

/** Payload ranges in tensor-info order, computed with hfGguf and §1 sizes. */
export async function payloadRanges(path: string): Promise<PayloadRange[]> {
  const parsed = await hfGguf(path, { allowLocalFile: true });
  const base = Number(parsed.tensorDataOffset);
  return parsed.tensorInfos.map((t) => {
    const size = TYPE_SIZES[t.dtype];
    if (!size) throw new Error(`test helper: no size for ggml type ${t.dtype} (${t.name})`);
    const elements = t.shape.reduce((a, b) => a * Number(b), 1);
    const start = base + Number(t.offset);
    return { name: t.name, start, end: start + (elements / size[0]) * size[1] };
  });
}

/** Lower-case hex digest with node:crypto. */
export function digest(algo: "sha1" | "sha256", bytes: Uint8Array): string {
  return createHash(algo).update(bytes).digest("hex");
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes a 4-tensor GGUF (F32, F16 with padding, Q8_0, F32) and returns its path. */
export async function writeSmallGguf(path: string): Promise<{ ggufPath: string; names: string[] }> {
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addString("general.name", "provenance-test");
  w.addU32("general.file_type", 7); // MOSTLY_Q8_0
  w.addTensorInfo("token_embd.weight", [8, 16], GgmlType.F32);
  w.addTensorInfo("blk.0.attn_norm.weight", [13], GgmlType.F16); // 26 bytes: padded to 32
  w.addTensorInfo("blk.0.attn_q.weight", [4, 64], GgmlType.Q8_0);
  w.addTensorInfo("output_norm.weight", [16], GgmlType.F32);
  const chunks: Uint8Array[] = [];
  await w.write(
    { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
    (t, i) => bytesOf(t.nbytes, 1000 + i),
  );
  const size = chunks.reduce((a, c) => a + c.length, 0);
  const all = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  await Deno.writeFile(path, all);
  return { ggufPath: path, names: w.tensors.map((t) => t.name) };
}

/** IEEE half bits to a number, written out here rather than taken from lib/codecs. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A payload's values as meta.json's statistics see them (f32), by ggml type id (FORMATS.md §1). */
function payloadValues(type: number, bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  if (type === 0) { for (let o = 0; o < bytes.length; o += 4) out.push(view.getFloat32(o, true)); }
  else if (type === 1) {
    for (let o = 0; o < bytes.length; o += 2) out.push(halfToNumber(view.getUint16(o, true)));
  } else if (type === 8) {
    for (let o = 0; o < bytes.length; o += 34) {
      const d = halfToNumber(view.getUint16(o, true));
      for (let j = 0; j < 32; j++) out.push(Math.fround(d * view.getInt8(o + 2 + j)));
    }
  } else throw new Error(`test helper: no decoder for ggml type ${type}`);
  return out;
}

/** rms/min/max over the finite values, summed in order in float64 (NaN and ±inf left out). */
export function statistics(values: readonly number[]): { rms: number; min: number; max: number } {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { rms: 0, min: 0, max: 0 };
  let sumSq = 0;
  for (const v of finite) sumSq += v * v;
  return {
    rms: Math.sqrt(sumSq / finite.length),
    min: finite.reduce((a, b) => (b < a ? b : a)),
    max: finite.reduce((a, b) => (b > a ? b : a)),
  };
}

const TYPE_NAMES: Record<number, string> = { 0: "F32", 1: "F16", 8: "Q8_0", 30: "BF16" };

/**
 * Writes `<stem>.fingerprint` and a complete `<stem>.meta.json` for a GGUF
 * from {@link writeSmallGguf}, computed independently: hfGguf for the tensor
 * table, node:crypto and the BigInt XXH64 reference over the byte ranges of
 * {@link payloadRanges}, and the decoders above for the statistics. Rows
 * record `xxh64`, or `sha256` as files written before xxh64 did (`rowDigest`).
 */
export async function writeCompanions(
  ggufPath: string,
  rowDigest: "xxh64" | "sha256" = "xxh64",
): Promise<{ fingerprint: string; meta: string }> {
  const stem = ggufPath.replace(/\.gguf$/, "");
  const bytes = await Deno.readFile(ggufPath);
  const ranges = await payloadRanges(ggufPath);
  const parsed = await hfGguf(ggufPath, { allowLocalFile: true });
  const fileSha = digest("sha256", bytes);
  await Deno.writeTextFile(`${stem}.fingerprint`, `sha256-${fileSha}\n`);
  const meta = {
    format: "gguf_v3",
    tool: { name: "clean-gguf", version: "test" },
    precision: "q8_0", // general.file_type 7, MOSTLY_Q8_0
    norms_format: "float_preserved",
    architecture: "llama",
    file: ggufPath.split("/").pop(),
    fingerprint: `sha256-${fileSha}`,
    size: bytes.length,
    options: {},
    sources: [],
    config: { derived_from: "gguf metadata", architecture: "llama" },
    tokenizer: {
      model: null,
      pre: null,
      tokens: null,
      merges: null,
      bos_token_id: null,
      eos_token_id: null,
      add_bos_token: null,
    },
    tensors: ranges.map((r, i) => {
      const info = parsed.tensorInfos[i]!;
      const payload = bytes.subarray(r.start, r.end);
      return {
        gguf_name: r.name,
        hf_name: null,
        gguf_type: TYPE_NAMES[info.dtype],
        shape: info.shape.map(Number).reverse(),
        source_dtype: null,
        ...statistics(payloadValues(info.dtype, payload)),
        ...(rowDigest === "xxh64"
          ? { xxh64: xxh64Reference(payload).toString(16).padStart(16, "0") }
          : { sha256: digest("sha256", payload) }),
        action: "written by the test",
      };
    }),
    warnings: [],
  };
  await Deno.writeTextFile(`${stem}.meta.json`, JSON.stringify(meta, null, 2) + "\n");
  return { fingerprint: `${stem}.fingerprint`, meta: `${stem}.meta.json` };
}

/** Flips every bit of one byte at `offset` in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const f = await Deno.open(path, { read: true, write: true });
  try {
    const b = new Uint8Array(1);
    await f.seek(offset, Deno.SeekMode.Start);
    await f.read(b);
    b[0] = b[0]! ^ 0xff;
    await f.seek(offset, Deno.SeekMode.Start);
    await f.write(b);
  } finally {
    f.close();
  }
}

/** Runs a task script in a subprocess; returns exit code and output. */
export async function runTask(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
