/**
 * The quantizer checks the model against its architecture's tensor table
 * before anything is written, as the engine does: a misshapen projection, a
 * missing norm and a file without tensors are each a ModelShapeError (exit 9)
 * naming the tensor (or the count that implies it), and the output folder
 * stays empty.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { EXIT, ModelShapeError } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { FIXTURE_DIR } from "../_models.ts";
import { GgufLayout } from "../hostile/_gguf_patch.ts";

const root = await Deno.makeTempDir({ prefix: "quantize_model_check_" });
const { ggufPath } = await exportCleanGguf({
  modelDir: FIXTURE_DIR,
  outDir: `${root}/good`,
  quiet: true,
});
const layout = GgufLayout.parse(await Deno.readFile(ggufPath));

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return []; // absent: nothing written
  }
}

async function assertRefused(name: string, bytes: Uint8Array, message: RegExp): Promise<void> {
  const input = join(root, `${name}.gguf`);
  await Deno.writeFile(input, bytes);
  const outDir = join(root, `${name}-out`);
  await assert.rejects(quantizeGguf({ input, outDir, type: "i2_s" }), (e: unknown) => {
    assert.ok(e instanceof ModelShapeError, `${name}: ${e}`);
    assert.equal(e.exitCode, EXIT.modelShape);
    assert.match(e.message, message);
    assert.ok(e.message.startsWith(`${input}: `), e.message);
    return true;
  });
  assert.deepEqual(await entries(outDir), [], `${name}: nothing written`);
}

Deno.test("quantize: a misshapen attn_q is refused with 9, naming it; nothing is written", async () => {
  // [256, 256] becomes [512, 128]: the same bytes, the wrong shape for 8 heads of 32 over 256.
  const q = layout.tensor("blk.1.attn_q.weight");
  const once = GgufLayout.parse(layout.withU64At(q.dims[0]!, 128n));
  await assertRefused(
    "misshapen-q",
    once.withU64At(q.dims[1]!, 512n),
    /tensor blk\.1\.attn_q\.weight has shape \[512, 128\], expected \[256, 256\]/,
  );
});

Deno.test("quantize: a missing output_norm is refused with 9, naming it; nothing is written", async () => {
  const norm = layout.tensor("output_norm.weight");
  const renamed = layout.bytes.slice();
  renamed.set(new TextEncoder().encode("output_norX"), norm.nameLength + 8);
  await assertRefused("no-output-norm", renamed, /missing .*: output_norm\.weight/);
});

Deno.test("quantize: a GGUF without tensors is refused with 9, naming the block count; nothing is written", async () => {
  await assertRefused(
    "no-tensors",
    layout.withU64At(layout.counts.tensorCount, 0n),
    /bitnet-b1\.58\.block_count = 4, but the file lists tensors of 0 block/,
  );
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(root, { recursive: true });
});
