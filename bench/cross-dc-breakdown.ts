// Where a batch's time goes, from Temporal's own records: each batch workflow's history gives
// the times at which it started, its load was scheduled, picked up by the us worker, and completed;
// its input gives the source commit time of its first transaction. Events carry the server's
// clock, so segments that cross the link include the link's delay where the server sees it.
import { defaultPayloadConverter } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { batchWorkflowId } from '../lib/spec.js';
import { percentile } from './lag.js';

export const SEGMENTS = {
  capture: 'source commit → batch workflow started (cut, staged, accepted by Workflow Update, child started; source DC)',
  cut: '  of which: source commit → capture cuts the batch (read from the binlog, waits for more commits)',
  stage: '  of which: cut → staged and submitted',
  accept: '  of which: submitted → batch workflow started (Workflow Update, waits while maxInFlight batches are in flight, child started)',
  prepare: 'batch started → load scheduled (extract and transform as local activities; source DC)',
  pickup: '  of which: batch started → its first workflow task picked up by a worker',
  queued: 'load scheduled → handed to a target-DC worker (Temporal matching; across DCs the task then crosses the link)',
  copy: 'batches with files only: copyFiles scheduled → completion recorded (across DCs the link out and back, the file plan\'s read unless it travelled inline, the files\' copies); part of prepare',
  load: 'load handed out → completion recorded (load in one transaction incl. waiting for the previous batch; across DCs the link both ways, plus the read of the staged batch when the stage is in the other DC)',
  close: 'load completed → batch workflow closed (workflow task; source DC)',
  total: 'source commit → load completion recorded',
} as const;

export type Segment = keyof typeof SEGMENTS;

export interface SegmentStats {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Breakdown {
  batches: number;
  rowsPerBatchP50: number;
  /** Every segment, except `copy` when no sampled batch copied files. */
  segments: Partial<Record<Segment, SegmentStats>>;
  /** Sampled batches that copied files. */
  withFiles?: number;
  /** The segment (other than total) with the largest median. */
  dominant: Segment;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (t: Ts) => (t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : NaN);

/** Times of one batch, or undefined when its history is incomplete (still running, or gone). */
export type BatchTimes = Record<Segment, number> & { rows: number };

export async function batchTimes(client: Client, pipelineId: string, seq: number): Promise<BatchTimes | undefined> {
  const history = await client.workflow.getHandle(batchWorkflowId(pipelineId, seq)).fetchHistory().catch(() => undefined);
  const events = history?.events ?? [];
  let firstWft = NaN, cutAt = NaN, submittedAt = NaN;
  let started = NaN, scheduled = NaN, pickedUp = NaN, completed = NaN, closed = NaN, firstEvent = NaN, rows = 0;
  let loadScheduledId = '';
  let copyScheduledId = '';
  let copyScheduled = NaN, copyCompleted = NaN;
  for (const e of events) {
    const at = ms(e.eventTime);
    const start = e.workflowExecutionStartedEventAttributes;
    if (start) {
      started = at;
      const input = defaultPayloadConverter.fromPayload<{ batch: { firstEventTime: number; rows: number; cutAt?: number; submittedAt?: number } }>(start.input!.payloads![0]!);
      firstEvent = input.batch.firstEventTime;
      cutAt = input.batch.cutAt ?? NaN;
      submittedAt = input.batch.submittedAt ?? NaN;
      rows = input.batch.rows;
    }
    if (e.workflowTaskStartedEventAttributes && Number.isNaN(firstWft)) firstWft = at;
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'copyFiles') {
      copyScheduled = at;
      copyScheduledId = String(e.eventId);
    }
    if (e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === copyScheduledId) copyCompleted = at;
    if (s?.activityType?.name === 'loadBatch') {
      scheduled = at;
      loadScheduledId = String(e.eventId);
    }
    if (e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === loadScheduledId) pickedUp = at;
    if (e.activityTaskCompletedEventAttributes && String(e.activityTaskCompletedEventAttributes.scheduledEventId) === loadScheduledId) completed = at;
    if (e.workflowExecutionCompletedEventAttributes) closed = at;
  }
  const t = { capture: started - firstEvent, cut: cutAt - firstEvent, stage: submittedAt - cutAt, accept: started - submittedAt, prepare: scheduled - started, pickup: firstWft - started, queued: pickedUp - scheduled, load: completed - pickedUp, close: closed - completed, total: completed - firstEvent };
  // `copy` is there only for batches that copied files; every other segment is in every batch.
  return Object.values(t).every(Number.isFinite) ? { ...t, copy: copyCompleted - copyScheduled, rows } : undefined;
}

/** Breakdown over batches fromSeq..toSeq (at most `sample` of them, evenly spread). */
export async function batchBreakdown(client: Client, pipelineId: string, fromSeq: number, toSeq: number, sample = 150): Promise<Breakdown | undefined> {
  const count = toSeq - fromSeq + 1;
  if (count <= 0) return undefined;
  const step = Math.max(1, count / sample);
  const seqs = new Set<number>();
  for (let x = fromSeq; x <= toSeq; x += step) seqs.add(Math.floor(x));
  const all: BatchTimes[] = [];
  for (const seq of seqs) {
    const t = await batchTimes(client, pipelineId, seq);
    if (t) all.push(t);
  }
  if (all.length === 0) return undefined;
  const stats = (k: Segment): SegmentStats | undefined => {
    const v = all.map((t) => t[k]).filter(Number.isFinite).sort((a, b) => a - b);
    return v.length ? { p50Ms: percentile(v, 50), p90Ms: percentile(v, 90), p99Ms: percentile(v, 99), maxMs: v.at(-1)! } : undefined;
  };
  const segments = Object.fromEntries((Object.keys(SEGMENTS) as Segment[]).flatMap((k) => (stats(k) ? [[k, stats(k)!]] : []))) as Partial<Record<Segment, SegmentStats>>;
  const parts = (Object.keys(segments) as Segment[]).filter((k) => k !== 'total');
  const dominant = parts.reduce((a, b) => (segments[b]!.p50Ms > segments[a]!.p50Ms ? b : a));
  const withFiles = all.filter((t) => Number.isFinite(t.copy)).length;
  return { batches: all.length, rowsPerBatchP50: percentile(all.map((t) => t.rows).sort((a, b) => a - b), 50), segments, dominant, ...(withFiles ? { withFiles } : {}) };
}

/** Text lines: one per segment with p50/p90/p99/max. */
export function formatBreakdown(title: string, b: Breakdown): string {
  const f = (x: number) => `${Math.round(x)} ms`.padStart(8);
  return [
    `${title}: ${b.batches} batches sampled${b.withFiles ? ` (${b.withFiles} with files)` : ''}, median ${b.rowsPerBatchP50} row changes per batch; dominant: ${b.dominant}`,
    `  ${'segment'.padEnd(8)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}  what`,
    ...(Object.keys(SEGMENTS) as Segment[]).filter((k) => b.segments[k]).map((k) => {
      const s = b.segments[k]!;
      return `  ${k.padEnd(8)} ${f(s.p50Ms)} ${f(s.p90Ms)} ${f(s.p99Ms)} ${f(s.maxMs)}  ${SEGMENTS[k]}`;
    }),
  ].join('\n');
}
