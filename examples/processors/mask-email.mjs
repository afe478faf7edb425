/**
 * A seaotter processor: masks the `email` column of every row image, keeping its first character
 * and its domain: alice@example.com → a***@example.com. NULL stays NULL; a value without "@"
 * becomes its first character followed by ***.
 *
 * Use it from a config file (the path is relative to the config file):
 *   tables:
 *     - source: shop.orders
 *       processor: ./processors/mask-email.mjs
 *
 * A processor gets each change (after the row filter, with source column names) and returns it,
 * changed or not, or null to drop it. It is called as process(change, { pipeline, table, seq }).
 */

/** The masked form of one address; the same as SQL's CONCAT(LEFT(e,1),'***',SUBSTRING(e, LOCATE('@',e))). */
export function maskEmail(email) {
  const first = email.length ? String.fromCodePoint(email.codePointAt(0)) : '';
  const at = email.indexOf('@');
  return `${first}***${at >= 0 ? email.slice(at) : ''}`;
}

export default function process(change) {
  for (const row of [change.before, change.after]) {
    if (row && typeof row.email === 'string') row.email = maskEmail(row.email);
  }
  return change;
}
