/**
 * Which tables and which DDL statements concern a pipeline, as capture sees them: rows of mapped
 * tables and of tables a rule matches (also ones created later), and DDL that `planDdl` does not
 * ignore. Statements the pipeline ignores never make a batch.
 */
import { planDdl, resolveTable, type DdlContext } from '../../lib/ddl/plan.js';
import type { PipelineSpec } from '../../lib/spec.js';

export function ddlContext(spec: PipelineSpec): DdlContext {
  return { tables: spec.tables, rules: spec.rules ?? [], targetType: spec.target.type, ...(spec.sourceFoldsNames ? { foldCase: true } : {}) };
}

/** A cached test whether rows of `schema.table` are wanted. */
export function tableFilter(spec: PipelineSpec): (schema: string, table: string) => boolean {
  const ctx = ddlContext(spec);
  const cache = new Map<string, boolean>();
  return (schema, table) => {
    const key = `${schema}.${table}`;
    let v = cache.get(key);
    if (v === undefined) {
      v = resolveTable(schema, table, ctx) !== null;
      if (cache.size > 10_000) cache.clear();
      cache.set(key, v);
    }
    return v;
  };
}

/** True when the statement must travel as a DDL batch (to be applied, skipped visibly, or halt on). */
export function ddlConcernsPipeline(spec: PipelineSpec, schema: string, statement: string): boolean {
  return planDdl(statement, schema, ddlContext(spec)).action !== 'ignore';
}

/**
 * The source columns a table's rows are matched by (its key, and the columns of the target's
 * key), for the tables `pipeline apply` mapped; undefined for others (created later). Their values
 * must reach the load exactly as the source's own queries give them: a FLOAT key is compared as a
 * double, so capture leaves those columns unshortened (see activities/capture/binlog-stream.ts).
 */
export function keyColumnsOf(spec: PipelineSpec): (schema: string, table: string) => readonly string[] | undefined {
  const keys = new Map<string, string[]>();
  for (const m of spec.tables) {
    const fromTarget = m.columns.filter((c) => m.primaryKey.includes(c.target)).map((c) => c.source);
    keys.set(`${m.source.schema}.${m.source.table}`, [...new Set([...(m.sourceKey ?? []), ...fromTarget])]);
  }
  return (schema, table) => keys.get(`${schema}.${table}`);
}

/** The spec-derived tests a binlog stream takes: which tables' rows it wants, and their key columns. */
export function streamFilters(spec: PipelineSpec): { wants?: (schema: string, table: string) => boolean; keyColumns: (schema: string, table: string) => readonly string[] | undefined } {
  // Specs from older builds have no rules: their stream keeps to the tables they name.
  return { ...(spec.rules ? { wants: tableFilter(spec) } : {}), keyColumns: keyColumnsOf(spec) };
}
