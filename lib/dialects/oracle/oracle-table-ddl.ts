/**
 * CREATE TABLE for an Oracle target. Names are double-quoted exactly as the mapping gives them
 * (Oracle folds unquoted names to upper case: map to upper-case names to get tables that read
 * unquoted). Oracle before 23ai has no IF NOT EXISTS, so a table that exists fails with ORA-00955.
 */
import type { TargetTableDef } from '../table-ddl.js';
import { oracleColumnType, type OracleTypeOptions } from './oracle-types.js';

export type OracleDdlOptions = OracleTypeOptions;

function q(name: string): string {
  if (name === '' || name.includes('"') || name.includes('\0')) throw new Error(`not a valid Oracle identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export function oracleCreateTable(def: TargetTableDef, opts: OracleDdlOptions = {}): string[] {
  const lines: string[] = [];
  for (const c of def.columns) {
    const type = oracleColumnType(c.source, opts);
    // Text JSON in a CLOB is checked like the source's JSON type checks it.
    const check = type === 'CLOB' && (c.source.isJson || c.source.dataType === 'json') ? ` CHECK (${q(c.name)} IS JSON)` : '';
    lines.push(`  ${q(c.name)} ${type}${c.source.nullable ? '' : ' NOT NULL'}${check}`);
  }
  lines.push(`  PRIMARY KEY (${def.primaryKey.map(q).join(', ')})`);
  for (const k of def.uniqueKeys) lines.push(`  UNIQUE (${k.columns.map(q).join(', ')})`);
  return [`CREATE TABLE ${q(def.schema)}.${q(def.table)} (\n${lines.join(',\n')}\n)`];
}
