/**
 * Sampler: greedy by default, deterministic with a seed, top-k / top-p
 * restrict the candidates; topK ordering; the PRNG against published
 * mulberry32 values.
 */

import assert from "node:assert/strict";
import { FuzzRng } from "../_fuzz.ts";
import { UsageError } from "../../lib/errors.ts";
import { topK } from "../../lib/inference/engine.ts";
import { argmax, mulberry32, Sampler, topKIds } from "../../lib/inference/sampler.ts";

Deno.test("mulberry32 agrees with the fuzz helpers' independent mulberry32", () => {
  for (const seed of [0, 42, 0xdeadbeef]) {
    const next = mulberry32(seed), other = new FuzzRng(seed);
    for (let i = 0; i < 100; i++) assert.equal(next() * 4294967296, other.u32());
  }
});

Deno.test("greedy is the default and picks the lowest id on ties", () => {
  const logits = new Float32Array([0.5, 3, 3, -1]);
  assert.equal(new Sampler().sample(logits), 1);
  assert.equal(new Sampler({ temperature: 0 }).sample(logits), 1);
  assert.equal(new Sampler({ temperature: 2, topK: 1 }).sample(logits), 1);
  assert.equal(argmax(logits), 1);
});

Deno.test("seeded sampling is deterministic and follows the distribution", () => {
  const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1, seed });
    return Array.from({ length: 20000 }, () => s.sample(logits));
  };
  const a = draw(5), b = draw(5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.slice(0, 50), draw(6).slice(0, 50));
  const freq = [0, 0, 0];
  for (const id of a) freq[id]!++;
  assert.ok(Math.abs(freq[0]! / a.length - 0.5) < 0.02, String(freq));
  assert.ok(Math.abs(freq[1]! / a.length - 0.3) < 0.02, String(freq));
  assert.ok(Math.abs(freq[2]! / a.length - 0.2) < 0.02, String(freq));
});

Deno.test("top-k and top-p keep only the likeliest candidates", () => {
  const logits = new Float32Array([Math.log(0.1), Math.log(0.45), Math.log(0.05), Math.log(0.4)]);
  const seen = (opts: ConstructorParameters<typeof Sampler>[0]) => {
    const s = new Sampler(opts), ids = new Set<number>();
    for (let i = 0; i < 2000; i++) ids.add(s.sample(logits));
    return [...ids].sort();
  };
  assert.deepEqual(seen({ temperature: 1, topK: 2, seed: 1 }), [1, 3]);
  // 0.45 + 0.4 = 0.85 >= 0.8: the nucleus is {1, 3}.
  assert.deepEqual(seen({ temperature: 1, topP: 0.8, seed: 1 }), [1, 3]);
  assert.deepEqual(seen({ temperature: 1, topP: 0.9, seed: 1 }), [0, 1, 3]);
  assert.deepEqual(seen({ temperature: 1, seed: 1 }), [0, 1, 2, 3]);
});

Deno.test("bad sampling options are UsageErrors", () => {
  assert.throws(() => new Sampler({ temperature: -1 }), UsageError);
  assert.throws(() => new Sampler({ topP: 0 }), UsageError);
  assert.throws(() => new Sampler({ topP: 1.5 }), UsageError);
  assert.throws(() => new Sampler({ topK: -2 }), UsageError);
  assert.throws(() => new Sampler({ seed: 0.5 }), UsageError);
});

Deno.test("topK returns [id, logit] pairs, largest first, lower id first on ties", () => {
  const logits = new Float32Array([1, 5, 3, 5, -2, 4]);
  assert.deepEqual(topK(logits, 3), [[1, 5], [3, 5], [5, 4]]);
  assert.deepEqual(topKIds(logits, 10), [1, 3, 5, 2, 0, 4]);
  assert.deepEqual(topK(logits, 0), []);
});
