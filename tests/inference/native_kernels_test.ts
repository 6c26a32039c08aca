// The opt-in native kernels (lib/inference/kernels/native.ts) against the plain TypeScript
// reference backend (the oracle) and plain integer sums: the ternary products on every tile
// the library cuts a batch into (8, 4, 2 and 1 tokens), rows that are no multiple of 4,
// widths that end in a partial 1024-column chunk, the int8 and code extremes; the int8
// head's screening; and the engine on the trained fixture, whose logits, ids and NLL must
// be the same bits with and without the library. The library is built here with the
// machine's C compiler (`cc`, `clang` or `gcc`). Without one (or off x86-64) the tests are skipped, unless
// CLEAN_GGUF_REQUIRE_NATIVE=1 (.ci/run sets it, after making sure a compiler exists).

import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError, OutputError, UsageError } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import {
  buildNativeKernels,
  NATIVE_SOURCE,
  openNativeKernels,
} from "../../lib/inference/kernels/native.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import { reference } from "../_reference.ts";
import { extremeTernaryCases, runTernaryParts, type TernaryCase } from "./_ternary_cases.ts";

const MB = 1 << 20;
const tmp = await Deno.makeTempDir({ prefix: "native-kernels-" });

/** The first C compiler on PATH, or null. */
async function findCompiler(): Promise<string | null> {
  for (const cc of ["cc", "clang", "gcc"]) {
    const ok = await new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" })
      .output().then((r) => r.success, () => false);
    if (ok) return cc;
  }
  return null;
}

// The kernels are x86-64 (AVX2) code: elsewhere there is nothing to build.
const cc = Deno.build.arch === "x86_64" ? await findCompiler() : null;
const required = Deno.env.get("CLEAN_GGUF_REQUIRE_NATIVE") === "1";
const lib = join(tmp, "libclean_gguf_native.so");
if (cc !== null) await buildNativeKernels(NATIVE_SOURCE, lib, cc);
else if (required) throw new Error("CLEAN_GGUF_REQUIRE_NATIVE=1 but no x86-64 C compiler on PATH");
const ignore = cc === null;

/** The fixture exported to F16 once for the engine tests of this file. */
let fixture: Promise<string> | undefined;
function fixtureF16(): Promise<string> {
  fixture ??= exportCleanGguf({
    modelDir: "fixtures/tiny-bitnet",
    outDir: join(tmp, "f16"),
    outType: "f16",
    quiet: true,
  }).then((r) => r.ggufPath);
  return fixture;
}

/**
 * `got` holds the same bits as `want`; a failure names the first element that differs
 * (assert.deepEqual's diff of thousands of differing floats takes minutes).
 */
function assertSameBits(
  got: Float32Array | Int32Array,
  want: Float32Array | Int32Array,
  what: string,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  const i = a.findIndex((v, j) => v !== b[j]);
  if (i >= 0) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
}

// Batches that take every tile: 8 + 4 + 2 + 1 = 15, 8 + 1 = 9, 64 (eight tiles of 8), ...
const CASES: TernaryCase[] = [
  { rows: [37], cols: 256, batch: 1 },
  { rows: [130, 5, 5], cols: 512, batch: 1 },
  { rows: [1031, 258], cols: 512, batch: 2 },
  { rows: [37, 6], cols: 1088, batch: 3 },
  { rows: [64, 16, 16], cols: 256, batch: 4 },
  { rows: [203, 1], cols: 768, batch: 5 },
  { rows: [13], cols: 2112, batch: 7 },
  { rows: [130], cols: 2560, batch: 8 },
  { rows: [11, 4], cols: 64, batch: 9 },
  { rows: [9, 7, 3], cols: 2112, batch: 15 },
  { rows: [13, 6, 64], cols: 1088, batch: 33 },
  { rows: [70], cols: 4160, batch: 64 },
];

for (const threads of [1, 2]) {
  Deno.test({
    name: `native, ${threads} thread(s): ternary products bit-identical to the reference`,
    ignore,
    fn: async () => {
      const k = await createWasmKernels({ bytes: 64 * MB, threads, native: lib });
      try {
        assert.match(k.name, /\+native-avx2$/);
        for (const c of CASES) {
          const want = runTernaryParts(createReferenceKernels(64 * MB), c);
          const got = runTernaryParts(k, c);
          const shape = `rows ${c.rows} x cols ${c.cols}, batch ${c.batch}`;
          for (let i = 0; i < want.length; i++) {
            assert.ok(got[i]!.every(Number.isFinite), `${shape}: product ${i} not all written`);
            assertSameBits(got[i]!, want[i]!, `${shape}: product ${i}`);
          }
        }
      } finally {
        k.close();
      }
    },
  });
}

Deno.test({
  name: "native: ternary products at the int8 and code extremes equal a float64 sum",
  ignore,
  fn: async () => {
    const k = await createWasmKernels({ bytes: 64 * MB, threads: 1, native: lib });
    try {
      // Every tile: 8 + 4 + 2 + 1 tokens (15), 8, 4, 2, 1.
      for (const c of extremeTernaryCases(k, [1024, 1088, 4160], [1, 2, 4, 8, 15])) {
        assertSameBits(c.got, c.want, c.label);
      }
    } finally {
      k.close();
    }
  },
});

Deno.test({
  name: "native: the int8 head's scores are the exact integer dots, as the WebAssembly kernel's",
  ignore,
  fn: async () => {
    const native = await createWasmKernels({ bytes: 16 * MB, threads: 2, native: lib });
    const wasm = await createWasmKernels({ bytes: 16 * MB, threads: 2 });
    try {
      // 4113 rows: a last group of one row; widths with and without a 16-column tail.
      for (const [rows, cols] of [[4113, 2560], [7, 48], [9, 16], [1, 32]] as const) {
        const rnd = mulberry32(rows * 131 + cols);
        const groupsBytes = Math.ceil(rows / 4) * 4 * cols;
        const codes = Int8Array.from({ length: groupsBytes }, () => Math.floor(rnd() * 255) - 127);
        const act = Int8Array.from({ length: cols }, () => Math.floor(rnd() * 255) - 127);
        codes.fill(127, 0, 64); // the first group's first block at the extremes
        act.fill(-127, 0, 16);
        const scores = (k: Kernels) => {
          const w = k.alloc(groupsBytes), x = k.alloc(cols), y = k.alloc(rows * 4);
          k.i8(w, groupsBytes).set(codes);
          k.i8(x, cols).set(act);
          k.scoreRowsI8(w, x, y, rows, cols);
          return k.i32(y, rows).slice();
        };
        const want = new Int32Array(rows);
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < cols; c++) {
            const at = (r >> 2) * 4 * cols + (c >> 4) * 64 + (r & 3) * 16 + (c & 15);
            s += codes[at]! * act[c]!;
          }
          want[r] = s;
        }
        assertSameBits(scores(native), want, `${rows} x ${cols}`);
        assertSameBits(scores(wasm), want, `${rows} x ${cols} (WebAssembly)`);
      }
    } finally {
      native.close();
      wasm.close();
    }
  },
});

Deno.test({
  name: "native: F16 products are the same bits as the relaxed WebAssembly tiles",
  ignore,
  fn: async () => {
    // Rows no multiple of 4 (the last group repeats its last row); batches that take the
    // two-pair pass, one pair, the odd last row, and the prepared (decoded) path from 4 on.
    const BATCHES = [1, 2, 3, 4, 5, 6, 7, 9, 32];
    for (const [rows, cols] of [[4103, 2560], [13, 48], [6, 16], [9, 1040]] as const) {
      const rnd = mulberry32(rows * 7 + cols * 3);
      // Every finite f16 pattern can occur (subnormals and ±0 included; no inf/NaN).
      const bits = Uint16Array.from({ length: rows * cols }, () => {
        const h = Math.floor(rnd() * 0x10000);
        return (h & 0x7c00) === 0x7c00 ? h & 0xfbff : h;
      });
      const bytes = rows * cols * 2 + BATCHES.length * 32 * (cols + rows) * 4 + MB;
      const native = await createWasmKernels({ bytes, threads: 2, simd: "relaxed", native: lib });
      const wasm = await createWasmKernels({ bytes, threads: 2, simd: "relaxed" });
      try {
        const weights = (k: Kernels) => {
          const w = k.alloc(rows * cols * 2);
          k.u16(w, rows * cols).set(bits);
          return w;
        };
        const wn = weights(native), ww = weights(wasm);
        for (const batch of BATCHES) {
          const x = Float32Array.from({ length: batch * cols }, () => (rnd() * 2 - 1) * 4);
          const product = (k: Kernels, w: number) => {
            const px = k.alloc(batch * cols * 4), y = k.alloc(batch * rows * 4);
            k.f32(px, batch * cols).set(x);
            k.f32(y, batch * rows).fill(NaN);
            k.matmulF16(w, px, y, rows, cols, batch);
            return k.f32(y, batch * rows).slice();
          };
          const want = product(wasm, ww), got = product(native, wn);
          assert.ok(want.every(Number.isFinite), `${rows} x ${cols}, batch ${batch}: wasm`);
          assertSameBits(got, want, `${rows} x ${cols}, batch ${batch}`);
        }
      } finally {
        native.close();
        wasm.close();
      }
    }
  },
});

Deno.test({
  name: "native: the fixture's logits, greedy ids and NLL are the same bits as without it",
  ignore,
  fn: async () => {
    // F16 projections load as packed trits (the ternary kernels run) and the F16 output
    // layer gets the int8 head (its screening runs in forwardTop and greedy generation).
    const g = await openGguf(await fixtureF16());
    const run = async (nativeKernels?: string) => {
      const engine = await InferenceEngine.load(g, {
        threads: 2,
        ...(nativeKernels ? { nativeKernels } : {}),
      });
      try {
        const p = reference.prompts[1]!;
        // 23 positions: the prompt runs in tiles of 8, 4, 2 and 1 tokens.
        const ids = [...p.prompt_ids, ...p.bitnet.greedy_ids].slice(0, 23);
        return {
          backend: engine.backendName,
          all: engine.forwardAll(ids),
          nll: engine.nll(ids),
          greedy: engine.generate(p.prompt_ids, { maxTokens: 8 }).ids,
          top: engine.forwardTop(p.prompt_ids, 10),
        };
      } finally {
        engine.close();
      }
    };
    try {
      const plain = await run(), native = await run(lib);
      assert.match(native.backend, /native-avx2/);
      assert.doesNotMatch(plain.backend, /native/);
      assertSameBits(native.all, plain.all, "every position's logits");
      assert.deepEqual(native.nll, plain.nll);
      assert.deepEqual(native.greedy, plain.greedy);
      assertSameBits(native.top, plain.top, "top-10 logits");
    } finally {
      g.close();
    }
  },
});

Deno.test({
  name: "native: a missing or foreign library is refused, naming the file",
  ignore,
  fn: async () => {
    const missing = join(tmp, "nope.so");
    assert.throws(() => openNativeKernels(missing), (e: Error) => {
      assert.ok(e instanceof InputError);
      assert.match(e.message, new RegExp(`${missing}.*cannot be loaded`));
      return true;
    });
    // A shared library that is not ours: it lacks our symbols.
    const foreign = join(tmp, "foreign.so");
    const src = join(tmp, "foreign.c");
    await Deno.writeTextFile(src, "int foreign(void) { return 1; }\n");
    const r = await new Deno.Command(cc!, { args: ["-shared", "-fPIC", "-o", foreign, src] })
      .output();
    assert.ok(r.success);
    assert.throws(() => openNativeKernels(foreign), InputError);
    await assert.rejects(
      createWasmKernels({ bytes: MB, threads: 2, native: missing }),
      InputError,
    );
  },
});

Deno.test({
  name: "build:native: no folder is an OutputError, no compiler a UsageError, nothing left behind",
  ignore,
  fn: async () => {
    await assert.rejects(
      buildNativeKernels(NATIVE_SOURCE, join(tmp, "no", "lib.so"), cc!),
      OutputError,
    );
    await assert.rejects(buildNativeKernels("no/such.c", join(tmp, "lib.so"), cc!), InputError);
    const dir = join(tmp, "empty");
    await Deno.mkdir(dir);
    await assert.rejects(
      buildNativeKernels(NATIVE_SOURCE, join(dir, "lib.so"), "no-such-cc-here"),
      UsageError,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  },
});

Deno.test({
  name: "native: the reference backend refuses a native library",
  fn: async () => {
    const g = await openGguf(await fixtureF16());
    try {
      await assert.rejects(
        InferenceEngine.load(g, { backend: "reference", nativeKernels: lib }),
        UsageError,
      );
    } finally {
      g.close();
    }
  },
});

globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
