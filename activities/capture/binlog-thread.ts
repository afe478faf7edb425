/**
 * The binlog stream on a thread of its own. Decoding row events (zongji) is the costliest thing
 * capture does, and on the worker's main thread it delays everything else that runs there: the
 * workflow tasks, transforms and loads of every pipeline the worker serves. Here a worker thread
 * reads and decodes; the main thread receives each event's result, in order, as the same handler
 * calls `BinlogStream` makes (rows, commit, DDL, error), several events to a message. Backpressure
 * (`pause`/`resume`) and `stop` travel the other way. SEAOTTER_CAPTURE_THREAD=0 decodes on the
 * main thread instead.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { BinlogPosition, Row, RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { setOwn } from '../../lib/values.js';
import { mysqlOptions } from '../resources.js';
import { BinlogStream, type BinlogHandler, type BinlogStreamOptions } from './binlog-stream.js';
import { streamFilters } from './ddl-filter.js';

/** What capture needs of a binlog stream, on this thread or another. */
export interface BinlogSource {
  start(): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** `BinlogStreamOptions` as they cross to the thread: the table filter and key columns are rebuilt there from the spec. */
type ThreadOptions = Omit<BinlogStreamOptions, 'wants' | 'keyColumns'> & { spec?: PipelineSpec; seaotterBinlogThread: true };

/**
 * The rows of one binlog event (one table, one action; zongji gives every row every column of the
 * table map, in its order): column names once, then the values row by row (an update's before,
 * then its after). Half the cost, both ways, of sending the rows as objects, which repeat every
 * key of every row.
 */
interface FlatRows {
  schema: string;
  table: string;
  action: RowChange['action'];
  columns: string[];
  count: number;
  values: unknown[];
}

/** One handler call, as posted by the thread (several per message, in order). */
type Event =
  | { k: 'rows'; rows: FlatRows; t: number }
  | { k: 'commit'; pos: BinlogPosition; t: number }
  | { k: 'ddl'; schema: string; sql: string; pos: BinlogPosition; t: number }
  | { k: 'error'; message: string; name?: string; code?: string; errno?: number; stack?: string };

type Command = 'start' | 'pause' | 'resume' | 'stop';

/** Rows that make a message go at once, and how long a smaller group waits for more. */
const FLUSH_ROWS = 2000;
const FLUSH_MS = 2;

/** Whether captures of this worker decode on a thread (the default). */
export function captureThreadEnabled(): boolean {
  return process.env.SEAOTTER_CAPTURE_THREAD !== '0';
}

/** A binlog stream whose reading and decoding run on a worker thread. */
export class BinlogThread implements BinlogSource {
  private readonly worker: Worker;
  private exited = false;
  private stopped: Promise<void> | undefined;
  private stopping = false;

  constructor(opts: BinlogStreamOptions & { spec?: PipelineSpec }, handler: BinlogHandler) {
    // Fails here, as the stream itself would, when the password's variable is not set.
    mysqlOptions(opts.source);
    // Functions cannot cross to the thread: it makes its own from the spec.
    const { wants: _wants, keyColumns: _keys, ...rest } = opts;
    this.worker = new Worker(new URL(import.meta.url), { workerData: { ...rest, seaotterBinlogThread: true } satisfies ThreadOptions });
    // The capture activity (or the parked session's timer) owns the stream's lifetime.
    this.worker.unref();
    this.worker.on('message', (events: Event[]) => {
      if (this.stopping) return;
      for (const e of events) {
        if (e.k === 'rows') handler.onRows(unflatten(e.rows), e.t);
        else if (e.k === 'commit') handler.onCommit(e.pos, e.t);
        else if (e.k === 'ddl') handler.onDdl?.(e.schema, e.sql, e.pos, e.t);
        else handler.onError(Object.assign(new Error(e.message), { name: e.name ?? 'Error', stack: e.stack, code: e.code, errno: e.errno }));
      }
    });
    // An exception the thread did not catch ends it: 'error', then 'exit'. Capture sees the first.
    let crashed = false;
    this.worker.on('error', (err) => {
      crashed = true;
      if (!this.stopping) handler.onError(err);
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopping && !crashed) handler.onError(new Error(`binlog reader thread exited unexpectedly (code ${code})`));
    });
  }

  start(): void {
    this.send('start');
  }

  pause(): void {
    this.send('pause');
  }

  resume(): void {
    this.send('resume');
  }

  stop(): Promise<void> {
    this.stopping = true;
    return (this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      // The thread closes the binlog connection, then exits; a stuck one is terminated.
      const timer = setTimeout(() => void this.worker.terminate().finally(resolve), 3000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.send('stop');
    }));
  }

  private send(c: Command): void {
    if (!this.exited) this.worker.postMessage(c);
  }
}

/** The rows of one binlog event (at least one), as they travel to the main thread. */
export function flatten(changes: RowChange[]): FlatRows {
  const first = changes[0]!;
  const columns = Object.keys(first.after ?? first.before ?? {});
  const values: unknown[] = [];
  for (const c of changes) {
    if (c.before) for (const k of columns) values.push(c.before[k]);
    if (c.after) for (const k of columns) values.push(c.after[k]);
  }
  return { schema: first.schema, table: first.table, action: first.action, columns, count: changes.length, values };
}

/**
 * The changes again. Byte values arrive as plain Uint8Arrays (a message keeps the bytes, not
 * Buffer's prototype); the rest of the worker, and user processors, get Buffers as before.
 */
export function unflatten(f: FlatRows): RowChange[] {
  const { schema, table, action, columns, values } = f;
  const n = columns.length;
  let p = 0;
  const row = (): Row => {
    const r: Row = {};
    for (let j = 0; j < n; j++) {
      let v = values[p++];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) v = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      setOwn(r, columns[j]!, v);
    }
    return r;
  };
  const out = new Array<RowChange>(f.count);
  for (let i = 0; i < f.count; i++) {
    if (action === 'update') {
      const before = row();
      out[i] = { schema, table, action, before, after: row() };
    } else if (action === 'insert') out[i] = { schema, table, action, after: row() };
    else out[i] = { schema, table, action, before: row() };
  }
  return out;
}

/** The thread's side: a `BinlogStream` whose handler posts its calls, in groups. */
function runThread(): void {
  const port = parentPort!;
  const { spec, seaotterBinlogThread: _flag, ...opts } = workerData as ThreadOptions;
  let queue: Event[] = [];
  let rows = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const out = queue;
    queue = [];
    rows = 0;
    port.postMessage(out);
  };
  // A message costs tens of microseconds whatever it carries, so events travel in groups: a
  // group goes when it holds FLUSH_ROWS rows (catching up) or FLUSH_MS after its first event.
  const post = (e: Event) => {
    queue.push(e);
    if (e.k === 'rows') rows += e.rows.count;
    if (rows >= FLUSH_ROWS || e.k === 'error') flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  };
  let stream: BinlogStream;
  try {
    stream = new BinlogStream(
      { ...opts, ...(spec ? streamFilters(spec) : {}) },
      {
        onRows: (changes, t) => {
          if (changes.length > 0) post({ k: 'rows', rows: flatten(changes), t });
        },
        onCommit: (pos, t) => post({ k: 'commit', pos, t }),
        onDdl: (schema, sql, pos, t) => post({ k: 'ddl', schema, sql, pos, t }),
        onError: (err) => post(errorEvent(err)),
      },
    );
  } catch (err) {
    post(errorEvent(err as Error));
    return;
  }
  port.on('message', (c: Command) => {
    if (c === 'start') stream.start();
    else if (c === 'pause') stream.pause();
    else if (c === 'resume') stream.resume();
    else void stream.stop().finally(() => process.exit(0));
  });
}

function errorEvent(err: Error): Event {
  const e = err as Error & { code?: string; errno?: number };
  return { k: 'error', message: e.message, name: e.name, stack: e.stack, ...(e.code !== undefined ? { code: String(e.code) } : {}), ...(e.errno !== undefined ? { errno: e.errno } : {}) };
}

if (!isMainThread && (workerData as Partial<ThreadOptions> | undefined)?.seaotterBinlogThread) runThread();
