/**
 * What a binlog Query event is, as capture must treat it. In a row-based binlog, row changes come
 * as row events; a Query event carries transaction control (BEGIN, COMMIT, XA, savepoints), DDL,
 * or, when a session set binlog_format to STATEMENT or MIXED, row changes as SQL text, which
 * capture cannot turn into rows.
 */

export type QueryKind =
  /** Starts a transaction: nothing to do. */
  | 'begin'
  /** SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT: inside a transaction, which goes on. */
  | 'savepoint'
  /** XA START: a transaction whose outcome (XA COMMIT or XA ROLLBACK) comes later, apart. */
  | 'xa-start'
  /** XA END, XA PREPARE, XA COMMIT, XA ROLLBACK. */
  | 'xa'
  /** COMMIT (of non-transactional tables) ends a unit of work. */
  | 'commit'
  /** INSERT, REPLACE, UPDATE, DELETE, LOAD DATA logged as a statement. */
  | 'dml'
  /** Anything else: DDL and other statements, each a unit of work of its own. */
  | 'statement';

/** Leading comments (`/* … *\/`, `-- …`, `# …`) and blanks, as a client may send them. */
const LEADING = /^(?:\s+|\/\*[\s\S]*?\*\/|--[^\n]*\n|#[^\n]*\n)*/;

export function queryKind(sql: string): QueryKind {
  const s = sql.replace(LEADING, '');
  if (/^BEGIN\b/i.test(s)) return 'begin';
  if (/^(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+(WORK\s+)?TO\b)/i.test(s)) return 'savepoint';
  if (/^XA\s+(START|BEGIN)\b/i.test(s)) return 'xa-start';
  if (/^XA\s/i.test(s)) return 'xa';
  if (/^COMMIT\b/i.test(s)) return 'commit';
  if (/^(INSERT|REPLACE|UPDATE|DELETE|LOAD\s+DATA)\b/i.test(s)) return 'dml';
  return 'statement';
}

const NAME = '(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)';
const TABLE = `${NAME}(?:\\s*\\.\\s*${NAME})?`;
const unquote = (n: string) => (n.startsWith('`') ? n.slice(1, -1).replaceAll('``', '`') : n);

/** The one table a DML statement changes, or undefined when it cannot say (several tables, an unusual form). */
export function dmlTable(sql: string, defaultSchema: string): { schema: string; table: string } | undefined {
  const s = sql.replace(LEADING, '');
  const forms = [
    new RegExp(`^(?:INSERT|REPLACE)\\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\\s+)*(?:INTO\\s+)?${TABLE}\\s*(?:\\(|VALUES\\b|VALUE\\b|SET\\b|SELECT\\b|PARTITION\\b)`, 'i'),
    new RegExp(`^UPDATE\\s+(?:(?:LOW_PRIORITY|IGNORE)\\s+)*${TABLE}\\s+SET\\b`, 'i'),
    new RegExp(`^DELETE\\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\\s+)*FROM\\s+${TABLE}\\s*(?:WHERE\\b|ORDER\\b|LIMIT\\b|PARTITION\\b|RETURNING\\b|;|$)`, 'i'),
    new RegExp(`^LOAD\\s+DATA\\b[\\s\\S]*?\\bINTO\\s+TABLE\\s+${TABLE}`, 'i'),
  ];
  for (const re of forms) {
    const m = re.exec(s);
    if (!m) continue;
    return m[2] !== undefined ? { schema: unquote(m[1]!), table: unquote(m[2]) } : { schema: defaultSchema, table: unquote(m[1]!) };
  }
  return undefined;
}

/** Errors that no retry can get past: capture halts the pipeline with them (activity error type CaptureFatal). */
export class CaptureFatalError extends Error {
  override name = 'CaptureFatal';
}
