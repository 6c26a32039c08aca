import assert from "node:assert/strict";
import {
  assertStrictAllows,
  BITNET_ENV_VARS,
  CORRECTION_VARS,
  DEFAULT_SEED,
  defaultBitnetEnv,
  readBitnetEnv,
  readHubToken,
  setCorrectionVars,
} from "../../lib/cli/env.ts";
import { EXIT, StrictModeError, UsageError } from "../../lib/errors.ts";

const env = (pairs: Record<string, string>) => readBitnetEnv(new Map(Object.entries(pairs)));

Deno.test("readBitnetEnv: defaults with nothing set", () => {
  const e = env({});
  assert.equal(e.strict, false);
  assert.equal(e.deterministic, false);
  assert.equal(e.seed, 42);
  assert.equal(DEFAULT_SEED, 42);
  assert.equal(e.threads, null);
  assert.equal(e.correctionPolicy, null);
  assert.equal(e.allowRuntimeCorrections, false);
  assert.equal(e.fixLnScale, null);
  assert.deepEqual(e.raw, {});
});

Deno.test("readBitnetEnv: parses every variable; empty counts as unset", () => {
  const e = env({
    BITNET_STRICT_MODE: "true",
    BITNET_DETERMINISTIC: "1",
    BITNET_SEED: "7",
    BITNET_THREADS: "3",
    BITNET_CORRECTION_POLICY: "p.json",
    BITNET_ALLOW_RUNTIME_CORRECTIONS: "yes",
    BITNET_FIX_LN_SCALE: "",
  });
  assert.equal(e.strict, true);
  assert.equal(e.deterministic, true);
  assert.equal(e.seed, 7);
  assert.equal(e.threads, 3);
  assert.equal(e.correctionPolicy, "p.json");
  assert.equal(e.allowRuntimeCorrections, true);
  assert.equal(e.fixLnScale, null);
  assert.equal(Object.keys(e.raw).length, 6);
  assert.equal(env({ BITNET_STRICT_MODE: "off" }).strict, false);
});

Deno.test("readBitnetEnv: malformed values are usage errors naming the variable", () => {
  assert.throws(
    () => env({ BITNET_STRICT_MODE: "maybe" }),
    (e: unknown) => e instanceof UsageError && /BITNET_STRICT_MODE/.test(e.message),
  );
  assert.throws(() => env({ BITNET_SEED: "-1" }), /BITNET_SEED/);
  assert.throws(() => env({ BITNET_SEED: "4.5" }), /BITNET_SEED/);
  assert.throws(() => env({ BITNET_THREADS: "0" }), /BITNET_THREADS/);
});

Deno.test("assertStrictAllows: refuses each correction variable in strict mode (exit 16)", () => {
  assert.deepEqual(CORRECTION_VARS, [
    BITNET_ENV_VARS.correctionPolicy,
    BITNET_ENV_VARS.allowRuntimeCorrections,
    BITNET_ENV_VARS.fixLnScale,
  ]);
  for (const name of CORRECTION_VARS) {
    const e = env({ BITNET_STRICT_MODE: "1", [name]: "1" });
    assert.deepEqual(setCorrectionVars(e), [name]);
    assert.throws(
      () => assertStrictAllows(e),
      (err: unknown) =>
        err instanceof StrictModeError && err.exitCode === EXIT.strictRefused &&
        err.message.includes(name),
    );
    // Outside strict mode the same setting is not refused here.
    assert.doesNotThrow(() => assertStrictAllows(env({ [name]: "1" })));
  }
  // A value of 0 is still a setting: strict mode refuses it.
  assert.throws(
    () =>
      assertStrictAllows(env({ BITNET_STRICT_MODE: "1", BITNET_ALLOW_RUNTIME_CORRECTIONS: "0" })),
    StrictModeError,
  );
  assert.doesNotThrow(() => assertStrictAllows(env({ BITNET_STRICT_MODE: "1", BITNET_SEED: "3" })));
});

Deno.test("readBitnetEnv reads the real environment", () => {
  Deno.env.set("BITNET_SEED", "11");
  try {
    assert.equal(readBitnetEnv().seed, 11);
  } finally {
    Deno.env.delete("BITNET_SEED");
  }
});

Deno.test("the library reads no environment variable: only lib/cli/, which the tasks call, does", async () => {
  const { codeLines, tsFiles, REPO } = await import("../delivery/_scan.ts");
  const readers: string[] = [];
  for (const path of tsFiles("lib")) {
    if (path.startsWith("lib/cli/")) continue;
    for (const [n, line] of codeLines(await Deno.readTextFile(`${REPO}/${path}`))) {
      if (/Deno\.env\b|readBitnetEnv\(\s*\)|readHubToken\(\s*\)|"env", variable/.test(line)) {
        readers.push(`${path}:${n}: ${line.trim()}`);
      }
    }
  }
  assert.deepEqual(readers, [], "pass the settings down from the task instead");
});

Deno.test("readHubToken: HF_TOKEN trimmed, empty as unset", () => {
  assert.equal(readHubToken(new Map([["HF_TOKEN", " hf_abc \n"]])), "hf_abc");
  assert.equal(readHubToken(new Map([["HF_TOKEN", ""]])), undefined);
  assert.equal(readHubToken(new Map()), undefined);
  assert.equal(defaultBitnetEnv().strict, false);
  assert.deepEqual(defaultBitnetEnv().raw, {});
});
