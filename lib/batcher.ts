/**
 * Cuts a stream of binlog transactions into batches. A batch always holds whole transactions:
 * rows are buffered per transaction and only join the batch at its commit, and a batch's `to`
 * position is always a commit (or rotate) boundary, so a resume never starts mid-transaction.
 */
import type { BinlogPosition, RowChange } from './model.js';

/** A batch ready to stage and submit. */
export interface CutBatch {
  from: BinlogPosition;
  to: BinlogPosition;
  changes: RowChange[];
  transactions: number;
  firstEventTime: number;
  lastEventTime: number;
}

export interface BatcherOptions {
  maxRows: number;
  maxWaitMs: number;
}

export class TransactionBatcher {
  private from: BinlogPosition;
  private to: BinlogPosition;
  private open: RowChange[] = [];
  private openTime = 0;
  private ready: RowChange[] = [];
  private transactions = 0;
  private firstEventTime = 0;
  private lastEventTime = 0;
  /** Local clock time when the first buffered transaction committed (for maxWaitMs). */
  private firstReadyAt = 0;

  constructor(
    private readonly opts: BatcherOptions,
    start: BinlogPosition,
  ) {
    this.from = start;
    this.to = start;
  }

  /** Rows of the transaction in progress. */
  addRows(changes: RowChange[], eventTime: number): void {
    if (this.open.length === 0) this.openTime = eventTime;
    for (const c of changes) this.open.push(c);
  }

  /** The transaction in progress committed; `position` is the resume point after its commit. */
  commit(position: BinlogPosition, eventTime: number, now: number): void {
    if (this.open.length > 0) {
      if (this.ready.length === 0) {
        this.firstReadyAt = now;
        this.firstEventTime = this.openTime || eventTime;
      }
      for (const c of this.open) this.ready.push(c);
      this.transactions++;
      this.lastEventTime = eventTime;
      this.open = [];
    }
    // Positions move only at commits: this is the one place `to` advances.
    this.to = position;
  }

  /** Rows buffered in committed transactions, waiting for a cut. */
  get readyRows(): number {
    return this.ready.length;
  }

  /** True while a transaction's rows are buffered but not yet committed. */
  get inTransaction(): boolean {
    return this.open.length > 0;
  }

  /** A cut is due: enough rows, or the oldest buffered commit has waited long enough. */
  due(now: number): boolean {
    if (this.ready.length === 0) return false;
    return this.ready.length >= this.opts.maxRows || now - this.firstReadyAt >= this.opts.maxWaitMs;
  }

  /** Milliseconds until the wait limit cuts the buffered rows, or null when nothing is buffered. */
  msUntilDue(now: number): number | null {
    if (this.ready.length === 0) return null;
    return Math.max(0, this.firstReadyAt + this.opts.maxWaitMs - now);
  }

  /** Takes the committed rows as a batch. Nothing is lost: the caller re-offers it if submission fails. */
  cut(): CutBatch | null {
    if (this.ready.length === 0) return null;
    const batch: CutBatch = {
      from: this.from,
      to: this.to,
      changes: this.ready,
      transactions: this.transactions,
      firstEventTime: this.firstEventTime,
      lastEventTime: this.lastEventTime,
    };
    this.ready = [];
    this.transactions = 0;
    this.from = this.to;
    return batch;
  }
}
