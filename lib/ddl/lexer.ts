/**
 * A small MySQL/MariaDB lexer for DDL statement heads: enough to find table names (with their
 * offsets, so they can be rewritten in place) and the keywords around them. It never tries to
 * understand column definitions; the parser only reads the words it needs.
 */

export type TokenType = 'word' | 'quoted' | 'string' | 'punct';

/** One token; `start`/`end` are offsets in the statement, `value` is the unquoted text. */
export interface Token {
  type: TokenType;
  value: string;
  start: number;
  end: number;
}

/** Thrown for text the lexer cannot read safely (an unterminated quote or comment). */
export class LexError extends Error {}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Splits a statement into tokens, dropping whitespace and comments. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  let inExecutable = false;
  while (i < n) {
    const ch = sql[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#' || (ch === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2])))) {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (inExecutable && ch === '*' && sql[i + 1] === '/') {
      inExecutable = false;
      i += 2;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      // `/*!50100 … */` and `/*M!100100 … */` run as SQL on the server: their text is read as
      // statement text (the comment markers stay in place when names are rewritten).
      const exec = /^\/\*M?!\d*/.exec(sql.slice(i, i + 12));
      if (exec) {
        if (inExecutable) throw new LexError('nested executable comments');
        inExecutable = true;
        i += exec[0].length;
        continue;
      }
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new LexError('unterminated comment');
      i = end + 2;
      continue;
    }
    if (ch === '`' || ch === "'" || ch === '"') {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new LexError(`unterminated ${ch} quote`);
        const c = sql[i];
        if (c === ch) {
          if (sql[i + 1] === ch) {
            value += ch;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\\' && ch !== '`' && i + 1 < n) {
          value += sql[i + 1];
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      out.push({ type: ch === '`' ? 'quoted' : 'string', value, start, end: i });
      continue;
    }
    if (WORD.test(ch)) {
      const start = i;
      while (i < n && WORD.test(sql[i])) i++;
      out.push({ type: 'word', value: sql.slice(start, i), start, end: i });
      continue;
    }
    out.push({ type: 'punct', value: ch, start: i, end: i + 1 });
    i++;
  }
  if (inExecutable) throw new LexError('unterminated executable comment');
  return out;
}

/** True when `t` is the keyword `kw` (case-insensitive, never a quoted identifier). */
export function isKeyword(t: Token | undefined, kw: string): boolean {
  return t !== undefined && t.type === 'word' && t.value.toUpperCase() === kw;
}
