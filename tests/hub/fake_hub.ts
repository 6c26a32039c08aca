/**
 * A local stand-in for the Hugging Face Hub (Deno.serve on 127.0.0.1, port 0)
 * serving the endpoints @huggingface/hub 2.17.5 calls, with the Hub's headers:
 *
 * - GET /api/models/{owner}/{name}/revision/{rev}  → model info JSON with `sha`
 * - GET /api/models/{owner}/{name}/tree/{rev}      → [{ type, path, size, oid, lfs? }]
 * - GET /{owner}/{name}/resolve/{rev}/{path}       → the file, honouring Range;
 *   LFS files answer 302 to /cdn/{owner}/{name}/{sha256} like the real Hub sends to its CDN
 *   (X-Linked-Etag / X-Linked-Size / X-Repo-Commit on the 302), small files
 *   answer directly with ETag = git blob sha1; a missing path is 404 with
 *   X-Error-Code: EntryNotFound.
 *
 * Faults for tests: a private repo (401 without the right token), a corrupted
 * file (served bytes differ from the advertised oid), a listed-but-missing
 * file, a connection cut after N bytes, and a server that ignores Range.
 *
 * @example
 * ```ts
 * const hub = startFakeHub([{ name: "tiny/bitnet", files: { "config.json": bytes } }]);
 * // ... downloadFromHub({ repo: "tiny/bitnet", hubUrl: hub.url, cacheDir, token: null })
 * await hub.close();
 * ```
 * @module
 */

import { createHash } from "node:crypto";

/** Files kept in LFS (as on the Hub: weights). */
const isLfs = (path: string) => path.endsWith(".safetensors");

/** A repository served by the fake Hub. */
export interface FakeRepo {
  /** "owner/name". */
  name: string;
  files: Record<string, Uint8Array>;
  /** 40-hex commit; "main" resolves to it. */
  commit?: string;
  /** Token required (401 otherwise). */
  token?: string;
  /** Served bytes for these paths have one byte flipped (the listing keeps the true oid). */
  corrupt?: string[];
  /** Listed in the tree but 404 on resolve. */
  missing?: string[];
  /** Cut the connection after this many body bytes (once per path, then serve normally). */
  cutAfter?: Record<string, number>;
  /** Answer ranged requests with the whole file (200). */
  ignoreRange?: boolean;
}

/** One request the fake Hub saw. */
export interface SeenRequest {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
  status: number;
}

/** A running fake Hub. */
export interface FakeHub {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

const hex = (algo: string, ...parts: (string | Uint8Array)[]) => {
  const h = createHash(algo);
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** Serves `bytes` honouring a Range header; optionally cuts the body after `cut` bytes. */
function serveBytes(
  req: Request,
  bytes: Uint8Array,
  headers: Record<string, string>,
  ignoreRange: boolean,
  cut: number | undefined,
): Response {
  const range = req.headers.get("Range");
  let start = 0, end = bytes.length - 1, status = 200;
  const m = range && !ignoreRange ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), bytes.length - 1) : bytes.length - 1;
    if (start >= bytes.length) {
      return new Response(null, {
        status: 416,
        headers: { "Content-Range": `bytes */${bytes.length}` },
      });
    }
    status = 206;
    headers = { ...headers, "Content-Range": `bytes ${start}-${end}/${bytes.length}` };
  }
  const body = bytes.slice(start, end + 1);
  headers = { ...headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream" };
  if (cut === undefined || cut >= body.length) {
    return new Response(body, {
      status,
      headers: { ...headers, "Content-Length": String(body.length) },
    });
  }
  // Send `cut` bytes, then fail the stream: the client sees a broken transfer.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(body.slice(0, cut));
    },
    pull(controller) {
      controller.close(); // fewer bytes than Content-Length: the client sees a broken body
    },
  });
  return new Response(stream, {
    status,
    headers: { ...headers, "Content-Length": String(body.length) },
  });
}

/**
 * Starts the fake Hub.
 *
 * @example
 * ```ts
 * const hub = startFakeHub([{ name: "a/b", files: {} }]);
 * await hub.close();
 * ```
 */
export function startFakeHub(
  repos: FakeRepo[],
  options: { cdnHostname?: string } = {},
): FakeHub {
  const byName = new Map(repos.map((r) => [r.name, r]));
  const commitOf = (r: FakeRepo) => r.commit ?? hex("sha1", r.name).slice(0, 40);
  const blobs = new Map<string, { repo: FakeRepo; path: string }>(); // "owner/name/sha256" → file
  for (const r of repos) {
    for (const [path, bytes] of Object.entries(r.files)) {
      if (isLfs(path)) blobs.set(`${r.name}/${hex("sha256", bytes)}`, { repo: r, path });
    }
  }
  const cuts = new Set<string>();
  // Another host name for the same server stands for the Hub's CDN host.
  const cdnOrigin = (url: URL) =>
    options.cdnHostname ? `${url.protocol}//${options.cdnHostname}:${url.port}` : url.origin;
  const requests: SeenRequest[] = [];

  const authorized = (r: FakeRepo, req: Request) =>
    r.token === undefined || req.headers.get("Authorization") === `Bearer ${r.token}`;
  const unauthorized = () =>
    json({ error: "Invalid username or password." }, 401, { "X-Error-Code": "RepoNotFound" });

  function served(r: FakeRepo, path: string): Uint8Array {
    const bytes = r.files[path]!;
    if (!r.corrupt?.includes(path)) return bytes;
    const bad = bytes.slice();
    bad[Math.floor(bad.length / 2)] = bad[Math.floor(bad.length / 2)]! ^ 0x01;
    return bad;
  }

  function fileResponse(
    req: Request,
    r: FakeRepo,
    path: string,
    headers: Record<string, string>,
  ): Response {
    // The hub library probes with "bytes=0-0" first: always answer that one properly.
    const isProbe = req.headers.get("Range") === "bytes=0-0";
    const key = `${r.name}/${path}`;
    let cut: number | undefined;
    if (!isProbe && r.cutAfter?.[path] !== undefined && !cuts.has(key)) {
      cut = r.cutAfter[path];
      cuts.add(key);
    }
    return serveBytes(req, served(r, path), headers, !isProbe && r.ignoreRange === true, cut);
  }

  function handle(req: Request): Response {
    const url = new URL(req.url);
    const p = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(p);
    if (m) {
      const r = byName.get(m[1]!);
      if (!r) {
        return json({ error: "Repository not found" }, 404, { "X-Error-Code": "RepoNotFound" });
      }
      if (!authorized(r, req)) return unauthorized();
      if (m[2] !== "main" && m[2] !== "HEAD" && m[2] !== commitOf(r)) {
        return json({ error: `Invalid rev id: ${m[2]}` }, 404, {
          "X-Error-Code": "RevisionNotFound",
        });
      }
      return json({
        _id: "0".repeat(24),
        id: r.name,
        private: r.token !== undefined,
        pipeline_tag: "text-generation",
        gated: false,
        downloads: 0,
        likes: 0,
        lastModified: "2025-01-01T00:00:00.000Z",
        sha: commitOf(r),
      });
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(p);
    if (m) {
      const r = byName.get(m[1]!);
      if (!r) {
        return json({ error: "Repository not found" }, 404, { "X-Error-Code": "RepoNotFound" });
      }
      if (!authorized(r, req)) return unauthorized();
      if (m[2] !== commitOf(r) && m[2] !== "main") {
        return json({ error: "Invalid rev id" }, 404, { "X-Error-Code": "RevisionNotFound" });
      }
      return json(
        Object.entries(r.files).map(([path, bytes]) => {
          const oid = hex("sha1", `blob ${bytes.length}\0`, bytes);
          return isLfs(path)
            ? {
              type: "file",
              oid: hex("sha1", `version https://git-lfs.github.com/spec/v1\n`),
              size: bytes.length,
              path,
              lfs: { oid: hex("sha256", bytes), size: bytes.length, pointerSize: 134 },
            }
            : { type: "file", oid, size: bytes.length, path };
        }),
      );
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m) {
      const r = byName.get(m[1]!);
      if (!r) {
        return json({ error: "Repository not found" }, 404, { "X-Error-Code": "RepoNotFound" });
      }
      if (!authorized(r, req)) return unauthorized();
      const path = m[3]!;
      const bytes = r.files[path];
      if (bytes === undefined || r.missing?.includes(path)) {
        return json({ error: "Entry not found" }, 404, { "X-Error-Code": "EntryNotFound" });
      }
      const common = { "X-Repo-Commit": commitOf(r) };
      if (isLfs(path)) {
        const sha = hex("sha256", bytes);
        return new Response(null, {
          status: 302,
          headers: {
            ...common,
            Location: `${cdnOrigin(url)}/cdn/${r.name}/${sha}?expires=never`,
            "X-Linked-Etag": `"${sha}"`,
            "X-Linked-Size": String(bytes.length),
            ETag: `"${hex("sha1", "pointer", bytes)}"`,
          },
        });
      }
      return fileResponse(req, r, path, {
        ...common,
        ETag: `"${hex("sha1", `blob ${bytes.length}\0`, bytes)}"`,
      });
    }
    m = /^\/cdn\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(p);
    if (m) {
      const blob = blobs.get(`${m[1]}/${m[2]}`);
      if (!blob) return new Response("NoSuchKey", { status: 404 });
      return fileResponse(req, blob.repo, blob.path, { ETag: `"${m[2]}"` });
    }
    return json({ error: "not found" }, 404);
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const resp = handle(req);
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      range: req.headers.get("Range"),
      authorization: req.headers.get("Authorization"),
      status: resp.status,
    });
    return resp;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}
