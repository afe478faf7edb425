/**
 * Two table rules taking the same source table is ambiguous, so it is an error naming both rules.
 * What the config alone shows is found here (`config check`): the same exact name twice, or an
 * exact name that another rule's regex also matches. Two regexes that overlap are found at
 * `pipeline apply`, against the source's real tables (client/resolve.ts).
 */
import { parseTablePattern } from '../mapping.js';

/** Problems by path (`<at>.tables[j].source`), each naming the other rule. */
export function overlappingRules(sources: readonly string[], at: string): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const patterns = sources.map((s) => parseTablePattern(s));
  const exact = new Map<string, number>();
  patterns.forEach((p, j) => {
    if (!p.ok || p.kind !== 'exact') return;
    const prev = exact.get(sources[j]);
    if (prev !== undefined) problems.push({ path: `${at}.tables[${j}].source`, message: `"${sources[j]}" is also mapped by ${at}.tables[${prev}]` });
    else exact.set(sources[j], j);
  });
  patterns.forEach((p, j) => {
    if (!p.ok || p.kind !== 'regex') return;
    for (const [name, k] of exact) {
      if (!p.regex.test(name)) continue;
      const [first, second] = k < j ? [k, j] : [j, k];
      problems.push({
        path: `${at}.tables[${second}].source`,
        message: `${name} is matched by both ${at}.tables[${first}] ("${sources[first]}") and ${at}.tables[${second}] ("${sources[second]}")`,
      });
    }
  });
  return problems;
}
