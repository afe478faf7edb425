// The Temporal dev server (`temporal server start-dev`): throwaway ones for tests, and the
// long-lived one behind `seaotter dev up` / `dev down`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort, isAlive, killPid, portAnswers, sleep, spawnServer, stopPid, tailFile, tempDir } from './ports.js';
import { ensureSearchAttributes, searchAttributeFlags } from './search-attributes.js';
import { UserError } from '../errors.js';

/** Options for {@link startTemporalDev}; ports are free ones unless given. */
export interface StartTemporalDevOptions {
  port?: number;
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFile?: string;
  /** Namespace to create besides `default`, with seaotter's search attributes. */
  namespace?: string;
  logFile?: string;
  headless?: boolean;
  /** Codec server URL for the Web UI, so it can show encrypted payloads. */
  uiCodecEndpoint?: string;
}

/** A running dev server. */
export interface TemporalDevServer {
  address: string;
  uiUrl: string;
  port: number;
  uiPort: number;
  dbFile?: string;
  logFile: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 30 s. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts again with the same ports and db file (after stop or kill). */
  restart(): Promise<void>;
}

/** What `seaotter dev up` reports. */
export interface DevUpResult {
  address: string;
  uiUrl: string;
  pid: number;
  alreadyRunning: boolean;
}

const READY_TIMEOUT_MS = 60_000;
const DEV_PORT = 7233;
const DEV_UI_PORT = 8233;

/**
 * Path of the `temporal` CLI: $SEAOTTER_TEMPORAL_BIN, then where scripts/setup.mjs builds it,
 * then an older build location, then PATH.
 */
export function resolveTemporalBin(): string {
  const cache = process.env.SEAOTTER_CACHE ?? path.join(os.homedir(), '.cache', 'seaotter');
  const candidates = [
    process.env.SEAOTTER_TEMPORAL_BIN,
    path.join(cache, 'bin', 'temporal'),
    '/root/.cache/seaotter/gobin/temporal',
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'temporal')),
  ];
  for (const candidate of candidates) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('the Temporal CLI (`temporal`) was not found; run `node scripts/setup.mjs` to build it');
}

/** Starts a dev server on free (or given) ports and waits until its frontend answers. */
export async function startTemporalDev(opts: StartTemporalDevOptions = {}): Promise<TemporalDevServer> {
  const bin = resolveTemporalBin();
  const logFile = opts.logFile ?? path.join(tempDir('seaotter-temporal-'), 'temporal.log');
  const launch = async (port: number, uiPort: number) => {
    const child = spawnServer(bin, startDevArgs({ ...opts, port, uiPort }), { logFile });
    const pid = child.pid!;
    await waitReady(`127.0.0.1:${port}`, () => !isAlive(pid), logFile);
    return pid;
  };
  // A free port can be taken between the check and the server's bind (the server's own internal
  // services pick ports too): with ports of our choosing, try again on new ones.
  let port = 0;
  let uiPort = 0;
  let pid = 0;
  for (let attempt = 1; ; attempt++) {
    port = opts.port ?? (await freePort());
    uiPort = opts.uiPort ?? (await freePort());
    const logStart = fileSize(logFile);
    try {
      pid = await launch(port, uiPort);
      break;
    } catch (err) {
      const ours = opts.port === undefined && opts.uiPort === undefined;
      if (!ours || attempt >= PORT_ATTEMPTS || !logSince(logFile, logStart).includes('address already in use')) throw err;
    }
  }
  const server: TemporalDevServer = {
    address: `127.0.0.1:${port}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    port,
    uiPort,
    dbFile: opts.dbFile,
    logFile,
    pid,
    stop: () => stopPid(server.pid, 30_000),
    kill: () => killPid(server.pid),
    async restart() {
      if (isAlive(server.pid)) await stopPid(server.pid, 30_000);
      server.pid = await launch(server.port, server.uiPort);
    },
  };
  await ensureSearchAttributes(server.address, opts.namespace ?? 'default');
  return server;
}

const PORT_ATTEMPTS = 3;

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** What was written to file after byte `from`. */
function logSince(file: string, from: number): string {
  try {
    return fs.readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * `seaotter dev up`: a dev server on the fixed ports 7233/8233 that outlives the CLI, with its
 * state in `<dir>/temporal.db`. Idempotent: a server already started from dir is reported.
 */
export async function devUp(opts: { dir?: string } = {}): Promise<DevUpResult> {
  const dir = path.resolve(opts.dir ?? path.join('.seaotter', 'dev'));
  fs.mkdirSync(dir, { recursive: true });
  const address = `127.0.0.1:${DEV_PORT}`;
  const uiUrl = `http://127.0.0.1:${DEV_UI_PORT}`;
  const pidFile = path.join(dir, 'temporal.pid');
  const logFile = path.join(dir, 'temporal.log');

  const previous = readPid(pidFile);
  if (previous !== undefined && isTemporalProcess(previous)) {
    if (await portAnswers('127.0.0.1', DEV_PORT)) {
      await ensureSearchAttributes(address);
      return { address, uiUrl, pid: previous, alreadyRunning: true };
    }
    await stopPid(previous, 10_000); // alive but not serving: wedged, start afresh
  }
  if (await portAnswers('127.0.0.1', DEV_PORT)) {
    throw new UserError(`something else already listens on ${address}, the port dev up uses; stop it, or if it is a Temporal server, use it without dev up: TEMPORAL_ADDRESS=${address}`);
  }

  const args = startDevArgs({ port: DEV_PORT, uiPort: DEV_UI_PORT, dbFile: path.join(dir, 'temporal.db') });
  const child = spawnServer(resolveTemporalBin(), args, { logFile, cwd: dir, detached: true });
  const pid = child.pid!;
  fs.writeFileSync(pidFile, `${pid}\n`);
  await waitReady(address, () => !isAlive(pid), logFile);
  await ensureSearchAttributes(address);
  return { address, uiUrl, pid, alreadyRunning: false };
}

/** `seaotter dev down`: stops what {@link devUp} started from dir; reports the PID it stopped. */
export async function devDown(opts: { dir?: string } = {}): Promise<{ stopped: boolean; pid?: number }> {
  const dir = path.resolve(opts.dir ?? path.join('.seaotter', 'dev'));
  const pidFile = path.join(dir, 'temporal.pid');
  const pid = readPid(pidFile);
  let stopped = false;
  // The PID may have been reused since; only a `temporal` process is ours to stop.
  if (pid !== undefined && isTemporalProcess(pid)) {
    await stopPid(pid, 30_000);
    stopped = true;
  }
  fs.rmSync(pidFile, { force: true });
  return { stopped, pid };
}

function startDevArgs(opts: StartTemporalDevOptions & { port: number; uiPort: number }): string[] {
  return [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...(opts.headless ? ['--headless'] : []),
    ...(opts.namespace && opts.namespace !== 'default' ? ['--namespace', opts.namespace] : []),
    ...(opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...searchAttributeFlags(),
    // Eager activity execution: a worker that completes a workflow task gets the activities it
    // scheduled on its own queue straight back, saving a server round trip per activity.
    '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
    // The dev server has one history shard, and each shard reads its transfer queue (workflow
    // tasks to dispatch, children to start, parents to notify) at most 20 times a second by
    // default: every such hop then waits up to 50 ms, two or three hops per batch. Measured on
    // single-row batches: p50 71 ms → 34 ms from source commit to the row on the target.
    '--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000',
    // One partition per task queue instead of four: a new batch workflow's first task then never
    // waits to be forwarded between partitions to the one a worker polls. seaotter's queues carry
    // tens of tasks a second, far below what one partition serves. Measured under the bench's
    // sysbench load, three runs each: lag p99 0.89–1.06 s, against 1.21–1.28 s with four.
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    '--log-level', 'warn',
  ];
}

/** Waits until the frontend answers GetSystemInfo; fails fast, with the log's tail, if the server dies. */
async function waitReady(address: string, died: () => boolean, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (died()) throw new Error(`Temporal dev server on ${address} exited; log ${logFile}:\n${tailFile(logFile)}`);
    const [host, port] = address.split(':');
    if (await portAnswers(host!, Number(port))) {
      const connection = await Connection.connect({ address, connectTimeout: 2000 }).catch((err: Error) => err);
      if (connection instanceof Connection) {
        try {
          await connection.withDeadline(Date.now() + 5000, () => connection.workflowService.getSystemInfo({}));
          return;
        } catch (err) {
          lastError = (err as Error).message;
        } finally {
          await connection.close();
        }
      } else {
        lastError = connection.message;
      }
    }
    await sleep(200);
  }
  throw new Error(`Temporal dev server on ${address} not ready within ${READY_TIMEOUT_MS / 1000} s (${lastError}); log ${logFile}:\n${tailFile(logFile)}`);
}

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isTemporalProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('start-dev');
  } catch {
    return false;
  }
}

/** The version line of the resolved `temporal` CLI, for diagnostics. */
export function temporalVersion(): string {
  return execFileSync(resolveTemporalBin(), ['--version'], { encoding: 'utf8' }).trim();
}
