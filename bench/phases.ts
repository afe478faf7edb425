// The benchmark's phases: lag under a load (phases 1 and 3), catch-up after a backlog (phase 2),
// and the checksum comparison that follows each (phase 4).
import { pipelineStatus, signalPipeline } from '../client/pipeline-commands.js';
import { HEARTBEAT_ID, HeartbeatWriter, lagStats, MARKER_ID, nowUs, Sampler, waitRow, writeMarker, type LagStats } from './lag.js';
import { PIPELINE_ID, type Bench, type Copy } from './setup.js';
import { checksums, differences, gtidReached, replicaState, scalar, waitReplicaCaughtUp, waitUntil } from './verify.js';
import { backlogMaxId, writeBacklog, type BacklogResult } from './workloads.js';

const LONG_WAIT_MS = 30 * 60_000;

/** Rejects as soon as the pipeline halts, so a broken seaotter fails the run instead of a timeout. */
async function unlessHalted<T>(b: Bench, work: Promise<T>): Promise<T> {
  let done = false;
  const watch = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 2000));
      if (done) break;
      const s = await pipelineStatus(b.client, PIPELINE_ID).catch(() => undefined);
      if (s?.lastError) throw new Error(`seaotter pipeline halted at batch ${s.lastError.seq}: ${s.lastError.message}`);
      if (s?.state === 'stopped') throw new Error('seaotter pipeline stopped');
    }
  })();
  try {
    return (await Promise.race([work, watch])) as T;
  } finally {
    done = true;
  }
}

/** Waits until `copy` has row `id` ≥ value (and, for a replica, the source's GTID); resolves with the µs time seen. */
function copyReaches(b: Bench, copy: Copy, id: number, value: number, gtid?: string): Promise<number> {
  if (copy.name === 'seaotter') return unlessHalted(b, waitRow(copy.probe, id, value, LONG_WAIT_MS));
  if (gtid) return waitReplicaCaughtUp(copy.probe, gtid, LONG_WAIT_MS).then(() => nowUs());
  return waitRow(copy.probe, id, value, LONG_WAIT_MS);
}

/**
 * Writes a marker on the source and waits until every copy has it: afterwards all copies hold
 * everything the source wrote before. Resolves with ms per copy from the marker's write to seen.
 */
export async function barrier(b: Bench): Promise<Record<string, number>> {
  const token = await writeMarker(b.src);
  const gtid = await scalar(b.src, 'SELECT @@gtid_binlog_pos');
  const seen = await Promise.all(b.copies.map((c) => copyReaches(b, c, MARKER_ID, token, c.name === 'seaotter' ? undefined : gtid)));
  return Object.fromEntries(b.copies.map((c, i) => [c.name, (seen[i]! - token) / 1000]));
}

export interface VerifyResult {
  after: string;
  equal: Record<string, boolean>;
  differing: Record<string, string[]>;
  seconds: number;
}

/** CHECKSUM TABLE of every bench table on the source and each copy (after a barrier). */
export async function verify(b: Bench, after: string): Promise<VerifyResult> {
  const t0 = Date.now();
  const [src, ...others] = await Promise.all([b.src, ...b.copies.map((c) => c.probe)].map((c) => checksums(c, b.tables)));
  const differing = Object.fromEntries(b.copies.map((c, i) => [c.name, differences(src!, others[i]!)]));
  const equal = Object.fromEntries(Object.entries(differing).map(([k, v]) => [k, v.length === 0]));
  return { after, equal, differing, seconds: (Date.now() - t0) / 1000 };
}

const SPIKES_KEPT = 8;

export interface LagPhaseResult<T> {
  load: T;
  stats: Record<string, LagStats>;
  /** ms from the end of the load until each copy had everything. */
  drainMs: Record<string, number>;
  sampledSeconds: number;
  /** Epoch ms when sampling started (the `atS` of spikes counts from here). */
  startedAt: number;
  /** seaotter's highest-lag samples, worst first: when (s into the phase) and how much. */
  spikes: { atS: number; lagMs: number }[];
}

/** Heartbeat on, wait until every copy sees it, sample lag while `load` runs, then drain. */
export async function lagPhase<T>(b: Bench, load: () => Promise<T>): Promise<LagPhaseResult<T>> {
  const hb = new HeartbeatWriter(b.src);
  const startUs = nowUs();
  hb.start();
  const sampler = new Sampler(b.copies.map((c) => ({ name: c.name, conn: c.conn })));
  let result: T;
  let t0 = 0;
  try {
    await Promise.all(b.copies.map((c) => copyReaches(b, c, HEARTBEAT_ID, startUs)));
    t0 = Date.now();
    sampler.start();
    result = await load();
  } finally {
    await sampler.stop();
    await hb.stop();
  }
  const sampledSeconds = (Date.now() - t0) / 1000;
  const drainMs = await barrier(b);
  const stats = Object.fromEntries(b.copies.map((c) => [c.name, lagStats(sampler.samples.get(c.name)!, hb.written)]));
  const spikes = (sampler.samples.get('seaotter') ?? [])
    .map((x) => ({ atS: Math.round((x.t / 1000 - t0) / 100) / 10, lagMs: Math.round((x.t - x.h) / 1000) }))
    .sort((a, c) => c.lagMs - a.lagMs)
    .slice(0, SPIKES_KEPT);
  return { load: result, stats, drainMs, sampledSeconds, startedAt: t0, spikes };
}

export interface CatchUpResult {
  backlog: BacklogResult;
  /** Seconds from the common resume to fully caught up, per copy. */
  seconds: Record<string, number>;
  rowsPerSec: Record<string, number>;
  /** seaotter batches already captured (waiting for load permits) at resume. */
  seaotterInFlightAtResume: number;
  replicaSecondsBehindAfter: Record<string, number | null>;
}

/** Pause all copies, write the backlog on the source, resume all at once and time the catch-up. */
export async function catchUpPhase(
  b: Bench,
  o: { rowChanges: number; txRows: number; writers: number; maxInFlight: number },
  log: (l: string) => void,
): Promise<CatchUpResult> {
  const replicas = b.copies.filter((c) => c.name !== 'seaotter');
  await signalPipeline(b.client, PIPELINE_ID, 'pause');
  await waitUntil('seaotter paused', async () => {
    const s = await pipelineStatus(b.client, PIPELINE_ID);
    return s.state === 'paused' && s.batchesInFlight === 0;
  }, 60_000, 200);
  for (const r of replicas) await r.probe.query('STOP SLAVE SQL_THREAD');
  await Promise.all(replicas.map((r) => waitUntil(`${r.label} SQL thread stopped`, async () => (await replicaState(r.probe)).sqlRunning === 'No', 60_000)));
  log('catch-up: seaotter paused, replica SQL threads stopped; writing the backlog');

  const extra = await Promise.all(Array.from({ length: o.writers - 1 }, () => b.source.connect()));
  const backlog = await writeBacklog([b.src, ...extra], o.rowChanges, o.txRows, (await backlogMaxId(b.src)) + 1)
    .finally(() => Promise.all(extra.map((c) => c.end())));
  const token = await writeMarker(b.src);
  const endGtid = await scalar(b.src, 'SELECT @@gtid_binlog_pos');
  log(`catch-up: backlog of ${backlog.rowChanges.toLocaleString('en-US')} row changes in ${backlog.transactions} transactions written in ${backlog.seconds.toFixed(1)} s; ` +
    'waiting for the replicas to have it in their relay logs');
  // Replicas keep receiving while their SQL thread is stopped; seaotter keeps capturing up to
  // maxInFlight batches while paused. Both start from their steady paused state.
  await Promise.all(replicas.map((r) => waitUntil(`${r.label} relay log complete`, async () => gtidReached((await replicaState(r.probe)).gtidIoPos, endGtid), 300_000)));
  let inFlight = 0;
  await waitUntil('seaotter capture to fill its in-flight window', async () => {
    const s = await pipelineStatus(b.client, PIPELINE_ID);
    inFlight = s.batchesInFlight;
    return inFlight >= o.maxInFlight;
  }, 15_000, 250).catch(() => undefined);

  const t0 = nowUs();
  await Promise.all([
    signalPipeline(b.client, PIPELINE_ID, 'resume'),
    ...replicas.map((r) => r.probe.query('START SLAVE SQL_THREAD')),
  ]);
  log('catch-up: resumed all three; timing');
  const seen = await Promise.all(b.copies.map(async (c) => {
    const t = await copyReaches(b, c, MARKER_ID, token, c.name === 'seaotter' ? undefined : endGtid);
    log(`catch-up: ${c.label} caught up after ${((t - t0) / 1e6).toFixed(1)} s`);
    return t;
  }));
  await waitUntil('seaotter batches in flight 0', async () => (await pipelineStatus(b.client, PIPELINE_ID)).batchesInFlight === 0, 60_000, 200);
  const seconds = Object.fromEntries(b.copies.map((c, i) => [c.name, (seen[i]! - t0) / 1e6]));
  const behind: Record<string, number | null> = {};
  for (const r of replicas) behind[r.name] = (await replicaState(r.probe)).secondsBehind;
  return {
    backlog,
    seconds,
    rowsPerSec: Object.fromEntries(Object.entries(seconds).map(([k, s]) => [k, backlog.rowChanges / s])),
    seaotterInFlightAtResume: inFlight,
    replicaSecondsBehindAfter: behind,
  };
}
