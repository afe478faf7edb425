// The cross-datacenter benchmark's servers: two datacenters simulated on this machine.
//
//   hz (source side): Temporal, the source MariaDB, the hz worker (workflows, capture, extract,
//                     transform), the stage and the source's pictures (buckets on an S3 server,
//                     versitygw).
//   us (target side): seaotter's target MariaDB and the us worker (file copy, load), the target's
//                     pictures (a bucket on the same S3 server), the native replica.
//
// Every connection from us to hz goes through Toxiproxy with `oneWayMs` added each way: the us
// worker → Temporal, the us worker → the stage's S3 server (the stage store's `endpoints.us`),
// the us worker → the hz picture bucket (its own link, so the pictures' bytes are counted apart),
// and the native replica → its source. The hz worker reaches the S3 server directly (`endpoint`),
// and so does the us worker its own picture bucket.
// The us worker → target is local to us; the benchmark's own probes (heartbeat writes and reads)
// connect directly, so they measure lag without the link's delay.
import fs from 'node:fs';
import path from 'node:path';
import { startMariadb, type MariadbServer } from '../client/servers/mariadb.js';
import { stopPid, tempDir } from '../client/servers/ports.js';
import { startS3Server, type S3Server } from '../client/servers/s3-server.js';
import { runSeaotterOk, spawnSeaotterWorker } from '../client/servers/seaotter-process.js';
import { startTemporalDev, type TemporalDevServer } from '../client/servers/temporal-dev.js';
import { benchClient, benchConfigYaml, register, seedSeaotterTarget, SERVER_ARGS, type Bench, type Copy } from './setup.js';
import { startToxiproxy, type Link, type Toxiproxy } from './toxiproxy.js';
import { benchTables, scalar, startReplication, waitReplicaCaughtUp } from './verify.js';
import { IMAGES_DDL, PICS_BUCKETS } from './files-workload.js';
import { BACKLOG_DDL, sysbench } from './workloads.js';

/** Which connections cross between the datacenters (documented in the results). */
export const LINKS = {
  'temporal-from-us': 'us worker → Temporal (gRPC: activity polls, completions, heartbeats)',
  'stage-from-us': 'us worker → the stage\'s S3 server (reads batches too big to travel inline; removes each staged capture after its commit)',
  'source-from-us': 'native replica → source (binlog stream)',
  'pics-from-us': 'us worker → the hz picture bucket (copies the pictures that rows name, before the rows load)',
} as const;

/** The stage's bucket on the bench's S3 server. */
const STAGE_BUCKET = 'seaotter-stage';

export interface CrossDcOptions {
  tables: number;
  tableSize: number;
  batch: { maxRows: number; maxWaitMs: number; maxInFlight: number; inlineMaxBytes: number };
  continueAsNewEvery: number;
  oneWayMs: number;
  /** The pictures' files rule's onDelete. */
  fileOnDelete: 'keep' | 'delete';
}

export interface CrossDcBench extends Bench {
  proxy: Toxiproxy;
  links: Link[];
  workerLogs: { hz: string; us: string };
  /** The S3 server holding the stage and both picture buckets. */
  s3: S3Server;
}

export async function startCrossDcBench(opts: CrossDcOptions, log: (line: string) => void): Promise<CrossDcBench> {
  const dir = tempDir('seaotter-bench-xdc-');
  const at = (name: string) => path.join(dir, name);
  log(`servers: starting Temporal, 3 MariaDB servers, an S3 server and Toxiproxy in ${dir}`);
  const track = <T extends { pid: number; stop(): Promise<void> }>(name: string, p: Promise<T>) =>
    p.then((s) => (register(name, () => s.pid, () => s.stop()), s));
  const started = await Promise.allSettled([
    track('temporal', startTemporalDev({ headless: true, logFile: at('temporal.log') })),
    track('source', startMariadb({ name: 'xdc-source', serverId: 1, dir: at('source'), extraArgs: SERVER_ARGS })),
    track('target', startMariadb({ name: 'xdc-target', serverId: 2, dir: at('target'), durable: true, extraArgs: SERVER_ARGS })),
    track('replica', startMariadb({ name: 'xdc-replica', serverId: 3, dir: at('replica'), durable: true, extraArgs: [...SERVER_ARGS, '--slave-parallel-threads=0'] })),
    track('toxiproxy', startToxiproxy({ logFile: at('toxiproxy.log') })),
    track('s3', startS3Server({ dir: at('s3') })),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [temporal, source, target, replica, proxy, s3] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    TemporalDevServer, MariadbServer, MariadbServer, MariadbServer, Toxiproxy, S3Server,
  ];
  for (const bucket of [STAGE_BUCKET, PICS_BUCKETS.hz, PICS_BUCKETS.us]) await s3.createBucket(bucket);
  const temporalLink = await proxy.link('temporal-from-us', temporal.port, opts.oneWayMs);
  const stageLink = await proxy.link('stage-from-us', s3.port, opts.oneWayMs);
  const sourceLink = await proxy.link('source-from-us', source.port, opts.oneWayMs);
  const picsLink = await proxy.link('pics-from-us', s3.port, opts.oneWayMs);
  log(`links: ${proxy.links.map((l) => `${l.name} 127.0.0.1:${l.listenPort} → :${l.upstreamPort} +${l.oneWayMs} ms each way`).join('; ')}`);

  const src = await source.connect();
  const copies: Copy[] = [];
  for (const [name, label, server] of [
    ['seaotter', 'seaotter (hz → us)', target],
    ['replicaA', 'native replica (1 thread)', replica],
  ] as const) {
    copies.push({ name, label, server, conn: await server.connect(), probe: await server.connect() });
  }
  const [seaotter, native] = copies as [Copy, Copy];
  const serverSettings: Record<string, Record<string, string>> = {};
  for (const [name, conn] of [['source', src], ...copies.map((c) => [c.name, c.probe] as const)] as const) {
    const [rows] = await conn.query('SELECT @@innodb_flush_log_at_trx_commit AS flush_log_at_trx_commit, @@sync_binlog AS sync_binlog, @@slave_parallel_threads AS slave_parallel_threads');
    serverSettings[name] = Object.fromEntries(Object.entries((rows as Record<string, unknown>[])[0]!).map(([k, v]) => [k, String(v)]));
  }

  // The replica reads the source's binlog across the link.
  const from = await scalar(src, 'SELECT @@gtid_binlog_pos');
  await startReplication(native.probe, { ...source, port: sourceLink.listenPort }, from);
  log(`replication: native replica running through the link from GTID ${from || '(empty)'}`);

  await src.query('CREATE DATABASE bench; CREATE DATABASE sbtest');
  await src.query('CREATE TABLE bench.heartbeat (id INT NOT NULL PRIMARY KEY, ts BIGINT NOT NULL)');
  await src.query('INSERT INTO bench.heartbeat VALUES (1, 0), (2, 0)');
  await src.query(BACKLOG_DDL);
  await src.query(IMAGES_DDL);
  const t0 = Date.now();
  await sysbench('prepare', { ...source, tables: opts.tables, tableSize: opts.tableSize });
  log(`sysbench prepare: ${opts.tables} tables × ${opts.tableSize} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await waitReplicaCaughtUp(native.probe, await scalar(src, 'SELECT @@gtid_binlog_pos'), 300_000);

  const tables = [...benchTables(opts.tables), 'bench.images'];
  await seedSeaotterTarget(src, seaotter, copies, tables, log);

  const configPath = at('seaotter.yaml');
  const stageLines = [...picsYaml(s3, `http://127.0.0.1:${picsLink.listenPort}`), ...stageYaml(s3, `http://127.0.0.1:${stageLink.listenPort}`)];
  const tableLines = { 'bench.images': [`files: [{ column: path, from: ${PICS_BUCKETS.hz}, to: ${PICS_BUCKETS.us}, onDelete: ${opts.fileOnDelete} }]`] };
  fs.writeFileSync(configPath, benchConfigYaml(source, target, { sourceDc: 'hz', targetDc: 'us', stageLines, tables, tableLines, batch: opts.batch, continueAsNewEvery: opts.continueAsNewEvery }));
  const env = { ...process.env, BENCH_SRC_PW: source.password, BENCH_DST_PW: target.password, BENCH_S3_KEY: s3.accessKey, BENCH_S3_SECRET: s3.secretKey };
  const hzEnv = { ...env, TEMPORAL_ADDRESS: temporal.address };
  const usEnv = { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${temporalLink.listenPort}` };
  const workers = { hz: spawnSeaotterWorker({ configPath, dc: 'hz', env: hzEnv, logFile: at('worker-hz.log') }), us: spawnSeaotterWorker({ configPath, dc: 'us', env: usEnv, logFile: at('worker-us.log') }) };
  for (const [dc, w] of Object.entries(workers)) register(`worker-${dc}`, () => w.pid, () => stopPid(w.pid, 20_000));
  const applied = await runSeaotterOk(['pipeline', 'apply', '--config', configPath], hzEnv);
  log(`seaotter: hz worker pid ${workers.hz.pid}, us worker pid ${workers.us.pid} (Temporal through the link); ${applied.trim().split('\n').join(' / ')}`);

  const { client, close } = await benchClient(temporal.address, src, copies);
  return {
    dir,
    temporal,
    source,
    src,
    copies,
    client,
    workerLog: workers.us.logFile,
    workerLogs: { hz: workers.hz.logFile, us: workers.us.logFile },
    configPath,
    tables,
    serverSettings,
    proxy,
    links: proxy.links,
    s3,
    close,
  };
}

/** The picture stores: a bucket in hz, reached from us through its link, and one in us. */
function picsYaml(s3: S3Server, usEndpoint: string): string[] {
  const common = `region: ${s3.region}, accessKeyEnv: BENCH_S3_KEY, secretKeyEnv: BENCH_S3_SECRET`;
  return [
    `  ${PICS_BUCKETS.hz}: { type: s3, endpoint: "${s3.endpoint}", endpoints: { us: "${usEndpoint}" }, bucket: ${PICS_BUCKETS.hz}, ${common}, datacenter: hz }`,
    `  ${PICS_BUCKETS.us}: { type: s3, endpoint: "${s3.endpoint}", bucket: ${PICS_BUCKETS.us}, ${common}, datacenter: us }`,
  ];
}

/** The stage's lines of the config: a bucket in hz, reached from us through the link. */
function stageYaml(s3: S3Server, usEndpoint: string): string[] {
  return [
    `  stage-hz: { type: s3, endpoint: "${s3.endpoint}", endpoints: { us: "${usEndpoint}" }, bucket: ${STAGE_BUCKET}, ` +
      `region: ${s3.region}, accessKeyEnv: BENCH_S3_KEY, secretKeyEnv: BENCH_S3_SECRET, datacenter: hz }`,
    'stage: { type: s3, source: stage-hz }',
  ];
}
