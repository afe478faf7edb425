/**
 * What a DDL statement seen in the source's binlog means for a pipeline: nothing (it is not about
 * a table the pipeline maps), a statement to run on the target with the table mapping applied, or
 * a halt with the reason, because replaying it could make the target wrong.
 */
import { parseTablePattern, rulesTaking, splitName, twoRulesTake } from '../mapping.js';
import type { TableMapping, TableRuleSpec } from '../spec.js';
import { parseDdl, rewriteDdl, type TableRef } from './parse.js';

/** What planning needs to know of the pipeline. */
export interface DdlContext {
  tables: readonly TableMapping[];
  rules: readonly TableRuleSpec[];
  /** The target's data source type (`mysql`, `mariadb`, `oracle`…). */
  targetType: string;
  /** Table names are matched without case (see PipelineSpec.sourceFoldsNames). */
  foldCase?: boolean;
}

export type DdlPlan =
  | { action: 'ignore' }
  | { action: 'apply'; statement: string; targets: { schema: string; table: string }[] }
  | { action: 'halt'; reason: string };

interface Resolved {
  target: { schema: string; table: string };
  rule?: TableRuleSpec;
  merged: boolean;
  /** Set when more than one rule takes a table no mapping names: why it cannot be mapped. */
  ambiguous?: string;
}

/** The target of a source table: its mapping, else the rule that matches it (`ambiguous` when more than one does). */
export function resolveTable(schema: string, table: string, ctx: DdlContext): Resolved | null {
  const written = { schema, table };
  if (ctx.foldCase) {
    // A source that folds names stores them in lower case (1) or compares them so (2).
    schema = schema.toLowerCase();
    table = table.toLowerCase();
  }
  const same = (a: string, b: string) => a === b || (ctx.foldCase === true && a.toLowerCase() === b);
  const m = ctx.tables.find((t) => same(t.source.schema, schema) && same(t.source.table, table));
  if (m) {
    const rule = m.rule === undefined ? undefined : ctx.rules[m.rule];
    const sharing = ctx.tables.some((o) => o !== m && o.target.schema === m.target.schema && o.target.table === m.target.table);
    return { target: m.target, rule, merged: sharing || (rule !== undefined && mergesTables(rule)) };
  }
  // Rules match names as the source keeps them: in lower case (1), or as created (2, where the
  // statement that creates a table writes its name so).
  let taking = rulesTaking(ctx.rules, schema, table);
  if (taking.length === 0 && ctx.foldCase) taking = rulesTaking(ctx.rules, written.schema, written.table);
  if (taking.length === 0) return null;
  const rule = ctx.rules[taking[0]!.index]!;
  return { target: splitName(taking[0]!.target), rule, merged: mergesTables(rule), ...(taking.length > 1 ? { ambiguous: twoRulesTake(ctx.rules, taking, schema, table) } : {}) };
}

/** A regex rule whose target names one table (no `$n`) merges every table it matches into it. */
function mergesTables(rule: TableRuleSpec): boolean {
  const p = parseTablePattern(rule.source);
  return p.ok && p.kind === 'regex' && rule.target !== undefined && !/\$\d/.test(rule.target);
}

function hasColumnRules(rule: TableRuleSpec | undefined): boolean {
  const c = rule?.columns;
  return !!c && (c.include !== undefined || (c.exclude?.length ?? 0) > 0 || Object.keys(c.rename ?? {}).length > 0);
}

/** True when an unreadable statement could be about a mapped table (its name appears in the text). */
function mightConcern(statement: string, ctx: DdlContext): boolean {
  const text = statement.toLowerCase();
  if (ctx.tables.some((t) => text.includes(t.source.table.toLowerCase()))) return true;
  return ctx.rules.some((r) => {
    const p = parseTablePattern(r.source);
    return p.ok && p.kind === 'regex';
  });
}

/** Plans one DDL statement that ran in `schema` (the binlog's default schema for it). */
export function planDdl(statement: string, schema: string, ctx: DdlContext): DdlPlan {
  const parsed = parseDdl(statement, schema);
  if (parsed.kind === 'other') return { action: 'ignore' };
  if (parsed.kind === 'unknown') {
    return mightConcern(statement, ctx) ? { action: 'halt', reason: `cannot read this DDL statement (${parsed.reason})` } : { action: 'ignore' };
  }
  const resolved = parsed.tables.map((t) => ({ ref: t, to: resolveTable(t.schema, t.table, ctx) }));
  const mapped = resolved.filter((r) => r.to !== null);
  if (mapped.length === 0) return { action: 'ignore' };
  const ambiguous = mapped.find((r) => r.to!.ambiguous);
  if (ambiguous) return { action: 'halt', reason: ambiguous.to!.ambiguous! };
  const name = (t: TableRef) => `${t.schema}.${t.table}`;
  if (ctx.targetType !== 'mysql' && ctx.targetType !== 'mariadb') {
    return { action: 'halt', reason: `DDL cannot be replayed on a ${ctx.targetType} target` };
  }
  const unmapped = resolved.filter((r) => r.to === null);
  if (unmapped.length) {
    return {
      action: 'halt',
      reason: `the statement involves tables the pipeline maps (${mapped.map((r) => name(r.ref)).join(', ')}) and tables it does not (${unmapped.map((r) => name(r.ref)).join(', ')})`,
    };
  }
  const merged = mapped.find((r) => r.to!.merged);
  if (merged) {
    const t = merged.to!.target;
    return { action: 'halt', reason: `several source tables are merged into ${t.schema}.${t.table}, so DDL on ${name(merged.ref)} cannot be replayed on it` };
  }
  if (parsed.references) return { action: 'halt', reason: 'the statement references other tables (FOREIGN KEY … REFERENCES), which seaotter does not rewrite' };
  if (parsed.verb === 'create' || parsed.verb === 'alter' || parsed.verb === 'create-index') {
    const ruled = mapped.find((r) => hasColumnRules(r.to!.rule));
    if (ruled) return { action: 'halt', reason: `${name(ruled.ref)} has column rules (include/exclude/rename), so its columns cannot be changed by replaying the statement` };
    // A table created as the source has it would lack the columns the rule adds (columns.add).
    const adding = parsed.verb === 'create' ? mapped.find((r) => Object.keys(r.to!.rule?.columns?.add ?? {}).length > 0) : undefined;
    if (adding) return { action: 'halt', reason: `the rule for ${name(adding.ref)} adds columns (columns.add), which a table created by replaying the statement would lack; create it on the target with them` };
  }
  const targets = new Map(mapped.map((r) => [r.ref, r.to!.target]));
  return {
    action: 'apply',
    statement: rewriteDdl(statement, parsed.tables, (t) => targets.get(t)!),
    targets: [...targets.values()],
  };
}
