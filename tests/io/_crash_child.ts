/**
 * A child process for the crash tests: runs one writer and kills itself
 * (SIGKILL, or another signal) at an exact point, given as JSON in the
 * CRASH_ORDER environment variable:
 *
 * - `{"mode":"export", "options": {...}, "killAtStep": k}`: an export whose
 *   commit hooks send SIGKILL at step k (0 = temporary files complete, before
 *   the journal; 1 = journal written; then each removal and placement);
 *   `killAtTensor: i` kills while tensor i is being written instead. Without
 *   either, it prints the commit's steps as JSON.
 * - `{"mode":"quantize", ...}`: the same for the quantizer.
 * - `{"mode":"task", "signal": "SIGTERM", "atTensor": i}`: the export task run
 *   by the task runner (runTask) on the command line's arguments, signalling
 *   itself at tensor i.
 * - `{"mode":"hold", "dir": d}`: takes d's lock, opens a temporary file,
 *   prints "ready" and waits to be killed.
 */

import { exportCleanGguf, type ExportOptions } from "../../lib/export/export.ts";
import { quantizeGguf, type QuantizeOptions } from "../../lib/quantize/quantize.ts";
import { AtomicOutputs, type CommitHooks, type CommitStep } from "../../lib/io/atomic.ts";
import { runTask } from "../../lib/cli/run.ts";
import { EXPORT_SPEC } from "../../lib/cli/specs.ts";

interface Order {
  mode: "export" | "quantize" | "task" | "hold";
  options?: Record<string, unknown>;
  killAtStep?: number;
  killAtTensor?: number;
  signal?: Deno.Signal;
  atTensor?: number;
  dir?: string;
}

const order = JSON.parse(Deno.env.get("CRASH_ORDER")!) as Order;
const steps: string[] = [];

function at(index: number, what: string): void {
  steps.push(what);
  if (order.killAtStep === index) Deno.kill(Deno.pid, "SIGKILL");
}

const hooks: CommitHooks = {
  beforeCommit: () => at(0, "temps complete"),
  afterStep: (step: CommitStep) => at(steps.length, `${step.kind} ${step.name}`),
};

function onProgress(done: number): void {
  if (order.killAtTensor === done) Deno.kill(Deno.pid, "SIGKILL");
}

if (order.mode === "export") {
  const options = order.options as unknown as ExportOptions;
  await exportCleanGguf({ ...options, quiet: true, commitHooks: hooks, onProgress });
  console.log(JSON.stringify(steps));
} else if (order.mode === "quantize") {
  const options = order.options as unknown as QuantizeOptions;
  await quantizeGguf({ ...options, commitHooks: hooks, onProgress });
  console.log(JSON.stringify(steps));
} else if (order.mode === "task") {
  await runTask(EXPORT_SPEC, async ({ args }) => {
    await exportCleanGguf({
      modelDir: args.model_dir,
      outDir: args.out_dir,
      quiet: true,
      onProgress: (done) => {
        if (done === order.atTensor) Deno.kill(Deno.pid, order.signal!);
      },
    });
    return 0;
  });
} else {
  const out = await AtomicOutputs.create(order.dir!);
  await (await out.file("held.gguf")).write(new Uint8Array(100));
  console.log("ready");
  setInterval(() => {}, 60_000); // alive until killed
}
