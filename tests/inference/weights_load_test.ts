// loadWeights reads a float matrix of several slabs (several reads in flight) into kernel memory
// byte for byte, with and without a sink, and hands the sink every slab once, in order. Checked
// against the file's bytes read separately (GgufFile.readTensor), on both backends.

import assert from "node:assert/strict";
import { join } from "node:path";
import { readHparams } from "../../lib/arch/hparams.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels, wasmTernaryBytes } from "../../lib/inference/kernels/wasm.ts";
import { loadWeights, planTensors, weightBytes } from "../../lib/inference/weights.ts";
import {
  bitnetTensors,
  type HparamsToWrite,
  type TensorToWrite,
  writeModelGguf,
} from "./_gguf_builder.ts";

// token_embd: 40,000 × 256 F16 = 20.5 MB, five slabs of 4 MiB (the last one partial).
const HP: HparamsToWrite = {
  contextLength: 16,
  embeddingLength: 256,
  blockCount: 1,
  feedForwardLength: 256,
  headCount: 4,
  headCountKv: 4,
  rmsEps: 1e-5,
  ropeFreqBase: 10000,
  vocabSize: 40000,
};

function tensors(): TensorToWrite[] {
  const v = HP.vocabSize, e = HP.embeddingLength;
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  // Every F16 bit pattern but infinities and NaNs, so that a misplaced slab cannot go unseen.
  const embd = Uint16Array.from({ length: v * e }, () => next() % 0x7c00 | (next() & 0x8000));
  const tokenEmbd = {
    name: "token_embd.weight",
    shape: [v, e],
    type: GgmlType.F16,
    bytes: new Uint8Array(embd.buffer),
  };
  return bitnetTensors(HP, { seed, tokenEmbd });
}

async function check(path: string, make: (bytes: number) => Promise<Kernels> | Kernels) {
  const g = await openGguf(path);
  try {
    const hp = readHparams(g), plan = planTensors(g, hp);
    const info = g.tensors.find((t) => t.name === "token_embd.weight")!;
    const want = await g.readTensor(info);
    for (const withSink of [false, true]) {
      const k = await make(weightBytes(plan, wasmTernaryBytes) + (8 << 20));
      try {
        const seen: [number, number][] = [];
        const parts: Uint8Array[] = [];
        const observe = (t: { name: string }) =>
          t.name === info.name
            ? {
              bytes: (bytes: Uint8Array, start: number) => {
                seen.push([start, bytes.length]);
                parts.push(bytes.slice());
              },
            }
            : undefined;
        const w = await loadWeights(g, hp, plan, k, withSink ? { observe } : {});
        const label = `${k.name} ${withSink ? "with" : "without"} a sink`;
        assert.deepEqual(k.u8(w.tokenEmbd.ptr, info.nbytes), want, label);
        if (!withSink) continue;
        // Every slab once, in order, covering the matrix.
        let at = 0;
        for (const [start, length] of seen) {
          assert.equal(start, at, label);
          at += length;
        }
        assert.equal(at, info.nbytes);
        assert.ok(seen.length >= 5, `${seen.length} slabs`);
        let o = 0;
        for (const p of parts) {
          assert.deepEqual(p, want.subarray(o, o + p.length), `${label}: slab at ${o}`);
          o += p.length;
        }
      } finally {
        k.close();
      }
    }
  } finally {
    g.close();
  }
}

Deno.test("loadWeights: a float matrix of several slabs lands byte for byte, the sink sees each slab in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "m.gguf");
    await writeModelGguf(path, { arch: "bitnet-b1.58", hparams: HP, tensors: tensors() });
    await check(path, (bytes) => createReferenceKernels(bytes));
    await check(path, (bytes) => createWasmKernels({ bytes, threads: 2 }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadWeights: a float matrix cut short fails with the read's error, no read left behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "m.gguf");
    await writeModelGguf(path, { arch: "bitnet-b1.58", hparams: HP, tensors: tensors() });
    const g = await openGguf(path);
    try {
      const hp = readHparams(g), plan = planTensors(g, hp);
      const info = g.tensors.find((t) => t.name === "token_embd.weight")!;
      // The file now ends 100 bytes into the embedding's second slab: that read and the
      // ones issued with it fail, and none may be left to fail unobserved (the test's
      // sanitizers report an unhandled rejection or an op still pending).
      await Deno.truncate(path, info.fileOffset + (1 << 22) + 100);
      for (
        const make of [
          createReferenceKernels,
          (bytes: number) => createWasmKernels({ bytes, threads: 2 }),
        ]
      ) {
        const k = await make(weightBytes(plan, wasmTernaryBytes) + (8 << 20));
        try {
          await assert.rejects(
            loadWeights(g, hp, plan, k),
            (e: Error) => e.message.includes("token_embd.weight"),
          );
        } finally {
          k.close();
        }
      }
    } finally {
      g.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
