/**
 * Cuts a stream of binlog transactions into batches. A batch always holds whole transactions:
 * rows are buffered per transaction and only join the batch at its commit, and a batch's `to`
 * position is always a commit (or rotate) boundary, so a resume never starts mid-transaction.
 * A batch holds at most `maxRows` rows, unless one transaction alone is larger. A DDL statement
 * is a batch of its own (cut before and after it), so a batch's rows all have one table layout.
 *
 * Adaptive cuts: under load a batch collects commits for up to `maxWaitMs`, so many source
 * transactions share one target commit; but a commit that arrives on a quiet stream ships at once,
 * since waiting would only add latency. Quiet means at most QUIET_COMMITS commits (this one
 * included) within the last `maxWaitMs`: a pair written together (a row and a heartbeat) still
 * ships at once, while a steady stream of more than about 2 commits per `maxWaitMs` is cut once
 * per `maxWaitMs`, which bounds the batches a second either way.
 */
import type { BinlogPosition, CapturedDdl, RowChange } from './model.js';

/** A batch ready to stage and submit. */
export interface CutBatch {
  from: BinlogPosition;
  to: BinlogPosition;
  changes: RowChange[];
  transactions: number;
  firstEventTime: number;
  lastEventTime: number;
  /** Set when the batch is one DDL statement (then `changes` is empty). */
  ddl?: CapturedDdl;
  /** Some of its transactions' rows may make file deletes (as `addRows` was told). */
  mayDeleteFiles?: boolean;
}

export interface BatcherOptions {
  maxRows: number;
  maxWaitMs: number;
  /** See `batch.idleAdvanceSeconds` (lib/config/schema.ts); default 300. */
  idleAdvanceSeconds?: number;
}

const IDLE_ADVANCE_SECONDS = 300;

/** A committed transaction waiting for a cut. `to` also covers empty commits after it. */
interface ReadyTransaction {
  changes: RowChange[];
  to: BinlogPosition;
  startTime: number;
  commitTime: number;
  /** Local clock time of its commit (for maxWaitMs). */
  readyAt: number;
  /** It came on a quiet stream: a batch starting with it is due at once. */
  quiet?: boolean;
  /** Its rows may make file deletes (see BatchDescriptor.mayDeleteFiles). */
  mayDeleteFiles?: boolean;
  ddl?: CapturedDdl;
}

/** Commits within `maxWaitMs`, the newest included, that still make a quiet stream (see above). */
export const QUIET_COMMITS = 2;

export class TransactionBatcher {
  private from: BinlogPosition;
  private open: RowChange[] = [];
  private openTime = 0;
  private openMayDeleteFiles = false;
  private ready: ReadyTransaction[] = [];
  private rows = 0;
  /** Local clock times of the latest QUIET_COMMITS commits, oldest first. */
  private recent: number[] = [];
  private ddls = 0;
  /** Commits without rows of ours since the last cut, nothing buffered: the position they reach, and when the first came. */
  private idle: { to: BinlogPosition; eventTime: number; since: number } | undefined;

  constructor(
    private readonly opts: BatcherOptions,
    start: BinlogPosition,
  ) {
    this.from = start;
  }

  /** Rows of the transaction in progress; `mayDeleteFiles` when they may make file deletes. */
  addRows(changes: RowChange[], eventTime: number, mayDeleteFiles = false): void {
    if (this.open.length === 0) this.openTime = eventTime;
    for (const c of changes) this.open.push(c);
    if (mayDeleteFiles) this.openMayDeleteFiles = true;
  }

  /** The transaction in progress committed; `position` is the resume point after its commit. */
  commit(position: BinlogPosition, eventTime: number, now: number): void {
    // Positions move only at commits: this is the one place a resume point is recorded.
    if (this.open.length === 0) {
      // A commit with no rows of ours: it only moves the resume point of what is buffered (with
      // nothing buffered, the next transaction's own position will cover it).
      if (this.ready.length > 0) this.ready[this.ready.length - 1].to = position;
      // Unless none comes for a while (only other tables are written): then an empty batch
      // carries the position to the target's checkpoint (see idleDue).
      else this.idle = { to: position, eventTime, since: this.idle?.since ?? now };
      return;
    }
    this.idle = undefined;
    this.ready.push({
      changes: this.open,
      to: position,
      startTime: this.openTime || eventTime,
      commitTime: eventTime,
      readyAt: now,
      quiet: this.arrived(now),
      ...(this.openMayDeleteFiles ? { mayDeleteFiles: true } : {}),
    });
    this.openMayDeleteFiles = false;
    this.rows += this.open.length;
    this.open = [];
  }

  /**
   * A DDL statement; `position` is the resume point after it. In the binlog a DDL statement is a
   * transaction of its own (the server commits any open one before it), so it is queued as one.
   */
  addDdl(ddl: CapturedDdl, position: BinlogPosition, eventTime: number, now: number): void {
    this.idle = undefined;
    this.ready.push({ changes: [], to: position, startTime: eventTime, commitTime: eventTime, readyAt: now, ddl });
    this.ddls++;
  }

  /** Records a commit at `now`; true when the stream is quiet (see above). */
  private arrived(now: number): boolean {
    // Quiet unless QUIET_COMMITS earlier commits all fall within the window ending now.
    const quiet = this.recent.length < QUIET_COMMITS || now - this.recent[0]! >= this.opts.maxWaitMs;
    this.recent.push(now);
    if (this.recent.length > QUIET_COMMITS) this.recent.shift();
    return quiet;
  }

  /** Where the next batch cut starts. */
  get nextFrom(): BinlogPosition {
    return this.from;
  }

  /** Rows buffered in committed transactions, waiting for a cut. */
  get readyRows(): number {
    return this.rows;
  }

  /** True while a transaction's rows are buffered but not yet committed. */
  get inTransaction(): boolean {
    return this.open.length > 0;
  }

  /**
   * A cut is due: enough rows, the oldest buffered commit has waited long enough, or it arrived
   * on a quiet stream (no cut for a whole `maxWaitMs` before it).
   */
  due(now: number): boolean {
    if (this.ready.length === 0) return this.idleDue(now);
    // A queued DDL forces the cuts before and at it: nothing after it may join their batches.
    return this.ddls > 0 || this.rows >= this.opts.maxRows || this.msUntilDue(now) === 0;
  }

  /**
   * An empty batch is due: the binlog has moved on without rows of ours for idleAdvanceSeconds.
   * Without it the pipeline's resume point would stay where its last row was, and a restart
   * after the server purged that binlog file could not resume at all.
   */
  private idleDue(now: number): boolean {
    return this.idle !== undefined && now - this.idle.since >= (this.opts.idleAdvanceSeconds ?? IDLE_ADVANCE_SECONDS) * 1000;
  }

  /** Milliseconds until the wait limit cuts the buffered rows, or null when nothing is buffered. */
  msUntilDue(now: number): number | null {
    if (this.ready.length === 0) return null;
    if (this.ddls > 0) return 0;
    const first = this.ready[0];
    if (first.quiet) return 0;
    return Math.max(0, first.readyAt + this.opts.maxWaitMs - now);
  }

  /**
   * Takes whole committed transactions, oldest first, up to `maxRows` rows (at least one
   * transaction). Nothing is lost: the caller re-offers the batch if submission fails. With none
   * buffered, and `now` given when an empty batch is due (idleDue), that empty batch.
   */
  cut(now?: number): CutBatch | null {
    if (this.ready.length === 0) {
      // Only a position to carry, and it is time (idleDue): an empty batch.
      const idle = this.idle;
      if (!idle || now === undefined || !this.idleDue(now)) return null;
      this.idle = undefined;
      const batch: CutBatch = { from: this.from, to: idle.to, changes: [], transactions: 0, firstEventTime: idle.eventTime, lastEventTime: idle.eventTime };
      this.from = idle.to;
      return batch;
    }
    let n = 0;
    let rows = 0;
    const ddl = this.ready[0].ddl;
    if (ddl) this.ddls--;
    while (n < this.ready.length && (n === 0 || (!ddl && !this.ready[n].ddl && rows + this.ready[n].changes.length <= this.opts.maxRows))) {
      rows += this.ready[n].changes.length;
      n++;
    }
    const taken = this.ready.splice(0, n);
    this.rows -= rows;
    const changes: RowChange[] = [];
    for (const t of taken) for (const c of t.changes) changes.push(c);
    const last = taken[taken.length - 1];
    const batch: CutBatch = {
      from: this.from,
      to: last.to,
      changes,
      transactions: taken.length,
      firstEventTime: taken[0].startTime,
      lastEventTime: last.commitTime,
      ...(ddl ? { ddl } : {}),
      ...(taken.some((t) => t.mayDeleteFiles) ? { mayDeleteFiles: true } : {}),
    };
    this.from = last.to;
    return batch;
  }
}
