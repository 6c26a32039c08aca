/**
 * Tamper corpus for model-verify. On the fixture's F16 export and its I2_S
 * quantization: seeded random byte changes in the GGUF header, in tensor
 * data, in meta.json, in the fingerprint file and in the gguf-hash manifest,
 * and truncations at 20 points; each verified without a signature and with a
 * signature and its public key (and, when it passes unsigned, with a signature
 * but no key: the verdict must then be "signature not checked"). Every case must fail with a VerifyError (exit 19), or pass with a
 * change that is provably inert (the parsed companion equals the original:
 * JSON whitespace, hex case in the manifest) or confined to fields the report
 * lists as unverifiable. Anything else is a silent pass: the test fails and
 * names it.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { hfGguf } from "../../deps.ts";
import { VerifyError } from "../../lib/errors.ts";
import { parseGgufHashManifest } from "../../lib/provenance/gguf_hash.ts";
import { parseFingerprint } from "../../lib/provenance/meta.ts";
import {
  assertVerified,
  type VerifyReport,
  verifyReportJson,
} from "../../lib/provenance/verify.ts";
import { FuzzRng } from "../_fuzz.ts";
import {
  exportedSets,
  type OutputSet,
  type SetFile,
  verifyChanged,
  type VerifyMode,
} from "./_exported.ts";

interface TamperCase {
  readonly label: string;
  readonly file: SetFile;
  readonly change: (bytes: Uint8Array) => Uint8Array;
}

/** XORs one byte with a non-zero value. */
function flipAt(offset: number, xor: number): (b: Uint8Array) => Uint8Array {
  return (b) => {
    const out = b.slice();
    out[offset] = out[offset]! ^ xor;
    return out;
  };
}

function flips(
  rng: FuzzRng,
  file: SetFile,
  region: string,
  from: number,
  to: number,
  n: number,
): TamperCase[] {
  return Array.from({ length: n }, () => {
    const offset = from + rng.int(to - from);
    const xor = 1 + rng.int(255);
    return {
      label: `${region} byte ${offset} ^ 0x${xor.toString(16)}`,
      file,
      change: flipAt(offset, xor),
    };
  });
}

async function corpus(set: OutputSet, seed: number): Promise<TamperCase[]> {
  const rng = new FuzzRng(seed);
  const size = (await Deno.stat(set.path("gguf"))).size;
  const dataOffset = Number(
    (await hfGguf(set.path("gguf"), { allowLocalFile: true })).tensorDataOffset,
  );
  const len = async (f: SetFile) => (await Deno.stat(set.path(f))).size;
  const cuts = [0, 1, 4, 8, 16, 23, 24, dataOffset - 1, dataOffset, dataOffset + 1, size - 1];
  while (cuts.length < 20) cuts.push(1 + rng.int(size - 1));
  return [
    ...flips(rng, "gguf", "GGUF header", 0, dataOffset, 16),
    ...flips(rng, "gguf", "GGUF tensor data", dataOffset, size, 12),
    ...flips(rng, "meta.json", "meta.json", 0, await len("meta.json"), 36),
    ...flips(rng, "fingerprint", "fingerprint", 0, await len("fingerprint"), 8),
    ...flips(rng, "manifest", "manifest", 0, await len("manifest"), 16),
    ...cuts.map((n): TamperCase => ({
      label: `GGUF truncated to ${n} of ${size} bytes`,
      file: "gguf",
      change: (b) => b.slice(0, n),
    })),
  ];
}

/** JSON paths (`tensors[3].rms`, `options.outtype`) where two parsed documents differ. */
function differences(a: unknown, b: unknown, path = ""): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null;
  if (!isObject(a) || !isObject(b) || Array.isArray(a) !== Array.isArray(b)) {
    return Object.is(a, b) ? [] : [path];
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => {
    const sub = Array.isArray(a) ? `${path}[${k}]` : path === "" ? k : `${path}.${k}`;
    return differences(a[k], b[k], sub);
  });
}

/** True when a reported claim (`tensors[*].hf_name`, `options`) covers a changed path. */
function covered(path: string, report: VerifyReport): boolean {
  const general = path.replace(/\[\d+\]/g, "[*]");
  return report.claims.some(({ field }) =>
    [path, general].some((p) =>
      p === field || p.startsWith(`${field}.`) || p.startsWith(`${field}[`)
    )
  );
}

/** Why a passing case is not a silent pass, or undefined when it is one. */
function whyPassIsAllowed(
  c: TamperCase,
  original: Uint8Array,
  changed: Uint8Array,
  report: VerifyReport,
): string | undefined {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const parsedEqual = (parse: (s: string) => unknown) => {
    try {
      return isDeepStrictEqual(parse(text(original)), parse(text(changed)));
    } catch {
      return false;
    }
  };
  switch (c.file) {
    case "fingerprint":
      return parsedEqual((s) => parseFingerprint(s, "fp")) ? "inert: same digest" : undefined;
    case "manifest":
      return parsedEqual((s) => parseGgufHashManifest(s, "m")) ? "inert: same entries" : undefined;
    case "meta.json": {
      const diff = differences(JSON.parse(text(original)), JSON.parse(text(changed)));
      if (diff.length === 0) return "inert: parsed meta.json equals the original";
      return diff.every((p) => covered(p, report))
        ? `reported unverifiable: ${diff.join(", ")}`
        : undefined;
    }
    default:
      return undefined; // every byte of the GGUF is covered by the fingerprint
  }
}

/** How a case ended: an acceptable outcome, or a problem. */
type Judgement = { outcome: "exit 19" | "passed, inert" | "passed, reported unverifiable" } | {
  problem: string;
};

/** Verifies one changed set in one mode and judges the result. */
async function judge(set: OutputSet, c: TamperCase, mode: VerifyMode): Promise<Judgement> {
  const original = await Deno.readFile(set.path(c.file));
  const changed = c.change(original);
  let report: VerifyReport;
  try {
    report = await verifyChanged(set, c.file, () => changed, mode);
  } catch (e) {
    return { problem: `threw instead of reporting: ${(e as Error).stack}` };
  }
  if (!report.ok) {
    try {
      assertVerified(report);
      return { problem: "a failed report that assertVerified let through" };
    } catch (e) {
      if (e instanceof VerifyError && e.exitCode === 19) return { outcome: "exit 19" };
      return { problem: `assertVerified threw ${e}` };
    }
  }
  const verdict = verifyReportJson(report).verdict;
  const expected = !mode.signed
    ? "not signed"
    : mode.withKey
    ? "verified"
    : "signature not checked";
  const why = whyPassIsAllowed(c, original, changed, report);
  if (why === undefined) {
    return { problem: "SILENT PASS: the change is neither inert nor reported" };
  }
  if (verdict !== expected) return { problem: `verdict "${verdict}", expected "${expected}"` };
  if (why.startsWith("reported") && verdict === "verified") {
    return { problem: "a signed meta.json changed and the signature still verified" };
  }
  return { outcome: why.startsWith("inert") ? "passed, inert" : "passed, reported unverifiable" };
}

const root = await Deno.makeTempDir();
const sets = exportedSets(root);

for (const [i, name] of ["f16", "i2_s"].entries()) {
  Deno.test(`tamper corpus (${name}): every change exits 19 or is inert or reported; zero silent passes`, async () => {
    const set = (await sets)[i]!;
    const problems: string[] = [];
    const outcomes = new Map<string, number>();
    const run = async (c: TamperCase, mode: VerifyMode, how: string) => {
      const j = await judge(set, c, mode);
      if ("problem" in j) problems.push(`${c.label} (${how}): ${j.problem}`);
      else outcomes.set(j.outcome, (outcomes.get(j.outcome) ?? 0) + 1);
      return j;
    };
    for (const c of await corpus(set, 1400 + i)) {
      const unsigned = await run(c, { signed: false }, "unsigned");
      await run(c, { signed: true, withKey: true }, "signed");
      // What passes unsigned must pass with an unchecked signature too, saying
      // "signature not checked", never "verified".
      if ("outcome" in unsigned && unsigned.outcome !== "exit 19") {
        await run(c, { signed: true, withKey: false }, "signed, no key");
      }
    }
    const summary = JSON.stringify(Object.fromEntries(outcomes));
    assert.deepEqual(problems, [], `${problems.join("\n")}\noutcomes: ${summary}`);
    // The corpus exercised the checks: most changes fail.
    assert.ok((outcomes.get("exit 19") ?? 0) > 100, summary);
  });
}

Deno.test("tamper corpus: clean up", async () => {
  await sets.catch(() => {});
  await Deno.remove(root, { recursive: true });
});
