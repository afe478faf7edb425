/**
 * The pipeline's state, kept in a class so the workflow body reads top to bottom. It is plain data
 * (carried across continue-as-new as `PipelineSnapshot`) plus the rules for accepting batches.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { formatPosition, positionKey, type BatchDescriptor, type BinlogPosition, type NumberedBatch } from '../lib/model.js';
import { hasFileDeletes } from '../lib/file-keys.js';
import { batchWorkflowId, type PipelineSpec } from '../lib/spec.js';
import { connectionsOf } from '../lib/spec-trust.js';
import type { BatchError, PipelineState, PipelineStatus, SubmitBatchResult } from './messages.js';

/** What survives continue-as-new. */
export interface PipelineSnapshot {
  acceptedPosition: BinlogPosition;
  committedPosition: BinlogPosition;
  committedSeq: number;
  rowsApplied: number;
  /** Rows the target refused, written to dead-letter files (`load.onError: skip`). */
  deadLettered?: number;
  /** Source files that were missing and skipped (`onMissing: skip`). */
  filesMissing?: number;
  paused: boolean;
  pending: NumberedBatch[];
  lastError: BatchError | null;
  lastCommittedEventTime: number | null;
  /** Ranges of recently accepted batches, so a re-submission after a capture retry is recognised. */
  recent: { key: string; seq: number }[];
  /** Commit times and row counts of the last minute, for rows/s. */
  throughput: { at: number; rows: number }[];
}

/** Input of `pipelineWorkflow`: the resolved spec, and the state when continuing as new. */
export interface PipelineWorkflowInput {
  spec: PipelineSpec;
  /** Seq of the last batch committed on the target (its checkpoint), when starting fresh. */
  startSeq?: number;
  snapshot?: PipelineSnapshot;
}

const RECENT_KEYS = 64;
const THROUGHPUT_WINDOW_MS = 60_000;

function rangeKey(b: BatchDescriptor): string {
  return `${positionKey(b.from)}..${positionKey(b.to)}`;
}

/**
 * Where a run stops growing its history. Each continue-as-new makes batches wait while the run
 * drains (about a second under heavy load), so the pipeline does not take Temporal's early hint
 * (`continueAsNewSuggested`, at 4,096 events: every ~270 batches); it continues below Temporal's
 * own warning levels instead, and before the limit on Workflow Updates per run (2,000).
 */
export const RUN_LIMITS = { historyEvents: 9_000, historyBytes: 8 * 1024 * 1024, updates: 1_500 };

/** True when the run should drain and continue as new. */
export function dueForContinueAsNew(x: {
  committedThisRun: number;
  acceptedThisRun: number;
  every: number;
  historyLength: number;
  historySize: number;
}): boolean {
  return (
    x.committedThisRun >= x.every ||
    x.acceptedThisRun >= RUN_LIMITS.updates ||
    x.historyLength >= RUN_LIMITS.historyEvents ||
    x.historySize >= RUN_LIMITS.historyBytes
  );
}

export class Pipeline {
  spec: PipelineSpec;
  s: PipelineSnapshot;
  stopping = false;
  /** Set as the stopped run returns: only then is the pipeline `stopped`. */
  ended = false;
  /** Set while the run drains before continue-as-new: no new batch workflow starts in this run. */
  draining = false;
  /**
   * While a run drains to continue as new with the same spec, capture goes on: batches are still
   * accepted and wait in `pending`, carried to the next run, which starts them at once. Not when
   * the drain is for a new spec version (what capture read under the old one must not load under
   * the new), nor once a batch has failed (the retry after resume needs this run).
   */
  carryOver = false;
  /** Set once every batch workflow of a draining run has finished: capture ends, the run continues as new. */
  closing = false;
  committedThisRun = 0;
  acceptedThisRun = 0;
  /**
   * A halt stays until `resume`, and the earliest failed batch is the one shown. False only for
   * runs started by older workers, which replay as they ran: a commit of an earlier batch cleared
   * the halt (and the failed batch was then never retried), and a later failure replaced it.
   */
  haltsUntilResume = true;
  /**
   * With file deletes, a batch may copy (and load) once no earlier batch that may delete files is
   * in flight (BatchDescriptor.mayDeleteFiles). False only for runs started by older workers,
   * which replay as they ran: only the next batch to commit had its permit.
   */
  fileDeletesPerBatch = true;

  constructor(input: PipelineWorkflowInput) {
    this.spec = input.spec;
    this.s = input.snapshot ?? {
      acceptedPosition: input.spec.start,
      committedPosition: input.spec.start,
      committedSeq: input.startSeq ?? 0,
      rowsApplied: 0,
      paused: false,
      pending: [],
      lastError: null,
      lastCommittedEventTime: null,
      recent: [],
      throughput: [],
    };
  }

  get acceptedSeq(): number {
    return this.s.committedSeq + this.s.pending.length;
  }

  get state(): PipelineState {
    if (this.stopping) return this.ended ? 'stopped' : 'stopping';
    if (this.s.lastError) return 'halted';
    return this.s.paused ? 'paused' : 'running';
  }

  /** True when capture may hand over another batch now (backpressure otherwise). */
  hasRoom(): boolean {
    return this.s.pending.length < this.spec.batch.maxInFlight;
  }

  /** Whether this run takes batches from capture (see `carryOver`). */
  accepting(): boolean {
    return !this.stopping && !this.closing && (!this.draining || this.carryOver);
  }

  /** Validator of `submitBatch`: refuses before anything is written to history. */
  validateSubmit(batch: BatchDescriptor): void {
    if (!this.accepting()) {
      // (The detail tells capture whether a next run will ask for the batch: see capture-session.ts.)
      throw ApplicationFailure.retryable('pipeline is not accepting batches right now; resubmit', 'NotAccepting', {
        continuingAsNew: this.draining && !this.stopping,
      });
    }
    if (this.findDuplicate(batch) !== undefined) return;
    const accepted = this.s.acceptedPosition;
    const known = accepted.file !== undefined && accepted.pos !== undefined;
    if (known && positionKey(batch.from) !== positionKey(accepted)) {
      throw ApplicationFailure.nonRetryable(
        `batch starts at ${formatPosition(batch.from)} but the pipeline expects ${formatPosition(accepted)}`,
        'PositionGap',
      );
    }
  }

  /**
   * The seq of an already accepted batch with exactly this range. A batch that starts at the
   * same place but ends elsewhere is NOT a duplicate (a capture that died and re-cut its batch
   * differently): it is refused as a gap, and its capture restarts from the accepted position.
   */
  findDuplicate(batch: BatchDescriptor): number | undefined {
    return this.s.recent.find((r) => r.key === rangeKey(batch))?.seq;
  }

  /** Numbers an accepted batch; the caller has already waited for room. */
  accept(batch: BatchDescriptor): SubmitBatchResult {
    const dup = this.findDuplicate(batch);
    if (dup !== undefined) return { seq: dup, duplicate: true };
    const seq = this.acceptedSeq + 1;
    this.acceptedThisRun++;
    this.s.pending.push({ ...batch, seq });
    this.s.acceptedPosition = batch.to;
    this.s.recent.push({ key: rangeKey(batch), seq });
    if (this.s.recent.length > RECENT_KEYS) this.s.recent.shift();
    return { seq, duplicate: false };
  }

  /** Completions that arrived ahead of an earlier batch's (per run; they never cross continue-as-new). */
  private early = new Map<number, number>();

  /** Batch `seq` reported committed; commits every batch that is now contiguous. */
  completed(seq: number, rows: number, now: number, deadLettered = 0, filesMissing = 0): void {
    this.s.deadLettered = (this.s.deadLettered ?? 0) + deadLettered;
    if (filesMissing) this.s.filesMissing = (this.s.filesMissing ?? 0) + filesMissing;
    this.early.set(seq, rows);
    for (let next = this.s.pending[0]; next && this.early.has(next.seq); next = this.s.pending[0]) {
      const n = this.early.get(next.seq)!;
      this.early.delete(next.seq);
      this.commit(next.seq, n, now);
    }
  }

  /** Batch `seq` has committed on the target: it must be the oldest pending one. */
  commit(seq: number, rows: number, now: number): void {
    const head = this.s.pending[0];
    if (!head || head.seq !== seq) throw new Error(`batch ${seq} committed out of order (next is ${head?.seq})`);
    this.s.pending.shift();
    this.s.committedSeq = seq;
    this.s.committedPosition = head.to;
    this.s.rowsApplied += rows;
    this.s.lastCommittedEventTime = head.lastEventTime;
    if (!this.haltsUntilResume) this.s.lastError = null;
    this.committedThisRun++;
    this.s.throughput.push({ at: now, rows });
    while (this.s.throughput.length && this.s.throughput[0].at < now - THROUGHPUT_WINDOW_MS) this.s.throughput.shift();
  }

  /** Halts the pipeline: nothing loads until `resume`, which retries every failed batch; the earliest failure is the one shown. */
  halt(seq: number, workflowId: string, message: string, at: string): void {
    if (this.haltsUntilResume && this.s.lastError && this.s.lastError.seq <= seq) return;
    this.s.lastError = { seq, workflowId, message, at };
  }

  /** Whether batch `seq` reported its commit, waiting for an earlier batch's to count. */
  hasCompleted(seq: number): boolean {
    return this.early.has(seq);
  }

  /** Batches may be permitted to load (in seq order, enforced at the target) unless paused or halted. */
  mayLoad(): boolean {
    return !this.s.paused && !this.s.lastError;
  }

  /**
   * Whether batch seq gets its load permit now (with file deletes, the permit also lets it copy its
   * files): with file deletes, once no earlier batch in flight may delete files (a file it deletes
   * after this batch copied it would be gone from under this batch's row).
   */
  mayLoadBatch(seq: number): boolean {
    if (!this.mayLoad()) return false;
    if (!hasFileDeletes(this.spec.tables, this.spec.rules)) return true;
    if (!this.fileDeletesPerBatch) return seq === this.s.committedSeq + 1;
    return !this.s.pending.some((b) => b.seq < seq && b.mayDeleteFiles !== false);
  }

  status(now: number): PipelineStatus {
    const recent = this.s.throughput.filter((t) => t.at >= now - THROUGHPUT_WINDOW_MS);
    const span = recent.length ? Math.max(1000, now - recent[0].at) : 1000;
    return {
      pipeline: this.spec.id,
      state: this.state,
      acceptedPosition: formatPosition(this.s.acceptedPosition),
      committedPosition: formatPosition(this.s.committedPosition),
      acceptedSeq: this.acceptedSeq,
      committedSeq: this.s.committedSeq,
      batchesInFlight: this.s.pending.length,
      rowsApplied: this.s.rowsApplied,
      deadLettered: this.s.deadLettered ?? 0,
      ...(this.s.filesMissing ? { filesMissing: this.s.filesMissing } : {}),
      rowsPerSecond: Math.round((recent.reduce((n, t) => n + t.rows, 0) * 1000) / span),
      oldestPendingEventTime: this.s.pending[0]?.firstEventTime ?? null,
      lastCommittedEventTime: this.s.lastCommittedEventTime,
      lastError: this.s.lastError,
      inFlightWorkflowIds: this.s.pending.map((b) => batchWorkflowId(this.spec.id, b.seq)),
      specVersion: this.spec.version,
      specSignedBy: this.spec.signature?.split(':')[0] ?? null,
      connections: connectionsOf(this.spec),
      sourceQueue: this.spec.sourceQueue,
      targetQueue: this.spec.targetQueue,
      resumeFrom: this.s.acceptedPosition,
    };
  }
}
