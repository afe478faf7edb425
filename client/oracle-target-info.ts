/**
 * `pipeline apply` against an Oracle target: the tables' columns, primary key and unique keys from
 * the data dictionary (ALL_TAB_COLUMNS, ALL_CONSTRAINTS, ALL_INDEXES), and the pipeline's
 * checkpoint. Names are matched exactly as the mapping gives them (Oracle stores unquoted names in
 * upper case).
 */
import oracledb from 'oracledb';
import type { OracleSourceConfig } from '../lib/config/schema.js';
import { parsePosition } from '../lib/model.js';
import { oracleConnectAttributes } from '../activities/oracle-pool.js';
import { isUnreachable, UnreachableError, UserError } from './errors.js';
import type { TableInfo, TargetIntrospection } from './resolve.js';

/** Driver and listener errors that mean the server cannot be reached (exit 2), not a bad login. */
const UNREACHABLE_CODES = new Set(['NJS-500', 'NJS-501', 'NJS-503', 'NJS-510', 'NJS-511', 'NJS-530']);
const UNREACHABLE_ORA = new Set([12170, 12535, 12541, 12543]);

export function isOracleUnreachable(err: unknown): boolean {
  const e = err as { code?: string; errorNum?: number };
  return UNREACHABLE_CODES.has(String(e?.code)) || UNREACHABLE_ORA.has(Number(e?.errorNum)) || isUnreachable(err);
}

export async function connectOracle(name: string, ds: OracleSourceConfig): Promise<oracledb.Connection> {
  let attrs: oracledb.ConnectionAttributes;
  try {
    attrs = oracleConnectAttributes(ds);
  } catch (err) {
    throw new UserError(`data source ${name}: ${(err as Error).message}`);
  }
  try {
    return await oracledb.getConnection(attrs);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    if (isOracleUnreachable(err)) throw new UnreachableError(`cannot reach data source ${name} at ${ds.connectString}: ${msg}`);
    throw new UserError(`data source ${name} (${ds.connectString}) refused the connection: ${msg}`);
  }
}

async function tableInfo(conn: oracledb.Connection, owner: string, table: string): Promise<TableInfo | null> {
  const cols = await conn.execute<[string]>('SELECT COLUMN_NAME FROM ALL_TAB_COLUMNS WHERE OWNER = :1 AND TABLE_NAME = :2 ORDER BY COLUMN_ID', [owner, table]);
  const columns = (cols.rows ?? []).map((r) => r[0]);
  if (columns.length === 0) return null;
  const pk = await conn.execute<[string]>(
    `SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c
       JOIN ALL_CONS_COLUMNS cc ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND cc.TABLE_NAME = c.TABLE_NAME
      WHERE c.OWNER = :1 AND c.TABLE_NAME = :2 AND c.CONSTRAINT_TYPE = 'P' ORDER BY cc.POSITION`,
    [owner, table],
  );
  const primaryKey = (pk.rows ?? []).map((r) => r[0]);
  // Unique constraints and unique indexes both reject a reordered upsert: take every unique index.
  const idx = await conn.execute<[string, string]>(
    `SELECT ic.INDEX_NAME, ic.COLUMN_NAME FROM ALL_INDEXES i
       JOIN ALL_IND_COLUMNS ic ON ic.INDEX_OWNER = i.OWNER AND ic.INDEX_NAME = i.INDEX_NAME
      WHERE i.TABLE_OWNER = :1 AND i.TABLE_NAME = :2 AND i.UNIQUENESS = 'UNIQUE' ORDER BY ic.INDEX_NAME, ic.COLUMN_POSITION`,
    [owner, table],
  );
  const keys = new Map<string, string[]>();
  for (const [i, c] of idx.rows ?? []) keys.set(i, [...(keys.get(i) ?? []), c]);
  const pkText = primaryKey.join('\0');
  const uniqueKeys = [...keys.values()].filter((k) => k.join('\0') !== pkText);
  return { columns, primaryKey, uniqueKeys };
}

/** Connects for `pipeline apply`; the checkpoint lives in `metaSchema` or the user's own schema. */
export async function connectOracleTarget(name: string, ds: OracleSourceConfig): Promise<TargetIntrospection> {
  const conn = await connectOracle(name, ds);
  return {
    tableInfo: (schema, table) => tableInfo(conn, schema, table),
    async readCheckpoint(pipelineId) {
      let schema = ds.metaSchema?.toUpperCase();
      if (!schema) schema = (await conn.execute<[string]>("SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual")).rows![0][0];
      try {
        const r = await conn.execute<[number, string]>(`SELECT "SEQ", "POSITION" FROM "${schema}"."SEAOTTER_CHECKPOINT" WHERE "PIPELINE" = :1`, [pipelineId]);
        const row = r.rows?.[0];
        return row && Number(row[0]) > 0 ? { seq: Number(row[0]), position: parsePosition(row[1]) } : null;
      } catch (err) {
        if ((err as { errorNum?: number }).errorNum === 942) return null;
        throw err;
      }
    },
    close: () => conn.close(),
  };
}
