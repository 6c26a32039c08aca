import assert from "node:assert/strict";
import { DownloadError, FormatError } from "../../lib/errors.ts";
import { planMetadataFiles, planWeightFiles } from "../../lib/hub/select.ts";

const sha = (c: string) => c.repeat(64);
const git = (c: string) => c.repeat(40);
const entries = [
  { type: "file", path: "config.json", size: 10, oid: git("a") },
  { type: "file", path: "tokenizer.json", size: 20, oid: git("b") },
  { type: "file", path: "README.md", size: 5, oid: git("c") },
  { type: "directory", path: "original", size: 0, oid: git("d") },
  {
    type: "file",
    path: "original/consolidated.safetensors",
    size: 9,
    oid: git("e"),
    lfs: { oid: sha("e"), size: 9 },
  },
  {
    type: "file",
    path: "model.safetensors",
    size: 99,
    oid: git("f"),
    lfs: { oid: sha("f"), size: 99 },
  },
];

Deno.test("planMetadataFiles: required and optional files, LFS sha256 or git sha1", () => {
  assert.deepEqual(planMetadataFiles("o/n", entries), [
    { path: "config.json", size: 10, expected: { kind: "git-sha1", hex: git("a") } },
    { path: "tokenizer.json", size: 20, expected: { kind: "git-sha1", hex: git("b") } },
  ]);
  assert.throws(
    () => planMetadataFiles("o/n", entries.filter((e) => e.path !== "tokenizer.json")),
    (e) =>
      e instanceof DownloadError && /o\/n: the repository has no tokenizer\.json/.test(e.message),
  );
});

Deno.test("planWeightFiles: top-level safetensors without an index; the index's shards with one", () => {
  assert.deepEqual(planWeightFiles("o/n", entries, undefined), [
    { path: "model.safetensors", size: 99, expected: { kind: "sha256", hex: sha("f") } },
  ]);
  const index = JSON.stringify({ weight_map: { x: "model.safetensors", y: "model.safetensors" } });
  assert.equal(planWeightFiles("o/n", entries, index).length, 1);
  assert.throws(
    () =>
      planWeightFiles("o/n", entries, JSON.stringify({ weight_map: { x: "model-2.safetensors" } })),
    (e) =>
      e instanceof DownloadError &&
      /names model-2\.safetensors, which the repository does not have/.test(e.message),
  );
  assert.throws(
    () =>
      planWeightFiles("o/n", entries, JSON.stringify({ weight_map: { x: "../../etc/passwd" } })),
    FormatError,
  );
  assert.throws(
    () => planWeightFiles("o/n", entries.filter((e) => e.path !== "model.safetensors"), undefined),
    /no \.safetensors weights/,
  );
});
