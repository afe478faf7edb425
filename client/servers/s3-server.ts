// A throwaway S3-compatible server for tests: the Versity S3 Gateway (`versitygw`, Apache-2.0)
// with its posix backend, built by scripts/setup.mjs with `go install`. Buckets are directories
// under a temp dir; it listens on 127.0.0.1 only and dies with this process (spawnServer).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, isAlive, killPid, portAnswers, sleep, spawnServer, stopPid, tailFile, tempDir } from './ports.js';

/** A running S3 server with one root user. */
export interface S3Server {
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The posix backend's top directory: one sub-directory per bucket. */
  root: string;
  logFile: string;
  pid: number;
  /** A client for the tests themselves. */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

// seaotter supports Node 20 with the SDK version it locks; the SDK's notice about its future
// releases would only clutter worker logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Path of `versitygw`: $SEAOTTER_VERSITYGW_BIN, then where scripts/setup.mjs builds it, then PATH. */
export function resolveVersitygwBin(): string {
  const cache = process.env.SEAOTTER_CACHE ?? path.join(os.homedir(), '.cache', 'seaotter');
  const candidates = [
    process.env.SEAOTTER_VERSITYGW_BIN,
    path.join(cache, 'bin', 'versitygw'),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'versitygw')),
  ];
  for (const candidate of candidates) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('the S3 test server (`versitygw`) was not found; run `node scripts/setup.mjs --for-tests` to build it');
}

/** Starts versitygw on a free port over a fresh directory and waits until it answers. */
export async function startS3Server(opts: { dir?: string } = {}): Promise<S3Server> {
  const bin = resolveVersitygwBin();
  const dir = opts.dir ?? tempDir('seaotter-s3-');
  const root = path.join(dir, 'buckets');
  fs.mkdirSync(root, { recursive: true });
  const port = await freePort();
  const logFile = path.join(dir, 's3.log');
  const accessKey = `seaotter${randomBytes(4).toString('hex')}`;
  const secretKey = randomBytes(18).toString('base64url');
  const region = 'us-east-1';
  // Keys go through the environment, not argv, so `ps` does not show them.
  const env = { ...process.env, ROOT_ACCESS_KEY_ID: accessKey, ROOT_SECRET_ACCESS_KEY: secretKey };
  // --keep-alive: without it every answer says `Connection: close`, and each request pays a new
  // connection (AWS S3 and most S3 servers keep them open; across a slow link that matters).
  const child = spawnServer(bin, ['--port', `127.0.0.1:${port}`, '--region', region, '--keep-alive', '--quiet', 'posix', root], { logFile, env });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`versitygw did not start: see ${logFile}`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await portAnswers('127.0.0.1', port))) {
    if (!isAlive(pid)) throw new Error(`versitygw exited at start:\n${tailFile(logFile)}`);
    if (Date.now() > deadline) {
      await killPid(pid);
      throw new Error(`versitygw did not answer on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms:\n${tailFile(logFile)}`);
    }
    await sleep(100);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
  return {
    endpoint,
    port,
    accessKey,
    secretKey,
    region,
    root,
    logFile,
    pid,
    client,
    async createBucket(name) {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    stop: () => stopPid(pid, 10_000),
  };
}
