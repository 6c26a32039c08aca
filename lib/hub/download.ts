/**
 * Downloads what an export needs from a Hugging Face Hub model repository:
 * config.json, the tokenizer files and the safetensors weights (sharded too),
 * into `<cacheDir>/<owner>--<name>/<commit>/`.
 *
 * - Metadata and transfers go through `hfHub` (npm:@huggingface/hub): the
 *   revision is resolved to a commit (`modelInfo`), the file list read from the
 *   tree API (`listFiles`), and each file fetched as a ranged blob
 *   (`downloadFile` → `Blob.slice(offset).stream()`).
 * - A partial file (`<file>.part`) is resumed with an HTTP Range request; if
 *   the server ignores the range, the download restarts from zero.
 * - Every file is checked against the Hub: sha256 of LFS files against the
 *   LFS oid, small files against their git blob sha1. A mismatch is refused
 *   ({@link DownloadError}, exit 20) and the bad bytes are removed.
 * - Files already complete and matching are not fetched again; files finished
 *   before a later one fails stay in place.
 * - Network permission is requested (when not already granted) only here, and
 *   only for the Hub's host.
 *
 * {@link resolveModelSource} is where a task's checkpoint comes from: a local
 * folder, or the Hub (`--hf-repo OWNER/NAME [--revision REV]`), downloaded
 * first. A local folder that does not exist is an {@link InputError} saying
 * so, before any file in it is looked for.
 *
 * @example
 * ```ts
 * import { downloadFromHub } from "./download.ts";
 * const { modelDir, files } = await downloadFromHub({
 *   repo: "microsoft/bitnet-b1.58-2B-4T-bf16",
 *   cacheDir: "models/hub",
 * });
 * console.log(modelDir, files.map((f) => `${f.path} ${f.sha256}`));
 * ```
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { DownloadError, InputError, OutputError, rethrowAs, UsageError } from "../errors.ts";
import { $, hfHub } from "../../deps.ts";
import { RandomAccessFile } from "../io/random_access.ts";
import {
  type HubTreeEntry,
  planMetadataFiles,
  type PlannedFile,
  planWeightFiles,
} from "./select.ts";
import { SHARD_INDEX_NAME } from "../safetensors/index_file.ts";

/** The public Hub. */
const DEFAULT_HUB_URL = "https://huggingface.co";

/** Options of {@link downloadFromHub}. */
export interface HubDownloadOptions {
  /** "owner/name". */
  readonly repo: string;
  /** Branch, tag or commit; default "main". */
  readonly revision?: string;
  /** Downloads go to `<cacheDir>/<owner>--<name>/<commit>/`. */
  readonly cacheDir: string;
  /** Default https://huggingface.co. */
  readonly hubUrl?: string;
  /** Access token (the task reads HF_TOKEN and passes it); absent or null: anonymous. */
  readonly token?: string | null;
  /** Progress bars on stderr; default: only when stderr is a terminal. */
  readonly progress?: boolean;
}

/** One downloaded file. */
export interface HubDownloadedFile {
  /** Relative to modelDir. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** What {@link downloadFromHub} returns. */
export interface HubDownloadResult {
  readonly modelDir: string;
  /** The commit the revision resolved to. */
  readonly commit: string;
  readonly files: readonly HubDownloadedFile[];
}

/**
 * Makes sure we may talk to `host`, asking once (interactive runs) when the
 * permission is not granted yet. Refusal is a {@link DownloadError} that names
 * the flag to pass.
 */
async function ensureNetPermission(host: string, why = "to download from the Hub"): Promise<void> {
  const desc = { name: "net", host } as const;
  let state = (await Deno.permissions.query(desc)).state;
  if (state === "prompt") state = (await Deno.permissions.request(desc)).state;
  if (state !== "granted") {
    throw new DownloadError(
      `network access to ${host} is needed ${why} (run with --allow-net=${host})`,
    );
  }
}

/** A DownloadError with a useful message for a failed Hub call. */
function hubError(e: unknown, what: string, repo: string, hasToken: boolean): DownloadError {
  if (e instanceof DownloadError) return e;
  const status = e instanceof hfHub.HubApiError ? e.statusCode : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  if (status === 401 || status === 403) {
    const hint = hasToken
      ? "the token in HF_TOKEN has no access to it (gated: accept its terms on the Hub first)"
      : "it is private or gated: set HF_TOKEN to a token with access (and allow reading it: --allow-env=HF_TOKEN)";
    const refused = `${what}: HTTP ${status}: ${repo} refused the request, ${hint}`;
    return new DownloadError(refused, { cause: e });
  }
  const why = status === 404 ? `HTTP 404: not found (${detail})` : detail;
  return new DownloadError(`${what}: ${why}`, { cause: e });
}

/** Signals that a server answered a ranged request with the whole file. */
class RangeIgnored extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * fetch for the hub library. It follows redirects itself so that each new
 * host (the Hub sends LFS and xet downloads to CDN hosts) gets its own
 * permission check, and drops the token when leaving the Hub's origin. It
 * also notices ranged requests answered with 200, so that a resume never
 * appends a whole file.
 */
function guardedFetch(flags: { rangeIgnored: boolean }): typeof fetch {
  return async (input, init) => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    const range = headers.get("Range");
    let resp: Response | undefined;
    for (let hop = 0; hop <= 10; hop++) {
      await ensureNetPermission(
        url.host,
        hop === 0 ? "to download from the Hub" : "to follow the Hub's redirect to its CDN",
      );
      try {
        resp = await fetch(url, { ...init, headers, redirect: "manual" });
      } catch (e) {
        throw new DownloadError(`cannot reach ${url.host}: ${(e as Error).message}`, { cause: e });
      }
      const location = resp.headers.get("Location");
      if (!REDIRECTS.has(resp.status) || location === null) break;
      await resp.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== url.origin) headers.delete("Authorization");
      url = next;
      resp = undefined;
    }
    if (!resp) throw new DownloadError(`${url.href}: too many redirects`);
    const start = range ? /^bytes=(\d+)-/.exec(range)?.[1] : undefined;
    if (start !== undefined && Number(start) > 0 && resp.status === 200) {
      await resp.body?.cancel();
      flags.rangeIgnored = true;
      throw new RangeIgnored("the server ignored the Range request");
    }
    return resp;
  };
}

/** The file's size, or undefined when there is no such file. */
function sizeOf(path: string): Promise<number | undefined> {
  return Deno.stat(path).then((info) => info.size, (e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
}

/** Digests of a file's bytes, fed in order. */
class FileDigests {
  readonly sha256: Hash = createHash("sha256");
  readonly gitSha1: Hash;
  constructor(size: number) {
    this.gitSha1 = createHash("sha1").update(`blob ${size}\0`);
  }
  update(b: Uint8Array): void {
    this.sha256.update(b);
    this.gitSha1.update(b);
  }
}

/** Digests of a `size`-byte file fed its first `length` bytes, read from `path`. */
async function hashExisting(path: string, length: number, size: number): Promise<FileDigests> {
  const digests = new FileDigests(size);
  if (length === 0) return digests;
  const f = await RandomAccessFile.open(path);
  try {
    for await (const chunk of f.stream(0, length, 1 << 20)) digests.update(chunk);
  } finally {
    f.close();
  }
  return digests;
}

/** Checks digests: whether they match, the sha256, and the digest compared. */
function matches(p: PlannedFile, d: FileDigests): { ok: boolean; sha256: string; got: string } {
  const sha256 = d.sha256.digest("hex");
  const got = p.expected.kind === "sha256" ? sha256 : d.gitSha1.digest("hex");
  return { ok: got === p.expected.hex, sha256, got };
}

interface FileContext {
  readonly repo: string;
  readonly commit: string;
  readonly hubUrl: string;
  readonly token: string | undefined;
  readonly modelDir: string;
  readonly progress: boolean;
}

/** Downloads (or reuses, or resumes) one file; returns its sha256. */
async function fetchFile(ctx: FileContext, p: PlannedFile): Promise<string> {
  const finalPath = `${ctx.modelDir}/${p.path}`;
  const partPath = `${finalPath}.part`;
  const what = `${ctx.repo}@${ctx.commit.slice(0, 12)}: ${p.path}`;

  if ((await sizeOf(finalPath)) === p.size) {
    const m = matches(p, await hashExisting(finalPath, p.size, p.size));
    if (m.ok) return m.sha256;
  }
  await Deno.remove(finalPath).catch(() => {});

  for (let attempt = 0; attempt < 2; attempt++) {
    let have = (await sizeOf(partPath)) ?? 0;
    if (have > p.size) {
      await Deno.remove(partPath);
      have = 0;
    }
    const d = await hashExisting(partPath, have, p.size);

    if (have < p.size) {
      const flags = { rangeIgnored: false };
      try {
        await transfer(ctx, p, partPath, have, d, flags);
      } catch (e) {
        if (flags.rangeIgnored && attempt === 0) {
          await Deno.remove(partPath).catch(() => {});
          continue; // start again from zero
        }
        throw hubError(e, what, ctx.repo, ctx.token !== undefined);
      }
    }
    const m = matches(p, d);
    if (!m.ok) {
      await Deno.remove(partPath).catch(() => {});
      const label = p.expected.kind === "sha256" ? "LFS sha256" : "git blob sha1";
      throw new DownloadError(
        `${what}: content does not match the Hub's ${label} (expected ${p.expected.hex}, got ${m.got}); the corrupt download was removed`,
      );
    }
    const moving = `${finalPath}: cannot move the download into place`;
    await rethrowAs(OutputError, moving, Deno.rename(partPath, finalPath));
    return m.sha256;
  }
  throw new DownloadError(`${what}: the server ignored Range requests twice`);
}

/** Streams bytes [have, size) of a file into `partPath` (appending). */
async function transfer(
  ctx: FileContext,
  p: PlannedFile,
  partPath: string,
  have: number,
  d: FileDigests,
  flags: { rangeIgnored: boolean },
): Promise<void> {
  const fetchFn = guardedFetch(flags);
  const blob = await hfHub.downloadFile({
    repo: ctx.repo,
    path: p.path,
    revision: ctx.commit,
    hubUrl: ctx.hubUrl,
    fetch: fetchFn,
    xet: false,
    ...(ctx.token !== undefined && { accessToken: ctx.token }),
  });
  if (!blob) {
    const where = `${ctx.repo}@${ctx.commit.slice(0, 12)}`;
    throw new DownloadError(
      `${where}: ${p.path} is listed but the Hub has no such file (HTTP 404)`,
    );
  }
  if (blob.size !== p.size) {
    throw new DownloadError(
      `${ctx.repo}: ${p.path} is ${blob.size} bytes on the server but the listing says ${p.size}`,
    );
  }
  await Deno.mkdir(dirname(partPath), { recursive: true });
  const bar = ctx.progress
    ? $.progress(p.path, { length: p.size }).kind("bytes").position(have)
    : undefined;
  const file = await Deno.open(partPath, { write: true, create: true, append: true });
  let received = have;
  try {
    const stream = (have > 0 ? blob.slice(have) : blob).stream();
    for await (const chunk of stream) {
      const bytes = chunk as Uint8Array;
      if (received + bytes.length > p.size) {
        throw new DownloadError(
          `${ctx.repo}: ${p.path}: the server sent more than ${p.size} bytes`,
        );
      }
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      d.update(bytes);
      received += bytes.length;
      bar?.position(received);
    }
  } catch (e) {
    if (e instanceof DownloadError || e instanceof RangeIgnored) throw e;
    // The stream of the hub library reports errors as plain strings.
    const msg = e instanceof Error ? e.message : String(e);
    throw new DownloadError(
      `${ctx.repo}: ${p.path}: transfer interrupted after ${received} of ${p.size} bytes (${msg}); run again to resume`,
      { cause: e },
    );
  } finally {
    file.close();
    bar?.finish();
  }
  if (received !== p.size) {
    throw new DownloadError(
      `${ctx.repo}: ${p.path}: transfer ended after ${received} of ${p.size} bytes; run again to resume`,
    );
  }
}

/**
 * Downloads config.json, the tokenizer files and the safetensors weights of a
 * Hub model repository (see the module comment). Failures are
 * {@link DownloadError}s (exit 20) that name the repository and the file.
 *
 * @example
 * ```ts
 * const { modelDir } = await downloadFromHub({ repo: "me/tiny-bitnet", cacheDir: "models/hub" });
 * ```
 */
export async function downloadFromHub(options: HubDownloadOptions): Promise<HubDownloadResult> {
  const repo = options.repo;
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(repo) || repo.includes("..")) {
    throw new UsageError(`--hf-repo must be OWNER/NAME, got "${repo}"`);
  }
  const hubUrl = (options.hubUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, "");
  const revision = options.revision ?? "main";
  const token = options.token ?? undefined;
  if (token !== undefined && !token.startsWith("hf_")) {
    throw new UsageError("the Hub token (HF_TOKEN) must start with hf_");
  }
  const auth = token !== undefined ? { accessToken: token } : {};
  const progress = options.progress ?? Deno.stderr.isTerminal();
  await ensureNetPermission(new URL(hubUrl).host);

  const hub = { hubUrl, fetch: guardedFetch({ rangeIgnored: false }), ...auth };
  let commit: string;
  try {
    const info = await hfHub.modelInfo({ ...hub, name: repo, revision, additionalFields: ["sha"] });
    commit = String(info.sha ?? "");
  } catch (e) {
    throw hubError(e, `${repo} (revision ${revision})`, repo, token !== undefined);
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    throw new DownloadError(
      `${repo}: the Hub did not resolve revision ${revision} to a commit (got "${commit}")`,
    );
  }

  let entries: HubTreeEntry[];
  try {
    entries = await Array.fromAsync(hfHub.listFiles({ ...hub, repo, revision: commit }));
  } catch (e) {
    throw hubError(e, `${repo}@${commit.slice(0, 12)}: listing files`, repo, token !== undefined);
  }

  const modelDir = `${options.cacheDir}/${repo.replace("/", "--")}/${commit}`;
  const what = `${modelDir}: cannot create the download folder`;
  await rethrowAs(OutputError, what, Deno.mkdir(modelDir, { recursive: true }));
  const ctx: FileContext = { repo, commit, hubUrl, token, modelDir, progress };
  const files: HubDownloadedFile[] = [];
  const get = async (p: PlannedFile) => {
    files.push({ path: p.path, sha256: await fetchFile(ctx, p), size: p.size });
  };

  for (const p of planMetadataFiles(repo, entries)) await get(p);
  const indexText = files.some((f) => f.path === SHARD_INDEX_NAME)
    ? await Deno.readTextFile(`${modelDir}/${SHARD_INDEX_NAME}`)
    : undefined;
  for (const p of planWeightFiles(repo, entries, indexText)) await get(p);
  return { modelDir, commit, files };
}

/** What the command line says about the checkpoint. */
export interface ModelSourceRequest {
  /** Local checkpoint folder (ignored with `hfRepo`). */
  readonly modelDir?: string | undefined;
  /** Download from the Hub instead. */
  readonly hfRepo?: string | undefined;
  readonly revision?: string | undefined;
  /** Download cache (default models/hub). */
  readonly cacheDir?: string | undefined;
  readonly hubUrl?: string | undefined;
  /** The Hub access token (HF_TOKEN, read by the task). */
  readonly token?: string | undefined;
  /** No progress bars. */
  readonly quiet?: boolean;
}

/** The resolved checkpoint. */
export interface ModelSource {
  modelDir: string;
  /** Hub repo, revision and commit, for meta.json; undefined for a local folder. */
  origin: Record<string, unknown> | undefined;
  /**
   * The sha256 of each downloaded file, computed while it was checked against
   * the Hub in this run, by absolute path: the export reuses them instead of
   * reading the files again. Undefined for a local folder.
   */
  verifiedSha256?: Record<string, string>;
}

/** Refuses a model folder that is missing or is not a folder, naming it. */
async function assertModelFolder(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new InputError(`${dir}: model folder ${why}`, { cause: e });
  }
  if (!info.isDirectory) {
    throw new InputError(
      `${dir}: not a folder (the model folder holds config.json and *.safetensors)`,
    );
  }
}

/**
 * Resolves the checkpoint, downloading it when `hfRepo` is given.
 *
 * @example
 * ```ts
 * const src = await resolveModelSource({ hfRepo: "me/tiny", cacheDir: "models/hub" });
 * src.origin; // { hf_repo: "me/tiny", revision: "main", commit: "…" }
 * ```
 */
export async function resolveModelSource(req: ModelSourceRequest): Promise<ModelSource> {
  if (req.hfRepo === undefined) {
    const modelDir = req.modelDir ?? "fixtures/tiny-bitnet";
    await assertModelFolder(modelDir);
    return { modelDir, origin: undefined };
  }
  const revision = req.revision ?? "main";
  const hub = await downloadFromHub({
    repo: req.hfRepo,
    revision,
    cacheDir: req.cacheDir ?? "models/hub",
    token: req.token ?? null,
    ...(req.hubUrl ? { hubUrl: req.hubUrl } : {}),
    progress: !req.quiet && Deno.stderr.isTerminal(),
  });
  return {
    modelDir: hub.modelDir,
    origin: { hf_repo: req.hfRepo, revision, commit: hub.commit },
    verifiedSha256: Object.fromEntries(
      hub.files.map((f) => [resolve(join(hub.modelDir, f.path)), f.sha256]),
    ),
  };
}
