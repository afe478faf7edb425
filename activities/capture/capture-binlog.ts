/**
 * `captureBinlog`: the long-running activity at the source's datacenter. It streams the binlog,
 * cuts batches at commits, stages each one and submits it to the pipeline by Workflow Update.
 * It heartbeats the last accepted position, so a retry (worker crash, lost connection) resumes
 * exactly after the last batch the pipeline accepted; a batch submitted twice is accepted once.
 */
import { activityInfo, ApplicationFailure, Context, heartbeat, log } from '@temporalio/activity';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { TransactionBatcher, type CutBatch } from '../../lib/batcher.js';
import { formatPosition, positionKey, type BatchDescriptor, type BinlogPosition } from '../../lib/model.js';
import { pipelineWorkflowId, type PipelineSpec } from '../../lib/spec.js';
import { statusQuery, submitBatchUpdate } from '../../workflows/messages.js';
import { workerShutdown } from '../shutdown.js';
import { openStage } from '../stage/stage.js';
import { BinlogStream } from './binlog-stream.js';
import { ddlConcernsPipeline, tableFilter } from './ddl-filter.js';

/** Input of `captureBinlog`. */
export interface CaptureInput {
  spec: PipelineSpec;
  /** The pipeline's accepted position when the activity was scheduled. */
  from: BinlogPosition;
}

interface CaptureProgress {
  accepted: BinlogPosition;
  batches: number;
}

const HEARTBEAT_MS = 2000;

/** A server id per pipeline, stable across restarts, away from small ids servers usually use. */
export function captureServerId(spec: PipelineSpec): number {
  if (spec.source.serverId) return spec.source.serverId;
  let h = 0;
  for (const ch of spec.id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 100_000 + (h % 1_000_000_000);
}

export function createCaptureActivities(deps: { client: () => Client }) {
  return {
    async captureBinlog(input: CaptureInput): Promise<void> {
      const { spec } = input;
      const ctx = Context.current();
      const handle = deps.client().workflow.getHandle(pipelineWorkflowId(spec.id));
      // The pipeline's accepted position is the truth; heartbeat details can be older (heartbeats
      // are throttled), and resuming from them would re-cut batches that were already accepted.
      const saved = activityInfo().heartbeatDetails as CaptureProgress | undefined;
      let accepted = activityInfo().attempt > 1 ? (await handle.query(statusQuery)).resumeFrom : input.from;
      let batches = saved?.batches ?? 0;
      log.info('capture starting', { pipeline: spec.id, from: formatPosition(accepted), attempt: activityInfo().attempt });

      const stage = openStage(spec.stage);
      const batcher = new TransactionBatcher(spec.batch, accepted);
      const tables: Record<string, string[]> = {};
      for (const t of spec.tables) (tables[t.source.schema] ??= []).push(t.source.table);

      let failure: Error | undefined;
      let submitting = false;
      let wake: () => void = () => {};
      const poke = () => wake();
      const stream = new BinlogStream(
        { source: spec.source, serverId: captureServerId(spec), from: accepted, tables, ...(spec.rules ? { wants: tableFilter(spec) } : {}) },
        {
          onRows: (changes, t) => batcher.addRows(changes, eventTime(t)),
          onCommit: (pos, t) => {
            batcher.commit(pos, eventTime(t), Date.now());
            // Backpressure: while a submission waits, read on only until one more batch is full.
            if (submitting && batcher.readyRows >= spec.batch.maxRows) stream.pause();
            // Wake the loop: it may be sleeping on an idle timer, not on this batch's maxWaitMs.
            poke();
          },
          onDdl: (schema, sql, pos, t) => {
            // A DDL batch of its own, so rows before and after it never share a batch.
            if (ddlConcernsPipeline(spec, schema, sql)) batcher.addDdl({ schema, statement: sql }, pos, eventTime(t), Date.now());
          },
          onError: (err) => {
            failure = err;
            poke();
          },
        },
      );

      /** 'closed' when the pipeline takes no more batches in this run (stopping, or continuing as new). */
      const submit = async (b: CutBatch): Promise<'accepted' | 'closed'> => {
        // Named by the whole range: a re-cut batch never overwrites one the pipeline already holds.
        const ref = `${spec.id}/capture/${positionKey(b.from)}..${positionKey(b.to)}.jsonl.gz`;
        const cutAt = Date.now();
        await stage.putChanges(ref, b.changes);
        const descriptor: BatchDescriptor = {
          from: b.from,
          to: b.to,
          ref,
          rows: b.changes.length,
          transactions: b.transactions,
          ...(b.ddl ? { ddl: b.ddl } : {}),
          firstEventTime: b.firstEventTime,
          lastEventTime: b.lastEventTime,
          cutAt,
          submittedAt: Date.now(),
        };
        for (;;) {
          try {
            // The update id is the batch's range: a retried submission of it is the same update.
            const r = await handle.executeUpdate(submitBatchUpdate, { args: [descriptor], updateId: `batch-${positionKey(b.from)}-${positionKey(b.to)}` });
            accepted = b.to;
            batches++;
            heartbeat({ accepted, batches } satisfies CaptureProgress);
            if (r.duplicate) log.info('batch was already accepted', { seq: r.seq, from: formatPosition(b.from) });
            return 'accepted';
          } catch (err) {
            const type = err instanceof WorkflowUpdateFailedError ? (err.cause as ApplicationFailure | undefined)?.type : undefined;
            // Out of step with the pipeline (a stale attempt's batch got in first): this attempt
            // ends and the retry resumes from the pipeline's accepted position.
            if (type === 'PositionGap') throw ApplicationFailure.retryable(((err as Error).cause as Error | undefined)?.message ?? String(err), 'PositionGap');
            if (type !== 'NotAccepting') throw err;
            // The pipeline is stopping or continuing as new. Ending now, rather than waiting for
            // the cancellation (it arrives with a heartbeat, up to seconds later), lets the next
            // run start capture at once; it resumes at the accepted position, so this batch is
            // cut again there.
            return 'closed';
          }
        }
      };

      // Hand capture to another worker as soon as this one is asked to stop, instead of after
      // the shutdown grace time. One promise per attempt, observed here so it never goes unhandled.
      const shutdown = workerShutdown.then(() => {
        throw ApplicationFailure.retryable('worker shutting down; capture resumes on the next worker', 'WorkerShutdown');
      });
      shutdown.catch(() => undefined);
      const timer = setInterval(() => {
        heartbeat({ accepted, batches } satisfies CaptureProgress);
        poke();
      }, HEARTBEAT_MS);
      stream.start();
      try {
        for (;;) {
          const now = Date.now();
          if (failure) throw failure;
          if (batcher.due(now)) {
            const batch = batcher.cut()!;
            submitting = true;
            try {
              if ((await Promise.race([submit(batch), ctx.cancelled])) === 'closed') {
                log.info('pipeline takes no more batches in this run; capture ends', { pipeline: spec.id, accepted: formatPosition(accepted) });
                return;
              }
            } finally {
              submitting = false;
              stream.resume();
            }
            continue;
          }
          const waitMs = batcher.msUntilDue(now) ?? HEARTBEAT_MS;
          let sleeper: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              new Promise<void>((resolve) => {
                wake = resolve;
                sleeper = setTimeout(resolve, Math.max(1, waitMs));
              }),
              ctx.cancelled,
              shutdown,
            ]);
          } finally {
            clearTimeout(sleeper);
          }
        }
      } finally {
        clearInterval(timer);
        await stream.stop();
      }
    },
  };
}

/**
 * Binlog timestamps have whole seconds. While capture keeps up (the event is under 2 s old) the
 * moment it is read is the better commit time, to the millisecond; when catching up, the binlog's.
 */
function eventTime(binlogMs: number): number {
  const now = Date.now();
  return now - binlogMs < 2000 ? Math.max(binlogMs, now) : binlogMs;
}
