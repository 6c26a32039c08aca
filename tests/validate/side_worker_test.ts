/**
 * The tokenizer gate 2 builds on a worker thread gives what the main-thread
 * TextTokenizer gives: vocabulary size, ids (BOS included), decoded text,
 * the same error messages and the same tensor statistics; a worker that
 * cannot do its part falls back to the main thread.
 */

import assert from "node:assert/strict";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import {
  EXACT_RMS_ELEMENTS,
  PayloadCounter,
  recomputeStatistics,
} from "../../lib/provenance/tensor_stats.ts";
import { DEFAULT_PROMPT } from "../../lib/inference/probe.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { mainThreadDecoder, SideWorker } from "../../lib/validate/side_worker.ts";
import { readTokenizerMetadata } from "../../lib/tokenizer/metadata.ts";
import { cleanFixture, scratchDir } from "./_variants.ts";

const TEXTS = [DEFAULT_PROMPT, PROBE_PASSAGE, "Once upon a time, <|begin_of_text|> ünïcödé 東京"];

/** The error message `f` throws (or rejects with). */
async function messageOf(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("no error");
}

/** Runs `fn` with a side worker started for `request` and the main thread's GGUF at `path`. */
async function withSide(
  request: Parameters<typeof SideWorker.start>[0],
  path: string,
  fn: (side: SideWorker, gguf: GgufFile) => Promise<void>,
): Promise<void> {
  const side = SideWorker.start(request);
  const gguf = await openGguf(path);
  try {
    await fn(side, gguf);
  } finally {
    side.close();
    gguf.close();
  }
}

Deno.test("side worker: the GGUF's tokenizer on a worker encodes and decodes as on the main thread", async () => {
  const { ggufPath } = await cleanFixture();
  await withSide({ ggufPath, tokenizerPath: null, texts: TEXTS }, ggufPath, async (side, gguf) => {
    const outcome = await side.outcome(gguf);
    assert.ok("tokenizer" in outcome, JSON.stringify(outcome));
    const here = await TextTokenizer.load({ gguf });
    const remote = outcome.tokenizer;
    assert.equal(remote.vocabSize, here.vocabSize);
    for (const text of TEXTS) assert.deepEqual(remote.encode(text), here.encode(text));
    const ids = here.encode(TEXTS[2]!);
    for (const skipSpecial of [true, false]) {
      assert.equal(await remote.decode(ids, { skipSpecial }), here.decode(ids, { skipSpecial }));
    }
    // An id outside the vocabulary: the same message as the main thread's.
    const bad = [here.vocabSize + 5];
    assert.equal(
      await messageOf(() => remote.decode(bad)),
      await messageOf(() => here.decode(bad)),
    );
    // Only the texts it was given are encoded.
    assert.match(await messageOf(() => remote.encode("other")), /was not encoded/);
  });
});

/** Decodes of `ids` with and without the special tokens, as [skipSpecial, text or error] pairs. */
function decodes(decode: (ids: number[], o: { skipSpecial: boolean }) => string, ids: number[]) {
  return [true, false].map((skipSpecial) => {
    try {
      return [skipSpecial, decode(ids, { skipSpecial })];
    } catch (e) {
      return [skipSpecial, `threw ${(e as Error).message}`];
    }
  });
}

Deno.test("side worker: the main thread's decoder gives the full tokenizer's text", async () => {
  const { ggufPath } = await cleanFixture();
  const gguf = await openGguf(ggufPath);
  try {
    const full = await TextTokenizer.load({ gguf });
    const decode = mainThreadDecoder(gguf);
    assert.ok(decode, "a byte-level BPE GGUF is decoded on the main thread");
    const meta = readTokenizerMetadata(gguf);
    const n = full.vocabSize;
    // Every id alone, then sequences: special tokens, a repeated id, ids whose string is listed
    // twice, the generated ids of a gibberish model (random), ids outside the vocabulary.
    const byString = new Map<string, number[]>();
    meta.tokens.forEach((t, id) => byString.set(t, [...byString.get(t) ?? [], id]));
    const twice = [...byString.values()].filter((ids) => ids.length > 1).flat();
    const cases: number[][] = Array.from({ length: n }, (_, id) => [id]);
    let x = 7;
    for (let k = 0; k < 200; k++) {
      cases.push(Array.from({ length: 1 + (k % 8) }, () => (x = (x * 48271) % 2147483647) % n));
    }
    cases.push([...full.encode(TEXTS[2]!)], [5, 5, 5], twice, [n], [-1, 3], [n - 1, 0]);
    for (const ids of cases) {
      const text = (ids: number[], o: { skipSpecial: boolean }) => full.decode(ids, o);
      assert.deepEqual(decodes(decode, ids), decodes(text, ids), JSON.stringify(ids));
    }
  } finally {
    gguf.close();
  }
});

Deno.test("side worker: retired before the statistics, the tokenizer still encodes and decodes", async () => {
  const { ggufPath } = await cleanFixture();
  await withSide({ ggufPath, tokenizerPath: null, texts: TEXTS }, ggufPath, async (side, gguf) => {
    const outcome = await side.outcome(gguf);
    assert.ok("tokenizer" in outcome, JSON.stringify(outcome));
    assert.equal(side.retired, false);
    // Counted on a worker of their own: recomputeStatistics' values for the tensors a
    // PayloadCounter counts, null for the others (the main thread computes those).
    const names = [...gguf.tensors.map((t) => t.name), "no.such.tensor"];
    const stats = await side.stats(names);
    assert.equal(side.retired, true);
    for (const [i, t] of gguf.tensors.entries()) {
      const expected = PayloadCounter.for(t) ? await recomputeStatistics(gguf, t) : undefined;
      assert.deepEqual(stats[i], expected ?? null, t.name);
    }
    assert.equal(stats[names.length - 1], null);
    const here = await TextTokenizer.load({ gguf });
    const ids = here.encode(TEXTS[2]!);
    for (const skipSpecial of [true, false]) {
      const text = await outcome.tokenizer.decode(ids, { skipSpecial });
      assert.equal(text, here.decode(ids, { skipSpecial }));
    }
    for (const text of TEXTS) assert.deepEqual(outcome.tokenizer.encode(text), here.encode(text));
  });
});

Deno.test("side worker: with a tokenizer.json, the worker stays to decode and computes the statistics", async () => {
  const { ggufPath } = await cleanFixture();
  const tokenizerPath = "fixtures/tiny-bitnet/tokenizer.json";
  await withSide({ ggufPath, tokenizerPath, texts: TEXTS }, ggufPath, async (side, gguf) => {
    const outcome = await side.outcome(gguf);
    assert.ok("tokenizer" in outcome, JSON.stringify(outcome));
    const [t] = gguf.tensors;
    assert.deepEqual(await side.stats([t!.name]), [(await recomputeStatistics(gguf, t!)) ?? null]);
    assert.equal(side.retired, false);
    const here = await TextTokenizer.load({ tokenizerJsonPath: tokenizerPath, gguf });
    const ids = here.encode(TEXTS[2]!);
    assert.equal(await outcome.tokenizer.decode(ids), here.decode(ids));
  });
});

Deno.test("side worker: a tokenizer.json that disagrees gives the main thread's message", async () => {
  const { ggufPath } = await cleanFixture();
  const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
  const vocab = json.model.vocab as Record<string, number>;
  const key = Object.keys(vocab).find((k) => vocab[k] === 300)!;
  delete vocab[key];
  vocab["Ġzzmismatch"] = 300;
  const tokenizerPath = `${await scratchDir("side-")}/tokenizer.json`;
  await Deno.writeTextFile(tokenizerPath, JSON.stringify(json));
  await withSide({ ggufPath, tokenizerPath, texts: TEXTS }, ggufPath, async (side, gguf) => {
    const outcome = await side.outcome(gguf);
    const expected = await messageOf(() =>
      TextTokenizer.load({ tokenizerJsonPath: tokenizerPath, gguf })
    );
    assert.deepEqual(outcome, { error: expected });
  });
});

Deno.test("side worker: a worker that cannot open the file falls back to the main thread", async () => {
  const { ggufPath } = await cleanFixture();
  await withSide(
    {
      ggufPath: `${await scratchDir("side-")}/absent.gguf`,
      tokenizerPath: null,
      texts: TEXTS,
    },
    ggufPath,
    async (side, gguf) => {
      const outcome = await side.outcome(gguf);
      assert.ok("tokenizer" in outcome, JSON.stringify(outcome));
      const here = await TextTokenizer.load({ gguf });
      assert.deepEqual(outcome.tokenizer.encode(TEXTS[0]!), here.encode(TEXTS[0]!));
      assert.equal(outcome.tokenizer.decode([1, 2, 3]), here.decode([1, 2, 3]));
    },
  );
});

Deno.test("side worker: tensor statistics are recomputeStatistics' on the main thread", async () => {
  const { ggufPath } = await cleanFixture();
  await withSide({ ggufPath, tokenizerPath: null, texts: [] }, ggufPath, async (side, gguf) => {
    const names = gguf.tensors.map((t) => t.name);
    const stats = await side.stats([...names, "no.such.tensor"]);
    assert.equal(stats.length, names.length + 1);
    for (const [i, t] of gguf.tensors.entries()) {
      assert.deepEqual(stats[i], (await recomputeStatistics(gguf, t)) ?? null, t.name);
    }
    // A tensor the worker cannot compute: the main thread is to (null).
    assert.equal(stats[names.length], null);
  });
});

Deno.test("side worker: a worker that cannot open the file leaves the statistics to the main thread", async () => {
  const side = SideWorker.start({
    ggufPath: `${await scratchDir("side-")}/absent.gguf`,
    tokenizerPath: null,
    texts: [],
  });
  try {
    assert.deepEqual(await side.stats(["token_embd.weight"]), [null]);
  } finally {
    side.close();
  }
});

/**
 * 16-bit patterns for the histogram path: random ones, and the special values (±0, the smallest
 * and largest subnormals, the largest finite, ±inf, NaNs) many times over.
 */
function halfPatterns(n: number, seed: number, specials: readonly number[]): Uint8Array {
  const bits = new Uint16Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bits[i] = i % 7 === 0 ? specials[(x >>> 8) % specials.length]! : x >>> 16;
  }
  return new Uint8Array(bits.buffer);
}

Deno.test("side worker: histogram statistics of large F16/BF16 tensors with special values", async () => {
  const n = EXACT_RMS_ELEMENTS + 4096;
  const f16 = [
    0x0000,
    0x8000,
    0x0001,
    0x8001,
    0x03ff,
    0x83ff,
    0x7bff,
    0xfbff,
    0x7c00,
    0xfc00,
    0x7e00,
    0xfe01,
  ];
  const bf16 = [
    0x0000,
    0x8000,
    0x0001,
    0x8001,
    0x007f,
    0x807f,
    0x7f7f,
    0xff7f,
    0x7f80,
    0xff80,
    0x7fc0,
    0xffc1,
  ];
  const ternary = new Uint16Array(n).map((_, i) => [0x0000, 0x3c00, 0xbc00][i % 3]!);
  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addTensorInfo("token_embd.weight", [n / 64, 64], GgmlType.F16);
  w.addTensorInfo("output.weight", [n / 64, 64], GgmlType.BF16);
  w.addTensorInfo("ternary.weight", [n / 64, 64], GgmlType.F16);
  const payloads = [
    halfPatterns(n, 1, f16),
    halfPatterns(n, 2, bf16),
    new Uint8Array(ternary.buffer),
  ];
  const path = `${await scratchDir("side-")}/halves.gguf`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write(
      { write: async (c) => void await file.write(c) },
      (_t, i) => payloads[i]!,
    );
  } finally {
    file.close();
  }
  // By the tokenizer's worker, and (its tokenizer failed: no GGUF tokenizer) by the counting
  // worker once the tokenizer's worker has retired.
  for (const retire of [false, true]) {
    const side = SideWorker.start({ ggufPath: path, tokenizerPath: null, texts: [] });
    const gguf = await openGguf(path);
    try {
      if (retire) assert.ok("error" in await side.outcome(gguf));
      const stats = await side.stats(gguf.tensors.map((t) => t.name));
      assert.equal(side.retired, retire);
      for (const [i, t] of gguf.tensors.entries()) {
        const here = await recomputeStatistics(gguf, t);
        assert.ok(here, t.name);
        // Strict deepEqual compares numbers with Object.is: -0 is not 0, NaN is NaN.
        assert.deepEqual(stats[i], here, t.name);
      }
      assert.ok(stats[0]!.summary.nonFinite > 0 && stats[1]!.summary.nonFinite > 0);
      assert.equal(stats[2]!.ternary.ternary, true);
    } finally {
      side.close();
      gguf.close();
    }
  }
});
