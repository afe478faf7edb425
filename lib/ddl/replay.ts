/**
 * Whether running a DDL statement a second time would succeed and change the schema again: then
 * a load retried after a crash between the statement and its checkpoint (ddl-apply.ts) cannot
 * tell from the target's answer whether it already ran. Most statements fail when run twice
 * (the table exists, the column is gone…), which says they ran; swaps do not: RENAME TABLE a TO
 * tmp, b TO a, tmp TO b, or RENAME COLUMN x TO y, RENAME COLUMN y TO x, run again, swap back.
 */
import { parseDdl } from './parse.js';

const NAME = '(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)';
const unquote = (n: string) => (n.startsWith('`') ? n.slice(1, -1).replaceAll('``', '`') : n).toLowerCase();

export function replayUndoes(statement: string): boolean {
  const parsed = parseDdl(statement, '');
  if (parsed.kind !== 'table') return false;
  if (parsed.verb === 'rename') {
    // Renames run one after another: after the first run, a name exists when its last mention
    // made it; a second run gets through only if each step finds its old name and not its new.
    const key = (i: number) => `${parsed.tables[i].schema}.${parsed.tables[i].table}`.toLowerCase();
    const steps: [string, string][] = [];
    for (let i = 0; i + 1 < parsed.tables.length; i += 2) steps.push([key(i), key(i + 1)]);
    const exists = new Map<string, boolean>();
    for (const [from, to] of steps) {
      exists.set(from, false);
      exists.set(to, true);
    }
    for (const [from, to] of steps) {
      if (!exists.get(from) || exists.get(to)) return false;
      exists.set(from, false);
      exists.set(to, true);
    }
    return steps.length > 0;
  }
  if (parsed.verb === 'alter') {
    // Column renames of one ALTER apply at once: run again, they all find their old names only
    // when every old name is also a new one (a swap or a cycle).
    const pairs = [
      ...statement.matchAll(new RegExp(`\\bRENAME\\s+COLUMN\\s+${NAME}\\s+TO\\s+${NAME}`, 'gi')),
      ...statement.matchAll(new RegExp(`\\bCHANGE\\s+(?:COLUMN\\s+)?(?:IF\\s+EXISTS\\s+)?${NAME}\\s+${NAME}`, 'gi')),
    ].map((m) => [unquote(m[1]!), unquote(m[2]!)] as const).filter(([from, to]) => from !== to);
    if (pairs.length === 0) return false;
    const to = new Set(pairs.map(([, t]) => t));
    return pairs.every(([from]) => to.has(from));
  }
  return false;
}
