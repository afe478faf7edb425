/**
 * CREATE TABLE for a MySQL/MariaDB target: every column keeps its source type verbatim
 * (COLUMN_TYPE, character set and collation), so values land unchanged. Defaults,
 * AUTO_INCREMENT and generated expressions are left out: loads always write every column.
 */
import type { TargetTableDef } from '../table-ddl.js';

function q(name: string): string {
  if (name === '' || name.includes('\0')) throw new Error(`not a valid MySQL identifier: ${JSON.stringify(name)}`);
  return '`' + name.replaceAll('`', '``') + '`';
}

/** A column's type as the source declares it, with its character set and collation for text. */
export function mysqlColumnType(c: TargetTableDef['columns'][number]['source']): string {
  let type = c.columnType;
  if (c.charset && c.collation) type += ` CHARACTER SET ${c.charset} COLLATE ${c.collation}`;
  return type;
}

/** A column's definition: type, nullability and, for MariaDB's JSON, its json_valid check. */
function columnDefinition(c: TargetTableDef['columns'][number]): string {
  // MariaDB's JSON is this text type with a json_valid check; keeping the check keeps it JSON
  // (clients see a JSON column) and keeps the text exact, where MySQL's JSON type would rewrite it.
  const check = c.source.isJson && c.source.dataType !== 'json' ? ` CHECK (json_valid(${q(c.name)}))` : '';
  return `${q(c.name)} ${mysqlColumnType(c.source)} ${c.source.nullable ? 'NULL' : 'NOT NULL'}${check}`;
}

export function mysqlCreateTable(def: TargetTableDef): string[] {
  const lines = def.columns.map((c) => `  ${columnDefinition(c)}`);
  lines.push(`  PRIMARY KEY (${def.primaryKey.map(q).join(', ')})`);
  for (const k of def.uniqueKeys) lines.push(`  UNIQUE KEY ${q(k.name)} (${k.columns.map(q).join(', ')})`);
  return [
    `CREATE DATABASE IF NOT EXISTS ${q(def.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${q(def.schema)}.${q(def.table)} (\n${lines.join(',\n')}\n) ENGINE=InnoDB`,
  ];
}
