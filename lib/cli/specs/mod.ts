/**
 * Every task's spec, by deno.json task name, in the order the reference lists them.
 *
 * @example
 * ```ts
 * import { TASK_SPECS } from "./mod.ts";
 * TASK_SPECS["model-probe"]?.script; // "tasks/probe.ts"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import { BASELINE_SPEC } from "./baseline.ts";
import { CHECK_SPEC } from "./check.ts";
import { CLEAN_SPEC } from "./clean.ts";
import { EXPORT_SPEC } from "./export.ts";
import { INSPECT_LN_SPEC } from "./inspect_ln.ts";
import { PROBE_SPEC } from "./probe.ts";
import { QUANTIZE_SPEC } from "./quantize.ts";
import { SIGN_SPEC } from "./sign.ts";
import { VALIDATE_SPEC } from "./validate.ts";
import { VERIFY_SPEC } from "./verify.ts";

/** Task name → spec. */
export const TASK_SPECS: Readonly<Record<string, TaskSpec>> = {
  "model-export": EXPORT_SPEC,
  "model-validate": VALIDATE_SPEC,
  "model-clean": CLEAN_SPEC,
  "model-inspect-ln": INSPECT_LN_SPEC,
  "model-probe": PROBE_SPEC,
  "model-quantize-i2s": QUANTIZE_SPEC,
  "model-baseline": BASELINE_SPEC,
  "model-check": CHECK_SPEC,
  "model-verify": VERIFY_SPEC,
  "model-sign": SIGN_SPEC,
};
