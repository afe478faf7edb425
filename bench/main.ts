#!/usr/bin/env node
/**
 * `npm run bench`: seaotter against MariaDB's native replication, in one run on this machine.
 *
 *   node dist/bench/main.js [--quick] [--seconds N] [--threads N] [--rate TPS] [--tables N] [--table-size N]
 *     [--backlog-rows N] [--backlog-tx-rows N] [--small-tx-rows N] [--low-seconds N] [--low-tps N]
 *     [--max-rows N] [--max-wait-ms N] [--max-in-flight N] [--inline-max-bytes N] [--continue-as-new-every N]
 *   node dist/bench/main.js --cross-dc [...]   two datacenters over a 200 ms link: see cross-dc.ts
 *
 * Starts a Temporal dev server, a source MariaDB, seaotter's target, two native replicas (one
 * single-threaded, one with 4 optimistic parallel workers) and a seaotter worker, then:
 *   1. lag under sysbench oltp_write_only;  2. catch-up after a backlog written while all were
 *   paused, once in 1000-row transactions and once in 10-row ones (2b);  3. lag under low traffic;  4. CHECKSUM TABLE after each phase (exit 1 if seaotter's differ).
 * Prints a table and a markdown table, and writes bench/results/<time>.json.
 * SEAOTTER_KEEP_TMP=1 keeps the servers' data and logs (path printed at start).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { cpuBetween, cpuSnapshot, formatCpu, type CpuUse } from './cpu.js';
import { pipelineStatus } from '../client/pipeline-commands.js';
import { batchBreakdown, formatBreakdown, type Breakdown } from './cross-dc-breakdown.js';
import { barrier, catchUpPhase, lagPhase, verify, type CatchUpResult, type LagPhaseResult, type VerifyResult } from './phases.js';
import { LEGEND, machineInfo, markdownTable, textTable, writeResults, type ResultRow } from './report.js';
import { PIPELINE_ID, runningPids, startBench, stopAll, workerLogTail, type Bench } from './setup.js';
import { scalar } from './verify.js';
import { killSysbench, lowTraffic, sysbench, type SysbenchResult } from './workloads.js';
import { runCrossDc } from './cross-dc.js';
import { formatSpikes, spikeReport, type SpikeReport } from './spikes.js';

const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const NUMERIC = ['seconds', 'threads', 'rate', 'tables', 'table-size', 'backlog-rows', 'backlog-tx-rows', 'small-tx-rows', 'low-seconds', 'low-tps', 'max-rows', 'max-wait-ms', 'max-in-flight', 'inline-max-bytes', 'continue-as-new-every', 'file-rate', 'file-seconds', 'file-kib'];
// --cross-dc runs bench/cross-dc.ts instead (its own phases and defaults; --latency-ms is its own).
const options: Record<string, { type: 'string' | 'boolean' }> = { quick: { type: 'boolean' }, 'cross-dc': { type: 'boolean' }, 'latency-ms': { type: 'string' }, 'file-on-delete': { type: 'string' }, help: { type: 'boolean' } };
for (const k of NUMERIC) options[k] = { type: 'string' };
const HELP = `usage: npm run bench -- [options]        (or: node dist/bench/main.js [options])

seaotter against MariaDB's native replication, side by side on this machine: lag under sysbench
oltp_write_only, catch-up after a backlog (1000-row and 10-row transactions), lag under low
traffic, and CHECKSUM TABLE of every copy after each phase. Writes bench/results/<time>.json.

  --quick                      a short run (15 s of load, 100,000-row backlogs, 10 s of low traffic)
  --seconds N                  seconds of sysbench load (60)
  --threads N                  sysbench threads (8)
  --rate TPS                   sysbench --rate, fixed transactions/s (unlimited)
  --tables N, --table-size N   sysbench tables and rows each (4, 10000)
  --backlog-rows N             row changes in each backlog (1000000)
  --backlog-tx-rows N          rows per transaction of the first backlog (1000)
  --small-tx-rows N            rows per transaction of the second backlog, 0 skips it (10)
  --low-seconds N, --low-tps N low-traffic phase: seconds and single-row transactions/s (30, 10)
  --max-rows N, --max-wait-ms N, --max-in-flight N, --inline-max-bytes N
                               the pipeline's batch settings (20000, 50, 4, 0)
  --continue-as-new-every N    the pipeline's continueAsNewEvery (500)
  --cross-dc                   two datacenters over a slow link instead (bench/cross-dc.ts);
    --latency-ms N             one-way latency of that link (100)
    --file-rate N, --file-seconds N, --file-kib N
                               its pictures phase: pictures/s, seconds, mean KiB (20, 30, 100)
    --file-on-delete keep|delete the pictures' files rule's onDelete (keep): with delete, a
                               pipeline copies and loads one batch after another

SEAOTTER_KEEP_TMP=1 keeps the servers' data and logs; SEAOTTER_WORKER_NODE_ARGS passes node
options to the worker (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").`;
let argv: Record<string, string | boolean | undefined>;
try {
  argv = parseArgs({ options, strict: true }).values as Record<string, string | boolean | undefined>;
} catch (err) {
  console.error(`${(err as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (argv.help) {
  console.log(HELP);
  process.exit(0);
}
for (const k of ['latency-ms', 'file-rate', 'file-seconds', 'file-kib', 'file-on-delete']) {
  if (argv[k] !== undefined && !argv['cross-dc']) {
    console.error(`--${k} belongs to --cross-dc; add --cross-dc or leave it out`);
    process.exit(2);
  }
}
const quick = argv.quick === true;
function num(key: string, fallback: number): number {
  const raw = argv[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} wants a positive number, got ${String(raw)}`);
  return n;
}
const o = {
  quick,
  seconds: num('seconds', quick ? 15 : 60),
  threads: num('threads', 8),
  /** sysbench --rate: fixed transactions/s (default unlimited, as fast as the source goes). */
  rate: argv.rate === undefined ? 0 : num('rate', 0),
  tables: num('tables', 4),
  tableSize: num('table-size', 10_000),
  backlogRows: num('backlog-rows', quick ? 100_000 : 1_000_000),
  backlogTxRows: num('backlog-tx-rows', 1000),
  /** Rows per transaction of the second, OLTP-sized backlog (0: skip it). */
  smallTxRows: argv['small-tx-rows'] === '0' ? 0 : num('small-tx-rows', 10),
  lowSeconds: num('low-seconds', quick ? 10 : 30),
  lowTps: num('low-tps', 10),
  batch: {
    maxRows: num('max-rows', 20000),
    maxWaitMs: num('max-wait-ms', 50),
    maxInFlight: num('max-in-flight', 4),
    inlineMaxBytes: argv['inline-max-bytes'] === '0' ? 0 : num('inline-max-bytes', 0),
  },
  /** The pipeline's continueAsNewEvery (the config's default): lower it to see hand-overs within a phase. */
  continueAsNewEvery: num('continue-as-new-every', 500),
};

let bench: Bench | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(fast = false): Promise<void> {
  cleaning ??= (async () => {
    killSysbench();
    await bench?.close();
    await stopAll(log, fast);
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping every process this run started`);
    void cleanup(true).finally(() => process.exit(130));
  });
}

/** Table rows of a lag phase: seaotter, then each replica with seaotter's p99 ÷ its p99. */
function lagRows(phase: string, r: LagPhaseResult<unknown>, b: Bench): ResultRow[] {
  const sea = r.stats.seaotter!;
  return b.copies.map((c) => {
    const s = r.stats[c.name]!;
    const drain = r.drainMs[c.name]!;
    return {
      phase,
      system: c.label,
      p50Ms: s.p50Ms,
      p99Ms: s.p99Ms,
      maxMs: s.maxMs,
      ratio: c.name === 'seaotter' ? undefined : sea.p99Ms / s.p99Ms,
      note: `${s.samples} samples; all applied ${(drain / 1000).toFixed(2)} s after load end`,
    };
  });
}

async function main(): Promise<number> {
  log(`settings: ${JSON.stringify(o)}`);
  // Everything shares 2 cores: other programs skew every number; phases report their CPU use.
  const loadBefore = os.loadavg();
  bench = await startBench({ tables: o.tables, tableSize: o.tableSize, batch: o.batch, continueAsNewEvery: o.continueAsNewEvery }, log);
  const b = bench;
  const live = await barrier(b);
  log(`all copies live (first marker seen after ${Object.entries(live).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')})`);
  const machine = machineInfo(await scalar(b.src, 'SELECT VERSION()'));
  const rows: ResultRow[] = [];
  const checks: VerifyResult[] = [];
  const cpu: Record<string, CpuUse> = {};
  const warnings: string[] = [];
  const measured = async <T>(phase: string, run: () => Promise<T>): Promise<T> => {
    const before = cpuSnapshot(runningPids());
    const result = await run();
    const use = (cpu[phase] = cpuBetween(before, cpuSnapshot(runningPids())));
    log(`${phase}: ${formatCpu(use)}`);
    if (use.otherProcesses > 0.05 * use.machineBusySeconds) {
      warnings.push(`${phase}: programs not started by this benchmark used ${use.otherProcesses} of ${use.machineBusySeconds} busy CPU seconds; its numbers are skewed`);
    }
    return result;
  };
  const check = async (after: string) => {
    const v = await verify(b, after);
    checks.push(v);
    log(`checksums after ${after}: ${b.copies.map((c) => `${c.label} ${v.equal[c.name] ? 'equal' : `DIFFERENT (${v.differing[c.name]!.join(', ')})`}`).join('; ')}`);
  };

  log(`phase 1: sysbench oltp_write_only, ${o.tables} tables × ${o.tableSize} rows, ${o.threads} threads, ${o.seconds} s${o.rate ? `, ${o.rate} tps` : ''}`);
  const breakdowns: Record<string, Breakdown | undefined> = {};
  const committedSeq = async () => (await pipelineStatus(b.client, PIPELINE_ID)).committedSeq;
  /** Where the batches of a phase spent their time, from their Temporal histories. */
  const breakdown = async (phase: string, fromSeq: number) => {
    const bd = (breakdowns[phase] = await batchBreakdown(b.client, PIPELINE_ID, fromSeq + 1, await committedSeq()));
    if (bd) log(formatBreakdown(`batch time breakdown, ${phase}`, bd));
  };
  const spikes: Record<string, SpikeReport> = {};
  const spikesOf = async (phase: string, r: LagPhaseResult<unknown>) => {
    spikes[phase] = await spikeReport(b.client, PIPELINE_ID, r);
    log(formatSpikes(phase, spikes[phase]!));
  };
  let seq0 = await committedSeq();
  const p1 = await measured('phase 1', () => lagPhase(b, () =>
    sysbench('run', { ...b.source, tables: o.tables, tableSize: o.tableSize }, [`--threads=${o.threads}`, `--time=${o.seconds}`, `--rate=${o.rate}`, '--report-interval=10']),
  ));
  const sb = p1.load as SysbenchResult;
  rows.push({
    phase: '1 lag under load', system: 'source (sysbench)', rowsPerSec: sb.tps * 4,
    note: `${sb.tps.toFixed(0)} tps × 4 row changes, ${o.threads} threads, ${sb.seconds.toFixed(1)} s, p95 ${sb.p95LatencyMs} ms, ${sb.errors} ignored errors`,
  });
  rows.push(...lagRows('1 lag under load', p1, b));
  log(`phase 1 done: ${sb.tps.toFixed(0)} tps; p99 lag ${b.copies.map((c) => `${c.name} ${p1.stats[c.name]!.p99Ms.toFixed(0)} ms`).join(', ')}`);
  await breakdown('phase 1', seq0);
  await spikesOf('phase 1', p1);
  await check('phase 1');

  // Two backlogs: big transactions (each is one commit for every copy) and OLTP-sized ones (where
  // a replica commits each transaction and seaotter batches thousands into one commit).
  const catchUps: Record<string, CatchUpResult> = {};
  for (const shape of [
    { phase: '2 catch-up', key: 'catchUp', txRows: o.backlogTxRows, writers: 1 },
    { phase: '2b catch-up, small tx', key: 'catchUpSmallTx', txRows: o.smallTxRows, writers: 8 },
  ].filter((x) => x.txRows > 0)) {
    log(`phase ${shape.phase}: a backlog of ${o.backlogRows.toLocaleString('en-US')} row changes, ${shape.txRows} per transaction, ${shape.writers} writer(s)`);
    const p2 = await measured(`phase ${shape.phase}`, () => catchUpPhase(b, { rowChanges: o.backlogRows, txRows: shape.txRows, writers: shape.writers, maxInFlight: o.batch.maxInFlight }, log));
    catchUps[shape.key] = p2;
    rows.push({
      phase: shape.phase, system: 'source (backlog write)', rowsPerSec: p2.backlog.rowChanges / p2.backlog.seconds,
      note: `${p2.backlog.rowChanges.toLocaleString('en-US')} row changes in ${p2.backlog.transactions.toLocaleString('en-US')} transactions, ${p2.backlog.seconds.toFixed(1)} s`,
    });
    for (const c of b.copies) {
      rows.push({
        phase: shape.phase, system: c.label, rowsPerSec: p2.rowsPerSec[c.name],
        ratio: c.name === 'seaotter' ? undefined : p2.rowsPerSec.seaotter! / p2.rowsPerSec[c.name]!,
        note: `${p2.seconds[c.name]!.toFixed(1)} s to catch up` +
          (c.name === 'seaotter' ? `; ${p2.seaotterInFlightAtResume} batches pre-captured at resume` : `; Seconds_Behind_Master ${p2.replicaSecondsBehindAfter[c.name]} after`),
      });
    }
    await check(`phase ${shape.phase}`);
  }

  log(`phase 3: low traffic, ${o.lowTps} single-row transactions/s for ${o.lowSeconds} s (plus the heartbeat's 10/s)`);
  seq0 = await committedSeq();
  const p3 = await measured('phase 3', () => lagPhase(b, () => lowTraffic(b.src, o.lowTps, o.lowSeconds, o.tables, o.tableSize)));
  rows.push({ phase: '3 low traffic', system: 'source', rowsPerSec: (p3.load as number) / p3.sampledSeconds, note: `${p3.load} single-row transactions + heartbeat` });
  rows.push(...lagRows('3 low traffic', p3, b));
  await breakdown('phase 3', seq0);
  await spikesOf('phase 3', p3);
  await check('phase 3');

  for (const c of b.copies) {
    const bad = checks.filter((v) => !v.equal[c.name]).map((v) => v.after);
    rows.push({ phase: '4 checksums', system: c.label, note: bad.length ? `DIFFERENT after ${bad.join(', ')}` : `all ${b.tables.length} tables equal after phases 1, 2, 3` });
  }
  const ok = checks.every((v) => v.equal.seaotter);
  const totalSeconds = (Date.now() - started) / 1000;
  const settings = `${o.tables}×${o.tableSize} rows, ${o.threads} threads × ${o.seconds} s${o.rate ? ` at ${o.rate} tps` : ''}, backlog ${o.backlogRows.toLocaleString('en-US')}, ` +
    `low ${o.lowTps}/s × ${o.lowSeconds} s; seaotter batch ${JSON.stringify(o.batch)}; copies durable (flush_log_at_trx_commit=1, sync_binlog=1)`;

  console.log(`\n${textTable(rows)}\n\n${[...LEGEND, ...warnings.map((w) => `WARNING ${w}`)].join('\n')}\n`);
  console.log(`markdown:\n\n${markdownTable(rows, machine, settings)}${warnings.map((w) => `\n- WARNING ${w}`).join('')}\n`);
  const file = writeResults({
    startedAt: new Date(started).toISOString(), totalSeconds, ok, quick, settings: o, machine, servers: b.serverSettings, loadAverage: { before: loadBefore, after: os.loadavg() },
    phases: { lagUnderLoad: p1, ...catchUps, lowTraffic: p3 }, breakdowns, spikes, cpu, warnings, checksums: checks, rows,
  });
  log(`results written to ${file}; total ${totalSeconds.toFixed(0)} s`);
  if (!ok) console.error('FAILED: seaotter target differs from the source (see checksums above)');
  return ok ? 0 : 1;
}

(argv['cross-dc'] ? runCrossDc(argv, log, (b) => (bench = b)) : main())
  .catch((err: Error) => {
    if (interrupted) return 130;
    console.error(`\nbench failed: ${err.stack ?? err.message}`);
    if (bench) console.error(`\nlast lines of the worker log (${bench.workerLog}):\n${workerLogTail(bench)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  });
