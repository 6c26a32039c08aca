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

/**
 * Writes `<stem>.fingerprint` and a minimal `<stem>.meta.json` computed
 * independently (node:crypto over the byte ranges of {@link payloadRanges}).
 */
export async function writeCompanions(
  ggufPath: string,
): Promise<{ fingerprint: string; meta: string }> {
  const stem = ggufPath.replace(/\.gguf$/, "");
  const bytes = await Deno.readFile(ggufPath);
  const ranges = await payloadRanges(ggufPath);
  const fileSha = digest("sha256", bytes);
  await Deno.writeTextFile(`${stem}.fingerprint`, `sha256-${fileSha}\n`);
  const meta = {
    format: "gguf_v3",
    file: ggufPath.split("/").pop(),
    fingerprint: `sha256-${fileSha}`,
    size: bytes.length,
    tensors: ranges.map((r) => ({
      gguf_name: r.name,
      sha256: digest("sha256", bytes.subarray(r.start, r.end)),
    })),
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
