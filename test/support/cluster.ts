/**
 * A whole seaotter installation for one integration test: a Temporal dev server, a source and a
 * target MariaDB, worker processes (real ones, so they can be killed with -9) and the CLI.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Connection as SqlConnection } from 'mysql2/promise';
import { dataConverterFromEnv } from '../../client/codec.js';
import { formatStatus, listPipelines, pipelineStatus } from '../../client/pipeline-commands.js';
import { pipelineWorkflowId } from '../../lib/spec.js';
import { startMariadb, type MariadbServer } from '../../client/servers/mariadb.js';
import { isAlive, killPid, stopPid } from '../../client/servers/ports.js';
import { runSeaotter, spawnSeaotterWorker, type CliResult } from '../../client/servers/seaotter-process.js';
import { startTemporalDev, type TemporalDevServer } from '../../client/servers/temporal-dev.js';

export interface ClusterOptions {
  name: string;
  /** Keep Temporal's state in a file, so the server can be restarted. */
  temporalDb?: boolean;
  /** SEAOTTER_CODEC_KEY for workers, the CLI and the cluster's own client (default: this process's). */
  codecKey?: string;
  /** More server options for the source (e.g. `--lower-case-table-names=1`). */
  sourceArgs?: string[];
}

export interface WorkerProcess {
  pid: number;
  logFile: string;
}

export type { CliResult };

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly temporal: TemporalDevServer,
    readonly source: MariadbServer,
    readonly target: MariadbServer,
    readonly client: Client,
    private readonly connection: Connection,
    private readonly codecKey: string | undefined,
  ) {}

  workers: WorkerProcess[] = [];
  configPath = '';
  private workerCount = 0;

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `seaotter-${opts.name}-`));
    const started = await Promise.allSettled([
      startTemporalDev({ headless: true, dbFile: opts.temporalDb ? path.join(dir, 'temporal.db') : undefined, logFile: path.join(dir, 'temporal.log') }),
      startMariadb({ name: `${opts.name}-src`, serverId: 1, dir: path.join(dir, 'src'), ...(opts.sourceArgs ? { extraArgs: opts.sourceArgs } : {}) }),
      startMariadb({ name: `${opts.name}-dst`, serverId: 2, dir: path.join(dir, 'dst') }),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      // Stop what did start, so a failed set-up leaves nothing running.
      await Promise.allSettled(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
      throw (failed as PromiseRejectedResult).reason;
    }
    const [temporal, source, target] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [TemporalDevServer, MariadbServer, MariadbServer];
    const connection = await Connection.connect({ address: temporal.address });
    const dataConverter = dataConverterFromEnv(opts.codecKey ? { ...process.env, SEAOTTER_CODEC_KEY: opts.codecKey } : process.env);
    return new Cluster(dir, temporal, source, target, new Client({ connection, dataConverter }), connection, opts.codecKey);
  }

  /** Environment for the CLI and workers: Temporal's address, the passwords the config names, the codec key. */
  env(): NodeJS.ProcessEnv {
    const codec = this.codecKey ? { SEAOTTER_CODEC_KEY: this.codecKey } : {};
    return { ...process.env, TEMPORAL_ADDRESS: this.temporal.address, SRC_PW: this.source.password, DST_PW: this.target.password, ...codec };
  }

  /** Writes the config file for one pipeline `id` mapping the given tables one to one. */
  async writeConfig(text: string): Promise<string> {
    this.configPath = path.join(this.dir, 'seaotter.yaml');
    await writeFile(this.configPath, text);
    return this.configPath;
  }

  dataSourcesYaml(): string {
    return [
      'dataSources:',
      `  src: { type: mariadb, host: 127.0.0.1, port: ${this.source.port}, user: seaotter, passwordEnv: SRC_PW, datacenter: hz }`,
      `  dst: { type: mariadb, host: 127.0.0.1, port: ${this.target.port}, user: seaotter, passwordEnv: DST_PW, datacenter: hz }`,
      `stage: { type: local, dir: ${path.join(this.dir, 'stage')} }`,
    ].join('\n');
  }

  cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return runSeaotter(args, this.env(), timeoutMs);
  }

  /** Runs the CLI and fails the test with its output when it does not exit 0. */
  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`seaotter ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /**
   * Writes a config of this cluster's data sources plus `pipelinesYaml` (a `pipelines:` block),
   * starts a worker unless one runs, and applies it; returns what `pipeline apply` printed.
   */
  async runPipelines(pipelinesYaml: string): Promise<string> {
    await this.writeConfig(`${this.dataSourcesYaml()}\n${pipelinesYaml}`);
    if (this.workers.length === 0) this.startWorker();
    return this.cliOk(['pipeline', 'apply', '--config', this.configPath]);
  }

  /** Starts a worker; with `metricsPort` it serves Prometheus metrics there (see `scrapeMetrics`). */
  startWorker(dc = 'hz', opts: { metricsPort?: number; env?: NodeJS.ProcessEnv } = {}): WorkerProcess {
    const logFile = path.join(this.dir, `worker-${dc}-${++this.workerCount}.log`);
    const { env, ...rest } = opts;
    const w = spawnSeaotterWorker({ configPath: this.configPath, dc, env: { ...this.env(), ...env }, logFile, ...rest });
    this.workers.push(w);
    return w;
  }

  async killWorker(w: WorkerProcess): Promise<void> {
    await killPid(w.pid);
    this.workers = this.workers.filter((x) => x !== w);
  }

  async stopWorker(w: WorkerProcess): Promise<void> {
    await stopPid(w.pid, 20_000);
    this.workers = this.workers.filter((x) => x !== w);
  }

  /**
   * What a failed test needs to be understood from CI's output alone: each pipeline's status, the
   * pipeline workflow's pending activities, and the end of every worker's log, a line per record
   * (without the SDK's connection-retry warnings and the activity context every record repeats).
   */
  async postMortem(pipelines?: string[]): Promise<string> {
    const out: string[] = ['--- post-mortem ---'];
    const ids = pipelines ?? (await listPipelines(this.client).catch(() => []));
    for (const id of ids) {
      try {
        out.push(formatStatus(await pipelineStatus(this.client, id)));
      } catch (err) {
        out.push(`${id}: status failed: ${(err as Error).message}`);
      }
      try {
        const d = await this.client.workflow.getHandle(pipelineWorkflowId(id)).describe();
        for (const a of d.raw.pendingActivities ?? []) {
          const beat = a.lastHeartbeatTime?.seconds ? new Date(Number(a.lastHeartbeatTime.seconds) * 1000).toISOString() : '-';
          out.push(`  pending ${a.activityType?.name} attempt ${a.attempt} ${pendingState(a.state)} last heartbeat ${beat}${a.lastFailure?.message ? ` last failure: ${a.lastFailure.message}` : ''}`);
        }
      } catch (err) {
        out.push(`  describe failed: ${(err as Error).message}`);
      }
    }
    for (const w of this.workers) out.push(`worker pid ${w.pid} (${path.basename(w.logFile)}): ${isAlive(w.pid) ? 'running' : 'exited'}`);
    const logs = (await readdir(this.dir).catch(() => [] as string[])).filter((f) => /^worker-.*\.log$/.test(f)).sort();
    for (const f of logs) {
      const records = logRecords(await readFile(path.join(this.dir, f), 'utf8').catch(() => ''));
      out.push(`--- ${f}, last 30 of ${records.length} records ---`, ...records.slice(-30));
    }
    return out.join('\n');
  }

  /** Runs `fn`; when it fails, its error message gets the post-mortem (CI shows failures' messages). */
  async explainFailure<T>(fn: () => Promise<T>, pipelines?: string[]): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const pm = await this.postMortem(pipelines).catch((e) => `post-mortem failed: ${(e as Error).message}`);
      if (err instanceof Error) err.message += `\n${pm}`;
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const w of this.workers) if (isAlive(w.pid)) await killPid(w.pid);
    this.workers = [];
    await this.connection.close().catch(() => undefined);
    await Promise.allSettled([this.temporal.stop(), this.source.stop(), this.target.stop()]);
    // Data directories are hundreds of MB per test; SEAOTTER_KEEP_TMP=1 keeps them for a post-mortem.
    if (process.env.SEAOTTER_KEEP_TMP !== '1') await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A pending activity's state as words: PENDING_ACTIVITY_STATE_CANCEL_REQUESTED → cancel requested. */
function pendingState(state: number | null | undefined): string {
  const name = proto.temporal.api.enums.v1.PendingActivityState[state ?? 0] ?? `state ${state}`;
  return name.replace(/^PENDING_ACTIVITY_STATE_/, '').toLowerCase().replace(/_/g, ' ');
}

/** Context every activity log record repeats; left out of post-mortems. */
const REPEATED_KEYS = /^\s*(sdkComponent|taskQueue|isLocal|namespace|taskToken|activityId|workflowRunId|workflowType|workflowId|runId):/;

/** A worker log as one line per record: a multi-line record's fields are joined onto its first line. */
function logRecords(text: string): string[] {
  const records: string[] = [];
  // eslint-disable-next-line no-control-regex
  for (const line of text.replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
    if (!line.trim() || line.includes('temporalio_client::retry')) continue;
    if (/^\s/.test(line) || line === '}') {
      if (records.length && !REPEATED_KEYS.test(line)) records[records.length - 1] += ` ${line.trim()}`;
    } else records.push(line);
  }
  return records.map((r) => (r.length > 400 ? `${r.slice(0, 400)}…` : r));
}

/** One sample of a Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples a worker's `--metrics-port` serves. */
export async function scrapeMetrics(port: number): Promise<MetricSample[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels` (undefined when there are none). */
export function metricValue(samples: MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((sum, s) => sum + s.value, 0) : undefined;
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false | null>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every row of a table in primary-key order, as JSON text per row (exact comparison). */
export async function dumpTable(conn: SqlConnection, table: string, orderBy = 'id'): Promise<string[]> {
  const [rows] = await conn.query({ sql: `SELECT * FROM ${table} ORDER BY ${orderBy}`, rowsAsArray: true });
  return (rows as unknown[][]).map((r) => JSON.stringify(r, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)));
}

/** `CHECKSUM TABLE` of one table. */
export async function checksum(conn: SqlConnection, table: string): Promise<string> {
  const [rows] = await conn.query(`CHECKSUM TABLE ${table}`);
  return String((rows as { Checksum: string | number }[])[0].Checksum);
}
