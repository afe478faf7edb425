/**
 * The binlog loop: zongji's events turned into calls on a handler (rows, commit), the way canal
 * separates the stream from what consumes it. Positions are reported only at commits and rotates.
 */
import ZongJi from '@vlasky/zongji';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { BinlogPosition, Row, RowChange } from '../../lib/model.js';
import { mysqlOptions } from '../resources.js';

/** What the stream calls; implemented by the capture activity. */
export interface BinlogHandler {
  onRows(changes: RowChange[], eventTime: number): void;
  /** A transaction (or a standalone statement such as DDL) ended; `position` is where to resume. */
  onCommit(position: BinlogPosition, eventTime: number): void;
  onDdl?(schema: string, statement: string, position: BinlogPosition): void;
  onError(err: Error): void;
}

export interface BinlogStreamOptions {
  source: MysqlSourceConfig;
  serverId: number;
  from: BinlogPosition;
  /** schema → tables to decode; rows of other tables are skipped by zongji. */
  tables: Record<string, string[]>;
}

interface ZongjiEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  binlogName?: string;
  position?: number;
  tableId?: number;
  tableMap?: Record<number, { parentSchema: string; tableName: string }>;
  rows?: unknown[];
  query?: string;
  schema?: string;
  gtid?: string;
}

const TX_CONTROL = /^\s*(BEGIN|COMMIT|XA\s)/i;

/** A running binlog stream. `pause`/`resume` hold the socket for backpressure. */
export class BinlogStream {
  private readonly zongji: ZongJi;
  private file: string | undefined;
  private stopping = false;

  constructor(
    private readonly opts: BinlogStreamOptions,
    private readonly handler: BinlogHandler,
  ) {
    this.zongji = new ZongJi(mysqlOptions(opts.source));
    this.file = opts.from.file;
    this.zongji.on('binlog', (e: unknown) => {
      const evt = e as ZongjiEvent;
      try {
        this.onEvent(evt);
      } catch (err) {
        handler.onError(err as Error);
      }
    });
    this.zongji.on('error', (err: Error) => handler.onError(err));
  }

  start(): void {
    const { from } = this.opts;
    const where =
      from.file !== undefined && from.pos !== undefined
        ? { filename: from.file, position: from.pos }
        : { gtidSet: from.gtid ?? '' };
    this.zongji.start({
      ...where,
      serverId: this.opts.serverId,
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid', 'query'],
      includeSchema: this.opts.tables,
    });
    // A source that shuts down closes the stream without an error event; treat that as a
    // failure so capture is retried (and the retry is visible) instead of waiting forever.
    const conn = (this.zongji as unknown as { connection?: NodeJS.EventEmitter }).connection;
    conn?.once('end', () => {
      if (!this.stopping) this.handler.onError(new Error(`binlog connection to ${this.opts.source.host}:${this.opts.source.port} closed by the server`));
    });
  }

  pause(): void {
    (this.zongji as unknown as { connection?: { pause(): void } }).connection?.pause();
  }

  resume(): void {
    (this.zongji as unknown as { connection?: { resume(): void } }).connection?.resume();
  }

  stop(): Promise<void> {
    this.stopping = true;
    return new Promise((resolve) => {
      const done = setTimeout(resolve, 2000);
      this.zongji.once('stopped', () => {
        clearTimeout(done);
        resolve();
      });
      this.zongji.stop();
    });
  }

  private position(evt: ZongjiEvent): BinlogPosition {
    return { file: this.file, pos: evt.nextPosition, ...(evt.gtid ? { gtid: evt.gtid } : {}) };
  }

  private onEvent(evt: ZongjiEvent): void {
    const name = evt.getEventName();
    switch (name) {
      case 'rotate':
        this.file = evt.binlogName;
        return;
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        const t = evt.tableMap![evt.tableId!];
        const changes = (evt.rows ?? []).map((r) => toChange(name, t.parentSchema, t.tableName, r));
        this.handler.onRows(changes, evt.timestamp);
        return;
      }
      case 'xid':
        this.handler.onCommit(this.position(evt), evt.timestamp);
        return;
      case 'query': {
        const sql = evt.query ?? '';
        if (/^\s*BEGIN/i.test(sql)) return;
        if (!TX_CONTROL.test(sql)) this.handler.onDdl?.(evt.schema ?? '', sql, this.position(evt));
        // COMMIT of a non-transactional table, or a DDL statement: both end a unit of work.
        this.handler.onCommit(this.position(evt), evt.timestamp);
        return;
      }
    }
  }
}

function toChange(event: string, schema: string, table: string, raw: unknown): RowChange {
  if (event === 'writerows') return { schema, table, action: 'insert', after: raw as Row };
  if (event === 'deleterows') return { schema, table, action: 'delete', before: raw as Row };
  const r = raw as { before: Row; after: Row };
  return { schema, table, action: 'update', before: r.before, after: r.after };
}
