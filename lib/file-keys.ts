/**
 * File rules: how a row's column values become object keys in a file store, and the plan of what a
 * batch copies and deletes. Pure, so the rules are tested without any store.
 */
import type { FileRuleConfig } from './config/schema.js';
import type { Row, RowAction, SqlValue } from './model.js';

/** A table mapping's file rule, resolved by `pipeline apply` (stores named, paths absolute). */
export interface FileRule {
  /** Source columns whose values name files (may be empty with a resolver). */
  columns: string[];
  from: string;
  to: string;
  prefix: string;
  template?: string;
  /** Absolute path of a resolver module: `(row, context) => string[]`. */
  resolver?: string;
  onDelete: 'delete' | 'keep';
  onMissing: 'halt' | 'skip';
}

/**
 * True when some rule deletes files of deleted rows (of the tables mapped at apply, or, given a
 * spec, of the regex rules that map tables created later). In such a pipeline a batch copies its
 * files only once no earlier batch that may delete files is in flight (workflows/pipeline-state):
 * otherwise a batch copying a key could run before an earlier batch's delete of that same key,
 * leaving a row without its file.
 */
export function hasFileDeletes(tables: readonly { files?: readonly FileRule[] }[], rules: readonly { files?: readonly FileRule[] }[] = []): boolean {
  return [...tables, ...rules].some((t) => t.files?.some((f) => f.onDelete === 'delete') ?? false);
}

/** One file a batch needs copied (before its load) or deleted (after it). */
export interface FileRef {
  op: 'copy' | 'delete';
  from: string;
  to: string;
  key: string;
  onMissing: 'halt' | 'skip';
  /** `schema.table` of the row that named it, for messages. */
  table: string;
}

/** What a batch does with files, each key once. */
export interface FilePlan {
  copies: FileRef[];
  deletes: FileRef[];
}

export function toFileRule(c: FileRuleConfig): FileRule {
  return {
    columns: c.columns ?? (c.column !== undefined ? [c.column] : []),
    from: c.from,
    to: c.to,
    prefix: c.prefix ?? '',
    ...(c.template !== undefined ? { template: c.template } : {}),
    ...(c.resolver !== undefined ? { resolver: c.resolver } : {}),
    onDelete: c.onDelete,
    onMissing: c.onMissing,
  };
}

/** Column names a template reads (`{value}` is the rule's own column, not a column name). */
export function templateColumns(template: string): string[] {
  return [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]).filter((c) => c !== 'value');
}

function text(v: SqlValue | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  return String(v);
}

/**
 * A key as stores take it: no leading "/", no empty, "." or ".." segment (a key never escapes a
 * dir store's directory), no NUL. Throws naming the problem.
 */
export function checkKey(key: string): string {
  const k = key.replace(/^\/+/, '');
  if (k === '') throw new Error('empty file key');
  if (k.includes('\0')) throw new Error(`file key ${JSON.stringify(key)} contains a NUL character`);
  if (k.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`file key ${JSON.stringify(key)} has an empty, "." or ".." path segment`);
  }
  return k;
}

/** Fills `{value}` and `{column}` placeholders; a NULL column makes the key absent. */
export function renderTemplate(template: string, row: Row, value: string): string | null {
  let missing = false;
  const out = template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    if (name === 'value') return value;
    if (!(name in row)) throw new Error(`template ${JSON.stringify(template)} names column "${name}", which the row lacks`);
    const v = text(row[name]);
    if (v === null) missing = true;
    return v ?? '';
  });
  return missing ? null : out;
}

/** Keys a row names through a rule's columns (a NULL or empty value names no file). */
export function keysFromColumns(rule: FileRule, row: Row): string[] {
  const keys: string[] = [];
  for (const column of rule.columns) {
    if (!(column in row)) throw new Error(`file column "${column}" is not in the row`);
    const value = text(row[column]);
    if (value === null || value === '') continue;
    const key = rule.template !== undefined ? renderTemplate(rule.template, row, value) : value;
    if (key !== null) keys.push(checkKey(rule.prefix + key));
  }
  return keys;
}

/** Keys a resolver returned, checked and prefixed; throws on anything but a list of strings. */
export function keysFromResolver(rule: FileRule, returned: unknown): string[] {
  if (!Array.isArray(returned)) throw new Error('returned something that is not a list of keys');
  return returned.map((k) => {
    if (typeof k !== 'string') throw new Error(`returned a key of type ${typeof k}; keys must be strings`);
    return checkKey(rule.prefix + k);
  });
}

/** The row image that names a change's files: the new row, or the old one for a delete. */
export function fileImage(action: RowAction, before: Row | undefined, after: Row | undefined): Row | undefined {
  return action === 'delete' ? before : after;
}

/**
 * Each copy once per (from, to, key); each delete once per (to, key), and none of a key the batch
 * also copies to that store (a row deleted and one inserted naming the same file keep it).
 */
export function planFiles(refs: readonly FileRef[]): FilePlan {
  const copies = new Map<string, FileRef>();
  const deletes = new Map<string, FileRef>();
  for (const r of refs) {
    if (r.op === 'copy') copies.set(`${r.from}\n${r.to}\n${r.key}`, r);
    else deletes.set(`${r.to}\n${r.key}`, r);
  }
  const copied = new Set([...copies.values()].map((r) => `${r.to}\n${r.key}`));
  return { copies: [...copies.values()], deletes: [...deletes.values()].filter((r) => !copied.has(`${r.to}\n${r.key}`)) };
}
