/**
 * Finds the table mapping for each change, following schema changes: a change's own column names
 * decide its target columns (see lib/ddl/columns.ts), and a table no mapping names but a rule
 * matches (created after `pipeline apply`) gets a mapping from that rule. Derived mappings are
 * cached per batch by column layout; the hot path (a table's columns as in its previous change)
 * is two map lookups and a walk over the row's column names, building no strings.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DerivedColumn } from '../../lib/columns.js';
import { columnsFor } from '../../lib/ddl/columns.js';
import { rulesTaking, splitName, twoRulesTake } from '../../lib/mapping.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping, TableRuleSpec } from '../../lib/spec.js';

/** What one source table resolved to: its base mapping, and the last column layout seen with its mapping. */
interface TableEntry {
  base: TableMapping | null;
  lastNames?: string[];
  last?: TableMapping;
}

/** True when the row's columns are exactly `names`, in that order (no allocation). */
function hasColumns(row: object, names: readonly string[]): boolean {
  let i = 0;
  for (const column in row) if (column !== names[i++]) return false;
  return i === names.length;
}

export class MappingResolver {
  private readonly bySource: Map<string, TableMapping | null>;
  private readonly byLayout = new Map<string, TableMapping>();
  /** schema → table → entry: the hot path builds no strings while layouts stay the same. */
  private readonly entries = new Map<string, Map<string, TableEntry>>();

  constructor(private readonly spec: PipelineSpec) {
    this.bySource = new Map(spec.tables.map((m) => [`${m.source.schema}.${m.source.table}`, m]));
  }

  /** The mapping for this change's table and columns, or null when no rule takes the table. */
  mappingFor(change: RowChange): TableMapping | null {
    let tables = this.entries.get(change.schema);
    if (!tables) {
      tables = new Map();
      this.entries.set(change.schema, tables);
    }
    let entry = tables.get(change.table);
    if (!entry) {
      entry = { base: this.baseFor(change.schema, change.table) };
      tables.set(change.table, entry);
    }
    const base = entry.base;
    // Specs from older builds have no rules: their column lists stay as resolved.
    if (!base || !this.spec.rules) return base;
    const image = change.after ?? change.before;
    if (!image) return base;
    // The usual case: the same columns as this table's previous change.
    if (entry.lastNames && hasColumns(image, entry.lastNames)) return entry.last!;
    const name = `${change.schema}.${change.table}`;
    const names = Object.keys(image);
    const key = `${name}\u0000${names.join('\u0000')}`;
    let m = this.byLayout.get(key);
    if (!m) {
      const rule = base.rule === undefined ? undefined : this.spec.rules[base.rule];
      let columns;
      try {
        columns = columnsFor(names, base, rule);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'TransformFailed');
      }
      const same = columns.length === base.columns.length && columns.every((c, i) => c === base!.columns[i]);
      m = same ? base : { ...base, columns };
      this.byLayout.set(key, m);
    }
    entry.lastNames = names;
    entry.last = m;
    return m;
  }

  private baseFor(schema: string, table: string): TableMapping | null {
    const name = `${schema}.${table}`;
    let base = this.bySource.get(name);
    if (base === undefined) {
      base = this.fromRules(schema, table);
      this.bySource.set(name, base);
    }
    return base;
  }

  private fromRules(schema: string, table: string): TableMapping | null {
    const rules = this.spec.rules ?? [];
    const taking = rulesTaking(rules, schema, table);
    if (taking.length > 1) throw ApplicationFailure.nonRetryable(twoRulesTake(rules, taking, schema, table), 'TransformFailed');
    const first = taking[0];
    return first ? newTableMapping(schema, table, splitName(first.target), rules[first.index]!, first.index) : null;
  }
}

/**
 * A table created after `apply`: its keys are learned from the target at load time. Derived
 * columns, groups and file rules come from the rule (a file column it lacks halts at transform);
 * field mode and back-query need the keys resolved at apply, so such a table loads whole rows
 * from the binlog until the next `pipeline apply`.
 */
function newTableMapping(schema: string, table: string, target: { schema: string; table: string }, rule: TableRuleSpec, index: number): TableMapping {
  const rename = rule.columns?.rename ?? {};
  const groups = (rule.columns?.groups ?? []).map((g) => g.map((c) => rename[c] ?? c));
  const derived: DerivedColumn[] = Object.entries(rule.columns?.add ?? {}).map(([t, how]) => ({ target: t, ...how }));
  return {
    ...(groups.length ? { groups } : {}),
    ...(derived.length ? { derived } : {}),
    source: { schema, table },
    target,
    columns: [],
    primaryKey: [],
    uniqueKeys: [],
    weight: rule.weight,
    ...(rule.where ? { where: rule.where } : {}),
    ...(rule.processor ? { processor: rule.processor } : {}),
    ...(rule.files?.length ? { files: rule.files } : {}),
    rule: index,
  };
}
