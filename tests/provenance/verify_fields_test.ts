/**
 * model-verify on the fixture's F16 export and its I2_S quantization (each
 * made once for this file): every meta.json field the GGUF determines is
 * recomputed, so an edit that keeps the JSON valid still fails with exit 19
 * naming the field and the tensor; what the GGUF cannot determine is reported
 * as unverifiable without a signature; a signature that was not checked is
 * never reported as verified; a truncated or damaged GGUF is a verification
 * failure (19), not a parse error (4); a missing GGUF is exit 3.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InputError, VerifyError } from "../../lib/errors.ts";
import {
  assertVerified,
  formatVerifyReport,
  verifyGguf,
  type VerifyReport,
  verifyReportJson,
} from "../../lib/provenance/verify.ts";
import { exportedSets, type OutputSet, verifyChanged, type VerifyMode } from "./_exported.ts";
import { runTask } from "./_fixtures.ts";

const root = await Deno.makeTempDir();
const sets = exportedSets(root);
const f16 = async () => (await sets)[0]!;
const i2s = async () => (await sets)[1]!;

const UNSIGNED: VerifyMode = { signed: false };

/** The VerifyError (exit 19) a failed report turns into. */
function failure(report: VerifyReport): VerifyError {
  try {
    assertVerified(report);
  } catch (e) {
    if (e instanceof VerifyError && e.exitCode === 19) return e;
    throw e;
  }
  throw new assert.AssertionError({
    message: `expected a failure:\n${formatVerifyReport(report)}`,
  });
}

type Meta = Record<string, unknown> & { tensors: Record<string, unknown>[] };

/** Verifies the set with meta.json edited (as parsed JSON, written back as the writer writes). */
async function withMeta(set: OutputSet, edit: (m: Meta) => void, mode = UNSIGNED) {
  return await verifyChanged(set, "meta.json", (bytes) => {
    const meta = JSON.parse(new TextDecoder().decode(bytes)) as Meta;
    edit(meta);
    return new TextEncoder().encode(JSON.stringify(meta, null, 2) + "\n");
  }, mode);
}

const nextUp = (x: number) => x * (1 + 2 ** -52);

/** Edits that keep meta.json valid JSON, and what the failure must name. */
const EDITS: [string, (m: Meta) => void, RegExp][] = [
  [
    "precision f16 → f32",
    (m) => (m.precision = "f32"),
    /"precision" is "f32" but the GGUF gives "f16"/,
  ],
  ["format", (m) => (m.format = "gguf_v2"), /"format" is "gguf_v2"/],
  ["architecture", (m) => (m.architecture = "llama"), /"architecture" is "llama"/],
  ["norms_format", (m) => (m.norms_format = "converted"), /"norms_format" is "converted"/],
  [
    "size",
    (m) => (m.size = (m.size as number) + 1),
    /"size" is \d+ but .*clean-f16\.gguf has \d+ bytes/,
  ],
  [
    "an rms value, one ulp",
    (m) => (m.tensors[1]!.rms = nextUp(m.tensors[1]!.rms as number)),
    /tensor blk\.0\.attn_norm\.weight: rms .* recorded/,
  ],
  [
    "a projection's rms, one ulp",
    (m) => (m.tensors[2]!.rms = nextUp(m.tensors[2]!.rms as number)),
    /tensor blk\.0\.attn_q\.weight: rms .* recorded/,
  ],
  ["a min", (m) => (m.tensors[0]!.min = 0), /tensor token_embd\.weight: min 0 recorded/],
  ["a max", (m) => (m.tensors[3]!.max = 1), /tensor blk\.0\.attn_k\.weight: max 1 recorded/],
  [
    "a dtype",
    (m) => (m.tensors[2]!.gguf_type = "F32"),
    /tensor blk\.0\.attn_q\.weight: gguf_type "F32" recorded, F16/,
  ],
  [
    "a shape",
    (m) => (m.tensors[0]!.shape = [256, 2048]),
    /tensor token_embd\.weight: shape \[256,2048\] recorded/,
  ],
  [
    "a tensor xxh64",
    (m) => (m.tensors[5]!.xxh64 = "0".repeat(16)),
    /tensor blk\.0\.attn_output\.weight: xxh64 0{16} recorded/,
  ],
  [
    "two tensors swapped",
    (m) => ([m.tensors[1], m.tensors[2]] = [m.tensors[2]!, m.tensors[1]!]),
    /tensors are not in the GGUF's order: tensors\[1\] is blk\.0\.attn_q\.weight/,
  ],
  [
    "a ternary_scale that does not round to the stored scale",
    (m) => (m.tensors[2]!.ternary_scale = 2 * (m.tensors[2]!.ternary_scale as number)),
    /tensor blk\.0\.attn_q\.weight: ternary_scale .* recorded, the tensor stores/,
  ],
  [
    "config.num_hidden_layers",
    (m) => ((m.config as Meta).num_hidden_layers = 5),
    /"config\.num_hidden_layers" is 5 but the GGUF gives 4/,
  ],
  [
    "config.rms_norm_eps beyond f32 rounding",
    (m) => ((m.config as Meta).rms_norm_eps = 2e-5),
    /"config\.rms_norm_eps" is 0\.00002/,
  ],
  [
    "config.tie_word_embeddings",
    (m) => ((m.config as Meta).tie_word_embeddings = false),
    /"config\.tie_word_embeddings" is false but the GGUF gives true/,
  ],
  [
    "tokenizer.tokens",
    (m) => ((m.tokenizer as Meta).tokens = 2047),
    /"tokenizer\.tokens" is 2047 but the GGUF gives 2048/,
  ],
  [
    "an unknown top-level key",
    (m) => (m.verified_by = "me"),
    /the top level has an unknown key "verified_by"/,
  ],
  [
    "an unknown tensor key",
    (m) => (m.tensors[4]!.trusted = true),
    /tensors\[4\] has an unknown key "trusted"/,
  ],
  [
    "an unknown options key",
    (m) => ((m.options as Meta).extra = 1),
    /options has an unknown key "extra"/,
  ],
  ["a missing key", (m) => delete m.warnings, /the top level lacks "warnings"/],
];

for (const [what, edit, expected] of EDITS) {
  Deno.test(`model-verify (F16 export): meta.json edit "${what}" is exit 19 naming it`, async () => {
    const e = failure(await withMeta(await f16(), edit));
    assert.match(e.message, expected);
  });
}

Deno.test("model-verify (I2_S): ternary_scale is the stored scale, compared bit for bit", async () => {
  const set = await i2s();
  const clean = await verifyGguf({ ggufPath: set.path("gguf") });
  assert.equal(clean.ok, true, formatVerifyReport(clean));
  // The quantizer records the stored scale itself: nothing about it is left unverifiable.
  assert.ok(!clean.claims.some((c) => c.field.includes("ternary_scale")));
  const e = failure(
    await withMeta(
      set,
      (m) => (m.tensors[2]!.ternary_scale = nextUp(m.tensors[2]!.ternary_scale as number)),
    ),
  );
  assert.match(
    e.message,
    /tensor blk\.0\.attn_q\.weight: ternary_scale .* recorded, the tensor stores/,
  );
  const precision = failure(await withMeta(set, (m) => (m.precision = "tq2_0")));
  assert.match(precision.message, /"precision" is "tq2_0" but the GGUF gives "i2_s"/);
});

Deno.test("model-verify: a duplicate key (JSON.parse keeps the last) is not the writer's JSON: exit 19", async () => {
  const report = await verifyChanged(await f16(), "meta.json", (bytes) => {
    const text = new TextDecoder().decode(bytes);
    return new TextEncoder().encode(
      text.replace(`"precision": "f16"`, `"precision": "f32",\n  "precision": "f16"`),
    );
  }, UNSIGNED);
  assert.match(failure(report).message, /not as the writer wrote it \(duplicate or reordered keys/);
});

Deno.test("model-verify: an edited source sha256 is reported unverifiable without a signature; --require-signature and a checked signature refuse it", async () => {
  const set = await f16();
  const edit = (m: Meta) => ((m.sources as Meta[])[2]!.sha256 = "1".repeat(64));
  const unsigned = await withMeta(set, edit);
  assert.equal(unsigned.ok, true, formatVerifyReport(unsigned));
  const text = formatVerifyReport(unsigned);
  assert.match(
    text,
    /unverifiable without a signature .*\n( {4}- .*\n)* {4}- sources: the input files/,
  );
  assert.match(
    text,
    /\nnot signed: the GGUF matches its companions; \d+ claims of meta\.json unverifiable without a signature\n$/,
  );
  assert.doesNotMatch(text, /\bverified\b/);
  const json = verifyReportJson(unsigned);
  assert.equal(json.verdict, "not signed");
  assert.ok(json.unverifiable.some((c) => c.field === "sources"));
  assert.ok(json.unverifiable.some((c) => c.field === "options"));
  assert.deepEqual(json.covered_by_signature, []);

  const required = await withMeta(set, edit, { signed: false, requireSignature: true });
  assert.match(failure(required).message, /no signature file \(a signature is required\)/);

  const signed = await withMeta(set, edit, { signed: true, withKey: true });
  assert.match(
    failure(signed).message,
    /the signature does not match the GGUF's fingerprint and meta\.json/,
  );
});

Deno.test("model-verify: --require-signature makes a missing or unchecked signature exit 19", async () => {
  const set = await f16();
  const noSig = await verifyChanged(set, "meta.json", (b) => b, UNSIGNED);
  assert.equal(noSig.signature, "absent");
  const required = await verifyGguf({ ggufPath: set.path("gguf"), requireSignature: true });
  // The set has a .sig, but no key was given to check it.
  assert.equal(required.signature, "not checked");
  assert.match(failure(required).message, /signature not checked: a signature is required/);
  const checked = await verifyGguf({
    ggufPath: set.path("gguf"),
    requireSignature: true,
    publicKey: set.publicKey,
  });
  assert.equal(checked.ok, true, formatVerifyReport(checked));
  assert.equal(verifyReportJson(checked).verdict, "verified");
  assert.ok(verifyReportJson(checked).covered_by_signature.some((c) => c.field === "sources"));
  assert.match(formatVerifyReport(checked), /\nverified: /);
});

Deno.test('model-verify: a .sig beside the file but no public key says "signature not checked", never "verified"', async () => {
  const set = await f16();
  const report = await verifyGguf({ ggufPath: set.path("gguf") });
  assert.equal(report.ok, true);
  assert.equal(report.signature, "not checked");
  const text = formatVerifyReport(report);
  assert.match(
    text,
    /\nsignature not checked \(no public key given\): the GGUF matches its companions; \d+ claims/,
  );
  assert.doesNotMatch(text, /\bverified\b/);
  assert.equal(verifyReportJson(report).verdict, "signature not checked");
  // A stale signature (another file's) is not noticed without the key, and refused with it.
  const stale = await verifyChanged(await i2s(), "sig", () => Deno.readFileSync(set.path("sig")), {
    signed: true,
  });
  assert.equal(verifyReportJson(stale).verdict, "signature not checked");
  const staleChecked = await verifyChanged(
    await i2s(),
    "sig",
    () => Deno.readFileSync(set.path("sig")),
    {
      signed: true,
      withKey: true,
    },
  );
  assert.match(failure(staleChecked).message, /the signature does not match/);
});

Deno.test('model-verify: a truncated GGUF is exit 19 "truncated: N bytes, expected M", a damaged header 19, a missing file 3', async () => {
  const set = await f16();
  const size = (await Deno.stat(set.path("gguf"))).size;
  for (const n of [0, 20, 1000, size - 1]) {
    const report = await verifyChanged(set, "gguf", (b) => b.slice(0, n), UNSIGNED);
    const e = failure(report);
    assert.match(e.message, new RegExp(`truncated: ${n} bytes, expected ${size}`));
    assert.ok(report.unreadable !== undefined || n === size - 1, `${n}: the file no longer parses`);
  }
  // The magic number: the file no longer parses as GGUF.
  const magic = await verifyChanged(
    set,
    "gguf",
    (b) => {
      const out = b.slice();
      out[0] = out[0]! ^ 0x20;
      return out;
    },
    UNSIGNED,
  );
  assert.match(failure(magic).message, /header does not match the fingerprint \(.*not a GGUF file/);
  await assert.rejects(
    () => verifyGguf({ ggufPath: join(root, "missing.gguf") }),
    (e) => e instanceof InputError && e.exitCode === 3,
  );
});

Deno.test("model-verify task: truncated file 19 (not 4), --require-signature 19, missing file 3", async () => {
  const set = await f16();
  const dir = join(root, "task");
  await Deno.mkdir(dir);
  for (const f of ["gguf", "meta.json", "fingerprint", "manifest"] as const) {
    await Deno.copyFile(set.path(f), join(dir, set.path(f).split("/").pop()!));
  }
  const gguf = join(dir, `${set.stem}.gguf`);
  let r = await runTask("tasks/verify_gguf.ts", [gguf]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\nnot signed: the GGUF matches its companions/);
  r = await runTask("tasks/verify_gguf.ts", [gguf, "--require-signature"]);
  assert.equal(r.code, 19, r.stderr);
  assert.match(r.stderr, /no signature file \(a signature is required\)/);
  await Deno.truncate(gguf, 4096);
  r = await runTask("tasks/verify_gguf.ts", [gguf]);
  assert.equal(r.code, 19, r.stderr);
  assert.match(r.stderr, /truncated: 4096 bytes, expected \d+/);
  r = await runTask("tasks/verify_gguf.ts", [join(dir, "missing.gguf")]);
  assert.equal(r.code, 3, r.stderr);
});

Deno.test("model-verify fields: clean up", async () => {
  await sets.catch(() => {});
  await Deno.remove(root, { recursive: true });
});
