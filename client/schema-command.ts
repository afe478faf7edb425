/**
 * `seaotter schema --config F --pipeline ID`: the CREATE TABLE statements a pipeline's target
 * needs, built from the source tables' definitions (information_schema) through the pipeline's
 * table and column mapping, in the target's dialect (MySQL/MariaDB or Oracle).
 */
import type mysql from 'mysql2/promise';
import type { MysqlSourceConfig, SeaotterConfig } from '../lib/config/schema.js';
import { createTableDdl, targetTableDef, type SourceColumn, type SourceTableDef } from '../lib/dialects/table-ddl.js';
import { matchTable, splitName } from '../lib/mapping.js';
import { UserError } from './errors.js';
import { resolveColumns } from '../lib/columns.js';
import { connectDatabase } from './resolve.js';

export interface SchemaOptions {
  /** Oracle JSON columns: CLOB with an IS JSON check (default) or the JSON type (Oracle 21c+). */
  oracleJson?: 'clob' | 'json';
}

type Conn = mysql.Connection;

/** A source table's definition; null when the table is not there. */
export async function readSourceTable(conn: Conn, schema: string, table: string): Promise<SourceTableDef | null> {
  const [cols] = await conn.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable,
            CHARACTER_MAXIMUM_LENGTH AS charMax, CHARACTER_OCTET_LENGTH AS octets, NUMERIC_PRECISION AS prec,
            NUMERIC_SCALE AS scale, DATETIME_PRECISION AS dtp, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  const rows = cols as Record<string, string | number | null>[];
  if (rows.length === 0) return null;
  const json = await mariadbJsonColumns(conn, schema, table);
  const num = (v: string | number | null): number | null => (v === null ? null : Number(v));
  const columns: SourceColumn[] = rows.map((r) => ({
    name: String(r.name),
    dataType: String(r.dataType).toLowerCase(),
    columnType: String(r.columnType).toLowerCase(),
    nullable: r.nullable === 'YES',
    charMaxLength: num(r.charMax),
    octetLength: num(r.octets),
    precision: num(r.prec),
    scale: num(r.scale),
    datetimePrecision: num(r.dtp),
    charset: r.charset === null ? null : String(r.charset),
    collation: r.collation === null ? null : String(r.collation),
    isJson: String(r.dataType).toLowerCase() === 'json' || json.has(String(r.name)),
  }));
  const [idx] = await conn.query(
    `SELECT INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const keys = new Map<string, string[]>();
  for (const r of idx as { i: string; c: string }[]) keys.set(r.i, [...(keys.get(r.i) ?? []), r.c]);
  const primaryKey = keys.get('PRIMARY') ?? [];
  keys.delete('PRIMARY');
  return { schema, table, columns, primaryKey, uniqueKeys: [...keys].map(([name, columns]) => ({ name, columns })) };
}

/** MariaDB's JSON is LONGTEXT with a `json_valid` check; MySQL has no TABLE_NAME there (and a real JSON type). */
async function mariadbJsonColumns(conn: Conn, schema: string, table: string): Promise<Set<string>> {
  try {
    const [rows] = await conn.query('SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?', [schema, table]);
    const out = new Set<string>();
    for (const r of rows as { c: string }[]) {
      const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(r.c.trim());
      if (m) out.add(m[1].replaceAll('``', '`'));
    }
    return out;
  } catch {
    return new Set();
  }
}

async function listTables(conn: Conn): Promise<{ schema: string; table: string }[]> {
  const [rows] = await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys')
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
  );
  return (rows as { s: string; t: string }[]).map((r) => ({ schema: r.s, table: r.t }));
}

/** The DDL script for one pipeline's target; every problem found is listed in one UserError. */
export async function pipelineSchemaDdl(config: SeaotterConfig, pipelineId: string, opts: SchemaOptions = {}): Promise<string> {
  const p = config.pipelines.find((x) => x.id === pipelineId);
  if (!p) throw new UserError(`unknown pipeline ${pipelineId} (the config has ${config.pipelines.map((x) => x.id).join(', ')})`);
  const target = config.dataSources[p.target];
  if (target.type !== 'mysql' && target.type !== 'mariadb' && target.type !== 'oracle') {
    throw new UserError(`pipelines.${p.id}.target: a ${target.type} data source has no tables`);
  }
  const dialect = target.type === 'oracle' ? 'oracle' : 'mysql';
  const src = await connectDatabase(p.source, config.dataSources[p.source] as MysqlSourceConfig);
  const problems: string[] = [];
  const out: string[] = [`-- seaotter schema: pipeline ${p.id}, ${p.source} → ${p.target} (${target.type})`];
  const created = new Set<string>();
  try {
    const all = await listTables(src);
    const claimed = new Set<string>();
    for (const [i, rule] of p.tables.entries()) {
      const at = `pipelines.${p.id}.tables[${i}]`;
      const matched = all.map((t) => ({ ...t, target: matchTable(rule, t.schema, t.table) })).filter((t) => t.target !== null);
      if (matched.length === 0) problems.push(`${at}: no source table matches "${rule.source}"`);
      for (const m of matched) {
        const full = `${m.schema}.${m.table}`;
        if (claimed.has(full)) continue;
        claimed.add(full);
        const def = (await readSourceTable(src, m.schema, m.table))!;
        const resolved = resolveColumns(def.columns.map((c) => c.name), rule.columns, full);
        for (const c of resolved.problems) problems.push(`${at}.${c.path}: ${c.message}`);
        const { columns } = resolved;
        if (resolved.derived.length) {
          out.push(`\n-- ${full}: derived columns (columns.add) ${resolved.derived.map((d) => d.target).join(', ')} are not in this DDL; add them with the type you want`);
        }
        try {
          const statements = createTableDdl(dialect, targetTableDef(def, splitName(m.target!), columns), { json: opts.oracleJson });
          // Several source tables may merge into one target table (regex rules): create it once.
          const first = statements.filter((s) => !created.has(s));
          for (const s of first) created.add(s);
          if (first.length) out.push(`\n-- from ${full}`, ...first.map((s) => `${s};`));
        } catch (err) {
          problems.push(`${at}: ${(err as Error).message}`);
        }
      }
    }
  } finally {
    await src.end().catch(() => undefined);
  }
  if (problems.length) throw new UserError(`cannot derive the target schema:\n${problems.map((x) => `  ${x}`).join('\n')}`);
  if (dialect === 'oracle' && out.some((line) => /"[^"]*[a-z][^"]*"/.test(line))) {
    out.splice(1, 0, '-- note: names are quoted exactly as mapped; unquoted Oracle names are upper case, so map to upper-case', '-- names (target: APP.ORDERS, columns.rename) to get tables that read without quotes');
  }
  return out.join('\n') + '\n';
}
