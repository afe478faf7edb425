/**
 * `captureBinlog`: the long-running activity at the source's datacenter. It streams the binlog,
 * cuts batches at commits, stages each one and submits it to the pipeline by Workflow Update.
 * It heartbeats the last accepted position, so a retry (worker crash, lost connection) resumes
 * exactly after the last batch the pipeline accepted; a batch submitted twice is accepted once.
 */
import { activityInfo, ApplicationFailure, CancelledFailure, Context, heartbeat, log } from '@temporalio/activity';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import type { CutBatch } from '../../lib/batcher.js';
import { hasFileDeletes } from '../../lib/file-keys.js';
import { formatPosition, positionKey, type BatchDescriptor, type BinlogPosition } from '../../lib/model.js';
import { pipelineWorkflowId, type PipelineSpec } from '../../lib/spec.js';
import { statusQuery, submitBatchUpdate } from '../../workflows/messages.js';
import { errorType, recordAccepted, recordCaptureFailure, recordPausedSeen } from '../metrics.js';
import { workerShutdown } from '../shutdown.js';
import { openStage } from '../stage/stage.js';
import { captureThreadEnabled } from './binlog-thread.js';
import { adopt, CaptureSession, park } from './capture-session.js';

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
/** How often a submission the pipeline has not taken yet is logged. */
const SUBMIT_WAIT_LOG_MS = 30_000;
/** How often capture asks whether its pipeline is paused, for the metric alarms use (activities/metrics.ts). */
const PAUSE_CHECK_MS = 15_000;

export function createCaptureActivities(deps: { client: () => Client }) {
  const capture = async (input: CaptureInput): Promise<void> => {
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
    const deletesFiles = hasFileDeletes(spec.tables, spec.rules);
    // The previous run's session, still reading where this run starts; else a new stream.
    const adopted = adopt(spec, accepted);
    const session = adopted ?? new CaptureSession(spec, accepted, eventTime);
    const { batcher, stream } = session;
    if (adopted) log.info('capture takes over the stream of the previous run', { pipeline: spec.id, readyRows: batcher.readyRows });
    else log.info('binlog stream opened', { pipeline: spec.id, decodedOn: captureThreadEnabled() ? 'a thread of its own' : 'the main thread' });
    let parked = false;
    /** Set as this attempt ends (a submission can outlive it, after a cancellation won the race). */
    let ended = false;

    /**
     * 'closed' when the pipeline takes no more batches in this run (stopping, or continuing as
     * new: then the batch is kept in the session for the next run's capture).
     */
    const submit = async (b: CutBatch, staged = false): Promise<'accepted' | 'closed'> => {
      // Named by the whole range: a re-cut batch never overwrites one the pipeline already holds.
      const ref = `${spec.id}/capture/${positionKey(b.from)}..${positionKey(b.to)}.jsonl.gz`;
      const cutAt = Date.now();
      if (!staged) await stage.putChanges(ref, b.changes);
      const descriptor: BatchDescriptor = {
        from: b.from,
        to: b.to,
        ref,
        rows: b.changes.length,
        transactions: b.transactions,
        ...(b.ddl ? { ddl: b.ddl } : {}),
        // Said either way where files are deleted: a batch without it counts as one that may (older builds).
        ...(deletesFiles ? { mayDeleteFiles: b.mayDeleteFiles === true } : {}),
        firstEventTime: b.firstEventTime,
        lastEventTime: b.lastEventTime,
        cutAt,
        submittedAt: Date.now(),
      };
      // A submission waits while the pipeline is paused, halted or at its in-flight limit; say
      // so in the log now and then, so a capture that seems idle explains itself.
      const since = Date.now();
      const waiting = setInterval(() => {
        log.info('batch waits for the pipeline to take it (paused, halted, or at its in-flight limit)', {
          pipeline: spec.id,
          from: formatPosition(b.from),
          rows: b.changes.length,
          waitingSeconds: Math.round((Date.now() - since) / 1000),
        });
      }, SUBMIT_WAIT_LOG_MS);
      try {
        // The update id is the batch's range: a retried submission of it is the same update.
        const r = await handle.executeUpdate(submitBatchUpdate, { args: [descriptor], updateId: `batch-${positionKey(b.from)}-${positionKey(b.to)}` });
        accepted = b.to;
        batches++;
        heartbeat({ accepted, batches } satisfies CaptureProgress);
        if (r.duplicate) log.info('batch was already accepted', { seq: r.seq, from: formatPosition(b.from) });
        else recordAccepted(ctx.metricMeter, spec.id, descriptor);
        return 'accepted';
      } catch (err) {
        const type = err instanceof WorkflowUpdateFailedError ? (err.cause as ApplicationFailure | undefined)?.type : undefined;
        // Out of step with the pipeline (a stale attempt's batch got in first): this attempt
        // ends and the retry resumes from the pipeline's accepted position.
        if (type === 'PositionGap') throw ApplicationFailure.retryable(((err as Error).cause as Error | undefined)?.message ?? String(err), 'PositionGap');
        if (type !== 'NotAccepting') throw err;
        // The pipeline is stopping or continuing as new. Ending now, rather than waiting for
        // the cancellation (it arrives with a heartbeat, up to seconds later), lets the next
        // run start capture at once. It resumes at the accepted position: with this session
        // (parked with the batch) when it runs here, else by cutting the batch again there.
        const details = ((err as Error).cause as ApplicationFailure | undefined)?.details?.[0] as { continuingAsNew?: boolean } | undefined;
        if (details?.continuingAsNew && !session.failure && !ended) {
          session.unsent = { batch: b, staged: true };
          park(session);
          parked = true;
        }
        return 'closed';
      } finally {
        clearInterval(waiting);
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
      session.poke();
    }, HEARTBEAT_MS);
    // A paused pipeline applies nothing on purpose: the stall alarm must not fire for it.
    let checking = false;
    const pauseCheck = setInterval(() => {
      if (checking) return;
      checking = true;
      handle.query(statusQuery)
        .then((s) => void (s.state === 'paused' && recordPausedSeen(ctx.metricMeter, spec.id)))
        .catch(() => undefined) // no worker answering now: the next check asks again
        .finally(() => void (checking = false));
    }, PAUSE_CHECK_MS);
    if (!adopted) session.start();
    try {
      for (;;) {
        const now = Date.now();
        if (session.failure) {
          // What no retry gets past halts the pipeline, visibly, instead of retrying forever.
          if (session.failure.name === 'CaptureFatal') throw ApplicationFailure.nonRetryable(session.failure.message, 'CaptureFatal');
          throw session.failure;
        }
        const unsent = session.unsent;
        if (unsent || batcher.due(now)) {
          session.unsent = undefined;
          const batch = unsent?.batch ?? batcher.cut(now)!;
          session.holding = true;
          try {
            if ((await Promise.race([submit(batch, unsent?.staged), ctx.cancelled])) === 'closed') {
              log.info('pipeline takes no more batches in this run; capture ends', { pipeline: spec.id, accepted: formatPosition(accepted) });
              return;
            }
          } finally {
            if (!parked) {
              session.holding = false;
              stream.resume();
            }
          }
          continue;
        }
        await session.sleep(batcher.msUntilDue(now) ?? HEARTBEAT_MS, [ctx.cancelled, shutdown]);
      }
    } finally {
      ended = true;
      clearInterval(timer);
      clearInterval(pauseCheck);
      if (!parked) await session.stop();
    }
  };

  return {
    async captureBinlog(input: CaptureInput): Promise<void> {
      try {
        await capture(input);
      } catch (err) {
        // Stop, continue-as-new and worker shutdown end an attempt too; only failures count.
        const type = errorType(err);
        if (!(err instanceof CancelledFailure) && type !== 'WorkerShutdown') recordCaptureFailure(Context.current().metricMeter, input.spec.id, type);
        throw err;
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
