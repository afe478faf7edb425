/**
 * One pipeline = one long-running workflow, on the source's task queue with its capture (a
 * heartbeating activity there) and its batch workflows; only file copy and load run at the
 * target's. It numbers the batches capture submits, starts a `syncBatchWorkflow` child per
 * batch, and lets batch n load only after batch n−1 has committed.
 */
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  ChildWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { batchWorkflowId, type PipelineSpec } from '../lib/spec.js';
import type { NumberedBatch } from '../lib/model.js';
import { formatPosition } from '../lib/model.js';
import * as m from './messages.js';
import { dueForContinueAsNew, Pipeline, type PipelineWorkflowInput } from './pipeline-state.js';
import { syncBatchWorkflow, type SyncBatchResult } from './batch.js';

export type { PipelineWorkflowInput } from './pipeline-state.js';

type Activities = ReturnType<typeof createActivities>;

function captureActivity(spec: PipelineSpec) {
  return proxyActivities<Activities>({
    taskQueue: spec.sourceQueue,
    startToCloseTimeout: '3650 days',
    heartbeatTimeout: '10 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // An unreachable source is retried for as long as it takes; the attempt and its error are
    // visible on the pending activity (Web UI, `seaotter pipeline status`).
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: ['CaptureFatal'] },
  }).captureBinlog;
}

/** Result of a stopped pipeline: its final status. */
export async function pipelineWorkflow(input: PipelineWorkflowInput): Promise<m.PipelineStatus> {
  const p = new Pipeline(input);
  // (`patched`: a run started by an older worker keeps the rules it ran with; see haltsUntilResume.)
  p.haltsUntilResume = patched('halts-until-resume');
  p.fileDeletesPerBatch = patched('file-deletes-per-batch');
  const started = new Set<number>();
  /** Children whose start has been confirmed, so a permit signal finds them. */
  const handles = new Map<number, ChildWorkflowHandle<typeof syncBatchWorkflow>>();
  const permitted = new Set<number>();
  const scopes = new Map<number, CancellationScope>();
  let reconfigured: PipelineSpec | undefined;

  setHandler(m.statusQuery, () => p.status(Date.now()));
  setHandler(m.pauseSignal, () => void (p.s.paused = true));
  setHandler(m.resumeSignal, () => {
    p.s.paused = false;
    const failed = p.s.lastError?.seq;
    p.s.lastError = null;
    if (p.haltsUntilResume) {
      // Every batch whose workflow failed starts again: several in flight can fail before the halt is seen.
      const again = p.s.pending.filter((b) => started.has(b.seq) && !scopes.has(b.seq) && !p.hasCompleted(b.seq)).map((b) => b.seq);
      if (again.length) log.info('resumed after a halt: retrying', { seqs: again });
      for (const seq of again) {
        started.delete(seq);
        permitted.delete(seq);
      }
    } else if (failed !== undefined) {
      log.info('resumed after a halt: retrying', { seq: failed });
      started.delete(failed);
      permitted.delete(failed);
    }
  });
  setHandler(m.stopSignal, () => void (p.stopping = true));
  setHandler(
    m.submitBatchUpdate,
    async (batch) => {
      // Backpressure: the update (and so capture) waits while too many batches are in flight.
      await condition(() => p.hasRoom() || !p.accepting() || p.findDuplicate(batch) !== undefined);
      p.validateSubmit(batch);
      return p.accept(batch);
    },
    { validator: (batch) => p.validateSubmit(batch) },
  );
  setHandler(
    m.reconfigureUpdate,
    (spec) => {
      reconfigured = spec;
      p.draining = true;
      // Batches captured under the old spec load under it, in this run.
      p.carryOver = false;
      return `pipeline ${spec.id} takes version ${spec.version} at the next batch boundary`;
    },
    {
      validator: (spec) => {
        if (spec.id !== p.spec.id) throw new Error(`pipeline id cannot change (${p.spec.id} → ${spec.id})`);
      },
    },
  );

  let publishedState = p.state;
  const publishState = () => {
    publishedState = p.state;
    upsertSearchAttributes([
      { key: m.SA_PIPELINE, value: p.spec.id },
      { key: m.SA_STATE, value: p.state },
      { key: m.SA_POSITION, value: formatPosition(p.s.committedPosition) },
      { key: m.SA_BATCH_SEQ, value: p.s.committedSeq },
    ]);
  };
  publishState();

  // Capture runs until stop or continue-as-new cancels it. A crash of its worker is a retry that
  // resumes at this workflow's accepted position (it asks by query), never at one not accepted.
  let captureScope = new CancellationScope();
  let capture: Promise<void> = Promise.resolve();
  let captureDone = true;
  const startCapture = () => {
    captureScope = new CancellationScope();
    captureDone = false;
    capture = captureScope
      .run(() => captureActivity(p.spec)({ spec: p.spec, from: p.s.acceptedPosition }))
      .catch((err) => {
        if (isCancellation(err) || p.stopping || p.draining) return;
        p.halt(p.acceptedSeq + 1, workflowInfo().workflowId, `capture: ${rootMessage(err)}`, new Date().toISOString());
        publishState();
      })
      .finally(() => void (captureDone = true));
  };

  // Whether a batch in flight before this one carries DDL. (`patched`: a run started by an older
  // worker replays its children's inputs as it started them.)
  const afterDdl = (batch: NumberedBatch) => p.s.pending.some((b) => b.seq < batch.seq && b.ddl) && patched('load-after-ddl');

  const startBatch = (batch: NumberedBatch) => {
    const scope = new CancellationScope();
    scopes.set(batch.seq, scope);
    started.add(batch.seq);
    const mayLoad = p.mayLoadBatch(batch.seq);
    if (mayLoad) permitted.add(batch.seq);
    const run = scope.run(async () => {
      const handle = await startChild(syncBatchWorkflow, {
        workflowId: batchWorkflowId(p.spec.id, batch.seq),
        // With capture, at the source: see README "Datacenters" for why workflows live there.
        taskQueue: p.spec.sourceQueue,
        args: [{ spec: p.spec, batch, permitted: mayLoad, ...(afterDdl(batch) ? { afterDdl: true } : {}) }],
        typedSearchAttributes: [
          { key: m.SA_PIPELINE, value: p.spec.id },
          { key: m.SA_BATCH_SEQ, value: batch.seq },
          { key: m.SA_ROWS, value: batch.rows },
          { key: m.SA_POSITION, value: formatPosition(batch.from) },
          { key: m.SA_STATE, value: 'preparing' },
        ],
      });
      handles.set(batch.seq, handle);
      return handle.result();
    });
    run.then(
      (r) => {
        handles.delete(batch.seq);
        scopes.delete(batch.seq);
        // Loads commit in seq order on the target, but their completions can reach this
        // workflow in any order: record them, and advance over the contiguous ones.
        p.completed(batch.seq, r.rowsApplied, Date.now(), r.deadLettered, r.files?.missing);
        for (const seq of [...permitted]) if (seq <= p.s.committedSeq) permitted.delete(seq);
        publishState();
      },
      (err) => {
        handles.delete(batch.seq);
        scopes.delete(batch.seq);
        if (p.stopping && isCancellation(err)) return;
        const cause = rootMessage(err);
        log.error('batch failed; pipeline halted', { seq: batch.seq, error: cause });
        p.halt(batch.seq, batchWorkflowId(p.spec.id, batch.seq), cause, new Date().toISOString());
        publishState();
      },
    );
  };

  // The loop starts children for accepted batches, hands out load permits unless paused or
  // halted, and ends the run on stop, or with continue-as-new once drained (children never
  // outlive their parent run; batches accepted while it drains start in the next run).
  for (;;) {
    // Pause, resume and stop change the state with no batch finishing: the Web UI's
    // SeaotterState follows them too. (`patched`: runs of older workers published only there.)
    if (p.state !== publishedState && patched('publish-state-changes')) publishState();
    if (captureDone && !p.s.lastError && !p.stopping && !p.draining) startCapture();
    // A failed batch is retried (after resume) in this run: a carried batch would wait for it.
    if (p.carryOver && p.s.lastError) p.carryOver = false;
    const carrying = p.draining && p.carryOver;
    if (!p.s.lastError && !carrying) for (const batch of p.s.pending) if (!started.has(batch.seq)) startBatch(batch);
    // Permits go to every accepted batch while the pipeline runs; the target's checkpoint row
    // lock makes their loads commit strictly in seq order (see activities/load), at database
    // speed rather than one workflow round trip per batch.
    if (p.mayLoad()) {
      for (const [seq, handle] of handles) {
        if (permitted.has(seq) || !p.mayLoadBatch(seq)) continue;
        permitted.add(seq);
        // A batch whose workflow has just ended (failed) cannot take it; its failure is handled above.
        await handle.signal(m.loadPermitSignal).catch((err) => log.warn('load permit not delivered: the batch workflow has ended', { seq, error: rootMessage(err) }));
      }
    }
    const info = workflowInfo();
    const run = { committedThisRun: p.committedThisRun, acceptedThisRun: p.acceptedThisRun, every: p.spec.continueAsNewEvery };
    // (`patched`: a run started by an older worker replays with the rule it ran with.)
    const due = patched('run-limits')
      ? dueForContinueAsNew({ ...run, historyLength: info.historyLength, historySize: info.historySize })
      : run.committedThisRun >= run.every || info.continueAsNewSuggested;
    if (due && !p.draining) {
      p.draining = true;
      // (`patched`: a run started by an older worker drained with capture stopped.)
      p.carryOver = patched('carry-over-at-continue-as-new');
    }
    if (p.stopping) {
      captureScope.cancel();
      await stopInFlight(p, permitted, scopes, p.haltsUntilResume);
      await capture;
      break;
    }
    if (p.draining) {
      // Drained: every batch workflow of this run has finished; carried batches wait in pending.
      const drained = p.carryOver ? scopes.size === 0 : p.s.pending.length === 0;
      if (!p.carryOver || drained) {
        p.closing = true;
        captureScope.cancel();
      }
      if (captureDone && drained) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof pipelineWorkflow>({ spec: reconfigured ?? p.spec, snapshot: p.s });
      }
    }
    const signature = loopSignature(p, handles, scopes, permitted, captureDone);
    await condition(() => loopSignature(p, handles, scopes, permitted, captureDone) !== signature);
  }
  p.ended = true;
  publishState();
  return p.status(Date.now());
}

/**
 * Stop: let the batches that hold load permits finish, cancel the rest (they will be re-captured).
 * Loads commit in seq order, so only while the next batch to commit holds a permit can more
 * commit (`headOnly`; runs of older workers waited for every permitted batch, which never ended
 * when a batch without a permit came first).
 */
async function stopInFlight(p: Pipeline, permitted: Set<number>, scopes: Map<number, CancellationScope>, headOnly: boolean): Promise<void> {
  const loading = () => (headOnly ? p.s.pending.length > 0 && permitted.has(p.s.pending[0].seq) : p.s.pending.some((b) => permitted.has(b.seq)));
  await condition(() => p.s.lastError !== null || !loading());
  for (const scope of scopes.values()) scope.cancel();
  p.s.pending = [];
  p.s.acceptedPosition = p.s.committedPosition;
}

/** A cheap fingerprint of everything the loop reacts to; the loop sleeps until it changes. */
function loopSignature(p: Pipeline, handles: Map<number, unknown>, scopes: Map<number, unknown>, permitted: Set<number>, captureDone: boolean): string {
  return [p.acceptedSeq, p.s.committedSeq, p.s.paused, p.s.lastError?.seq ?? '', p.stopping, p.draining, p.carryOver, [...handles.keys()].join(','), scopes.size, permitted.size, captureDone].join('|');
}

function rootMessage(err: unknown): string {
  let e = err as { cause?: unknown; message?: string } | undefined;
  const parts: string[] = [];
  while (e) {
    if (e.message) parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.length ? parts[parts.length - 1] : String(err);
}
