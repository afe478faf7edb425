/**
 * A capture's binlog stream and batcher, kept apart from the activity so they can outlive it.
 * When a pipeline run closes to continue as new, its capture parks the session here, still
 * reading (up to one full batch); the next run's capture, scheduled on the same task queue and
 * usually picked up by this same worker, adopts it if it starts exactly where the session stands.
 * The hand-over then costs no reconnect and no re-read of the binlog. A session that is not
 * adopted within PARK_MS, or when the worker stops, is closed; a capture elsewhere simply reads
 * from the accepted position, as after any restart.
 */
import { TransactionBatcher, type CutBatch } from '../../lib/batcher.js';
import { positionKey, type BinlogPosition } from '../../lib/model.js';
import { type PipelineSpec } from '../../lib/spec.js';
import { workerShutdown } from '../shutdown.js';
import { BinlogStream, type BinlogHandler, type BinlogStreamOptions } from './binlog-stream.js';
import { BinlogThread, captureThreadEnabled, type BinlogSource } from './binlog-thread.js';
import { ddlConcernsPipeline, streamFilters } from './ddl-filter.js';
import { fileDeleteRisk } from './file-deletes.js';

/** How long a parked session waits for the next run's capture. */
export const PARK_MS = 10_000;

/** A server id per pipeline, stable across restarts, away from small ids servers usually use. */
export function captureServerId(spec: PipelineSpec): number {
  if (spec.source.serverId) return spec.source.serverId;
  let h = 0;
  for (const ch of spec.id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 100_000 + (h % 1_000_000_000);
}

export class CaptureSession {
  readonly batcher: TransactionBatcher;
  readonly stream: BinlogSource;
  /** A stream error; the activity that owns the session fails with it. */
  failure: Error | undefined;
  /** True while a submission waits, or while parked: the stream pauses once a batch is full. */
  holding = false;
  /** A batch cut but refused because its run was closing; the adopting capture submits it first. */
  unsent: { batch: CutBatch; staged: boolean } | undefined;
  private wake: () => void = () => {};
  private stopped: Promise<void> | undefined;

  constructor(
    readonly spec: PipelineSpec,
    from: BinlogPosition,
    eventTime: (binlogMs: number) => number,
  ) {
    const batcher = (this.batcher = new TransactionBatcher(spec.batch, from));
    const mayDeleteFiles = fileDeleteRisk(spec);
    const tables: Record<string, string[]> = {};
    for (const t of spec.tables) (tables[t.source.schema] ??= []).push(t.source.table);
    const opts: BinlogStreamOptions = { source: spec.source, serverId: captureServerId(spec), from, tables, ...streamFilters(spec) };
    const handler: BinlogHandler = {
      onRows: (changes, t) => batcher.addRows(changes, eventTime(t), mayDeleteFiles !== undefined && changes.some(mayDeleteFiles)),
      onCommit: (pos, t) => {
        batcher.commit(pos, eventTime(t), Date.now());
        // Backpressure: while a submission waits, read on only until one more batch is full.
        if (this.holding && batcher.readyRows >= spec.batch.maxRows) this.stream.pause();
        // Wake the loop: it may be sleeping on an idle timer, not on this batch's maxWaitMs.
        this.poke();
      },
      onDdl: (schema, sql, pos, t) => {
        // A DDL batch of its own, so rows before and after it never share a batch.
        if (ddlConcernsPipeline(spec, schema, sql)) batcher.addDdl({ schema, statement: sql }, pos, eventTime(t), Date.now());
      },
      onError: (err) => {
        // The first error says what went wrong; what follows (a closed connection) only echoes it.
        this.failure ??= err;
        this.poke();
      },
    };
    // Decoding on a thread of its own keeps the main thread free for workflow tasks and loads.
    this.stream = captureThreadEnabled() ? new BinlogThread({ ...opts, spec }, handler) : new BinlogStream(opts, handler);
  }

  /** Where the next batch this session submits starts. */
  get from(): BinlogPosition {
    return this.unsent?.batch.from ?? this.batcher.nextFrom;
  }

  start(): void {
    this.stream.start();
  }

  poke(): void {
    this.wake();
  }

  /** Sleeps up to `ms`, or until the stream has news, or one of `also` settles. */
  async sleep(ms: number, also: Promise<unknown>[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.wake = resolve;
          timer = setTimeout(resolve, Math.max(1, ms));
        }),
        ...also,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  stop(): Promise<void> {
    return (this.stopped ??= this.stream.stop());
  }
}

const parked = new Map<string, { session: CaptureSession; timer: NodeJS.Timeout }>();

/** Keeps a session reading for the next run's capture (see above). */
export function park(session: CaptureSession): void {
  const key = session.spec.id;
  const before = parked.get(key);
  if (before) {
    clearTimeout(before.timer);
    void before.session.stop();
  }
  session.holding = true;
  const timer = setTimeout(() => {
    if (parked.get(key)?.session !== session) return;
    parked.delete(key);
    void session.stop();
  }, PARK_MS);
  timer.unref();
  parked.set(key, { session, timer });
}

/**
 * The parked session of this pipeline, if it stands exactly at `from` with the same spec version
 * and no stream error; any other parked session of the pipeline is closed.
 */
export function adopt(spec: PipelineSpec, from: BinlogPosition): CaptureSession | undefined {
  const entry = parked.get(spec.id);
  if (!entry) return undefined;
  parked.delete(spec.id);
  clearTimeout(entry.timer);
  const s = entry.session;
  if (s.stopping || s.spec.version !== spec.version || s.failure || positionKey(s.from) !== positionKey(from)) {
    void s.stop();
    return undefined;
  }
  s.holding = false;
  return s;
}

void workerShutdown.then(() => {
  for (const [key, { session, timer }] of parked) {
    clearTimeout(timer);
    parked.delete(key);
    void session.stop();
  }
});
