/**
 * Reads the head of a table DDL statement (CREATE / ALTER / DROP / RENAME / TRUNCATE TABLE, CREATE
 * and DROP INDEX) and finds every table it names, with offsets, so `rewriteDdl` can put the mapped
 * target names in their place. Statements about other objects (databases, views, users…) are
 * `other`; a table statement it cannot read is `unknown`, and seaotter halts rather than guess.
 */
import { isKeyword, LexError, tokenize, type Token } from './lexer.js';

/** A table named in a statement: its schema (the statement's default when unqualified) and name. */
export interface TableRef {
  schema: string;
  table: string;
  /** Offsets of the whole (possibly qualified) name in the statement. */
  start: number;
  end: number;
}

export type DdlVerb = 'create' | 'alter' | 'drop' | 'rename' | 'truncate' | 'create-index' | 'drop-index';

export type ParsedDdl =
  | {
      kind: 'table';
      verb: DdlVerb;
      /** For `rename`, pairs in order: [from, to, from, to…]; for ALTER … RENAME, [table, new name]. */
      tables: TableRef[];
      /** The statement names other tables in its body (FOREIGN KEY … REFERENCES). */
      references: boolean;
    }
  | { kind: 'other' }
  | { kind: 'unknown'; reason: string };

/** Verbs of statements that can be about tables; a statement without one is `other` at once. */
const VERBS = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE']);
const ANY_VERB = /\b(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b/i;

class Reader {
  i = 0;
  constructor(
    readonly t: Token[],
    readonly defaultSchema: string,
  ) {}
  peek(k = 0): Token | undefined {
    return this.t[this.i + k];
  }
  is(kw: string, k = 0): boolean {
    return isKeyword(this.peek(k), kw);
  }
  /** Consumes the keywords if they come next, in this order. */
  accept(...kws: string[]): boolean {
    if (!kws.every((kw, k) => this.is(kw, k))) return false;
    this.i += kws.length;
    return true;
  }
  expect(kw: string): void {
    if (!this.accept(kw)) throw new LexError(`expected ${kw} at "${this.peek()?.value ?? 'end'}"`);
  }
  /** A table name, `name` or `schema.name`, quoted or not. */
  tableName(): TableRef {
    const first = this.ident();
    if (this.peek()?.value === '.' && this.peek()?.type === 'punct') {
      this.i++;
      const second = this.ident();
      return { schema: first.value, table: second.value, start: first.start, end: second.end };
    }
    if (!this.defaultSchema) throw new LexError(`table ${first.value} is not qualified and the statement has no default schema`);
    return { schema: this.defaultSchema, table: first.value, start: first.start, end: first.end };
  }
  ident(): Token {
    const tok = this.peek();
    if (!tok || (tok.type !== 'word' && tok.type !== 'quoted')) throw new LexError(`expected a name at "${tok?.value ?? 'end'}"`);
    this.i++;
    return tok;
  }
  hasReferences(): boolean {
    return this.t.some((tok) => isKeyword(tok, 'REFERENCES'));
  }
}

/** Parses one statement, with `defaultSchema` the schema it ran in (the binlog's `USE`). */
export function parseDdl(sql: string, defaultSchema: string): ParsedDdl {
  if (!ANY_VERB.test(sql)) return { kind: 'other' };
  let tokens: Token[];
  try {
    tokens = tokenize(sql);
  } catch (err) {
    return looksLikeTableDdl(sql) ? { kind: 'unknown', reason: (err as Error).message } : { kind: 'other' };
  }
  // The verb is the first token, after any comments (plain or executable) before it.
  if (tokens[0]?.type !== 'word' || !VERBS.has(tokens[0].value.toUpperCase())) return { kind: 'other' };
  const r = new Reader(tokens, defaultSchema);
  try {
    return parseHead(r);
  } catch (err) {
    return { kind: 'unknown', reason: (err as Error).message };
  }
}

/** Before tokenizing succeeds, a rough test whether the statement is about a table. */
function looksLikeTableDdl(sql: string): boolean {
  return /\b(CREATE|ALTER|DROP|RENAME)\b[\s\S]*?\b(TABLE|INDEX)\b/i.test(sql) || /\bTRUNCATE\b/i.test(sql);
}

function parseHead(r: Reader): ParsedDdl {
  const verb = r.ident().value.toUpperCase();
  const table = (v: DdlVerb, tables: TableRef[]): ParsedDdl => ({ kind: 'table', verb: v, tables, references: r.hasReferences() });
  if (verb === 'TRUNCATE') {
    r.accept('TABLE');
    return table('truncate', [r.tableName()]);
  }
  if (verb === 'RENAME') {
    if (!r.accept('TABLE') && !r.accept('TABLES')) return { kind: 'other' };
    const pairs: TableRef[] = [];
    for (;;) {
      pairs.push(r.tableName());
      r.accept('WAIT') || r.accept('NOWAIT');
      r.expect('TO');
      pairs.push(r.tableName());
      if (r.peek()?.value !== ',') break;
      r.i++;
    }
    return table('rename', pairs);
  }
  if (verb === 'CREATE') {
    r.accept('OR', 'REPLACE');
    if (r.accept('TEMPORARY')) return { kind: 'other' }; // session-local, never replicated as rows
    if (r.accept('TABLE')) {
      r.accept('IF', 'NOT', 'EXISTS');
      const name = r.tableName();
      const like = r.is('LIKE') || (r.peek()?.value === '(' && isKeyword(r.peek(1), 'LIKE'));
      if (like) {
        if (r.peek()?.value === '(') r.i++;
        r.expect('LIKE');
        return table('create', [name, r.tableName()]);
      }
      return table('create', [name]);
    }
    r.accept('ONLINE') || r.accept('OFFLINE');
    r.accept('UNIQUE') || r.accept('FULLTEXT') || r.accept('SPATIAL');
    if (!r.accept('INDEX')) return { kind: 'other' };
    r.accept('IF', 'NOT', 'EXISTS');
    r.ident();
    skipIndexType(r);
    r.expect('ON');
    return table('create-index', [r.tableName()]);
  }
  if (verb === 'DROP') {
    if (r.accept('TEMPORARY')) return { kind: 'other' };
    r.accept('ONLINE') || r.accept('OFFLINE');
    if (r.accept('TABLE') || r.accept('TABLES')) {
      r.accept('IF', 'EXISTS');
      const names: TableRef[] = [r.tableName()];
      while (r.peek()?.value === ',') {
        r.i++;
        names.push(r.tableName());
      }
      return table('drop', names);
    }
    if (!r.accept('INDEX')) return { kind: 'other' };
    r.accept('IF', 'EXISTS');
    r.ident();
    r.expect('ON');
    return table('drop-index', [r.tableName()]);
  }
  // ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t …
  r.accept('ONLINE');
  r.accept('IGNORE');
  if (!r.accept('TABLE')) return { kind: 'other' };
  r.accept('IF', 'EXISTS');
  const names = [r.tableName()];
  // `RENAME [TO|AS] t2` renames the table; `RENAME COLUMN|INDEX|KEY` does not.
  for (; r.i < r.t.length; r.i++) {
    if (!r.is('RENAME')) continue;
    const next = r.peek(1);
    if (isKeyword(next, 'COLUMN') || isKeyword(next, 'INDEX') || isKeyword(next, 'KEY')) continue;
    r.i++;
    r.accept('TO') || r.accept('AS');
    names.push(r.tableName());
    r.i--;
  }
  return table('alter', names);
}

function skipIndexType(r: Reader): void {
  if (r.accept('USING')) r.ident();
}

/** The statement with each table name replaced by `mapName`'s result, fully qualified and quoted. */
export function rewriteDdl(sql: string, tables: readonly TableRef[], mapName: (t: TableRef) => { schema: string; table: string }): string {
  const sorted = [...tables].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const t of sorted) {
    const to = mapName(t);
    out += `${sql.slice(at, t.start)}${quoteIdent(to.schema)}.${quoteIdent(to.table)}`;
    at = t.end;
  }
  return out + sql.slice(at);
}

export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}
