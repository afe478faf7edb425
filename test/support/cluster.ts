/**
 * A whole seaotter installation for one integration test: a Temporal dev server, a source and a
 * target MariaDB, worker processes (real ones, so they can be killed with -9) and the CLI.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Connection as SqlConnection } from 'mysql2/promise';
import { dataConverterFromEnv } from '../../client/codec.js';
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
      startMariadb({ name: `${opts.name}-src`, serverId: 1, dir: path.join(dir, 'src') }),
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

  startWorker(dc = 'hz'): WorkerProcess {
    const logFile = path.join(this.dir, `worker-${dc}-${++this.workerCount}.log`);
    const w = spawnSeaotterWorker({ configPath: this.configPath, dc, env: this.env(), logFile });
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

  async close(): Promise<void> {
    for (const w of this.workers) if (isAlive(w.pid)) await killPid(w.pid);
    this.workers = [];
    await this.connection.close().catch(() => undefined);
    await Promise.allSettled([this.temporal.stop(), this.source.stop(), this.target.stop()]);
    // Each run leaves about 230 MB of server data; keep it only when asked (to read the logs).
    if (!process.env.SEAOTTER_KEEP_TEST_DIRS) await rm(this.dir, { recursive: true, force: true });
  }
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
