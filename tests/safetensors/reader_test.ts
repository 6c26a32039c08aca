import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  CleanGgufError,
  FormatError,
  InputError,
  ModelShapeError,
  UnsupportedError,
} from "../../lib/errors.ts";
import { DTYPE_SIZE, SafetensorsCheckpoint } from "../../lib/safetensors/reader.ts";
import { buildSafetensors, rawSafetensors, smallValidFile, splitSafetensors } from "./_build.ts";

const FIXTURE_DIR = "fixtures/tiny-bitnet";
const FIXTURE = join(FIXTURE_DIR, "model.safetensors");

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens `dir` and expects `cls` with every `parts` fragment in the message. */
async function expectOpenError(
  dir: string,
  cls: new (...args: never[]) => CleanGgufError,
  ...parts: string[]
): Promise<void> {
  await assert.rejects(SafetensorsCheckpoint.open(dir), (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

async function writeModel(dir: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, "model.safetensors");
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("fixture: 46 BF16 tensors whose shapes follow config.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(FIXTURE_DIR, "config.json")));
  const hidden = config.hidden_size as number;
  const inter = config.intermediate_size as number;
  const headDim = hidden / config.num_attention_heads;
  const kvWidth = headDim * config.num_key_value_heads;
  const ckpt = await SafetensorsCheckpoint.open(FIXTURE_DIR);
  try {
    assert.equal(ckpt.names().length, 46);
    assert.deepEqual(ckpt.files, [{ path: FIXTURE, size: 7095640 }]);
    assert.deepEqual(ckpt.metadata, { format: "pt" });
    assert.ok(ckpt.names().every((n) => ckpt.get(n).dtype === "BF16"));
    assert.deepEqual(ckpt.get("model.embed_tokens.weight").shape, [config.vocab_size, hidden]);
    assert.deepEqual(ckpt.get("model.norm.weight").shape, [hidden]);
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const p = `model.layers.${l}`;
      assert.deepEqual(ckpt.get(`${p}.self_attn.q_proj.weight`).shape, [hidden, hidden]);
      assert.deepEqual(ckpt.get(`${p}.self_attn.k_proj.weight`).shape, [kvWidth, hidden]);
      assert.deepEqual(ckpt.get(`${p}.self_attn.v_proj.weight`).shape, [kvWidth, hidden]);
      assert.deepEqual(ckpt.get(`${p}.mlp.gate_proj.weight`).shape, [inter, hidden]);
      assert.deepEqual(ckpt.get(`${p}.mlp.down_proj.weight`).shape, [hidden, inter]);
      assert.deepEqual(ckpt.get(`${p}.mlp.ffn_sub_norm.weight`).shape, [inter]);
      assert.deepEqual(ckpt.get(`${p}.self_attn.attn_sub_norm.weight`).shape, [hidden]);
    }
    assert.equal(ckpt.has("lm_head.weight"), false); // tied embeddings
    let params = 0;
    for (const n of ckpt.names()) {
      const t = ckpt.get(n);
      const count = t.shape.reduce((a, b) => a * b, 1);
      assert.equal(t.nbytes, count * DTYPE_SIZE.BF16);
      params += count;
    }
    assert.equal(params, 3_545_344); // fixtures/tiny-bitnet/README.md
  } finally {
    ckpt.close();
  }
});

Deno.test("fixture: payload offsets and bytes match an independent Python parse", async () => {
  // Expected values computed with python3 (json + struct + hashlib) straight from the file.
  const expected = [
    [
      "model.norm.weight",
      7095128,
      512,
      "a15198e0aef593f06112ba9148c12f393b5c9097aebd523f85cb4b52b523be81",
    ],
    [
      "model.layers.3.self_attn.k_proj.weight",
      6767448,
      32768,
      "0f485c4e501ca8cb7faff4b6c2c7042ca8530f592633820e5de9266a2d0fe459",
    ],
    [
      "model.embed_tokens.weight",
      4952,
      1048576,
      "34dca8983f5ae10b921cb539114f54aaf8049fec5ab14c470d89a0d838e078cc",
    ],
  ] as const;
  const ckpt = await SafetensorsCheckpoint.open(FIXTURE_DIR);
  try {
    for (const [name, offset, nbytes, digest] of expected) {
      const t = ckpt.get(name);
      assert.equal(t.fileOffset, offset);
      assert.equal(t.nbytes, nbytes);
      assert.equal(sha256(await ckpt.read(name)), digest);
      const h = createHash("sha256");
      let chunks = 0;
      for await (const c of ckpt.stream(name, 1001)) {
        assert.equal(c.length % 2, 0, "chunks hold whole BF16 elements");
        assert.ok(c.length <= 1000);
        h.update(c);
        chunks++;
      }
      assert.equal(h.digest("hex"), digest);
      assert.equal(chunks, Math.ceil(nbytes / 1000));
    }
    // first bytes of model.norm.weight, from the same Python parse
    const norm = await ckpt.read("model.norm.weight");
    assert.equal(
      [...norm.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(""),
      "a13f9a3f973fa23f",
    );
  } finally {
    ckpt.close();
  }
});

Deno.test("fixture: names are in on-disk order and concurrent reads do not interfere", async () => {
  const ckpt = await SafetensorsCheckpoint.open(FIXTURE);
  try {
    const names = ckpt.names();
    for (let i = 1; i < names.length; i++) {
      assert.ok(ckpt.get(names[i]!).fileOffset >= ckpt.get(names[i - 1]!).fileOffset);
    }
    const sequential = [];
    for (const n of names) sequential.push(sha256(await ckpt.read(n)));
    const parallel = await Promise.all(names.map(async (n) => sha256(await ckpt.read(n))));
    assert.deepEqual(parallel, sequential);
    assert.throws(() => ckpt.get("lm_head.weight"), ModelShapeError);
  } finally {
    ckpt.close();
  }
});

Deno.test("sharded checkpoint built from the fixture reads identically", async () => {
  const single = await SafetensorsCheckpoint.open(FIXTURE_DIR);
  try {
    await withTempDir(async (dir) => {
      const names = single.names();
      const half = Math.ceil(names.length / 2);
      const shards = [names.slice(half), names.slice(0, half)]; // reversed halves: order must not matter
      const shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
      const weightMap: Record<string, string> = {};
      for (const [i, group] of shards.entries()) {
        const specs = [];
        for (const n of group.toReversed()) {
          const t = single.get(n);
          specs.push({ name: n, dtype: t.dtype, shape: t.shape, data: await single.read(n) });
          weightMap[n] = shardNames[i]!;
        }
        await Deno.writeFile(
          join(dir, shardNames[i]!),
          buildSafetensors(specs, { format: "pt", shard: `${i}` }),
        );
      }
      await Deno.writeTextFile(
        join(dir, "model.safetensors.index.json"),
        JSON.stringify({ metadata: { total_size: 7090688 }, weight_map: weightMap }, null, 2),
      );
      const sharded = await SafetensorsCheckpoint.open(dir);
      try {
        assert.deepEqual(sharded.files.map((f) => f.path), shardNames.map((s) => join(dir, s)));
        assert.deepEqual(sharded.names().toSorted(), names.toSorted());
        assert.deepEqual(sharded.metadata, { format: "pt", shard: "0" });
        for (const n of names) {
          const a = single.get(n);
          const b = sharded.get(n);
          assert.equal(b.dtype, a.dtype);
          assert.deepEqual(b.shape, a.shape);
          assert.equal(b.nbytes, a.nbytes);
          assert.equal(sha256(await sharded.read(n)), sha256(await single.read(n)), n);
        }
      } finally {
        sharded.close();
      }
      // the index file path itself is accepted as well
      const viaIndex = await SafetensorsCheckpoint.open(join(dir, "model.safetensors.index.json"));
      assert.equal(viaIndex.names().length, names.length);
      viaIndex.close();
    });
  } finally {
    single.close();
  }
});

Deno.test("small file: every supported dtype, an empty tensor, a scalar, gaps allowed", async () => {
  await withTempDir(async (dir) => {
    await writeModel(dir, smallValidFile());
    const ckpt = await SafetensorsCheckpoint.open(dir);
    try {
      assert.deepEqual(ckpt.names(), [
        "w.f32",
        "w.f16",
        "w.bf16",
        "w.u8",
        "w.i8",
        "empty",
        "scalar",
      ]);
      assert.equal(ckpt.get("empty").nbytes, 0);
      assert.deepEqual(await ckpt.read("empty"), new Uint8Array(0));
      const chunks = [];
      for await (const c of ckpt.stream("empty")) chunks.push(c);
      assert.equal(chunks.length, 0);
      assert.deepEqual(ckpt.get("scalar").shape, []);
      assert.equal(ckpt.get("scalar").nbytes, 4);
      assert.deepEqual([...await ckpt.read("w.u8")], [3, 20, 37, 54, 71]);
      assert.deepEqual(ckpt.metadata, { format: "pt", note: "small" });
      await assert.rejects(async () => {
        for await (const _ of ckpt.stream("w.u8", 0)) { /* never */ }
      }, RangeError);
    } finally {
      ckpt.close();
    }
    // bytes between tensors are tolerated (only overlaps are an error)
    await writeModel(
      dir,
      rawSafetensors(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[5,6]}}',
        new Uint8Array([1, 2, 0, 0, 0, 9, 0]),
      ),
    );
    const gap = await SafetensorsCheckpoint.open(dir);
    assert.deepEqual([...await gap.read("b")], [9]);
    gap.close();
  });
});

Deno.test("missing folder, empty folder, folder without safetensors: InputError", async () => {
  await expectOpenError(
    "/nonexistent/clean-gguf/model",
    InputError,
    "/nonexistent/clean-gguf/model",
    "not found",
  );
  await withTempDir(async (dir) => {
    await expectOpenError(dir, InputError, dir, "model.safetensors");
    await Deno.writeFile(join(dir, "pytorch_model.bin"), new Uint8Array(4));
    await expectOpenError(dir, InputError, "pytorch_model.bin");
  });
});

Deno.test("header errors are FormatErrors naming the file and tensor", async () => {
  const fixture = await Deno.readFile(FIXTURE);
  const { headerText, data } = splitSafetensors(fixture);
  const header = JSON.parse(headerText);
  const tiny = new Uint8Array(16);
  const entry = (dtype: string, shape: unknown, offsets: unknown) => ({
    dtype,
    shape,
    data_offsets: offsets,
  });
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    const cases: [string, Uint8Array, typeof FormatError | typeof UnsupportedError, string[]][] = [
      ["empty file", new Uint8Array(0), FormatError, [path, "too small"]],
      ["5 bytes", new Uint8Array(5), FormatError, [path, "too small"]],
      ["truncated data", fixture.slice(0, fixture.length - 100), FormatError, [
        path,
        "model.norm.weight",
        "past the end",
      ]],
      ["truncated header", fixture.slice(0, 2000), FormatError, [path, "header length 4944"]],
      [
        "header length past the end",
        (() => {
          const b = fixture.slice(0, 64);
          new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
          return b;
        })(),
        FormatError,
        [path, "header length 18446744073709551615", "past the end"],
      ],
      [
        "offsets past the end",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("BF16", [256], [data.length, data.length + 512]),
          }),
          data,
        ),
        FormatError,
        [path, "model.norm.weight", "past the end"],
      ],
      [
        "overlapping tensors",
        rawSafetensors(
          JSON.stringify({ ...header, "model.norm.weight": entry("BF16", [256], [1000, 1512]) }),
          data,
        ),
        FormatError,
        [path, "model.norm.weight", "model.embed_tokens.weight", "overlap"],
      ],
      [
        "size != shape x dtype",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("BF16", [255], header["model.norm.weight"].data_offsets),
          }),
          data,
        ),
        FormatError,
        [path, "model.norm.weight", "needs 510"],
      ],
      [
        "F32 with a BF16-sized payload",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("F32", [256], header["model.norm.weight"].data_offsets),
          }),
          data,
        ),
        FormatError,
        [path, "model.norm.weight", "needs 1024"],
      ],
      ["bad JSON", rawSafetensors(headerText.replace('"dtype"', "dtype"), data), FormatError, [
        path,
        "not valid JSON",
      ]],
      [
        "invalid UTF-8",
        (() => {
          const b = fixture.slice();
          b[20] = 0xff;
          return b;
        })(),
        FormatError,
        [path, "UTF-8"],
      ],
      ["JSON array", rawSafetensors("[]", tiny), FormatError, [path, "JSON object"]],
      [
        "negative dim",
        rawSafetensors('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}', tiny),
        FormatError,
        [path, '"a"', "shape[0]"],
      ],
      [
        "fractional dim",
        rawSafetensors('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}}', tiny),
        FormatError,
        [path, "shape[0]"],
      ],
      [
        "dim past 2^53",
        rawSafetensors(
          '{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,0]}}',
          tiny,
        ),
        FormatError,
        [path, "shape[0]"],
      ],
      [
        "huge product",
        rawSafetensors(
          '{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,16]}}',
          tiny,
        ),
        FormatError,
        [path, '"a"', "needs 18446744073709551616"],
      ],
      [
        "shape missing",
        rawSafetensors('{"a":{"dtype":"U8","data_offsets":[0,0]}}', tiny),
        FormatError,
        [path, '"shape"'],
      ],
      [
        "offsets reversed",
        rawSafetensors('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}', tiny),
        FormatError,
        [path, '"a"', "end before"],
      ],
      [
        "three offsets",
        rawSafetensors('{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0,0]}}', tiny),
        FormatError,
        [path, "data_offsets"],
      ],
      [
        "negative offset",
        rawSafetensors('{"a":{"dtype":"U8","shape":[0],"data_offsets":[-2,-2]}}', tiny),
        FormatError,
        [path, "begin"],
      ],
      ["entry not an object", rawSafetensors('{"a":[1]}', tiny), FormatError, [path, '"a"']],
      [
        "dtype not a string",
        rawSafetensors('{"a":{"dtype":1,"shape":[0],"data_offsets":[0,0]}}', tiny),
        FormatError,
        [path, '"dtype"'],
      ],
      ["metadata not strings", rawSafetensors('{"__metadata__":{"n":1}}', tiny), FormatError, [
        path,
        '"n"',
      ]],
      [
        "unknown dtype",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("Q4", [256], header["model.norm.weight"].data_offsets),
          }),
          data,
        ),
        UnsupportedError,
        [path, "model.norm.weight", "Q4"],
      ],
      [
        "known but unsupported dtype",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("I64", [64], header["model.norm.weight"].data_offsets),
          }),
          data,
        ),
        UnsupportedError,
        [path, "model.norm.weight", "I64"],
      ],
      [
        "unsupported dtype with a wrong size is malformed first",
        rawSafetensors(
          JSON.stringify({
            ...header,
            "model.norm.weight": entry("I64", [256], header["model.norm.weight"].data_offsets),
          }),
          data,
        ),
        FormatError,
        [path, "model.norm.weight", "needs 2048"],
      ],
    ];
    for (const [label, bytes, cls, parts] of cases) {
      await Deno.writeFile(path, bytes);
      await assert.rejects(SafetensorsCheckpoint.open(dir), (e: unknown) => {
        assert.ok(e instanceof cls, `${label}: expected ${cls.name}, got ${e}`);
        for (const p of parts) {
          assert.ok(e.message.includes(p), `${label}: "${e.message}" lacks "${p}"`);
        }
        return true;
      }, label);
    }
  });
});

Deno.test("a header length over 100 MB is refused before allocating, even inside the file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, 150_000_000n, true);
    await Deno.writeFile(path, prefix);
    await Deno.truncate(path, 200_000_000); // sparse: costs no disk
    await expectOpenError(dir, FormatError, path, "header length 150000000", "limit");
  });
});

Deno.test("index errors: missing shard, tensor absent from its shard, duplicates, bad index", async () => {
  const u8 = (name: string, n: number) => ({
    name,
    dtype: "U8",
    shape: [n],
    data: new Uint8Array(n).fill(n),
  });
  await withTempDir(async (dir) => {
    const s1 = "model-00001-of-00002.safetensors";
    const s2 = "model-00002-of-00002.safetensors";
    const indexPath = join(dir, "model.safetensors.index.json");
    const writeIndex = (map: unknown) =>
      Deno.writeTextFile(indexPath, JSON.stringify({ metadata: {}, weight_map: map }));
    await Deno.writeFile(join(dir, s1), buildSafetensors([u8("a", 1), u8("b", 2)]));

    await writeIndex({ a: s1, b: s1, c: s2 });
    await expectOpenError(dir, InputError, join(dir, s2), '"c"');

    await Deno.writeFile(join(dir, s2), buildSafetensors([u8("c", 3)]));
    await writeIndex({ a: s1, b: s1, c: s2, d: s2 });
    await expectOpenError(dir, FormatError, indexPath, '"d"', s2);

    await writeIndex({ a: s1, b: s2, c: s2 });
    await expectOpenError(dir, FormatError, indexPath, '"b"', `it is in ${join(dir, s1)}`);

    await Deno.writeFile(join(dir, s2), buildSafetensors([u8("c", 3), u8("a", 1)]));
    await writeIndex({ a: s1, b: s1, c: s2 });
    await expectOpenError(dir, FormatError, '"a"', join(dir, s1), join(dir, s2));

    await writeIndex({ a: "../model-00001-of-00002.safetensors" });
    await expectOpenError(dir, FormatError, indexPath, '"a"');
    await writeIndex({});
    await expectOpenError(dir, FormatError, indexPath, "no tensors");
    await Deno.writeTextFile(indexPath, '{"weight_map": ');
    await expectOpenError(dir, FormatError, indexPath, "not valid JSON");
    await Deno.writeTextFile(indexPath, '{"metadata": {}}');
    await expectOpenError(dir, FormatError, indexPath, "weight_map");

    // a malformed shard is reported with its own path
    await Deno.writeFile(join(dir, s2), new Uint8Array(3));
    await writeIndex({ a: s1, b: s1, c: s2 });
    await expectOpenError(dir, FormatError, join(dir, s2), "too small");

    // extra tensors in a shard that the index does not list are kept (transformers loads them too)
    await Deno.writeFile(join(dir, s2), buildSafetensors([u8("c", 3), u8("extra", 4)]));
    const ckpt = await SafetensorsCheckpoint.open(dir);
    assert.deepEqual(ckpt.names(), ["a", "b", "c", "extra"]);
    ckpt.close();

    // model.safetensors wins over the index, as in transformers
    await writeModel(dir, buildSafetensors([u8("only", 1)]));
    const single = await SafetensorsCheckpoint.open(dir);
    assert.deepEqual(single.names(), ["only"]);
    single.close();
  });
});

Deno.test("reading after close throws", async () => {
  const ckpt = await SafetensorsCheckpoint.open(FIXTURE_DIR);
  ckpt.close();
  ckpt.close();
  assert.throws(() => ckpt.read("model.norm.weight"), /closed/);
});
