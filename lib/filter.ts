/**
 * Declarative row filters (`where` on a table rule), without eval. The target holds exactly the
 * source rows that pass (PostgreSQL's row-filter semantics), so a change is rewritten by whether
 * its old and new images pass: an update that moves a row into the filter becomes an insert,
 * out of it a delete. Conditions use SQL's three-valued logic: a comparison with NULL is unknown,
 * and a row passes only when the whole filter is true.
 *
 * Grammar (all entries of a mapping are ANDed):
 *   where     := { <column>: condition, …, and: [where, …], or: [where, …], not: where }
 *   condition := scalar (equals) | null (IS NULL)
 *              | { in: [scalar…], notIn: [scalar…], isNull: bool, gt|gte|lt|lte|ne: scalar }
 * `and`, `or` and `not` are reserved: a column of that name cannot be filtered on.
 * Value comparison rules are in `filter-values.ts`.
 */
import type { Row, RowChange } from './model.js';
import { compareFilterValue, isFilterScalar, type FilterScalar } from './filter-values.js';

/** A `where` as written in the config; `validateWhere` says whether it is well formed. */
export type WhereSpec = { readonly [key: string]: unknown };

/** A problem in a `where`, with its path below `where`. */
export interface FilterProblem {
  path: (string | number)[];
  message: string;
}

/** A row image lacks a column the filter reads (the table changed after `pipeline apply`). */
export class FilterColumnError extends Error {}

const COMBINATORS = ['and', 'or', 'not'];
const OPERATORS = ['in', 'notIn', 'isNull', 'gt', 'gte', 'lt', 'lte', 'ne'] as const;
type Operator = (typeof OPERATORS)[number];
const HINTS: Record<string, string> = {
  eq: 'for equality write the value itself: { status: paid }',
  nin: 'use notIn',
  not_in: 'use notIn',
  neq: 'use ne',
  is_null: 'use isNull',
  and: '"and" combines filters and belongs at the level of columns, not inside a condition',
  or: '"or" combines filters and belongs at the level of columns, not inside a condition',
  not: '"not" combines filters and belongs at the level of columns, not inside a condition',
};

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  return typeof v;
}

/** Every problem of a `where`, by path; none means `compileFilter` accepts it. */
export function validateWhere(where: unknown): FilterProblem[] {
  const problems: FilterProblem[] = [];
  validateFilter(where, [], problems);
  return problems;
}

function validateFilter(where: unknown, path: (string | number)[], problems: FilterProblem[]): void {
  const add = (sub: (string | number)[], message: string): void => void problems.push({ path: [...path, ...sub], message });
  if (!isMapping(where)) return add([], `expected a mapping of column → condition, e.g. { status: { in: [paid, shipped] } }, not ${typeName(where)}`);
  const keys = Object.keys(where);
  if (keys.length === 0) add([], 'an empty filter; give at least one column or combinator');
  for (const key of keys) {
    const v = where[key];
    if (key === 'and' || key === 'or') {
      if (!Array.isArray(v)) add([key], `expected a list of filters, not ${typeName(v)}`);
      else if (v.length === 0) add([key], `an empty "${key}" list; give at least one filter`);
      else v.forEach((f, i) => validateFilter(f, [...path, key, i], problems));
    } else if (key === 'not') {
      validateFilter(v, [...path, key], problems);
    } else {
      validateCondition(v, [...path, key], problems);
    }
  }
}

function scalarProblem(v: unknown): string | null {
  if (v === null) return 'null never compares true; use { isNull: true } or { isNull: false }';
  if (Array.isArray(v)) return 'expected a single value, not a list';
  if (!isFilterScalar(v)) return `expected a string, number or boolean, not ${typeName(v)}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return 'expected a finite number';
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) return `${v} is beyond 2^53 and loses digits; write it quoted`;
  return null;
}

function validateCondition(cond: unknown, path: (string | number)[], problems: FilterProblem[]): void {
  const add = (sub: (string | number)[], message: string): void => void problems.push({ path: [...path, ...sub], message });
  if (cond === null) return;
  if (Array.isArray(cond)) return add([], 'a list needs an operator: { in: [...] } or { notIn: [...] }');
  if (!isMapping(cond)) {
    const p = scalarProblem(cond);
    if (p) add([], p);
    return;
  }
  const ops = Object.keys(cond);
  if (ops.length === 0) add([], `no operator; expected one of ${OPERATORS.join(', ')}`);
  for (const op of ops) {
    const v = cond[op];
    if (!(OPERATORS as readonly string[]).includes(op)) {
      add([op], `unknown operator "${op}" (expected one of ${OPERATORS.join(', ')})${HINTS[op] ? `; ${HINTS[op]}` : ''}`);
    } else if (op === 'in' || op === 'notIn') {
      if (!Array.isArray(v)) add([op], `expected a list of values, not ${typeName(v)}`);
      else if (v.length === 0) add([op], `an empty "${op}" list; give at least one value`);
      else v.forEach((item, i) => {
        const p = scalarProblem(item);
        if (p) add([op, i], item === null ? `null never matches in "${op}"; combine with isNull instead` : p);
      });
    } else if (op === 'isNull') {
      if (typeof v !== 'boolean') add([op], `expected true or false, not ${typeName(v)}`);
      else if (v && ops.length > 1) add([op], 'isNull: true cannot be combined with other operators (no NULL compares true)');
    } else {
      const p = scalarProblem(v);
      if (p) add([op], p);
    }
  }
}

/** The source columns a `where` reads, each once, in order of appearance. */
export function whereColumns(where: WhereSpec): string[] {
  const out = new Set<string>();
  const walk = (w: unknown): void => {
    if (!isMapping(w)) return;
    for (const [key, v] of Object.entries(w)) {
      if (key === 'and' || key === 'or') (Array.isArray(v) ? v : []).forEach(walk);
      else if (key === 'not') walk(v);
      else out.add(key);
    }
  };
  walk(where);
  return [...out];
}

/** SQL's three-valued truth: null is unknown. */
type Truth = boolean | null;
type Predicate = (row: Row) => Truth;

function all(parts: Predicate[]): Predicate {
  if (parts.length === 1) return parts[0];
  return (row) => {
    let result: Truth = true;
    for (const p of parts) {
      const t = p(row);
      if (t === false) return false;
      if (t === null) result = null;
    }
    return result;
  };
}

function any(parts: Predicate[]): Predicate {
  return (row) => {
    let result: Truth = false;
    for (const p of parts) {
      const t = p(row);
      if (t === true) return true;
      if (t === null) result = null;
    }
    return result;
  };
}

function read(row: Row, column: string) {
  const v = row[column];
  if (v === undefined) throw new FilterColumnError(`the row has no column "${column}"`);
  return v;
}

function compileOperator(column: string, op: Operator, arg: unknown): Predicate {
  switch (op) {
    case 'isNull':
      return (row) => (read(row, column) === null) === arg;
    case 'in':
    case 'notIn': {
      const list = arg as FilterScalar[];
      const hit: Truth = op === 'in';
      return (row) => {
        const v = read(row, column);
        if (v === null) return null;
        for (const x of list) if (compareFilterValue(v, x) === 0) return hit;
        return !hit;
      };
    }
    default: {
      const test = { gt: (c: number) => c > 0, gte: (c: number) => c >= 0, lt: (c: number) => c < 0, lte: (c: number) => c <= 0, ne: (c: number) => c !== 0 }[op];
      return (row) => {
        const c = compareFilterValue(read(row, column), arg as FilterScalar);
        return c === null ? null : test(c);
      };
    }
  }
}

function compileCondition(column: string, cond: unknown): Predicate {
  if (cond === null) return (row) => read(row, column) === null;
  if (!isMapping(cond)) {
    return (row) => {
      const c = compareFilterValue(read(row, column), cond as FilterScalar);
      return c === null ? null : c === 0;
    };
  }
  return all(Object.entries(cond).map(([op, arg]) => compileOperator(column, op as Operator, arg)));
}

function compileWhere(where: Record<string, unknown>): Predicate {
  const parts: Predicate[] = [];
  for (const [key, v] of Object.entries(where)) {
    if (key === 'and') parts.push(all((v as Record<string, unknown>[]).map(compileWhere)));
    else if (key === 'or') parts.push(any((v as Record<string, unknown>[]).map(compileWhere)));
    else if (key === 'not') {
      const inner = compileWhere(v as Record<string, unknown>);
      parts.push((row) => {
        const t = inner(row);
        return t === null ? null : !t;
      });
    } else parts.push(compileCondition(key, v));
  }
  return all(parts);
}

/**
 * Compiles a `where` once into a test of a row image (source column names): true when the whole
 * filter is true (unknown counts as false). Throws when the filter is malformed; the test throws
 * `FilterColumnError` on an image that lacks a column it reads.
 */
export function compileFilter(where: WhereSpec): (row: Row) => boolean {
  const problems = validateWhere(where);
  if (problems.length) {
    const p = problems[0];
    throw new Error(`invalid filter at ${p.path.join('.') || '(top)'}: ${p.message}`);
  }
  const predicate = compileWhere(where as Record<string, unknown>);
  return (row) => predicate(row) === true;
}

/**
 * A change as the filtered target must see it, or null when the target is unaffected:
 * an update whose old row fails and new row passes inserts the new row; one whose old row passes
 * and new row fails deletes the old row's key.
 */
export function filterChange(change: RowChange, passes: (row: Row) => boolean): RowChange | null {
  const { schema, table } = change;
  switch (change.action) {
    case 'insert':
      return passes(change.after!) ? change : null;
    case 'delete':
      return passes(change.before!) ? change : null;
    case 'update': {
      const was = passes(change.before!);
      const is = passes(change.after!);
      if (was && is) return change;
      if (is) return { schema, table, action: 'insert', after: change.after };
      if (was) return { schema, table, action: 'delete', before: change.before };
      return null;
    }
  }
}
