/**
 * `npm run bench -- --cross-dc`: seaotter and MariaDB's native replication across a simulated
 * 200 ms round-trip link between two datacenters (see cross-dc-setup.ts for what crosses), in one
 * run on this machine:
 *   1. lag under sysbench oltp_write_only at a fixed rate (default 1250 tps = 5000 row changes/s);
 *   2. lag under low traffic (default 100 single-row transactions/s);
 *   3. pictures with their rows (default 20 a second, 50–150 KiB each, for 30 s): each row's lag,
 *      and every picture's SHA-256 on the us bucket afterwards (exit 1 if one differs);
 *   4. CHECKSUM TABLE after each (exit 1 if seaotter's differ);
 * plus, from Temporal's histories, where a batch's time goes (cross-dc-breakdown.ts).
 *
 *   node dist/bench/main.js --cross-dc [--quick] [--seconds N] [--rate TPS] [--threads N] [--latency-ms N]
 *     [--tables N] [--table-size N] [--low-seconds N] [--low-tps N] [--file-rate N] [--file-seconds N] [--file-kib N]
 *     [--max-rows N] [--max-wait-ms N] [--max-in-flight N] [--inline-max-bytes N] [--continue-as-new-every N]
 */
import os from 'node:os';
import { pipelineStatus } from '../client/pipeline-commands.js';
import { batchBreakdown, formatBreakdown, SEGMENTS, type Breakdown } from './cross-dc-breakdown.js';
import { formatSpikes, spikeReport, type SpikeReport } from './spikes.js';
import { LINKS, startCrossDcBench, type CrossDcBench } from './cross-dc-setup.js';
import { stageTrafficProblem, trafficDelta, trafficRows, type Traffic } from './cross-dc-traffic.js';
import { barrier, lagPhase, verify, type LagPhaseResult, type VerifyResult } from './phases.js';
import { LEGEND, machineInfo, markdownTable, textTable, writeResults, type ResultRow } from './report.js';
import { PIPELINE_ID, type Bench } from './setup.js';
import { scalar } from './verify.js';
import { lowTraffic, sysbench, type SysbenchResult } from './workloads.js';
import { ArrivalPoller, checkPictures, writePictures, type FilesLoadResult } from './files-workload.js';

type Argv = Record<string, string | boolean | undefined>;

function fileOnDelete(raw: string | boolean | undefined): 'keep' | 'delete' {
  if (raw === undefined || raw === 'keep' || raw === 'delete') return raw ?? 'keep';
  throw new Error(`--file-on-delete wants keep or delete, got ${String(raw)}`);
}

function options(argv: Argv) {
  const quick = argv.quick === true;
  const num = (key: string, fallback: number): number => {
    const raw = argv[key];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} wants a positive number, got ${String(raw)}`);
    return n;
  };
  for (const k of ['backlog-rows', 'backlog-tx-rows']) if (argv[k] !== undefined) throw new Error(`--${k} is not used by --cross-dc (it has no catch-up phase)`);
  return {
    quick,
    seconds: num('seconds', quick ? 20 : 60),
    threads: num('threads', 8),
    /** sysbench --rate in transactions/s; oltp_write_only makes 4 row changes per transaction. */
    rate: num('rate', 1250),
    tables: num('tables', 4),
    tableSize: num('table-size', 10_000),
    lowSeconds: num('low-seconds', quick ? 10 : 30),
    lowTps: num('low-tps', 100),
    oneWayMs: num('latency-ms', 100),
    /** Pictures a second, seconds, and their mean size (sizes uniform from half to 1.5 times it). */
    fileRate: num('file-rate', 20),
    fileSeconds: num('file-seconds', quick ? 10 : 30),
    fileKiB: num('file-kib', 100),
    fileOnDelete: fileOnDelete(argv['file-on-delete']),
    // The settings README recommends across datacenters: more batches in flight (a slot is held
    // by the link's round trips, not by work) and batches up to 1 MiB of JSON inline, gzip'd (no stage read across the link).
    batch: {
      maxRows: num('max-rows', 20000),
      maxWaitMs: num('max-wait-ms', 50),
      maxInFlight: num('max-in-flight', 16),
      inlineMaxBytes: argv['inline-max-bytes'] === '0' ? 0 : num('inline-max-bytes', 1_048_576),
    },
    continueAsNewEvery: num('continue-as-new-every', 500),
  };
}

function lagRows(phase: string, r: LagPhaseResult<unknown>, b: Bench): ResultRow[] {
  const sea = r.stats.seaotter!;
  return b.copies.map((c) => {
    const s = r.stats[c.name]!;
    return {
      phase, system: c.label, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs,
      ratio: c.name === 'seaotter' ? undefined : sea.p99Ms / s.p99Ms,
      note: `${s.samples} samples; all applied ${(r.drainMs[c.name]! / 1000).toFixed(2)} s after load end`,
    };
  });
}

/**
 * Phase 3: pictures with their rows. Lag is measured twice: by the heartbeat (for seaotter, the
 * heartbeats behind a batch that copies pictures wait for it), and per picture row, from its
 * insert on the source to its arrival on seaotter's target, which includes its picture's copy.
 */
async function filesPhase(b: CrossDcBench, o: ReturnType<typeof options>, log: (line: string) => void) {
  const fromSeq = (await pipelineStatus(b.client, PIPELINE_ID)).committedSeq + 1;
  const traffic = await b.proxy.traffic();
  log(`phase 3: ${o.fileRate} pictures/s with their rows, ${o.fileKiB / 2}–${o.fileKiB * 1.5} KiB each, for ${o.fileSeconds} s`);
  const s3 = b.s3.client();
  const writers = await Promise.all(Array.from({ length: 8 }, () => b.source.connect()));
  const seaotter = b.copies.find((c) => c.name === 'seaotter')!;
  const poll = await seaotter.server.connect();
  const poller = new ArrivalPoller(poll);
  try {
    poller.start();
    const lag = await lagPhase(b, () => writePictures(s3, writers, { rate: o.fileRate, seconds: o.fileSeconds, minKiB: o.fileKiB / 2, maxKiB: o.fileKiB * 1.5 }));
    // lagPhase ends with a barrier: every row written before it is on the target, so all arrived.
    const arrivals = await poller.stop();
    const written = lag.load as FilesLoadResult;
    const pictures = await checkPictures(s3, poll);
    log(`phase 3 done: ${written.pictures} pictures (${(written.bytes / 2 ** 20).toFixed(1)} MiB); row arrival p50 ${arrivals.p50Ms.toFixed(0)} ms, p99 ${arrivals.p99Ms.toFixed(0)} ms; ` +
      `${pictures.equal} of ${pictures.rows} pictures equal on the us bucket${pictures.bad.length ? ` (bad: ${pictures.bad.join(', ')})` : ''}`);
    const problem = pictures.rows !== written.pictures || pictures.equal !== pictures.rows
      ? `${written.pictures} pictures written, ${pictures.rows} rows on the target, ${pictures.equal} pictures equal on the us bucket${pictures.bad.length ? `: ${pictures.bad.join(', ')}` : ''}`
      : undefined;
    const mibPerSec = written.bytes / 2 ** 20 / written.seconds;
    const rows: ResultRow[] = [
      {
        phase: '3 pictures', system: 'source', rowsPerSec: written.pictures / written.seconds,
        note: `${written.pictures} rows, each naming a picture put into the hz bucket just before: ${(written.bytes / 2 ** 20).toFixed(1)} MiB, ${mibPerSec.toFixed(2)} MiB/s`,
      },
      {
        phase: '3 pictures', system: 'seaotter: picture rows', p50Ms: arrivals.p50Ms, p99Ms: arrivals.p99Ms, maxMs: arrivals.maxMs,
        note: `source insert → row on the us target, its picture copied first (polled every 20 ms); ${pictures.equal}/${pictures.rows} pictures equal (SHA-256) on the us bucket`,
      },
      ...lagRows('3 pictures (heartbeat)', lag, b).map((r) => (r.system === seaotter.label ? r : { ...r, note: `${r.note}; the native replica copies no pictures` })),
    ];
    return { lag, arrivals, pictures: { ...pictures, written }, rows, problem, fromSeq, traffic };
  } finally {
    await poller.stop().catch(() => undefined);
    s3.destroy();
    await Promise.all([...writers, poll].map((c) => c.end()));
  }
}

/** Runs the cross-datacenter benchmark; `onBench` hands the servers to main's cleanup. */
export async function runCrossDc(argv: Argv, log: (line: string) => void, onBench: (b: CrossDcBench) => void): Promise<number> {
  const o = options(argv);
  const started = Date.now();
  log(`cross-dc settings: ${JSON.stringify(o)}`);
  const loadBefore = os.loadavg();
  const b = await startCrossDcBench(o, log);
  onBench(b);
  const live = await barrier(b);
  log(`all copies live (first marker seen after ${Object.entries(live).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')})`);
  const machine = machineInfo(await scalar(b.src, 'SELECT VERSION()'));
  const rows: ResultRow[] = [];
  const checks: VerifyResult[] = [];
  const breakdowns: Record<string, Breakdown | undefined> = {};
  const traffic: Record<string, Traffic> = {};
  const problems: string[] = [];
  const linkRows: ResultRow[] = [];
  // What crossed each link between two snapshots; the stage link must carry the us worker's reads.
  const crossed = async (phase: string, before: Traffic, fromSeq: number) => {
    const delta = (traffic[phase] = trafficDelta(before, await b.proxy.traffic()));
    linkRows.push(...trafficRows(phase, delta, LINKS));
    log(`links during ${phase}: ${Object.entries(delta).map(([k, t]) => `${k} ${t.bytesToClient} B to us, ${t.bytesToUpstream} B to hz, ${t.connections} conn`).join('; ')}`);
    const problem = stageTrafficProblem(delta, (await committedSeq()) - fromSeq + 1);
    if (problem) problems.push(`${phase}: ${problem}`);
  };
  const committedSeq = async () => (await pipelineStatus(b.client, PIPELINE_ID)).committedSeq;
  const check = async (after: string) => {
    const v = await verify(b, after);
    checks.push(v);
    log(`checksums after ${after}: ${b.copies.map((c) => `${c.label} ${v.equal[c.name] ? 'equal' : `DIFFERENT (${v.differing[c.name]!.join(', ')})`}`).join('; ')}`);
  };
  const spikes: Record<string, SpikeReport> = {};
  const spikesOf = async (phase: string, r: LagPhaseResult<unknown>) => {
    spikes[phase] = await spikeReport(b.client, PIPELINE_ID, r);
    log(formatSpikes(phase, spikes[phase]!));
  };
  const breakdown = async (phase: string, fromSeq: number) => {
    const bd = (breakdowns[phase] = await batchBreakdown(b.client, PIPELINE_ID, fromSeq, await committedSeq()));
    if (bd) log(formatBreakdown(`batch time breakdown, ${phase}`, bd));
  };

  const rowChanges = o.rate * 4;
  log(`phase 1: sysbench oltp_write_only at ${o.rate} tps (${rowChanges} row changes/s), ${o.threads} threads, ${o.seconds} s`);
  let seq0 = await committedSeq();
  let t0 = await b.proxy.traffic();
  const p1 = await lagPhase(b, () =>
    sysbench('run', { ...b.source, tables: o.tables, tableSize: o.tableSize }, [`--threads=${o.threads}`, `--time=${o.seconds}`, `--rate=${o.rate}`, '--report-interval=10']),
  );
  const sb = p1.load as SysbenchResult;
  rows.push({
    phase: '1 lag at fixed rate', system: 'source (sysbench)', rowsPerSec: sb.tps * 4,
    note: `${sb.tps.toFixed(0)} tps × 4 row changes (asked ${o.rate} tps), ${o.threads} threads, ${sb.seconds.toFixed(1)} s, p95 ${sb.p95LatencyMs} ms, ${sb.errors} ignored errors`,
  });
  rows.push(...lagRows('1 lag at fixed rate', p1, b));
  log(`phase 1 done: ${sb.tps.toFixed(0)} tps; p99 lag ${b.copies.map((c) => `${c.name} ${p1.stats[c.name]!.p99Ms.toFixed(0)} ms`).join(', ')}`);
  await spikesOf('phase 1', p1);
  await breakdown('phase 1', seq0 + 1);
  await crossed('phase 1', t0, seq0 + 1);
  await check('phase 1');

  log(`phase 2: low traffic, ${o.lowTps} single-row transactions/s for ${o.lowSeconds} s (plus the heartbeat's 10/s)`);
  seq0 = await committedSeq();
  t0 = await b.proxy.traffic();
  const p2 = await lagPhase(b, () => lowTraffic(b.src, o.lowTps, o.lowSeconds, o.tables, o.tableSize));
  rows.push({ phase: '2 low traffic', system: 'source', rowsPerSec: (p2.load as number) / p2.sampledSeconds, note: `${p2.load} single-row transactions + heartbeat` });
  rows.push(...lagRows('2 low traffic', p2, b));
  await spikesOf('phase 2', p2);
  await breakdown('phase 2', seq0 + 1);
  await crossed('phase 2', t0, seq0 + 1);
  await check('phase 2');

  const p3 = await filesPhase(b, o, log);
  rows.push(...p3.rows);
  if (p3.problem) problems.push(`phase 3: ${p3.problem}`);
  await spikesOf('phase 3', p3.lag);
  await breakdown('phase 3', p3.fromSeq);
  await crossed('phase 3', p3.traffic, p3.fromSeq);
  await check('phase 3');

  for (const c of b.copies) {
    const bad = checks.filter((v) => !v.equal[c.name]).map((v) => v.after);
    rows.push({ phase: '4 checksums', system: c.label, note: bad.length ? `DIFFERENT after ${bad.join(', ')}` : `all ${b.tables.length} tables equal after phases 1, 2, 3` });
  }
  traffic['whole run'] = await b.proxy.traffic();
  rows.push(...linkRows, ...trafficRows('links, whole run', traffic['whole run'], LINKS, true));
  const ok = checks.every((v) => v.equal.seaotter) && problems.length === 0;
  const totalSeconds = (Date.now() - started) / 1000;
  const settings = `cross-dc: ${o.oneWayMs} ms each way (${2 * o.oneWayMs} ms RTT) on ${Object.keys(LINKS).length} links (${Object.values(LINKS).join('; ')}); ` +
    `${o.tables}×${o.tableSize} rows, ${o.threads} threads × ${o.seconds} s at ${o.rate} tps, low ${o.lowTps}/s × ${o.lowSeconds} s, ` +
    `pictures ${o.fileRate}/s × ${o.fileSeconds} s of ${o.fileKiB / 2}–${o.fileKiB * 1.5} KiB; ` +
    `seaotter batch ${JSON.stringify(o.batch)}; copies durable`;
  const legend = [...LEGEND, ...Object.entries(SEGMENTS).map(([k, v]) => `breakdown ${k}: ${v}`)];
  const breakdownText = Object.entries(breakdowns).filter(([, v]) => v).map(([k, v]) => formatBreakdown(`batch time breakdown, ${k}`, v!)).join('\n\n');
  console.log(`\n${textTable(rows)}\n\n${breakdownText}\n\n${legend.join('\n')}\n`);
  console.log(`markdown:\n\n${markdownTable(rows, machine, settings)}\n`);
  const file = writeResults({
    mode: 'cross-dc', startedAt: new Date(started).toISOString(), totalSeconds, ok, settings: o, links: b.links, linkRoles: LINKS,
    machine, servers: b.serverSettings, loadAverage: { before: loadBefore, after: os.loadavg() },
    phases: { lagAtRate: p1, lowTraffic: p2, files: { ...p3.lag, arrivals: p3.arrivals, pictures: p3.pictures } }, breakdowns, spikes, linkTraffic: traffic, linkProblems: problems, checksums: checks, rows,
  });
  log(`results written to ${file}; total ${totalSeconds.toFixed(0)} s`);
  for (const p of problems) console.error(`FAILED: ${p}`);
  if (!checks.every((v) => v.equal.seaotter)) console.error('FAILED: seaotter target differs from the source (see checksums above)');
  return ok ? 0 : 1;
}
