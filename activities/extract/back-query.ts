/**
 * `consistency: backQuery`, the I/O part: re-reads, at the source's datacenter, the current rows
 * of every key a batch touched (`SELECT * … WHERE key IN (…)`, per table, in chunks), and
 * rewrites the batch with them (lib/back-query.ts says how). All reads of a batch run in one
 * read-only transaction with a consistent snapshot, so they see the source at one moment.
 */
import type { Pool, PoolConnection, TypeCast } from 'mysql2/promise';
import { applyBackQuery, keysToReread, looseKey } from '../../lib/back-query.js';
import { tableKey } from '../../lib/merge.js';
import type { Row, RowChange, SqlValue } from '../../lib/model.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';

/** Keys per SELECT: small enough for any packet limit, large enough to need few round trips. */
export const REREAD_CHUNK = 500;

const quote = (name: string): string => '`' + name.replaceAll('`', '``') + '`';

/** The source key of a mapping (older specs lack `sourceKey`: take the mapped target key back). */
function sourceKeyOf(m: TableMapping): string[] {
  return m.sourceKey ?? m.primaryKey.map((t) => m.columns.find((c) => c.target === t)?.source ?? t);
}

/**
 * Values as capture stages them: JSON as its text (mysql2 would parse it into an object; MariaDB
 * marks it only in extended metadata), geometry as its bytes, and a BIGINT as a number when it is
 * exact as one, else its digits (as the binlog decoder gives it; mysql2 would give digits always).
 */
const typeCast: TypeCast = (field, next) => {
  if (field.type === 'JSON') return field.string('utf8');
  if ((field as { extendedFormat?: string }).extendedFormat === 'json') return field.string();
  if (field.type === 'GEOMETRY') return field.buffer();
  if (field.type === 'LONGLONG') {
    const digits = field.string();
    if (digits === null) return null;
    const n = Number(digits);
    return Number.isSafeInteger(n) ? n : digits;
  }
  return next();
};

/**
 * The select list: FLOAT columns as a DOUBLE (`* 1E0`, which keeps -0), because their text form
 * rounds to six digits while the binlog carries every bit.
 */
async function selectList(pool: PoolConnection, schema: string, table: string): Promise<string> {
  const [cols] = await pool.query(
    'SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  );
  const list = cols as { c: string; t: string }[];
  if (!list.some((c) => c.t.toLowerCase() === 'float')) return '*';
  return list.map(({ c, t }) => (t.toLowerCase() === 'float' ? `${quote(c)} * 1E0 AS ${quote(c)}` : quote(c))).join(', ');
}

async function reread(pool: PoolConnection, schema: string, table: string, key: string[], keys: SqlValue[][]): Promise<Map<string, Row>> {
  const current = new Map<string, Row>();
  if (keys.length === 0) return current;
  const columns = await selectList(pool, schema, table);
  const single = key.length === 1;
  const target = single ? quote(key[0]) : `(${key.map(quote).join(',')})`;
  const tuple = single ? '?' : `(${key.map(() => '?').join(',')})`;
  for (let i = 0; i < keys.length; i += REREAD_CHUNK) {
    const chunk = keys.slice(i, i + REREAD_CHUNK);
    const sql = `SELECT ${columns} FROM ${quote(schema)}.${quote(table)} WHERE ${target} IN (${chunk.map(() => tuple).join(',')})`;
    const [rows] = await pool.query({ sql, typeCast }, chunk.flat());
    for (const row of rows as Row[]) current.set(looseKey(row, key), { ...row });
  }
  return current;
}

/** The batch with every insert and update replaced by what the source holds now. */
export async function backQueryChanges(pool: Pool, spec: PipelineSpec, changes: RowChange[]): Promise<RowChange[]> {
  const mappings = new Map(spec.tables.map((m) => [tableKey(m.source.schema, m.source.table), m]));
  const byTable = new Map<string, RowChange[]>();
  for (const c of changes) {
    const k = tableKey(c.schema, c.table);
    const list = byTable.get(k);
    if (list) list.push(c);
    else byTable.set(k, [c]);
  }
  const rewritten = new Map<string, RowChange[]>();
  const conn = await pool.getConnection();
  try {
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    for (const [k, list] of byTable) {
      const m = mappings.get(k);
      // Tables no rule maps are dropped by transform; nothing to re-read.
      if (!m) continue;
      const key = sourceKeyOf(m);
      const current = await reread(conn, m.source.schema, m.source.table, key, keysToReread(list, key));
      rewritten.set(k, applyBackQuery(list, key, current));
    }
    await conn.query('COMMIT');
    conn.release();
  } catch (err) {
    // A connection that failed mid-transaction is not handed back to the pool.
    conn.destroy();
    throw err;
  }
  // Back in binlog order across tables.
  const next = new Map([...rewritten].map(([k, list]) => [k, 0]));
  const out: RowChange[] = [];
  for (const c of changes) {
    const k = tableKey(c.schema, c.table);
    const list = rewritten.get(k);
    if (!list) continue;
    const i = next.get(k)!;
    out.push(list[i]);
    next.set(k, i + 1);
  }
  return out;
}
