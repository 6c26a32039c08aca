/**
 * Bad models are refused with a clear error class before any token is
 * computed (the checks run before kernel memory is created): missing tensor, wrong
 * shape, unknown architecture, unknown or unusable weight type. Also the
 * runtime input checks (token ids, context length).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FormatError, ModelShapeError, UnsupportedError, UsageError } from "../../lib/errors.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import { readHparams } from "../../lib/arch/hparams.ts";
import {
  bitnetTensors,
  type HparamsToWrite,
  type TensorToWrite,
  tensorTypeFieldOffset,
  writeModelGguf,
} from "./_gguf_builder.ts";

const HP: HparamsToWrite = {
  contextLength: 16,
  embeddingLength: 32,
  blockCount: 2,
  feedForwardLength: 64,
  headCount: 4,
  headCountKv: 2,
  rmsEps: 1e-5,
  ropeFreqBase: 10000,
  vocabSize: 40,
};

async function withModel(
  edit: (tensors: TensorToWrite[]) => TensorToWrite[],
  fn: (path: string) => Promise<void>,
  arch = "bitnet-b1.58",
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "m.gguf");
    await writeModelGguf(path, { arch, hparams: HP, tensors: edit(bitnetTensors(HP)) });
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function loadRejects(
  path: string,
  errorClass: ErrorConstructor | typeof UsageError,
  pattern: RegExp,
) {
  const g = await openGguf(path);
  try {
    await assert.rejects(() => InferenceEngine.load(g, { backend: "reference" }), (e: Error) => {
      assert.ok(e instanceof errorClass, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  } finally {
    g.close();
  }
}

Deno.test("load: the valid tiny model loads and runs (the baseline of the cases below)", async () => {
  await withModel((t) => t, async (path) => {
    const g = await openGguf(path);
    const engine = await InferenceEngine.load(g, { backend: "reference" });
    try {
      assert.equal(engine.forward([1, 2, 3]).length, HP.vocabSize);
      assert.equal(engine.ternarizedAtLoad.length, 0);
    } finally {
      engine.close();
      g.close();
    }
  });
});

Deno.test("load: a missing tensor is a ModelShapeError naming it", async () => {
  await withModel((t) => t.filter((x) => x.name !== "blk.1.ffn_sub_norm.weight"), async (path) => {
    await loadRejects(path, ModelShapeError, /blk\.1\.ffn_sub_norm\.weight/);
  });
});

Deno.test("load: a wrong shape is a ModelShapeError naming tensor, expected and actual", async () => {
  await withModel(
    (t) =>
      t.map((x) =>
        x.name === "blk.0.attn_k.weight"
          ? { ...x, shape: [8, 32], values: new Float32Array(8 * 32) }
          : x
      ),
    async (path) => {
      await loadRejects(
        path,
        ModelShapeError,
        /blk\.0\.attn_k\.weight.*\[8, 32\].*expected \[16, 32\]/,
      );
    },
  );
});

Deno.test("load: an unknown architecture is an UnsupportedError listing the supported ones", async () => {
  await withModel((t) => t, async (path) => {
    await loadRejects(
      path,
      UnsupportedError,
      /"gpt-neox".*bitnet-b1\.58, bitnet-25, bitnet, llama/,
    );
  }, "gpt-neox");
});

Deno.test("load: an unknown ggml type id patched into the file is an UnsupportedError", async () => {
  await withModel((t) => t, async (path) => {
    const bytes = await Deno.readFile(path);
    const at = tensorTypeFieldOffset(bytes, "blk.0.attn_v.weight");
    assert.equal(new DataView(bytes.buffer).getUint32(at, true), GgmlType.F32);
    new DataView(bytes.buffer).setUint32(at, 99, true);
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => openGguf(path), (e: Error) => {
      assert.ok(e instanceof UnsupportedError, e.message);
      assert.match(e.message, /blk\.0\.attn_v\.weight.*99/);
      return true;
    });
  });
});

Deno.test("load: a known type the engine cannot use for a projection (Q8_0) is an UnsupportedError", async () => {
  await withModel((t) => t, async (path) => {
    const bytes = await Deno.readFile(path);
    // Q8_0 is smaller than F32 for the same shape, so the patched file stays well-formed.
    new DataView(bytes.buffer).setUint32(
      tensorTypeFieldOffset(bytes, "blk.1.ffn_up.weight"),
      GgmlType.Q8_0,
      true,
    );
    await Deno.writeFile(path, bytes);
    await loadRejects(
      path,
      UnsupportedError,
      /blk\.1\.ffn_up\.weight.*Q8_0.*supported: F32, F16, BF16/,
    );
  });
});

Deno.test("load: float master weights are ternarized with absmean and reported", async () => {
  await withModel(
    (t) =>
      t.map((x) =>
        x.name === "blk.0.ffn_down.weight"
          ? { ...x, values: x.values!.map((v, i) => v * (1 + (i % 5) / 10)) }
          : x
      ),
    async (path) => {
      const g = await openGguf(path);
      const engine = await InferenceEngine.load(g, { backend: "reference" });
      try {
        assert.deepEqual(engine.ternarizedAtLoad, ["blk.0.ffn_down.weight"]);
      } finally {
        engine.close();
        g.close();
      }
    },
  );
});

Deno.test("hparams: missing required key is a FormatError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "m.gguf");
    const { GgufWriter } = await import("../../lib/gguf/writer.ts");
    const w = new GgufWriter();
    w.addString("general.architecture", "llama");
    w.addU32("llama.embedding_length", 32);
    await Deno.writeFile(path, w.header());
    const g = await openGguf(path);
    try {
      assert.throws(() => readHparams(g), (e: Error) =>
        e instanceof FormatError &&
        /llama\.context_length, llama\.block_count, llama\.feed_forward_length, llama\.attention\.head_count, llama\.attention\.layer_norm_rms_epsilon/
          .test(e.message));
    } finally {
      g.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: bad token ids, empty input and a full context are UsageErrors, and nothing runs", async () => {
  await withModel((t) => t, async (path) => {
    const g = await openGguf(path);
    const engine = await InferenceEngine.load(g, { backend: "reference", maxContext: 8 });
    try {
      assert.throws(() => engine.forward([1, HP.vocabSize]), UsageError);
      assert.throws(() => engine.forward([-1]), UsageError);
      assert.throws(() => engine.forward([1.5]), UsageError);
      assert.throws(() => engine.forward([]), UsageError);
      assert.equal(engine.position, 0);
      engine.forward([1, 2, 3, 4, 5, 6]);
      assert.throws(() => engine.forward([1, 2, 3]), /context full/);
      assert.equal(engine.position, 6);
      const r = engine.generate([1, 2, 3, 4, 5, 6], { maxTokens: 10 });
      assert.equal(r.stopReason, "context_full");
      assert.equal(r.ids.length, 3); // positions 6 and 7 are fed back, the 3rd is sampled from position 7
      engine.close();
      assert.throws(() => engine.forward([1]), /closed/);
    } finally {
      engine.close();
      g.close();
    }
  });
});

Deno.test("load: widths the wasm kernels cannot take are an UnsupportedError before loading", async () => {
  await withModel((t) => t, async (path) => {
    const g = await openGguf(path);
    try {
      await assert.rejects(
        () => InferenceEngine.load(g, { backend: "wasm" }),
        (e: Error) =>
          e instanceof UnsupportedError && /embedding_length 32 .*multiple of 64/.test(e.message),
      );
    } finally {
      g.close();
    }
  });
});

Deno.test("options: transformNorm sees every norm once and its edits take effect", async () => {
  await withModel((t) => t, async (path) => {
    const g = await openGguf(path);
    const seen: string[] = [];
    const engine = await InferenceEngine.load(g, {
      backend: "reference",
      transformNorm: (name, values) => {
        seen.push(name);
        if (name === "output_norm.weight") values.fill(0);
      },
    });
    try {
      assert.equal(seen.length, HP.blockCount * 4 + 1);
      assert.equal(new Set(seen).size, seen.length);
      assert.ok(engine.forward([1, 2]).every((v) => v === 0));
    } finally {
      engine.close();
      g.close();
    }
  });
});

Deno.test("options: threads come from the option, else the CPU count; the library reads no BITNET_THREADS", async () => {
  const { resolveThreads } = await import("../../lib/inference/backend.ts");
  const saved = Deno.env.get("BITNET_THREADS");
  try {
    Deno.env.set("BITNET_THREADS", "3");
    assert.equal(resolveThreads(5), 5);
    // BITNET_THREADS is read by the tasks (lib/cli/env.ts) and passed down as an option.
    assert.equal(resolveThreads(), Math.max(1, navigator.hardwareConcurrency));
    Deno.env.set("BITNET_THREADS", "zero");
    assert.equal(resolveThreads(), Math.max(1, navigator.hardwareConcurrency));
    assert.throws(() => resolveThreads(0), UsageError);
  } finally {
    if (saved === undefined) Deno.env.delete("BITNET_THREADS");
    else Deno.env.set("BITNET_THREADS", saved);
  }
});

Deno.test("load: more kernel memory than the backend can hold is an UnsupportedError naming the fix", async () => {
  await withModel((t) => t, async (path) => {
    const g = await openGguf(path);
    try {
      await assert.rejects(
        () => InferenceEngine.load(g, { backend: "reference", maxContext: 2 ** 28 }),
        (e: Error) =>
          e instanceof UnsupportedError && /GiB of kernel memory.*--max-context/.test(e.message),
      );
    } finally {
      g.close();
    }
  });
});
