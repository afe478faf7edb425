/**
 * The row-change model shared by capture, transform and load. It is small and serialisable on
 * purpose: batches travel through the stage as JSON (see `values.ts` for how bytes and big numbers
 * survive that), never through workflow history.
 */

/** A column value as decoded from the binlog: strings carry exact decimals, dates and big integers. */
export type SqlValue = string | number | boolean | null | Uint8Array;

/** One row image, by column name. */
export type Row = Record<string, SqlValue>;

export type RowAction = 'insert' | 'update' | 'delete';

/** One row change as captured: update rows carry both images, inserts `after`, deletes `before`. */
export interface RowChange {
  schema: string;
  table: string;
  action: RowAction;
  before?: Row;
  after?: Row;
  /**
   * Field mode only: the non-key columns an update writes (target names). Absent means the whole
   * row; see lib/columns.ts.
   */
  changed?: string[];
}

/** A binlog position. `file`/`pos` are exact for the server read; `gtid` travels with them when known. */
export interface BinlogPosition {
  file?: string;
  pos?: number;
  gtid?: string;
}

/** A DDL statement as captured: the schema it ran in (the binlog's default schema) and its text. */
export interface CapturedDdl {
  schema: string;
  statement: string;
}

/** The header of a staged batch: what capture submits to the pipeline workflow by update. */
export interface BatchDescriptor {
  /** Resume position before the batch's first transaction (its identity: the update id). */
  from: BinlogPosition;
  /** Resume position after the batch's last commit. */
  to: BinlogPosition;
  /** Stage reference of the captured changes. */
  ref: string;
  rows: number;
  transactions: number;
  /** Source commit time of the first and last transaction, epoch ms. */
  firstEventTime: number;
  lastEventTime: number;
  /**
   * Capture's clock (epoch ms) when it cut the batch and when it submitted it after staging:
   * with the times in the batch workflow's history they show where a change waited.
   */
  cutAt?: number;
  submittedAt?: number;
  /** Set on a DDL batch: it holds this one statement and no rows. */
  ddl?: CapturedDdl;
  /**
   * In a pipeline whose file rules delete files (`onDelete: delete`): whether this batch may
   * delete any (capture's conservative guess from its rows). Later batches copy their files only
   * once every earlier one that may has finished; absent (batches of older builds) counts as may.
   */
  mayDeleteFiles?: boolean;
}

/** A batch as the pipeline numbered it. */
export interface NumberedBatch extends BatchDescriptor {
  seq: number;
}

/** The file index of `mysql-bin.000042` is 42; names without digits compare as 0. */
function fileIndex(file: string): number {
  const m = /(\d+)$/.exec(file);
  return m ? Number(m[1]) : 0;
}

/**
 * Orders two positions on the same server by file then offset. Positions without file/pos (a GTID
 * start before the first event) compare as earliest.
 */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  if (a.file === undefined || a.pos === undefined) return b.file === undefined || b.pos === undefined ? 0 : -1;
  if (b.file === undefined || b.pos === undefined) return 1;
  const fa = fileIndex(a.file);
  const fb = fileIndex(b.file);
  if (fa !== fb) return fa - fb;
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.pos - b.pos;
}

/** `mysql-bin.000003:1234`, with ` gtid 0-1-100` when known. Used in ids, logs and search attributes. */
export function formatPosition(p: BinlogPosition | undefined): string {
  if (!p) return '';
  const filePos = p.file !== undefined && p.pos !== undefined ? `${p.file}:${p.pos}` : '';
  if (p.gtid && filePos) return `${filePos} gtid ${p.gtid}`;
  return filePos || (p.gtid ? `gtid ${p.gtid}` : 'start');
}

/** The key that identifies a batch by its start position (update id, stage file name). */
export function positionKey(p: BinlogPosition): string {
  if (p.file !== undefined && p.pos !== undefined) return `${p.file}-${p.pos}`;
  return `gtid-${p.gtid ?? 'start'}`;
}

/** Reads back what `formatPosition` wrote (the checkpoint row stores positions this way). */
export function parsePosition(text: string): BinlogPosition {
  const m = /^(?:(\S+):(\d+))?(?:\s*gtid\s+(\S+))?$/.exec(text.trim());
  if (!m || (!m[1] && !m[3])) throw new Error(`not a binlog position: "${text}"`);
  return {
    ...(m[1] ? { file: m[1], pos: Number(m[2]) } : {}),
    ...(m[3] ? { gtid: m[3] } : {}),
  };
}
