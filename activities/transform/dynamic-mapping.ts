/**
 * Finds the table mapping for each change, following schema changes: a change's own column names
 * decide its target columns (see lib/ddl/columns.ts), and a table no mapping names but a rule
 * matches (created after `pipeline apply`) gets a mapping from that rule. Derived mappings are
 * cached per batch by column layout, so the hot path is one map lookup per change.
 */
import type { DerivedColumn } from '../../lib/columns.js';
import { columnsFor } from '../../lib/ddl/columns.js';
import { matchTable, splitName } from '../../lib/mapping.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping, TableRuleSpec } from '../../lib/spec.js';

export class MappingResolver {
  private readonly bySource: Map<string, TableMapping | null>;
  private readonly byLayout = new Map<string, TableMapping>();

  constructor(private readonly spec: PipelineSpec) {
    this.bySource = new Map(spec.tables.map((m) => [`${m.source.schema}.${m.source.table}`, m]));
  }

  /** The mapping for this change's table and columns, or null when no rule takes the table. */
  mappingFor(change: RowChange): TableMapping | null {
    const name = `${change.schema}.${change.table}`;
    let base = this.bySource.get(name);
    if (base === undefined) {
      base = this.fromRules(change.schema, change.table);
      this.bySource.set(name, base);
    }
    // Specs from older builds have no rules: their column lists stay as resolved.
    if (!base || !this.spec.rules) return base;
    const image = change.after ?? change.before;
    if (!image) return base;
    const names = Object.keys(image);
    const key = `${name}\u0000${names.join('\u0000')}`;
    let m = this.byLayout.get(key);
    if (!m) {
      const rule = base.rule === undefined ? undefined : this.spec.rules[base.rule];
      const columns = columnsFor(names, base, rule);
      const same = columns.length === base.columns.length && columns.every((c, i) => c === base!.columns[i]);
      m = same ? base : { ...base, columns };
      this.byLayout.set(key, m);
    }
    return m;
  }

  private fromRules(schema: string, table: string): TableMapping | null {
    const rules = this.spec.rules ?? [];
    for (const [i, rule] of rules.entries()) {
      const target = matchTable(rule, schema, table);
      if (target !== null) return newTableMapping(schema, table, splitName(target), rule, i);
    }
    return null;
  }
}

/**
 * A table created after `apply`: its keys are learned from the target at load time. Derived
 * columns and groups come from the rule; field mode and back-query need the keys resolved at
 * apply, so such a table loads whole rows from the binlog until the next `pipeline apply`.
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
    rule: index,
  };
}
