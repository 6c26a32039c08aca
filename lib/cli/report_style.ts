/**
 * Colours for human-readable reports: on only when stdout is a terminal and
 * NO_COLOR is not set (https://no-color.org), so that piped or logged output
 * stays plain text.
 *
 * @example
 * ```ts
 * import { reportStyle } from "./report_style.ts";
 * const s = reportStyle(); // decides from the terminal and NO_COLOR
 * console.log(`${s.status("pass")} norms`);
 * console.log(reportStyle({ color: false }).status("fail")); // "FAIL"
 * ```
 * @module
 */

import { colors } from "../../deps.ts";

/** A check's outcome as shown in reports. */
export type CheckStatus = "pass" | "fail" | "warn" | "skip";

/** Text styling for reports. */
export interface ReportStyle {
  readonly color: boolean;
  bold(text: string): string;
  dim(text: string): string;
  good(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  /** A fixed-width status word (PASS, FAIL, WARN, SKIP), coloured by outcome. */
  status(status: CheckStatus): string;
}

/** Whether colours should be used: stdout is a terminal and NO_COLOR is unset. */
function colorWanted(): boolean {
  // Deno.noColor reflects NO_COLOR without needing --allow-env.
  if (Deno.noColor) return false;
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/**
 * A style; `color` overrides the terminal/NO_COLOR decision.
 *
 * @example
 * ```ts
 * reportStyle({ color: false }).bad("x"); // "x"
 * ```
 */
export function reportStyle(options: { color?: boolean } = {}): ReportStyle {
  const color = options.color ?? colorWanted();
  const c = colors.createColors(color);
  const words: Record<CheckStatus, string> = {
    pass: c.green("PASS"),
    fail: c.red(c.bold("FAIL")),
    warn: c.yellow("WARN"),
    skip: c.dim("SKIP"),
  };
  return {
    color,
    bold: c.bold,
    dim: c.dim,
    good: c.green,
    bad: c.red,
    warn: c.yellow,
    status: (s) => words[s],
  };
}

/**
 * A fraction as reports print it: one decimal, a percent sign.
 *
 * @example
 * ```ts
 * import { percent } from "./report_style.ts";
 * percent(0.1234); // "12.3%"
 * ```
 */
export function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
