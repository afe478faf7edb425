/**
 * How row values survive the stage's JSON bit-for-bit. Strings, booleans, null and finite numbers
 * are plain JSON (exact decimals, dates and integers beyond 2^53 are strings already); the two
 * kinds JSON cannot carry are tagged objects:
 * - bytes: `{"$b":"<base64>"}`, decoded to a Buffer;
 * - numbers JSON would change: `{"$n":"NaN" | "Infinity" | "-Infinity" | "-0"}`.
 * No row value is ever a plain object, so a tag cannot be mistaken for data.
 *
 * This is on the hot path (every staged change), so encoding copies a row only when one of its
 * values needs a tag, and decoding rewrites the tagged values of a freshly parsed line in place
 * instead of running a reviver over every value.
 */
import type { Row, RowAction, RowChange, SqlValue } from './model.js';

const specialNumbers: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

function bytesToBase64(v: Uint8Array): string {
  return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString('base64');
}

/** The JSON form of one value; the value itself when JSON keeps it exactly. */
export function encodeValue(v: SqlValue, column = '?'): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $n: Object.is(v, -0) ? '-0' : String(v) };
    case 'object':
      if (v === null) return null;
      if (v instanceof Uint8Array) return { $b: bytesToBase64(v) };
  }
  // Dates, bigints and the like must be turned into strings by capture; guessing here would lose data.
  throw new TypeError(`column ${column}: cannot stage a value of type ${describe(v)}`);
}

/** The value a tagged or plain JSON value stands for. */
export function decodeValue(v: unknown, column = '?'): SqlValue {
  if (typeof v !== 'object' || v === null) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
    throw new TypeError(`column ${column}: not a staged value: ${describe(v)}`);
  }
  if (v instanceof Uint8Array) return v;
  const tagged = v as { $b?: unknown; $n?: unknown };
  if (typeof tagged.$b === 'string') return Buffer.from(tagged.$b, 'base64');
  if (typeof tagged.$n === 'string' && Object.hasOwn(specialNumbers, tagged.$n)) return specialNumbers[tagged.$n];
  throw new TypeError(`column ${column}: not a staged value: ${JSON.stringify(v)}`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return typeof v;
}

/**
 * Writes a property without tripping over a column named `__proto__` (plain assignment would set
 * the prototype instead).
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Whether JSON keeps the value exactly as it is. */
function isPlain(v: SqlValue): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0));
}

/** The JSON-ready form of a row. Returns the row itself when no value needs a tag (it is not copied). */
export function encodeRow(row: Row): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const column in row) {
    const v = row[column];
    const plain = isPlain(v);
    if (!plain && out === undefined) {
      out = {};
      for (const c in row) {
        if (c === column) break;
        setOwn(out, c, row[c]);
      }
    }
    if (out !== undefined) setOwn(out, column, plain ? v : encodeValue(v, column));
  }
  return out ?? row;
}

/** Decodes a parsed row object in place (tagged values become bytes or numbers) and returns it. */
export function decodeRow(obj: unknown): Row {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new TypeError(`not a staged row: ${describe(obj)}`);
  const row = obj as Record<string, unknown>;
  for (const column in row) {
    const v = row[column];
    // Own-property assignment is safe for `__proto__` here: JSON.parse created it as an own property.
    if (typeof v === 'object' && v !== null) row[column] = decodeValue(v, column);
  }
  return row as Row;
}

/** The JSON-ready form of a change. */
export function encodeChange(change: RowChange): Record<string, unknown> {
  const out: Record<string, unknown> = { schema: change.schema, table: change.table, action: change.action };
  if (change.before) out.before = encodeRow(change.before);
  if (change.after) out.after = encodeRow(change.after);
  if (change.changed) out.changed = change.changed;
  return out;
}

const actions: ReadonlySet<string> = new Set<RowAction>(['insert', 'update', 'delete']);

/** Decodes a parsed change in place, checking that it has the images its action needs. */
export function decodeChange(obj: unknown): RowChange {
  const c = obj as Partial<Record<keyof RowChange, unknown>> | null;
  if (typeof c !== 'object' || c === null) throw new TypeError(`not a staged change: ${describe(obj)}`);
  if (typeof c.schema !== 'string' || typeof c.table !== 'string') throw new TypeError('staged change without schema/table');
  if (typeof c.action !== 'string' || !actions.has(c.action)) throw new TypeError(`staged change with action ${String(c.action)}`);
  const change: RowChange = { schema: c.schema, table: c.table, action: c.action as RowAction };
  if (c.before !== undefined) change.before = decodeRow(c.before);
  if (c.after !== undefined) change.after = decodeRow(c.after);
  if (c.changed !== undefined) {
    if (!Array.isArray(c.changed) || c.changed.some((x) => typeof x !== 'string')) throw new TypeError('staged change with a malformed column list');
    change.changed = c.changed as string[];
  }
  if (change.action !== 'insert' && !change.before) throw new TypeError(`staged ${change.action} on ${c.schema}.${c.table} without before image`);
  if (change.action !== 'delete' && !change.after) throw new TypeError(`staged ${change.action} on ${c.schema}.${c.table} without after image`);
  return change;
}

/** What JSON.stringify writes between two encoded changes of an array (see stringifyChanges). */
const BETWEEN_CHANGES = '},{"schema":';

/**
 * JSON lines: one change per line, each line ending in `\n` (JSON escapes newlines inside strings).
 * One JSON.stringify over the whole batch is about twice as fast as one per change; in its output,
 * `},{"schema":` only ever stands between two changes (inside a JSON string its quote would be
 * escaped, and rows nest no arrays of objects), so each of those becomes a line break.
 */
export function stringifyChanges(changes: readonly RowChange[]): string {
  if (changes.length === 0) return '';
  const text = JSON.stringify(changes.map(encodeChange));
  return `${text.slice(1, -1).replaceAll(BETWEEN_CHANGES, '}\n{"schema":')}\n`;
}

/** Reads what `stringifyChanges` wrote. Blank lines are skipped; a bad line throws with its number. */
export function parseChanges(text: string): RowChange[] {
  const changes: RowChange[] = [];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    if (end > start && !(end === start + 1 && text.charCodeAt(start) === 13)) {
      try {
        changes.push(decodeChange(JSON.parse(text.slice(start, end))));
      } catch (err) {
        throw new Error(`staged changes, line ${line}: ${(err as Error).message}`);
      }
    }
    start = end + 1;
  }
  return changes;
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * A FLOAT column's value as the shortest decimal that reads back as the same single-precision
 * number: 1.1, where the binlog's four bytes widened to a double give 1.100000023841858. A FLOAT
 * target stores the same number either way; a DOUBLE or an Oracle NUMBER would keep the extra
 * digits the source never showed. A decimal that would pass FLT_MAX (a FLOAT target refuses it as
 * out of range) is not taken: the exact value is.
 */
export function shortestFloat(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const f = Math.fround(v);
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(f.toPrecision(digits));
    if (Math.fround(d) === f && Math.abs(d) <= FLT_MAX) return d;
  }
  return f;
}
