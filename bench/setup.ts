// The benchmark's servers: a Temporal dev server, the source, seaotter's target, two native
// replicas of the source, and a seaotter worker with the pipeline applied. Everything started is
// registered in `running` so it can be stopped by PID, also after a failure or Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Connection as SqlConnection } from 'mysql2/promise';
import { startMariadb, type MariadbServer } from '../client/servers/mariadb.js';
import { isAlive, killPid, stopPid, tailFile, tempDir } from '../client/servers/ports.js';
import { runSeaotterOk, spawnSeaotterWorker } from '../client/servers/seaotter-process.js';
import { startTemporalDev, type TemporalDevServer } from '../client/servers/temporal-dev.js';
import { BACKLOG_DDL, sysbench } from './workloads.js';
import { benchTables, checksums, differences, scalar, startReplication, waitReplicaCaughtUp } from './verify.js';

export const PIPELINE_ID = 'bench';

/** What was started, in start order; stopped by {@link stopAll}. */
const running: Array<{ name: string; pid: () => number; stop: () => Promise<void> }> = [];

/** Registers a process this run started, so {@link stopAll} stops it (the cross-DC mode's own servers). */
export function register(name: string, pid: () => number, stop: () => Promise<void>): void {
  running.push({ name, pid, stop });
}

/** PIDs of the processes this run started, by name (for CPU accounting). */
export function runningPids(): Record<string, number> {
  return Object.fromEntries(running.map((r) => [r.name, r.pid()]));
}

/**
 * Stops everything this run started, by PID: the worker first (SIGTERM, or SIGKILL when `fast`,
 * as after Ctrl-C: nothing of a benchmark needs a graceful drain), then every server at once.
 */
export async function stopAll(log: (line: string) => void, fast = false): Promise<void> {
  const all = running.splice(0);
  const stop = async (r: (typeof all)[number]) => {
    if (!isAlive(r.pid())) return;
    const t0 = Date.now();
    await (fast && r.name.startsWith('worker') ? killPid(r.pid()) : r.stop()).catch((err: Error) => log(`could not stop ${r.name} (pid ${r.pid()}): ${err.message}`));
    if (Date.now() - t0 > 3000) log(`stopping ${r.name} (pid ${r.pid()}) took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  await Promise.allSettled(all.filter((r) => r.name.startsWith('worker')).map(stop));
  await Promise.allSettled(all.filter((r) => !r.name.startsWith('worker')).map(stop));
}

export interface BenchOptions {
  tables: number;
  tableSize: number;
  batch: { maxRows: number; maxWaitMs: number; maxInFlight: number; inlineMaxBytes: number };
  /** The pipeline's continueAsNewEvery (committed batches per workflow run). */
  continueAsNewEvery: number;
}

export interface Copy {
  /** Short name used in results: seaotter, replicaA, replicaB. */
  name: 'seaotter' | 'replicaA' | 'replicaB';
  label: string;
  server: MariadbServer;
  /** For the lag sampler only. */
  conn: SqlConnection;
  /** For waits and checks. */
  probe: SqlConnection;
}

export interface Bench {
  dir: string;
  temporal: TemporalDevServer;
  source: MariadbServer;
  /** The source connection used by the heartbeat writer and markers. */
  src: SqlConnection;
  copies: Copy[];
  client: Client;
  workerLog: string;
  configPath: string;
  tables: string[];
  /** The settings each server actually runs with (read back, not assumed). */
  serverSettings: Record<string, Record<string, string>>;
  close(): Promise<void>;
}

// The same server settings for every MariaDB; a bigger buffer pool than the launcher's 64 MB so the
// backlog table stays in memory on all of them.
export const SERVER_ARGS = ['--innodb-buffer-pool-size=256M', '--max-connections=200'];

export async function startBench(opts: BenchOptions, log: (line: string) => void): Promise<Bench> {
  const dir = tempDir('seaotter-bench-');
  log(`servers: starting Temporal and 4 MariaDB servers in ${dir}`);
  const track = <T extends { pid: number; stop(): Promise<void> }>(name: string, p: Promise<T>) =>
    p.then((s) => (running.push({ name, pid: () => s.pid, stop: () => s.stop() }), s));
  const at = (name: string) => path.join(dir, name);
  const started = await Promise.allSettled([
    track('temporal', startTemporalDev({ headless: true, logFile: at('temporal.log') })),
    track('source', startMariadb({ name: 'bench-source', serverId: 1, dir: at('source'), extraArgs: SERVER_ARGS })),
    track('target', startMariadb({ name: 'bench-target', serverId: 2, dir: at('target'), durable: true, extraArgs: SERVER_ARGS })),
    track('replicaA', startMariadb({ name: 'bench-replica-a', serverId: 3, dir: at('replica-a'), durable: true, extraArgs: [...SERVER_ARGS, '--slave-parallel-threads=0'] })),
    track('replicaB', startMariadb({
      name: 'bench-replica-b', serverId: 4, dir: at('replica-b'), durable: true,
      extraArgs: [...SERVER_ARGS, '--slave-parallel-threads=4', '--slave-parallel-mode=optimistic'],
    })),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [temporal, source, target, replicaA, replicaB] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    TemporalDevServer, MariadbServer, MariadbServer, MariadbServer, MariadbServer,
  ];

  const src = await source.connect();
  const copies: Copy[] = [];
  for (const [name, label, server] of [
    ['seaotter', 'seaotter', target],
    ['replicaA', 'replica A (1 thread)', replicaA],
    ['replicaB', 'replica B (4 optimistic)', replicaB],
  ] as const) {
    copies.push({ name, label, server, conn: await server.connect(), probe: await server.connect() });
  }
  const [seaotter, ...replicas] = copies as [Copy, Copy, Copy];
  const serverSettings: Record<string, Record<string, string>> = {};
  for (const [name, conn] of [['source', src], ...copies.map((c) => [c.name, c.probe] as const)] as const) {
    const [rows] = await conn.query(
      'SELECT @@innodb_flush_log_at_trx_commit AS flush_log_at_trx_commit, @@sync_binlog AS sync_binlog, @@binlog_format AS binlog_format, ' +
        '@@slave_parallel_threads AS slave_parallel_threads, @@slave_parallel_mode AS slave_parallel_mode, @@innodb_buffer_pool_size AS buffer_pool',
    );
    serverSettings[name] = Object.fromEntries(Object.entries((rows as Record<string, unknown>[])[0]!).map(([k, v]) => [k, String(v)]));
  }
  log(`server settings: ${Object.entries(serverSettings).map(([k, v]) =>
    `${k} flush=${v.flush_log_at_trx_commit} sync_binlog=${v.sync_binlog} parallel=${v.slave_parallel_threads}/${v.slave_parallel_mode}`).join('; ')}`);

  // Replicas start from the source's position now, so they replicate the schema and sysbench's rows.
  const from = await scalar(src, 'SELECT @@gtid_binlog_pos');
  for (const r of replicas) await startReplication(r.probe, source, from);
  log(`replication: both replicas running from GTID ${from || '(empty)'}`);

  await src.query('CREATE DATABASE bench; CREATE DATABASE sbtest');
  await src.query('CREATE TABLE bench.heartbeat (id INT NOT NULL PRIMARY KEY, ts BIGINT NOT NULL)');
  await src.query('INSERT INTO bench.heartbeat VALUES (1, 0), (2, 0)');
  await src.query(BACKLOG_DDL);
  const t0 = Date.now();
  await sysbench('prepare', { ...source, tables: opts.tables, tableSize: opts.tableSize });
  log(`sysbench prepare: ${opts.tables} tables × ${opts.tableSize} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const prepared = await scalar(src, 'SELECT @@gtid_binlog_pos');
  await Promise.all(replicas.map((r) => waitReplicaCaughtUp(r.probe, prepared, 300_000)));

  // seaotter's target gets the same tables and rows, copied here; then the pipeline starts at
  // `current`, so it carries only what happens from now on.
  const tables = benchTables(opts.tables);
  await seedSeaotterTarget(src, seaotter, copies, tables, log);

  const configPath = at('seaotter.yaml');
  fs.writeFileSync(configPath, benchConfigYaml(source, target, { sourceDc: 'bench', targetDc: 'bench', stageLines: [`stage: { type: local, dir: ${at('stage')} }`], tables, batch: opts.batch, continueAsNewEvery: opts.continueAsNewEvery }));
  const env = { ...process.env, TEMPORAL_ADDRESS: temporal.address, BENCH_SRC_PW: source.password, BENCH_DST_PW: target.password };
  const worker = spawnSeaotterWorker({ configPath, dc: 'bench', env, logFile: at('worker.log') });
  running.push({ name: 'worker', pid: () => worker.pid, stop: () => stopPid(worker.pid, 20_000) });
  const applied = await runSeaotterOk(['pipeline', 'apply', '--config', configPath], env);
  log(`seaotter: worker pid ${worker.pid}; ${applied.trim().split('\n').join(' / ')}`);

  const { client, close } = await benchClient(temporal.address, src, copies);
  return {
    dir,
    temporal,
    source,
    src,
    copies,
    client,
    workerLog: worker.logFile,
    configPath,
    tables,
    serverSettings,
    close,
  };
}

/** The bench's Temporal client, and how to close it with the bench's database connections. */
export async function benchClient(address: string, src: SqlConnection, copies: Copy[]): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address });
  return {
    client: new Client({ connection }),
    async close() {
      // destroy, not end: after a failure or Ctrl-C a query may still be waiting on a stopped server.
      for (const c of [src, ...copies.flatMap((x) => [x.conn, x.probe])]) c.destroy();
      await connection.close().catch(() => undefined);
    },
  };
}

/** The last lines of the worker's log, for failure reports. */
export function workerLogTail(bench: Bench, lines = 40): string {
  return tailFile(bench.workerLog, lines);
}

/**
 * The bench pipeline's config: source and target in their datacenters, the stage (its YAML lines,
 * any extra data sources first), every bench table mapped one to one (with any extra lines), the
 * batch settings.
 */
export function benchConfigYaml(
  source: MariadbServer,
  target: MariadbServer,
  o: {
    sourceDc: string; targetDc: string; stageLines: string[]; tables: string[]; batch: BenchOptions['batch']; continueAsNewEvery: number;
    /** More lines of a table's mapping (e.g. its `files` rules), by table. */
    tableLines?: Record<string, string[]>;
  },
): string {
  const { batch } = o;
  return [
    'dataSources:',
    `  src: { type: mariadb, host: 127.0.0.1, port: ${source.port}, user: ${source.user}, passwordEnv: BENCH_SRC_PW, datacenter: ${o.sourceDc}, serverId: 1001 }`,
    `  dst: { type: mariadb, host: 127.0.0.1, port: ${target.port}, user: ${target.user}, passwordEnv: BENCH_DST_PW, datacenter: ${o.targetDc} }`,
    ...o.stageLines,
    'pipelines:',
    `  - id: ${PIPELINE_ID}`,
    '    source: src',
    '    target: dst',
    '    start: current',
    '    tables:',
    ...o.tables.flatMap((t) => [`      - source: ${t}`, ...(o.tableLines?.[t] ?? []).map((l) => `        ${l}`)]),
    `    batch: { maxRows: ${batch.maxRows}, maxWaitMs: ${batch.maxWaitMs}, maxInFlight: ${batch.maxInFlight}, inlineMaxBytes: ${batch.inlineMaxBytes} }`,
    `    continueAsNewEvery: ${o.continueAsNewEvery}`,
    '',
  ].join('\n');
}

/**
 * Gives seaotter's target the source's tables and rows (the pipeline then starts at `current`),
 * and checks every copy equals the source before the benchmark starts.
 */
export async function seedSeaotterTarget(src: SqlConnection, seaotter: Copy, copies: Copy[], tables: string[], log: (line: string) => void): Promise<void> {
  await copyTables(src, seaotter.probe, tables);
  const sums = await Promise.all([src, ...copies.map((c) => c.probe)].map((c) => checksums(c, tables)));
  for (const [i, c] of copies.entries()) {
    const diff = differences(sums[0]!, sums[i + 1]!);
    if (diff.length) throw new Error(`${c.label} differs from the source before the benchmark: ${diff.join(', ')}`);
  }
  log(`initial data: ${tables.length} tables equal (checksums) on the source and ${copies.map((c) => c.label).join(', ')}`);
}

/** Creates each table on `to` as `SHOW CREATE TABLE` on `from` has it, then copies its rows by id. */
export async function copyTables(from: SqlConnection, to: SqlConnection, tables: string[], chunk = 2000): Promise<void> {
  for (const t of tables) {
    const [schema] = t.split('.') as [string, string];
    const [rows] = await from.query(`SHOW CREATE TABLE ${t}`);
    const ddl = (rows as Record<string, string>[])[0]!['Create Table']!;
    await to.query(`CREATE DATABASE IF NOT EXISTS \`${schema}\``);
    await to.query(`USE \`${schema}\``);
    await to.query(ddl);
    for (let last: unknown = null; ; ) {
      const [data] = await from.query({ sql: `SELECT * FROM ${t} ${last === null ? '' : 'WHERE id > ?'} ORDER BY id LIMIT ${chunk}`, rowsAsArray: true }, last === null ? [] : [last]);
      const batch = data as unknown[][];
      if (batch.length === 0) break;
      await to.query(`INSERT INTO ${t} VALUES ?`, [batch]);
      last = batch.at(-1)![0];
    }
  }
}
