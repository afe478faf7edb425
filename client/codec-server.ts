/**
 * The codec endpoint of the Temporal Web UI and the `temporal` CLI (`--codec-endpoint`): POST
 * …/encode and …/decode with `{"payloads": [...]}` as protobuf JSON (metadata values and data in
 * base64), answered with the same shape. Only the last path segment counts, as the protocol asks.
 * The browser calls it from the UI's origin, so that origin gets CORS headers (`X-Namespace` is
 * allowed and ignored: one key serves every namespace). It listens on 127.0.0.1 only: whoever
 * can reach it can read every payload.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { codecFromEnv, KEY_ENV } from './codec.js';
import { UserError } from './errors.js';

/** The Web UI of `temporal server start-dev` / `seaotter dev up`, by either name of the host. */
export const DEFAULT_UI_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Options of {@link startCodecServer}. */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** 0 picks a free port. */
  port: number;
  /** Origins allowed to call from a browser. */
  uiOrigins: string[];
}

/** A running codec server. */
export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

class BadRequest extends Error {}

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const server = http.createServer((req, res) => {
    handle(opts, req, res).catch((err: Error) => {
      const status = err instanceof BadRequest ? 400 : 500;
      if (status === 500) console.error(`codec server: ${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) send(res, status, { error: err.message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(opts: CodecServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Browsers enforce CORS on reading the answer, not on sending a "simple" request: refuse outright.
    if (!opts.uiOrigins.includes(origin)) return send(res, 403, { error: `origin ${origin} is not allowed (seaotter codec-server --ui-origin)` });
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
  }
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('Access-Control-Max-Age', '600');
    res.writeHead(204).end();
    return;
  }
  const action = new URL(req.url ?? '/', 'http://codec').pathname.split('/').pop();
  if (req.method !== 'POST' || (action !== 'encode' && action !== 'decode')) return send(res, 404, { error: 'POST …/encode or …/decode' });
  const payloads = parseBody(await readBody(req));
  const out = action === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
  send(res, 200, { payloads: out.map(toJson) });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): Payload[] {
  let body: { payloads?: unknown };
  try {
    body = JSON.parse(text) as { payloads?: unknown };
  } catch (err) {
    throw new BadRequest(`request body is not JSON: ${(err as Error).message}`);
  }
  // Protobuf JSON leaves an empty list out: `{}` is zero payloads (the temporal CLI sends it for a query without arguments).
  const payloads = body && typeof body === 'object' ? (body.payloads ?? []) : undefined;
  if (!Array.isArray(payloads)) throw new BadRequest('request body must be {"payloads": [...]}');
  return (payloads as JsonPayload[]).map(fromJson);
}

function fromJson(payload: JsonPayload): Payload {
  const { metadata, data } = (payload ?? {}) as JsonPayload;
  const valid =
    typeof payload === 'object' && payload !== null &&
    (data === undefined || typeof data === 'string') &&
    (metadata === undefined || (typeof metadata === 'object' && metadata !== null && Object.values(metadata).every((v) => typeof v === 'string')));
  if (!valid) throw new BadRequest('each payload must be {"metadata": {name: base64}, "data": base64}');
  return {
    metadata: metadata ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])) : undefined,
    data: data ? Buffer.from(data, 'base64') : undefined,
  };
}

function toJson({ metadata, data }: Payload): JsonPayload {
  return {
    metadata: metadata ? Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) : undefined,
    data: data ? Buffer.from(data).toString('base64') : undefined,
  };
}

/** `seaotter codec-server`: serves until SIGINT/SIGTERM with the keys from the environment. */
export async function runCodecServer(opts: { port: number; uiOrigins: string[] }): Promise<void> {
  const codec = codecFromEnv();
  if (!codec) throw new UserError(`${KEY_ENV} is not set: the codec server needs the key the workers use`);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new UserError(`--port must be a port number, not ${opts.port}`);
  const uiOrigins = opts.uiOrigins.length ? opts.uiOrigins : DEFAULT_UI_ORIGINS;
  const server = await startCodecServer({ codec, port: opts.port, uiOrigins });
  console.log(`seaotter codec server at ${server.url} (key ids ${codec.keyIds.join(', ')}; browser origins allowed: ${uiOrigins.join(', ')})`);
  console.log(`Web UI: temporal server start-dev --ui-codec-endpoint ${server.url}`);
  console.log(`        or, in the Web UI, the Data Encoder settings ("Codec Server" endpoint): ${server.url}`);
  console.log(`temporal CLI: temporal workflow show --workflow-id … --codec-endpoint ${server.url}`);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
  });
  await server.close();
}
