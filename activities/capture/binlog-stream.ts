/**
 * The binlog loop: zongji's events turned into calls on a handler (rows, commit), keeping the
 * stream apart from what consumes it. Positions are reported only at commits and rotates.
 */
import ZongJi from '@vlasky/zongji';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import { formatPosition, type BinlogPosition, type Row, type RowChange } from '../../lib/model.js';
import { shortestFloat } from '../../lib/values.js';
import { CaptureFatalError, dmlTable, queryKind } from './statements.js';
import { mysqlOptions } from '../resources.js';

/** What the stream calls; implemented by the capture activity. */
export interface BinlogHandler {
  onRows(changes: RowChange[], eventTime: number): void;
  /** A transaction (or a standalone statement such as DDL) ended; `position` is where to resume. */
  onCommit(position: BinlogPosition, eventTime: number): void;
  onDdl?(schema: string, statement: string, position: BinlogPosition, eventTime: number): void;
  onError(err: Error): void;
}

export interface BinlogStreamOptions {
  source: MysqlSourceConfig;
  serverId: number;
  from: BinlogPosition;
  /** schema → tables to decode; rows of other tables are skipped by zongji. */
  tables: Record<string, string[]>;
  /** When set, decides instead of `tables` (tables created later can match a regex rule). */
  wants?: (schema: string, table: string) => boolean;
  /** A table's key columns when known (see keyColumnsOf): its other FLOAT columns are shortened. */
  keyColumns?: (schema: string, table: string) => readonly string[] | undefined;
}

interface TableMapEntry {
  parentSchema: string;
  tableName: string;
  columns?: { name: string; type: number }[];
  columnSchemas?: { ENUM_VALUES?: unknown }[];
}

interface ZongjiEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  binlogName?: string;
  position?: number;
  tableId?: number;
  tableMap?: Record<number, TableMapEntry>;
  columnNames?: string[];
  rows?: unknown[];
  query?: string;
  schema?: string;
  gtid?: string;
}

/** A running binlog stream. `pause`/`resume` hold the socket for backpressure. */
export class BinlogStream {
  private readonly zongji: ZongJi;
  private file: string | undefined;
  private stopping = false;
  /** Rows of wanted tables since the last commit: an XA END after some means an XA transaction changed them. */
  private openRows = 0;

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
    if (opts.wants) {
      const wants = opts.wants;
      // zongji asks this for every TABLE_MAP event; rows of tables it refuses are never decoded.
      (this.zongji as unknown as { _skipSchema(s: string, t: string): boolean })._skipSchema = (s, t) => !wants(s, t);
    }
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

  /** Whether rows of `schema.table` are the pipeline's (what zongji is told to decode). */
  private wanted(schema: string, table: string): boolean {
    return this.opts.wants ? this.opts.wants(schema, table) : (this.opts.tables[schema]?.includes(table) ?? false);
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
      case 'tablemap':
        checkLayout(evt);
        return;
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        const t = evt.tableMap![evt.tableId!];
        const fix = valueFixes(t, this.opts.keyColumns);
        const changes = (evt.rows ?? []).map((r) => toChange(name, t.parentSchema, t.tableName, r, fix));
        this.openRows += changes.length;
        this.handler.onRows(changes, evt.timestamp);
        return;
      }
      case 'xid':
        this.openRows = 0;
        this.handler.onCommit(this.position(evt), evt.timestamp);
        return;
      case 'query': {
        const sql = evt.query ?? '';
        const schema = evt.schema ?? '';
        switch (queryKind(sql)) {
          case 'begin':
          case 'savepoint':
            // Inside a transaction, which goes on (rows rolled back to a savepoint never reach the binlog).
            return;
          case 'xa-start':
            // (MariaDB marks XA START in the GTID event instead.)
            return;
          case 'xa':
            if (this.openRows > 0) {
              // Its XA COMMIT or XA ROLLBACK comes later, apart from its rows: applying them at XA END
              // could apply rows the source then rolls back.
              throw new CaptureFatalError(
                `an XA transaction changed ${this.openRows} row(s) of the pipeline's tables (binlog ${formatPosition(this.position(evt))}); seaotter does not capture XA transactions: ` +
                  'run those changes as ordinary transactions, then re-sync the tables concerned, or start the pipeline past it',
              );
            }
            break;
          case 'dml': {
            const t = dmlTable(sql, schema);
            if (!t || this.wanted(t.schema, t.table)) {
              throw new CaptureFatalError(
                `row changes ${t ? `of ${t.schema}.${t.table} ` : ''}were logged as a statement, not as rows (binlog_format STATEMENT or MIXED in that session), at binlog ${formatPosition(this.position(evt))}: ` +
                  `seaotter reads row events only and would lose them. Statement: ${sql.slice(0, 200)}. Have every session write ROW, then re-sync the table, or start the pipeline past it`,
              );
            }
            // Another table's: its transaction ends with its own COMMIT or XID.
            return;
          }
          case 'statement':
            this.handler.onDdl?.(schema, sql, this.position(evt), evt.timestamp);
            break;
          case 'commit':
            break;
        }
        // COMMIT of a non-transactional table, XA, or a DDL statement: each ends a unit of work.
        this.openRows = 0;
        this.handler.onCommit(this.position(evt), evt.timestamp);
        return;
      }
    }
  }
}

/**
 * Rows must be decoded with the table layout of when they were written. With binlog_row_metadata
 * FULL, zongji takes the layout from the TABLE_MAP event itself; for MariaDB tables with old-style
 * temporal columns it reads information_schema instead, which is the layout of now. When the two
 * disagree (capture catching up past an ALTER), decoding would put values under the wrong names:
 * fail instead, visibly.
 */
function checkLayout(evt: ZongjiEvent): void {
  const names = evt.columnNames;
  const cols = evt.tableMap?.[evt.tableId!]?.columns;
  if (!names || !cols) return;
  if (names.length !== cols.length || names.some((n, i) => cols[i].name !== n)) {
    const t = evt.tableMap![evt.tableId!];
    throw new Error(
      `cannot decode rows of ${t.parentSchema}.${t.tableName}: the binlog's layout (${names.join(', ')}) differs from the current one ` +
        `(${cols.map((c) => c.name).join(', ')}); the table has pre-MariaDB-10.1 temporal columns, which need the current layout (rebuild the table with ALTER TABLE … FORCE)`,
    );
  }
}

const MYSQL_TYPE_FLOAT = 4;
const MYSQL_TYPE_YEAR = 13;

/**
 * Values the decoder gets wrong, put right: YEAR 0000 (stored as byte 0, which the decoder turns
 * into 1900, itself no YEAR value), the invalid ENUM value (index 0, written under a non-strict
 * sql_mode, which the decoder leaves undefined) as the empty string MariaDB shows for it, and
 * FLOAT widened to a double with digits the source never had (see shortestFloat). Not a FLOAT of
 * the table's key, nor any FLOAT of a table whose key is not known here: a key is matched on the
 * target as a double (`WHERE k IN (…)`), and back-query reads it so from the source, where the
 * shortest decimal would match nothing. Undefined for tables with none of these columns.
 */
const fixesOf = new WeakMap<TableMapEntry, ((row: Row) => void) | null>();
function valueFixes(t: TableMapEntry, keyColumns?: BinlogStreamOptions['keyColumns']): ((row: Row) => void) | undefined {
  let fix = fixesOf.get(t);
  if (fix === undefined) {
    const years = (t.columns ?? []).filter((c) => c.type === MYSQL_TYPE_YEAR).map((c) => c.name);
    const enums = (t.columns ?? []).filter((_, i) => t.columnSchemas?.[i]?.ENUM_VALUES !== undefined).map((c) => c.name);
    const key = keyColumns?.(t.parentSchema, t.tableName);
    const floats = key ? (t.columns ?? []).filter((c) => c.type === MYSQL_TYPE_FLOAT && !key.includes(c.name)).map((c) => c.name) : [];
    fix =
      years.length || enums.length || floats.length
        ? (row: Row) => {
            for (const c of years) if (row[c] === 1900) row[c] = 0;
            for (const c of enums) if (row[c] === undefined) row[c] = '';
            for (const c of floats) if (typeof row[c] === 'number') row[c] = shortestFloat(row[c]);
          }
        : null;
    fixesOf.set(t, fix);
  }
  return fix ?? undefined;
}

function toChange(event: string, schema: string, table: string, raw: unknown, fix?: (row: Row) => void): RowChange {
  if (event === 'writerows') {
    fix?.(raw as Row);
    return { schema, table, action: 'insert', after: raw as Row };
  }
  if (event === 'deleterows') {
    fix?.(raw as Row);
    return { schema, table, action: 'delete', before: raw as Row };
  }
  const r = raw as { before: Row; after: Row };
  if (fix) {
    fix(r.before);
    fix(r.after);
  }
  return { schema, table, action: 'update', before: r.before, after: r.after };
}
