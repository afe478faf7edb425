/**
 * Table and column mapping: which source tables a rule takes, what they are called on the target,
 * and how a source row becomes a target row.
 */
import type { Row, RowChange } from './model.js';
import type { TableMapping } from './spec.js';

export type TablePattern =
  | { ok: true; kind: 'exact'; schema: string; table: string; groups: 0 }
  | { ok: true; kind: 'regex'; regex: RegExp; groups: number }
  | { ok: false; message: string };

/** `shop.orders` is exact; anything with regex syntax besides an escaped dot is a regex on `schema.table`. */
export function parseTablePattern(source: string): TablePattern {
  const plain = /^([A-Za-z0-9_$]+)\.([A-Za-z0-9_$]+)$/.exec(source);
  if (plain) return { ok: true, kind: 'exact', schema: plain[1], table: plain[2], groups: 0 };
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source})$`);
  } catch (err) {
    return { ok: false, message: `not a valid regex: ${(err as Error).message}` };
  }
  const groups = new RegExp(`${regex.source}|`).exec('')!.length - 1;
  return { ok: true, kind: 'regex', regex, groups };
}

/** The target `schema.table` for a source table, or null when the rule does not take it. */
export function matchTable(rule: { source: string; target?: string }, schema: string, table: string): string | null {
  const pattern = parseTablePattern(rule.source);
  if (!pattern.ok) return null;
  const full = `${schema}.${table}`;
  if (pattern.kind === 'exact') return pattern.schema === schema && pattern.table === table ? rule.target ?? full : null;
  const m = pattern.regex.exec(full);
  if (!m) return null;
  if (rule.target === undefined) return full;
  return rule.target.replace(/\$(\d+)/g, (_, n: string) => m[Number(n)] ?? '');
}

/** Every rule (by index) that takes `schema.table`, with the target it gives it. */
export function rulesTaking(rules: readonly { source: string; target?: string }[], schema: string, table: string): { index: number; target: string }[] {
  const out: { index: number; target: string }[] = [];
  rules.forEach((rule, index) => {
    const target = matchTable(rule, schema, table);
    if (target !== null) out.push({ index, target });
  });
  return out;
}

/**
 * Why a table created after `pipeline apply` cannot be mapped when two rules take it: `apply`
 * refuses that for the tables it sees (client/resolve.ts), so a later one must not silently go to
 * whichever rule comes first.
 */
export function twoRulesTake(rules: readonly { source: string }[], taking: readonly { index: number }[], schema: string, table: string): string {
  const [a, b] = taking;
  return (
    `${schema}.${table}, created after pipeline apply, is matched by both tables[${a!.index}] ("${rules[a!.index]!.source}") and tables[${b!.index}] ("${rules[b!.index]!.source}"); ` +
    'make the rules exclusive, stop the pipeline and apply it again'
  );
}

/** Splits `schema.table`. */
export function splitName(full: string): { schema: string; table: string } {
  const dot = full.indexOf('.');
  return { schema: full.slice(0, dot), table: full.slice(dot + 1) };
}

/** Renames and drops columns of one row image as the mapping says. */
export function mapRow(row: Row, mapping: TableMapping): Row {
  const out: Row = {};
  for (const c of mapping.columns) {
    if (c.source in row) out[c.target] = row[c.source];
  }
  return out;
}

/** Maps a change's images onto the target table and column names. */
export function mapChange(change: RowChange, mapping: TableMapping): RowChange {
  return {
    schema: mapping.target.schema,
    table: mapping.target.table,
    action: change.action,
    ...(change.before ? { before: mapRow(change.before, mapping) } : {}),
    ...(change.after ? { after: mapRow(change.after, mapping) } : {}),
  };
}
