/**
 * Column rules beyond include/exclude/rename: column groups, target columns seaotter fills itself
 * (`add`), and field mode, where an update writes only the columns it changed (plus their groups).
 * Static checks run at `config check`; `resolveColumns` checks against the source table's real
 * columns at `pipeline apply` and turns the rules into the target names a TableMapping holds.
 */
import type { ColumnRulesConfig, DerivedColumnConfig } from './config/columns-schema.js';
import { keyString } from './merge.js';
import type { Row, RowChange, SqlValue } from './model.js';
import type { ColumnMapping, TableMapping } from './spec.js';

/** A target column filled by seaotter (see `derivedColumn` in config/columns-schema.ts). */
export type DerivedColumn = { target: string } & DerivedColumnConfig;

/** A problem in a rule's `columns`, by path below the table rule (`columns.groups[0][1]`). */
export interface ColumnProblem {
  path: string;
  message: string;
}

/** What the config alone says is wrong with a rule's columns (no table needed). */
export function checkColumnRules(rules: ColumnRulesConfig | undefined): ColumnProblem[] {
  const problems: ColumnProblem[] = [];
  if (!rules) return problems;
  const excluded = new Set(rules.exclude ?? []);
  const included = rules.include ? new Set(rules.include) : undefined;
  const renamedTo = new Map<string, string>();
  for (const [from, to] of Object.entries(rules.rename ?? {})) {
    if (excluded.has(from)) problems.push({ path: `columns.rename.${from}`, message: `"${from}" is excluded, so it cannot be renamed` });
    else if (included && !included.has(from)) problems.push({ path: `columns.rename.${from}`, message: `"${from}" is not in columns.include, so it cannot be renamed` });
    const other = renamedTo.get(to);
    if (other !== undefined) problems.push({ path: `columns.rename.${from}`, message: `"${other}" is renamed to "${to}" too` });
    else renamedTo.set(to, from);
  }
  (rules.groups ?? []).forEach((group, i) =>
    group.forEach((c, j) => {
      const at = `columns.groups[${i}][${j}]`;
      if (excluded.has(c)) problems.push({ path: at, message: `"${c}" is excluded, so it cannot be in a group` });
      else if (included && !included.has(c)) problems.push({ path: at, message: `"${c}" is not in columns.include, so it cannot be in a group` });
    }),
  );
  for (const name of Object.keys(rules.add ?? {})) {
    const from = renamedTo.get(name);
    if (from !== undefined) problems.push({ path: `columns.add.${name}`, message: `"${name}" is already the target of rename ${from}` });
    else if (included?.has(name) && !(name in (rules.rename ?? {}))) {
      problems.push({ path: `columns.add.${name}`, message: `"${name}" is also an included source column` });
    }
  }
  return problems;
}

/** A rule's columns resolved against a source table: target names, ready for a TableMapping. */
export interface ResolvedColumns {
  columns: ColumnMapping[];
  /** Groups by target column name. */
  groups: string[][];
  derived: DerivedColumn[];
  problems: ColumnProblem[];
}

/** Checks the rules against the source table's columns (`table` is `schema.table`, for messages). */
export function resolveColumns(source: readonly string[], rules: ColumnRulesConfig | undefined, table: string): ResolvedColumns {
  const problems: ColumnProblem[] = [];
  const has = new Set(source);
  const need = (path: string, c: string): void => {
    if (!has.has(c)) problems.push({ path, message: `the source table ${table} has no column "${c}"` });
  };
  for (const c of rules?.include ?? []) need('columns.include', c);
  for (const c of rules?.exclude ?? []) need('columns.exclude', c);
  for (const c of Object.keys(rules?.rename ?? {})) need(`columns.rename.${c}`, c);
  let kept = [...source];
  if (rules?.include) kept = kept.filter((c) => rules.include!.includes(c));
  if (rules?.exclude) kept = kept.filter((c) => !rules.exclude!.includes(c));
  const columns = kept.map((c) => ({ source: c, target: rules?.rename?.[c] ?? c }));
  const targetOf = new Map(columns.map((c) => [c.source, c.target]));
  // A rename onto a name another kept column keeps: both would write it, the later one winning.
  for (const [from, to] of Object.entries(rules?.rename ?? {})) {
    // (Two renames onto one name are checkColumnRules' to report.)
    const clash = columns.find((c) => c.target === to && c.source !== from && !(c.source in (rules?.rename ?? {})));
    if (clash && targetOf.get(from) === to) {
      problems.push({ path: `columns.rename.${from}`, message: `${table} also has a column "${clash.source}" mapped to "${to}"; exclude or rename that one` });
    }
  }

  const groups: string[][] = [];
  (rules?.groups ?? []).forEach((group, i) => {
    const targets: string[] = [];
    group.forEach((c, j) => {
      const t = targetOf.get(c);
      if (!has.has(c)) need(`columns.groups[${i}][${j}]`, c);
      else if (t === undefined) problems.push({ path: `columns.groups[${i}][${j}]`, message: `"${c}" of ${table} is not mapped to the target` });
      else targets.push(t);
    });
    groups.push(targets);
  });

  const derived: DerivedColumn[] = [];
  const mapped = new Set(columns.map((c) => c.target));
  for (const [target, how] of Object.entries(rules?.add ?? {})) {
    if (mapped.has(target)) {
      problems.push({ path: `columns.add.${target}`, message: `${table} already maps a source column to "${target}"; exclude or rename it` });
    }
    if ('copy' in how) need(`columns.add.${target}.copy`, how.copy);
    derived.push({ target, ...how });
  }
  return { columns, groups, derived, problems };
}

/** The values of a table's derived columns for one source row image. */
export function derivedValues(derived: readonly DerivedColumn[], schema: string, table: string, row: Row): Row {
  const out: Row = {};
  for (const d of derived) {
    let v: SqlValue;
    if ('value' in d) v = d.value;
    else if ('source' in d) v = d.source === 'table' ? table : d.source === 'schema' ? schema : `${schema}.${table}`;
    else {
      const copied = row[d.copy];
      if (copied === undefined) throw new Error(`row image lacks column ${d.copy} (copied to ${d.target})`);
      v = copied;
    }
    out[d.target] = v;
  }
  return out;
}

/** Adds derived columns to both images of a change already mapped; `source` is the change before mapping. */
export function addDerived(mapped: RowChange, source: RowChange, mapping: Pick<TableMapping, 'derived' | 'source'>): RowChange {
  const derived = mapping.derived;
  if (!derived?.length) return mapped;
  const { schema, table } = mapping.source;
  const out: RowChange = { ...mapped };
  if (mapped.before && source.before) out.before = { ...mapped.before, ...derivedValues(derived, schema, table, source.before) };
  if (mapped.after && source.after) out.after = { ...mapped.after, ...derivedValues(derived, schema, table, source.after) };
  return out;
}

function sameValue(a: SqlValue | undefined, b: SqlValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return keyString({ v: a }, ['v']) === keyString({ v: b }, ['v']);
}

/**
 * The non-key columns an update changes (target images), widened by every group that has a
 * changed column, in the after image's column order.
 */
export function changedColumns(before: Row, after: Row, key: readonly string[], groups: readonly (readonly string[])[] = []): string[] {
  const changed = new Set<string>();
  for (const c of Object.keys(after)) if (!key.includes(c) && !sameValue(before[c], after[c])) changed.add(c);
  for (const g of groups) if (g.some((c) => changed.has(c))) for (const c of g) if (!key.includes(c)) changed.add(c);
  return Object.keys(after).filter((c) => changed.has(c));
}

/**
 * In field mode, marks a mapped update with the columns it changes (`changed`), or returns null
 * when it changes none on the target. Inserts, deletes and key changes stay whole-row.
 */
export function toFieldChange(mapped: RowChange, mapping: Pick<TableMapping, 'mode' | 'primaryKey' | 'groups'>): RowChange | null {
  if (mapping.mode !== 'field' || mapped.action !== 'update' || !mapped.before || !mapped.after) return mapped;
  const key = mapping.primaryKey;
  if (keyString(mapped.before, key) !== keyString(mapped.after, key)) return mapped;
  const changed = changedColumns(mapped.before, mapped.after, key, mapping.groups);
  return changed.length ? { ...mapped, changed } : null;
}
