/**
 * `pipeline apply`'s checks: connects to both databases, refuses (naming each problem) a source
 * without a full row-based binlog, a mapped table that is missing or has no primary key, a table
 * two rules match, a column the target lacks, a column rule or filter naming a column the source
 * lacks (lib/columns.ts), a processor module that is not there, or a file store or file rule
 * that cannot work (resolve-files.ts); then resolves the pipeline
 * into the spec its workflow runs.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { DataSourceConfig, MysqlSourceConfig, PipelineConfig, SeaotterConfig } from '../lib/config/schema.js';
import { resolveColumns } from '../lib/columns.js';
import { whereColumns } from '../lib/filter.js';
import { matchTable, splitName } from '../lib/mapping.js';
import { parsePosition, type BinlogPosition } from '../lib/model.js';
import { resolveStage, taskQueueFor, type PipelineSpec, type TableMapping, type TableRuleSpec } from '../lib/spec.js';
import { mysqlOptions } from '../activities/resources.js';
import { isUnreachable, UnreachableError, UserError } from './errors.js';
import { connectOracleTarget } from './oracle-target-info.js';
import { checkStores, fileStoresOf, resolveFileRules } from './resolve-files.js';
import { toFileRule } from '../lib/file-keys.js';

type Conn = mysql.Connection;

/** A table's columns and unique keys, as `pipeline apply` checks them. */
export interface TableInfo {
  columns: string[];
  primaryKey: string[];
  uniqueKeys: string[][];
  /** Source tables: columns of a spatial type (`name type`), which capture cannot carry. */
  spatial?: string[];
}

const SPATIAL = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);

export async function connectDatabase(name: string, ds: MysqlSourceConfig): Promise<Conn> {
  let options: mysql.ConnectionOptions;
  try {
    options = mysqlOptions(ds);
  } catch (err) {
    throw new UserError(`data source ${name}: ${(err as Error).message}`);
  }
  try {
    return await mysql.createConnection(options);
  } catch (err) {
    if (isUnreachable(err)) throw new UnreachableError(`cannot reach data source ${name} at ${ds.host}:${ds.port}: ${(err as Error).message}`);
    throw new UserError(`data source ${name} (${ds.host}:${ds.port}) refused the connection: ${(err as Error).message}`);
  }
}

async function tableInfo(conn: Conn, schema: string, table: string): Promise<TableInfo | null> {
  const [cols] = await conn.query(
    'SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  );
  const columns = (cols as { c: string }[]).map((r) => r.c);
  const spatial = (cols as { c: string; t: string }[]).filter((r) => SPATIAL.has(String(r.t).toLowerCase())).map((r) => `${r.c} ${String(r.t).toLowerCase()}`);
  if (columns.length === 0) return null;
  const [idx] = await conn.query(
    `SELECT INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const keys = new Map<string, string[]>();
  for (const r of idx as { i: string; c: string }[]) {
    const list = keys.get(r.i) ?? [];
    list.push(r.c);
    keys.set(r.i, list);
  }
  const primaryKey = keys.get('PRIMARY') ?? [];
  keys.delete('PRIMARY');
  return { columns, primaryKey, uniqueKeys: [...keys.values()], ...(spatial.length ? { spatial } : {}) };
}

/** Source binlog settings seaotter depends on, each with how to set it. */
export async function checkSourceBinlog(conn: Conn, name: string): Promise<string[]> {
  const [rows] = await conn.query(
    'SELECT @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS meta',
  );
  const v = (rows as Record<string, string | number>[])[0];
  const problems: string[] = [];
  if (Number(v.log_bin) !== 1) problems.push(`source ${name}: the binary log is off; start the server with --log-bin`);
  if (v.format !== 'ROW') problems.push(`source ${name}: binlog_format is ${v.format}; set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in my.cnf)`);
  if (v.image !== 'FULL') problems.push(`source ${name}: binlog_row_image is ${v.image}; set binlog_row_image=FULL (SET GLOBAL binlog_row_image='FULL' and in my.cnf)`);
  if (v.meta !== 'FULL') problems.push(`source ${name}: binlog_row_metadata is ${v.meta}; set binlog_row_metadata=FULL (SET GLOBAL binlog_row_metadata='FULL' and in my.cnf)`);
  return problems;
}

/** True when the source compares table names without case (lower_case_table_names 1 or 2). */
async function sourceFoldsNames(conn: Conn): Promise<boolean> {
  const [rows] = await conn.query('SELECT @@lower_case_table_names AS n');
  return Number((rows as { n: number | string }[])[0]?.n ?? 0) !== 0;
}

async function listTables(conn: Conn): Promise<{ schema: string; table: string }[]> {
  const [rows] = await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys')`,
  );
  return (rows as { s: string; t: string }[]).map((r) => ({ schema: r.s, table: r.t }));
}

/** The last checkpoint on the target: a stopped pipeline resumes there, whatever `start` says. */
export async function readCheckpoint(conn: Conn, metaSchema: string, pipelineId: string): Promise<{ seq: number; position: BinlogPosition } | null> {
  try {
    const [rows] = await conn.query(`SELECT seq, position FROM \`${metaSchema}\`.seaotter_checkpoint WHERE pipeline = ?`, [pipelineId]);
    const r = (rows as { seq: string; position: string }[])[0];
    // A seq-0 row is a pipeline that has not applied anything yet: start where the config says.
    return r && Number(r.seq) > 0 ? { seq: Number(r.seq), position: parsePosition(r.position) } : null;
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049) return null;
    throw err;
  }
}

async function resolveStart(conn: Conn, p: PipelineConfig): Promise<BinlogPosition> {
  if (p.start === 'current') {
    const [rows] = await conn.query('SHOW MASTER STATUS');
    const r = (rows as { File: string; Position: number }[])[0];
    if (!r) throw new UserError(`pipeline ${p.id}: the source has no binary log (SHOW MASTER STATUS is empty)`);
    return { file: r.File, pos: Number(r.Position) };
  }
  return p.start;
}

/** The processor module's absolute path, or a problem when it is not a file. */
async function checkProcessor(file: string, at: string, problems: string[]): Promise<string> {
  const abs = path.resolve(file);
  const st = await stat(abs).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) problems.push(`${at}.processor: cannot read module ${abs}: ${st.code === 'ENOENT' ? 'no such file' : st.message}`);
  else if (!st.isFile()) problems.push(`${at}.processor: ${abs} is not a file`);
  return abs;
}

/** What `pipeline apply` asks of a target database, whatever its type. */
export interface TargetIntrospection {
  tableInfo(schema: string, table: string): Promise<TableInfo | null>;
  readCheckpoint(pipelineId: string): Promise<{ seq: number; position: BinlogPosition } | null>;
  close(): Promise<void>;
}

async function connectTarget(name: string, ds: DataSourceConfig): Promise<TargetIntrospection> {
  if (ds.type === 'oracle') return connectOracleTarget(name, ds);
  if (ds.type !== 'mysql' && ds.type !== 'mariadb') throw new UserError(`data source ${name}: a ${ds.type} data source cannot be a target`);
  const dst = await connectDatabase(name, ds);
  return {
    tableInfo: (schema, table) => tableInfo(dst, schema, table),
    readCheckpoint: (id) => readCheckpoint(dst, ds.metaSchema, id),
    close: () => dst.end(),
  };
}

async function mapTables(p: PipelineConfig, src: Conn, dst: TargetIntrospection, problems: string[], rules: TableRuleSpec[]): Promise<TableMapping[]> {
  const all = await listTables(src);
  const mappings: TableMapping[] = [];
  const claimed = new Map<string, number>();
  const pipelineProcessor = p.processor === undefined ? undefined : await checkProcessor(p.processor, `pipelines.${p.id}`, problems);
  for (const [i, rule] of p.tables.entries()) {
    const at = `pipelines.${p.id}.tables[${i}]`;
    const processor = rule.processor === undefined ? pipelineProcessor : await checkProcessor(rule.processor, at, problems);
    rules.push({
      source: rule.source,
      ...(rule.target !== undefined ? { target: rule.target } : {}),
      ...(rule.columns ? { columns: rule.columns } : {}),
      ...(rule.where ? { where: rule.where } : {}),
      weight: rule.weight,
      ...(processor ? { processor } : {}),
      ...(rule.files?.length ? { files: rule.files.map(toFileRule) } : {}),
    });
    const matched = all
      .map((t) => ({ ...t, target: matchTable(rule, t.schema, t.table) }))
      .filter((t): t is { schema: string; table: string; target: string } => t.target !== null);
    if (matched.length === 0) {
      problems.push(`${at}: no source table matches "${rule.source}"`);
      continue;
    }
    for (const m of matched) {
      const full = `${m.schema}.${m.table}`;
      const prev = claimed.get(full);
      if (prev !== undefined) {
        problems.push(`${at}: ${full} is matched by both pipelines.${p.id}.tables[${prev}] ("${p.tables[prev].source}") and tables[${i}] ("${rule.source}")`);
        continue;
      }
      claimed.set(full, i);
      const sInfo = (await tableInfo(src, m.schema, m.table))!;
      const target = splitName(m.target);
      const tInfo = await dst.tableInfo(target.schema, target.table);
      if (sInfo.primaryKey.length === 0) problems.push(`${at}: source table ${full} has no primary key`);
      // The binlog decoder turns them into coordinates (dropping the SRID), which cannot travel: every row of the table would stop capture.
      if (sInfo.spatial) problems.push(`${at}: source table ${full} has spatial column(s) ${sInfo.spatial.join(', ')}, which seaotter cannot capture yet (even excluded: capture reads whole rows)`);
      if (!tInfo) {
        problems.push(`${at}: target table ${m.target} does not exist`);
        continue;
      }
      if (tInfo.primaryKey.length === 0) problems.push(`${at}: target table ${m.target} has no primary key`);
      const resolved = resolveColumns(sInfo.columns, rule.columns, full);
      for (const c of resolved.problems) problems.push(`${at}.${c.path}: ${c.message}`);
      const { columns, groups, derived } = resolved;
      // Filters read source columns, before rename and exclude.
      for (const c of rule.where ? whereColumns(rule.where) : []) {
        if (!sInfo.columns.includes(c)) problems.push(`${at}.where: the source table ${full} has no column "${c}"`);
      }
      const written = [...columns.map((c) => c.target), ...derived.map((d) => d.target)];
      const missing = written.filter((c) => !tInfo.columns.includes(c));
      if (missing.length) problems.push(`${at}: target table ${m.target} lacks column(s) ${missing.join(', ')}`);
      const mappedTargets = new Set(written);
      const pkGap = tInfo.primaryKey.filter((c) => !mappedTargets.has(c));
      if (pkGap.length) problems.push(`${at}: target primary key column(s) ${pkGap.join(', ')} of ${m.target} get no source column`);
      const files = await resolveFileRules(rule, sInfo.columns, full, at, problems);
      mappings.push({
        source: { schema: m.schema, table: m.table },
        target,
        columns,
        primaryKey: tInfo.primaryKey,
        uniqueKeys: tInfo.uniqueKeys,
        weight: rule.weight,
        ...(rule.where ? { where: rule.where } : {}),
        ...(processor ? { processor } : {}),
        ...(files ? { files } : {}),
        sourceKey: sInfo.primaryKey,
        ...(groups.length ? { groups } : {}),
        ...(derived.length ? { derived } : {}),
        ...((rule.mode ?? p.mode) === 'field' ? { mode: 'field' as const } : {}),
        rule: i,
      });
    }
  }
  return mappings;
}

export interface ResolvedPipeline {
  spec: PipelineSpec;
  startSeq: number;
  resumedFromCheckpoint: boolean;
}

/** What a config asks that this build cannot do, seen from the file alone (`config check` says it too). */
export function unsupportedByThisBuild(config: SeaotterConfig): string[] {
  return config.pipelines.filter((p) => p.twoWay).map((p) => `pipelines.${p.id}.twoWay: two-way sync is not supported by this build yet`);
}

/** Resolves every pipeline of a config; throws one UserError listing every problem found. */
export async function resolvePipelines(config: SeaotterConfig): Promise<ResolvedPipeline[]> {
  const out: ResolvedPipeline[] = [];
  // What the file alone shows is said before any server is asked (an unreachable one would hide it).
  const problems = unsupportedByThisBuild(config);
  if (problems.length) throw new UserError(`cannot apply:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  for (const p of config.pipelines) {
    const source = config.dataSources[p.source] as MysqlSourceConfig;
    const target = config.dataSources[p.target];
    if (target.type === 's3' || target.type === 'dir') {
      problems.push(`pipelines.${p.id}.target: a ${target.type} data source cannot be a target (MySQL/MariaDB or Oracle only)`);
      continue;
    }
    const src = await connectDatabase(p.source, source);
    let dst: TargetIntrospection;
    try {
      dst = await connectTarget(p.target, target);
    } catch (err) {
      await src.end().catch(() => undefined);
      throw err;
    }
    try {
      problems.push(...(await checkSourceBinlog(src, p.source)));
      const rules: TableRuleSpec[] = [];
      const tables = await mapTables(p, src, dst, problems, rules);
      const fileStores = fileStoresOf(config, [...tables.flatMap((t) => t.files ?? []), ...rules.flatMap((r) => r.files ?? [])]);
      const stage = resolveStage(config);
      await checkStores({ ...fileStores, ...(stage.type === 's3' ? { [stage.source]: stage.store } : {}) }, problems);
      const checkpoint = await dst.readCheckpoint(p.id);
      const start = checkpoint?.position ?? (await resolveStart(src, p));
      const foldsNames = await sourceFoldsNames(src);
      const body = {
        id: p.id,
        sourceName: p.source,
        targetName: p.target,
        source,
        target,
        stage,
        ...(Object.keys(fileStores).length ? { fileStores } : {}),
        tables,
        rules,
        batch: p.batch,
        load: p.load,
        ddl: p.ddl,
        consistency: p.consistency,
        continueAsNewEvery: p.continueAsNewEvery,
        sourceQueue: taskQueueFor(source.datacenter),
        targetQueue: taskQueueFor(target.datacenter),
        ...(foldsNames ? { sourceFoldsNames: true } : {}),
      };
      const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
      out.push({ spec: { ...body, start, version }, startSeq: checkpoint?.seq ?? 0, resumedFromCheckpoint: checkpoint !== null });
    } finally {
      await Promise.allSettled([src.end(), dst.close()]);
    }
  }
  if (problems.length) throw new UserError(`cannot apply:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return out;
}
