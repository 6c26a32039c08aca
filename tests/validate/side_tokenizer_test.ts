/**
 * The tokenizer gate 2 builds on a worker thread gives what the main-thread
 * TextTokenizer gives: vocabulary size, ids (BOS included), decoded text,
 * and the same error messages; a worker that cannot do its part falls back
 * to the main thread.
 */

import assert from "node:assert/strict";
import { openGguf } from "../../lib/gguf/reader.ts";
import { DEFAULT_PROMPT } from "../../lib/inference/probe.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { SideTokenizer } from "../../lib/validate/side_tokenizer.ts";
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

Deno.test("side tokenizer: the GGUF's tokenizer on a worker encodes and decodes as on the main thread", async () => {
  const { ggufPath } = await cleanFixture();
  const side = SideTokenizer.start({ ggufPath, tokenizerPath: null, texts: TEXTS });
  const gguf = await openGguf(ggufPath);
  try {
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
  } finally {
    side.close();
    gguf.close();
  }
});

Deno.test("side tokenizer: a tokenizer.json that disagrees gives the main thread's message", async () => {
  const { ggufPath } = await cleanFixture();
  const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
  const vocab = json.model.vocab as Record<string, number>;
  const key = Object.keys(vocab).find((k) => vocab[k] === 300)!;
  delete vocab[key];
  vocab["Ġzzmismatch"] = 300;
  const tokenizerPath = `${await scratchDir("side-")}/tokenizer.json`;
  await Deno.writeTextFile(tokenizerPath, JSON.stringify(json));
  const side = SideTokenizer.start({ ggufPath, tokenizerPath, texts: TEXTS });
  const gguf = await openGguf(ggufPath);
  try {
    const outcome = await side.outcome(gguf);
    const expected = await messageOf(() =>
      TextTokenizer.load({ tokenizerJsonPath: tokenizerPath, gguf })
    );
    assert.deepEqual(outcome, { error: expected });
  } finally {
    side.close();
    gguf.close();
  }
});

Deno.test("side tokenizer: a worker that cannot open the file falls back to the main thread", async () => {
  const { ggufPath } = await cleanFixture();
  const side = SideTokenizer.start({
    ggufPath: `${await scratchDir("side-")}/absent.gguf`,
    tokenizerPath: null,
    texts: TEXTS,
  });
  const gguf = await openGguf(ggufPath);
  try {
    const outcome = await side.outcome(gguf);
    assert.ok("tokenizer" in outcome, JSON.stringify(outcome));
    const here = await TextTokenizer.load({ gguf });
    assert.deepEqual(outcome.tokenizer.encode(TEXTS[0]!), here.encode(TEXTS[0]!));
    assert.equal(outcome.tokenizer.decode([1, 2, 3]), here.decode([1, 2, 3]));
  } finally {
    side.close();
    gguf.close();
  }
});
