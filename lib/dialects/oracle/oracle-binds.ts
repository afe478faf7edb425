/**
 * Row values turned into Oracle binds, by the target column's type (ALL_TAB_COLUMNS.DATA_TYPE).
 * Exactness comes first: decimals, unsigned BIGINTs and every other value headed for a NUMBER
 * are bound as decimal text (converted by the server with NLS_NUMERIC_CHARACTERS '.,'), DATETIME
 * strings are bound as text in the session's NLS_TIMESTAMP_FORMAT ('YYYY-MM-DD HH24:MI:SS.FF6',
 * set on every connection), so microseconds survive, which a JavaScript Date would not.
 */
import type { SqlValue } from '../../model.js';

/** How a target column is bound. */
export type OracleBindKind = 'number' | 'binary_double' | 'text' | 'clob' | 'raw' | 'blob' | 'date' | 'timestamp' | 'timestamp_tz';

/** A bind value as node-oracledb takes it. */
export type OracleBindValue = string | number | Buffer | null;

/** The bind definition of one column for `executeMany` (mapped onto oracledb's DB_TYPE_* by the loader). */
export interface OracleBindDef {
  type: 'varchar' | 'clob' | 'raw' | 'blob' | 'binary_double';
  maxSize?: number;
}

/** A value that cannot go into its column as it is: the row is refused. */
export class BindError extends Error {
  override name = 'BindError';
}

/** Longest VARCHAR bind node-oracledb and Oracle accept; longer text is bound as a CLOB. */
const MAX_VARCHAR_BIND = 32767;

/** The bind kind of an Oracle column type as ALL_TAB_COLUMNS spells it (`NUMBER`, `TIMESTAMP(6)`, …). */
export function bindKindOf(dataType: string): OracleBindKind {
  const t = dataType.toUpperCase();
  if (t === 'NUMBER' || t === 'FLOAT' || t === 'INTEGER') return 'number';
  if (t === 'BINARY_FLOAT' || t === 'BINARY_DOUBLE') return 'binary_double';
  if (t === 'DATE') return 'date';
  if (t.startsWith('TIMESTAMP')) return t.includes('TIME ZONE') ? 'timestamp_tz' : 'timestamp';
  if (t === 'CLOB' || t === 'NCLOB' || t === 'JSON' || t === 'LONG') return 'clob';
  if (t === 'RAW' || t === 'LONG RAW') return 'raw';
  if (t === 'BLOB') return 'blob';
  if (t === 'VARCHAR2' || t === 'NVARCHAR2' || t === 'CHAR' || t === 'NCHAR' || t === 'VARCHAR') return 'text';
  throw new BindError(`Oracle column type ${dataType} is not supported by seaotter`);
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/;

/** `YYYY-MM-DD[ HH:MM:SS[.f…]]` → date part, time part and six fraction digits. */
function splitDatetime(v: string, column: string): { date: string; time: string; fraction: string } {
  const m = DATETIME.exec(v);
  if (!m) throw new BindError(`column ${column}: ${JSON.stringify(v)} is not a date/time value`);
  if (m[1] === '0000' || m[2] === '00' || m[3] === '00') throw new BindError(`column ${column}: the zero date ${v} has no Oracle equivalent`);
  return { date: `${m[1]}-${m[2]}-${m[3]}`, time: m[4] === undefined ? '00:00:00' : `${m[4]}:${m[5]}:${m[6]}`, fraction: (m[7] ?? '').padEnd(6, '0') };
}

function bytesOf(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function toNumberText(v: SqlValue, column: string): string {
  if (typeof v === 'string') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) throw new BindError(`column ${column}: ${JSON.stringify(v)} is not a number`);
    return v.trim();
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new BindError(`column ${column}: ${v} cannot be stored in a NUMBER`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? '1' : '0';
  // BIT(n) arrives as big-endian bytes.
  const hex = bytesOf(v as Uint8Array).toString('hex');
  return hex ? BigInt(`0x${hex}`).toString() : '0';
}

function toText(v: SqlValue, column: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  throw new BindError(`column ${column}: bytes cannot be stored in a text column`);
}

/** One value converted for a column of the given kind. */
export function toOracleBind(kind: OracleBindKind, v: SqlValue, column: string): OracleBindValue {
  if (v === null) return null;
  switch (kind) {
    case 'number':
      return toNumberText(v, column);
    case 'binary_double': {
      const n = typeof v === 'number' ? v : Number(toNumberText(v, column));
      return n;
    }
    case 'text':
    case 'clob':
      return toText(v, column);
    case 'raw':
    case 'blob':
      if (v instanceof Uint8Array) return bytesOf(v);
      if (typeof v === 'string') return Buffer.from(v, 'utf8');
      throw new BindError(`column ${column}: a ${typeof v} cannot be stored in a binary column`);
    case 'date':
    case 'timestamp':
    case 'timestamp_tz': {
      if (typeof v !== 'string') throw new BindError(`column ${column}: a ${typeof v} is not a date/time value`);
      const d = splitDatetime(v, column);
      if (kind === 'date') {
        if (/[1-9]/.test(d.fraction)) throw new BindError(`column ${column}: DATE cannot keep the fraction of ${v}`);
        return `${d.date} ${d.time}`;
      }
      // The source session runs in UTC, so its DATETIME/TIMESTAMP strings are UTC.
      return `${d.date} ${d.time}.${d.fraction}${kind === 'timestamp_tz' ? ' +00:00' : ''}`;
    }
  }
}

/** Converts a step's rows for `executeMany` and derives one bind definition per column. */
export function oracleBindRows(kinds: readonly OracleBindKind[], columns: readonly string[], rows: readonly SqlValue[][]): { rows: OracleBindValue[][]; defs: OracleBindDef[] } {
  const out = rows.map((row) => row.map((v, i) => toOracleBind(kinds[i], v, columns[i])));
  const defs = kinds.map((kind, i): OracleBindDef => {
    if (kind === 'binary_double') return { type: 'binary_double' };
    if (kind === 'clob') return { type: 'clob' };
    if (kind === 'blob') return { type: 'blob' };
    let max = 1;
    for (const row of out) {
      const v = row[i];
      if (v !== null) max = Math.max(max, typeof v === 'string' ? Buffer.byteLength(v) : (v as Buffer).length);
    }
    if (kind === 'raw') return { type: 'raw', maxSize: max };
    return max > MAX_VARCHAR_BIND ? { type: 'clob' } : { type: 'varchar', maxSize: max };
  });
  return { rows: out, defs };
}
