/**
 * `seaotter schema`: the target tables a pipeline needs, as CREATE TABLE statements, from the
 * source tables' definitions (information_schema) carried through the table and column mapping.
 * Each dialect turns a `TargetTableDef` into its own DDL (mysql/mysql-table-ddl.ts,
 * oracle/oracle-table-ddl.ts).
 */
import type { ColumnMapping } from '../spec.js';
import { mysqlCreateTable } from './mysql/mysql-table-ddl.js';
import { oracleCreateTable, type OracleDdlOptions } from './oracle/oracle-table-ddl.js';

/** One source column as information_schema.COLUMNS describes it. */
export interface SourceColumn {
  name: string;
  /** DATA_TYPE, lower case: `int`, `varchar`, `datetime`… */
  dataType: string;
  /** COLUMN_TYPE, lower case: `int(10) unsigned`, `enum('a','b')`, `decimal(12,2)`… */
  columnType: string;
  nullable: boolean;
  charMaxLength: number | null;
  /** CHARACTER_OCTET_LENGTH: the most bytes a value may take. */
  octetLength: number | null;
  precision: number | null;
  scale: number | null;
  datetimePrecision: number | null;
  charset: string | null;
  collation: string | null;
  /** A MariaDB JSON column (LONGTEXT with a json_valid check) or a MySQL JSON column. */
  isJson: boolean;
}

/** A source table with its keys (source column names). */
export interface SourceTableDef {
  schema: string;
  table: string;
  columns: SourceColumn[];
  primaryKey: string[];
  /** Unique keys besides the primary key. */
  uniqueKeys: { name: string; columns: string[] }[];
}

/** A target table to create: target names, each column with the source column it comes from. */
export interface TargetTableDef {
  schema: string;
  table: string;
  columns: { name: string; source: SourceColumn }[];
  primaryKey: string[];
  uniqueKeys: { name: string; columns: string[] }[];
}

/**
 * Carries a source table through a mapping. The primary key must survive the mapping (every key
 * column mapped); unique keys that lose a column are left out, since the target cannot enforce
 * them.
 */
export function targetTableDef(source: SourceTableDef, target: { schema: string; table: string }, columns: readonly ColumnMapping[]): TargetTableDef {
  const byName = new Map(source.columns.map((c) => [c.name, c]));
  const renamed = new Map(columns.map((c) => [c.source, c.target]));
  const full = `${source.schema}.${source.table}`;
  if (source.primaryKey.length === 0) throw new Error(`source table ${full} has no primary key`);
  const lost = source.primaryKey.filter((c) => !renamed.has(c));
  if (lost.length) throw new Error(`source table ${full}: primary key column(s) ${lost.join(', ')} are not mapped`);
  const out: TargetTableDef['columns'] = [];
  for (const m of columns) {
    const col = byName.get(m.source);
    if (!col) throw new Error(`source table ${full} has no column ${m.source}`);
    out.push({ name: m.target, source: col });
  }
  const mapKey = (key: string[]): string[] | null => (key.every((c) => renamed.has(c)) ? key.map((c) => renamed.get(c)!) : null);
  const uniqueKeys = source.uniqueKeys
    .map((k) => ({ name: k.name, columns: mapKey(k.columns) }))
    .filter((k): k is { name: string; columns: string[] } => k.columns !== null);
  return { schema: target.schema, table: target.table, columns: out, primaryKey: mapKey(source.primaryKey)!, uniqueKeys };
}

export type { OracleDdlOptions };

/** The statements that create one target table (and, on MySQL, its schema). */
export function createTableDdl(dialect: 'mysql' | 'oracle', def: TargetTableDef, opts: OracleDdlOptions = {}): string[] {
  return dialect === 'mysql' ? mysqlCreateTable(def) : oracleCreateTable(def, opts);
}
