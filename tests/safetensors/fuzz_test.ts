/**
 * Seeded mutation fuzz of the SafeTensors reader: whatever the bytes, opening
 * and reading may only fail with a CleanGgufError subclass (no TypeError, no
 * RangeError from a huge allocation, no leaked file handle), and whatever opens
 * reads back exactly the bytes its header promises.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SafetensorsCheckpoint } from "../../lib/safetensors/reader.ts";
import { expectOnlyCleanErrors, FuzzRng, mutate, TEXT_MUTATIONS } from "../_fuzz.ts";
import {
  buildSafetensors,
  rawSafetensorsBytes,
  smallValidFile,
  splitSafetensors,
} from "./_build.ts";

/** Opens `dir`, reads and streams every tensor, and checks what it gets. */
async function openAndReadAll(dir: string): Promise<void> {
  const ckpt = await SafetensorsCheckpoint.open(dir);
  try {
    const sizes = new Map(ckpt.files.map((f) => [f.path, f.size]));
    for (const name of ckpt.names()) {
      const t = ckpt.get(name);
      assert.ok(t.fileOffset + t.nbytes <= sizes.get(t.file)!, `${name} lies inside its file`);
      const bytes = await ckpt.read(name);
      assert.equal(bytes.length, t.nbytes);
      let streamed = 0;
      for await (const c of ckpt.stream(name, 5)) streamed += c.length;
      assert.equal(streamed, t.nbytes);
    }
  } finally {
    ckpt.close();
  }
}

function tally(outcomes: Map<string, number>, outcome: string): void {
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

Deno.test("fuzz: mutated single files fail only with CleanGgufError", async () => {
  const valid = smallValidFile();
  const { headerText, data } = splitSafetensors(valid);
  const json = new TextEncoder().encode(headerText);
  const rng = new FuzzRng(20250611);
  const dir = await Deno.makeTempDir({ prefix: "safetensors_fuzz_" });
  const path = join(dir, "model.safetensors");
  const outcomes = new Map<string, number>();
  try {
    for (let i = 0; i < 1200; i++) {
      let bytes: Uint8Array;
      const mode = i % 4;
      if (mode <= 1) {
        // Mutate the JSON as text and write a consistent length, so that the
        // mutations reach the checks past JSON.parse.
        bytes = rawSafetensorsBytes(
          mutate(json, rng, { kinds: TEXT_MUTATIONS, ascii: true }).bytes,
          data,
        );
      } else if (mode === 2 && i % 8 < 4) {
        // Any bytes in the JSON, consistent length.
        bytes = rawSafetensorsBytes(mutate(json, rng).bytes, data);
      } else if (mode === 2) {
        // Raw mutations aimed at the length field and the header.
        bytes = mutate(valid, rng, { region: { start: 0, end: 8 + json.length } }).bytes;
      } else {
        // Anywhere, including the data and truncation.
        bytes = mutate(valid, rng).bytes;
      }
      await Deno.writeFile(path, bytes);
      tally(outcomes, await expectOnlyCleanErrors(`case ${i}`, () => openAndReadAll(dir)));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // The fuzz must exercise both paths, or it proves nothing.
  assert.ok((outcomes.get("ok") ?? 0) > 10, `too few valid cases: ${[...outcomes]}`);
  assert.ok((outcomes.get("FormatError") ?? 0) > 300, `too few FormatErrors: ${[...outcomes]}`);
  assert.ok((outcomes.get("UnsupportedError") ?? 0) > 0, `no UnsupportedError: ${[...outcomes]}`);
});

Deno.test("fuzz: mutated shard indexes fail only with CleanGgufError", async () => {
  const u8 = (name: string, n: number) => ({
    name,
    dtype: "U8",
    shape: [n],
    data: new Uint8Array(n).fill(n),
  });
  const rng = new FuzzRng(77);
  const dir = await Deno.makeTempDir({ prefix: "safetensors_fuzz_index_" });
  const outcomes = new Map<string, number>();
  try {
    await Deno.writeFile(
      join(dir, "model-00001-of-00002.safetensors"),
      buildSafetensors([u8("a", 1), u8("b", 2)]),
    );
    await Deno.writeFile(
      join(dir, "model-00002-of-00002.safetensors"),
      buildSafetensors([u8("c", 3)]),
    );
    const index = new TextEncoder().encode(JSON.stringify({
      metadata: { total_size: 6 },
      weight_map: {
        a: "model-00001-of-00002.safetensors",
        b: "model-00001-of-00002.safetensors",
        c: "model-00002-of-00002.safetensors",
      },
    }));
    for (let i = 0; i < 300; i++) {
      const options = i % 2 ? { kinds: TEXT_MUTATIONS, ascii: true } : {};
      await Deno.writeFile(
        join(dir, "model.safetensors.index.json"),
        mutate(index, rng, options).bytes,
      );
      tally(outcomes, await expectOnlyCleanErrors(`index case ${i}`, () => openAndReadAll(dir)));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok((outcomes.get("FormatError") ?? 0) > 100, `too few FormatErrors: ${[...outcomes]}`);
  assert.ok((outcomes.get("InputError") ?? 0) > 0, `no missing-shard case: ${[...outcomes]}`);
});
