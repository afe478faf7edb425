/**
 * Target columns of a row image, derived from the row's own column names. A table's columns can
 * change while a pipeline runs (DDL), so the column list resolved at `pipeline apply` is where a
 * known column goes; a column it does not know follows the table's rule (include / exclude /
 * rename), and a column the row lacks is simply not written.
 */
import type { ColumnMapping, TableMapping, TableRuleSpec } from '../spec.js';

/** The column mapping for rows with exactly these source columns. */
export function columnsFor(names: readonly string[], mapping: TableMapping, rule: TableRuleSpec | undefined): ColumnMapping[] {
  const known = new Map(mapping.columns.map((c) => [c.source, c]));
  const out: ColumnMapping[] = [];
  for (const name of names) {
    const k = known.get(name);
    if (k) {
      out.push(k);
      continue;
    }
    const c = rule?.columns;
    if (c?.include && !c.include.includes(name)) continue;
    if (c?.exclude?.includes(name)) continue;
    out.push({ source: name, target: c?.rename?.[name] ?? name });
  }
  // A column added since apply whose name (or rename) is already another column's target: both
  // would write it, the later winning. Say so rather than write the wrong value.
  const seen = new Map<string, string>();
  for (const m of out) {
    const other = seen.get(m.target);
    if (other !== undefined) {
      throw new Error(`columns "${other}" and "${m.source}" of ${mapping.source.schema}.${mapping.source.table} both map to target column "${m.target}"; exclude or rename one in the table rule and apply again`);
    }
    seen.set(m.target, m.source);
  }
  return out;
}

/** True when rows with these names map exactly as `mapping.columns` says (the common case). */
export function sameColumns(names: readonly string[], mapping: TableMapping): boolean {
  const cols = mapping.columns;
  if (names.length !== cols.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== cols[i].source) return false;
  return true;
}
