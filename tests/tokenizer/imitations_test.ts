/**
 * The small tokenizer imitations the family export tests use (_imitations.ts)
 * are what they claim: a Llama-2 SentencePiece subset that exports as model
 * "llama" and tokenizes as llama.cpp's SPM algorithm does with the exported
 * scores; extra added tokens become CONTROL / USER_DEFINED with score -1000.
 */

import assert from "node:assert/strict";
import { TokenType } from "../../lib/gguf/keys.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { readTokenizerMetadata, tokenizerMetadataFromJson } from "../../lib/tokenizer/metadata.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { writeLlama2SpmTokenizer } from "./_imitations.ts";
import { writeTokenizerGguf } from "./_gguf.ts";
import { llamaCppSpmEncode } from "./_llamacpp_spm.ts";

const TEXTS = [
  "The capital of France is",
  "Once upon a time, there was a little bear.",
  "  two leading spaces and\ttabs\nnewlines",
  "Grüße 日本 🚀 <0x41>",
  " ",
];

Deno.test("imitation: Llama-2 SPM subset exports as llama.cpp would and tokenizes like llama.cpp", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imitation-spm-" });
  try {
    const im = await writeLlama2SpmTokenizer(dir, {
      pieces: 400,
      addedTokens: [{ content: "<pad>", special: true }, { content: "<extra>", special: false }],
    });
    assert.ok(im.vocabSize > 659 && im.vocabSize < 1200, `vocab ${im.vocabSize}`);
    const tok = await TextTokenizer.load({ tokenizerJsonPath: `${dir}/tokenizer.json` });
    const meta = tokenizerMetadataFromJson(
      JSON.parse(await Deno.readTextFile(`${dir}/tokenizer.json`)),
      {
        vocabSize: im.vocabSize,
        tokenizerConfig: JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`)),
        source: "imitation",
      },
    );
    assert.deepEqual([meta.model, meta.pre, meta.bosId, meta.eosId, meta.unkId], [
      "llama",
      "default",
      1,
      2,
      0,
    ]);
    assert.deepEqual(im.addedIds.map((id) => meta.tokenTypes[id]), [
      TokenType.CONTROL,
      TokenType.USER_DEFINED,
    ]);
    assert.deepEqual(im.addedIds.map((id) => meta.scores![id]), [-1000, -1000]);
    // Llama-2's "▁▁" (kept at id 259) is still merged last.
    assert.equal(meta.tokens[259], "\u2581\u2581");
    assert.equal(meta.scores![259], -1e9);
    const gguf = await openGguf(await writeTokenizerGguf(dir, "im.gguf", meta));
    try {
      const fromGguf = TextTokenizer.fromMetadata(readTokenizerMetadata(gguf));
      for (const text of TEXTS) {
        const expected = llamaCppSpmEncode(text, meta.tokens, meta.scores!);
        assert.deepEqual(tok.encode(text, { addBos: false }), expected, JSON.stringify(text));
        assert.deepEqual(fromGguf.encode(text, { addBos: false }), expected, JSON.stringify(text));
        assert.equal(tok.decode(expected), text);
      }
      assert.ok(tok.encode("The capital").length < 8, "the subset merges real words");
    } finally {
      gguf.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
