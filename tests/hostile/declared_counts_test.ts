/**
 * Declared counts against what the file holds, in-process: the hyper-parameter
 * readers refuse a count larger than the tensors allow, naming the key and the
 * file, before anything is sized from it; validate and probe share one rule
 * for the context length (any u32 is accepted, memory follows the run).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readHparams } from "../../lib/arch/hparams.ts";
import { ModelShapeError } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { runProbe } from "../../lib/inference/probe.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { FIXTURE_DIR } from "../_models.ts";
import { GgufLayout } from "./_gguf_patch.ts";

const root = await Deno.makeTempDir({ prefix: "declared_counts_" });
const { ggufPath } = await exportCleanGguf({
  modelDir: FIXTURE_DIR,
  outDir: `${root}/good`,
  quiet: true,
});
const layout = GgufLayout.parse(await Deno.readFile(ggufPath));

async function withKv(key: string, value: bigint): Promise<string> {
  const path = join(root, `${key}-${value}.gguf`);
  await Deno.writeFile(path, layout.withKv(key, "u32", value));
  return path;
}

async function hparamsError(path: string): Promise<unknown> {
  const g = await openGguf(path);
  try {
    readHparams(g);
    return null;
  } catch (e) {
    return e;
  } finally {
    g.close();
  }
}

Deno.test("GGUF: a block count beyond the blocks the file lists is refused, naming the key and the file", async () => {
  // 5 blocks where the file lists 4: the tensor table alone contradicts it.
  for (const value of [5n, 1_000_000_000n]) {
    const path = await withKv("bitnet-b1.58.block_count", value);
    const e = await hparamsError(path);
    assert.ok(e instanceof ModelShapeError, `${value}: ${e}`);
    assert.match(
      e.message,
      new RegExp(`^${path}: bitnet-b1\\.58\\.block_count = ${value},.* 4 block`),
    );
  }
});

Deno.test("GGUF: a dimension or head count larger than any tensor dimension is refused, naming its key", async () => {
  // The fixture's largest tensor dimension is its vocabulary, 2048.
  for (
    const key of [
      "embedding_length",
      "feed_forward_length",
      "attention.head_count",
      "attention.head_count_kv",
      "vocab_size",
    ]
  ) {
    const path = await withKv(`bitnet-b1.58.${key}`, 2049n);
    const e = await hparamsError(path);
    assert.ok(e instanceof ModelShapeError, `${key}: ${e}`);
    assert.match(
      e.message,
      new RegExp(`^${path}: bitnet-b1\\.58\\.${key.replace(".", "\\.")} = 2049 `),
    );
  }
});

Deno.test("config.json: num_hidden_layers and vocab_size beyond the checkpoint's tensors are refused before the tokenizer is sized", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(FIXTURE_DIR, "config.json")));
  for (const [key, value] of [["num_hidden_layers", 5], ["vocab_size", 100_000_000]] as const) {
    const dir = join(root, `ckpt-${key}`);
    await Deno.mkdir(dir);
    await Deno.symlink(
      join(Deno.cwd(), FIXTURE_DIR, "model.safetensors"),
      join(dir, "model.safetensors"),
    );
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify({ ...config, [key]: value }));
    await assert.rejects(
      () =>
        exportCleanGguf({
          modelDir: dir,
          tokenizerPath: join(FIXTURE_DIR, "tokenizer.json"),
          outDir: join(dir, "out"),
          quiet: true,
        }),
      (e) => {
        assert.ok(e instanceof ModelShapeError, `${key}: ${e}`);
        assert.match(e.message, new RegExp(`config\\.json: "${key}" = ${value}`));
        return true;
      },
    );
  }
});

Deno.test("context length 2^32-1: validate and probe follow one rule (accepted, the KV cache sized for the run)", async () => {
  const path = await withKv("bitnet-b1.58.context_length", 2n ** 32n - 1n);
  const probe = await runProbe({ modelPath: path, maxTokens: 2 });
  assert.equal(probe.generated_ids.length, 2);
  const report = await validateGguf({ ggufPath: path, metaPath: null, maxTokens: 2 });
  assert.equal(report.exitCode, 0, JSON.stringify(report.gates.map((g) => [g.id, g.summary])));
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(root, { recursive: true });
});
