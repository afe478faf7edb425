/**
 * How a row filter compares a column value with a value from the config. Row values are as the
 * binlog decodes them: DECIMAL, BIGINT and dates arrive as strings, so numbers are compared as
 * exact decimals (never through a float), everything else as text by Unicode code point:
 * - both sides numeric (a number, or a string such as "12.50" or "-3"): exact numeric order;
 * - a boolean is the number 1 or 0 (as MySQL's TRUE and FALSE);
 * - bytes (BINARY, BLOB) are compared with the UTF-8 bytes of the config value;
 * - both sides times ('[-]H:MM:SS[.ffffff]', hours up to 838, as a TIME column gives them):
 *   by duration, so '-01:00:00' < '09:30:00' < '100:00:00', which as text they are not;
 * - otherwise both as text: dates compare correctly when written in the column's format
 *   ('YYYY-MM-DD HH:MM:SS[.ffffff]'); there is no collation (comparison is case-sensitive).
 * A NULL column value (or NaN) compares as unknown.
 */
import type { SqlValue } from './model.js';

/** A value a filter compares with. */
export type FilterScalar = string | number | boolean;

export function isFilterScalar(v: unknown): v is FilterScalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

const NUMERIC = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A decimal as sign × 0.digits × 10^exp, digits without leading or trailing zeros. */
interface Decimal {
  sign: -1 | 0 | 1;
  digits: string;
  exp: number;
}

/** The exact decimal a string or finite number stands for, or null when it is not numeric. */
export function parseDecimal(v: string | number): Decimal | null {
  const text = typeof v === 'number' ? String(v) : v;
  const m = NUMERIC.exec(text);
  if (!m || (!m[2] && !m[3])) return null;
  const intPart = m[2];
  const frac = m[3] ?? '';
  let digits = intPart + frac;
  let exp = intPart.length + (m[4] ? Number(m[4]) : 0);
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead++;
  digits = digits.slice(lead);
  exp -= lead;
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  digits = digits.slice(0, end);
  if (!digits) return { sign: 0, digits: '', exp: 0 };
  return { sign: m[1] === '-' ? -1 : 1, digits, exp };
}

/** Exact order of two decimals. */
export function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  let magnitude: number;
  if (a.exp !== b.exp) magnitude = a.exp < b.exp ? -1 : 1;
  else magnitude = a.digits === b.digits ? 0 : a.digits < b.digits ? -1 : 1;
  return magnitude * a.sign;
}

/** Order of two strings by Unicode code point (JS `<` orders UTF-16 units, which differs above U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–DFFF, code points above U+FFFF) sort after U+E000–FFFF.
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const TIME = /^(-?)(\d{1,3}):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?$/;

/** A TIME value's signed duration in seconds, exactly, or null when the text is not a time. */
function timeDecimal(text: string): Decimal | null {
  const m = TIME.exec(text);
  if (!m) return null;
  const seconds = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  return parseDecimal(`${m[1]}${seconds}.${m[5] ?? '0'}`);
}

function asText(v: FilterScalar): string {
  return typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
}

/**
 * The order of a column value relative to a filter value (negative, zero, positive), or null
 * when unknown (the column is NULL).
 */
export function compareFilterValue(value: SqlValue, arg: FilterScalar): number | null {
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    // Against a number or a boolean, bytes are a number (a BIT column: b'1' is 1 and true), as
    // MySQL compares BIT values; against text, bytes are compared as bytes.
    if (typeof arg === 'boolean' || (typeof arg === 'number' && Number.isInteger(arg))) {
      const n = bytes.length ? BigInt(`0x${bytes.toString('hex')}`) : 0n;
      const r = BigInt(typeof arg === 'boolean' ? Number(arg) : arg);
      return n === r ? 0 : n < r ? -1 : 1;
    }
    return Math.sign(Buffer.compare(bytes, Buffer.from(asText(arg), 'utf8')));
  }
  const left: string | number = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  const right: string | number = typeof arg === 'boolean' ? (arg ? 1 : 0) : arg;
  if (typeof left === 'number' && !Number.isFinite(left)) {
    if (Number.isNaN(left)) return null;
    const r = typeof right === 'number' ? right : parseDecimal(right) ? Number(right) : NaN;
    if (!Number.isNaN(r)) return left === r ? 0 : left < r ? -1 : 1;
  } else {
    const a = parseDecimal(left);
    const b = a && parseDecimal(right);
    if (a && b) return compareDecimals(a, b);
    if (typeof left === 'string' && typeof right === 'string') {
      const t = timeDecimal(left);
      const u = t && timeDecimal(right);
      if (t && u) return compareDecimals(t, u);
    }
  }
  return compareCodePoints(String(left), asText(arg));
}
