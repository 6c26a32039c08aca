/**
 * Sha256Ring: the digest is node:crypto's over the committed bytes in order,
 * however they are cut into slots (fewer slots than commits: the main thread
 * waits for the worker to free them); with a file, each slot lands at its
 * offset; a worker that cannot open its file fails the ring instead of
 * leaving the main thread waiting.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256Ring } from "../../lib/io/sha256_ring.ts";
import { FuzzRng } from "../_fuzz.ts";

Deno.test("Sha256Ring: the digest of every committed byte, in order, through a small ring", async () => {
  const rng = new FuzzRng(3);
  const ring = Sha256Ring.start({ slots: 2, slotBytes: 64, writePath: null });
  const all: number[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      const slot = ring.next();
      const n = rng.int(65);
      for (let j = 0; j < n; j++) all.push(slot[j] = rng.int(256));
      ring.commit(n, 0);
    }
    const want = createHash("sha256").update(Uint8Array.from(all)).digest("hex");
    assert.equal(await ring.finish(), want);
  } finally {
    ring.cancel();
  }
});

Deno.test("Sha256Ring: slots written at their offsets; an unopenable file fails the ring", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/out.bin`;
    await Deno.writeFile(path, new Uint8Array(0));
    const ring = Sha256Ring.start({ slots: 3, slotBytes: 16, writePath: path });
    // Written out of order: the file holds each slot at its offset; the hash is in commit order.
    const parts: [number, Uint8Array][] = [[16, new Uint8Array(16).fill(2)], [
      0,
      new Uint8Array(16).fill(1),
    ]];
    for (const [at, bytes] of parts) {
      ring.next().set(bytes);
      ring.commit(bytes.length, at);
    }
    const hex = await ring.finish();
    ring.cancel();
    const want = createHash("sha256").update(parts[0]![1]).update(parts[1]![1]).digest("hex");
    assert.equal(hex, want);
    const file = await Deno.readFile(path);
    assert.deepEqual(file, Uint8Array.from([...parts[1]![1], ...parts[0]![1]]));

    const broken = Sha256Ring.start({ slots: 1, slotBytes: 16, writePath: `${dir}/no/such.bin` });
    try {
      await assert.rejects(async () => {
        for (let i = 0; i < 4; i++) {
          broken.next();
          broken.commit(16, 16 * i);
        }
        await broken.finish();
      });
    } finally {
      broken.cancel();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Sha256Ring: cancel() ends a worker blocked waiting for a slot (the process can exit)", async () => {
  const ring = new URL("../../lib/io/sha256_ring.ts", import.meta.url).href;
  const script = `
    import { Sha256Ring } from "${ring}";
    const r = Sha256Ring.start({ slots: 2, slotBytes: 16, writePath: null });
    r.next();
    r.commit(16, 0);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the worker now waits on slot 1
    r.cancel();
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  const { code, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});
