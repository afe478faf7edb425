/**
 * How MySQL/MariaDB column types become Oracle types (README "Oracle target" has the table).
 * Every mapping keeps values exact: integers get a NUMBER wide enough for the type's whole range
 * (unsigned BIGINT: NUMBER(20)), DECIMAL keeps precision and scale, DATETIME/TIMESTAMP keep their
 * fractional digits. Where Oracle has no exact counterpart the value is kept as text (TIME,
 * DECIMAL wider than 38 digits).
 */
import type { SourceColumn } from '../table-ddl.js';

/** Oracle's limits in its default (`MAX_STRING_SIZE = STANDARD`) configuration. */
export const VARCHAR2_MAX_BYTES = 4000;
export const RAW_MAX_BYTES = 2000;
const NUMBER_MAX_PRECISION = 38;

/** Digits of the largest value: signed / unsigned. */
const INTEGER_DIGITS: Record<string, [number, number]> = {
  tinyint: [3, 3],
  smallint: [5, 5],
  mediumint: [7, 8],
  int: [10, 10],
  integer: [10, 10],
  bigint: [19, 20],
};

export interface OracleTypeOptions {
  /** JSON columns: CLOB with an IS JSON check (any Oracle version, text kept as is), or the native JSON type (21c+). */
  json?: 'clob' | 'json';
}

/** The Oracle type for a source column; throws for a type seaotter cannot carry exactly. */
export function oracleColumnType(c: SourceColumn, opts: OracleTypeOptions = {}): string {
  const type = c.dataType.toLowerCase();
  const unsigned = /\bunsigned\b/.test(c.columnType.toLowerCase());
  if (c.isJson || type === 'json') return opts.json === 'json' ? 'JSON' : 'CLOB';
  const digits = INTEGER_DIGITS[type];
  if (digits) return `NUMBER(${digits[unsigned ? 1 : 0]})`;
  switch (type) {
    case 'decimal':
    case 'numeric': {
      const p = c.precision ?? 10;
      const s = c.scale ?? 0;
      // Wider than NUMBER can hold exactly: the decimal text, sign and point included.
      return p <= NUMBER_MAX_PRECISION ? `NUMBER(${p},${s})` : `VARCHAR2(${p + 2})`;
    }
    case 'float':
      return 'BINARY_FLOAT';
    case 'double':
    case 'real':
      return 'BINARY_DOUBLE';
    case 'bit': {
      const bits = c.precision ?? 1;
      return `NUMBER(${Math.max(1, Math.ceil(bits * Math.log10(2)))})`;
    }
    case 'year':
      return 'NUMBER(4)';
    case 'date':
      return 'DATE';
    case 'datetime':
    case 'timestamp':
      return `TIMESTAMP(${c.datetimePrecision ?? 0})`;
    case 'time':
      // '-838:59:59.999999' at most; Oracle has no time-of-day type.
      return 'VARCHAR2(17)';
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set': {
      // VARCHAR2 in characters (MySQL counts characters too) while the widest value fits in 4000 bytes.
      const bytes = c.octetLength ?? Infinity;
      return bytes <= VARCHAR2_MAX_BYTES && c.charMaxLength ? `VARCHAR2(${c.charMaxLength} CHAR)` : 'CLOB';
    }
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob': {
      const bytes = c.octetLength ?? c.charMaxLength ?? Infinity;
      return bytes <= RAW_MAX_BYTES ? `RAW(${Math.max(1, bytes)})` : 'BLOB';
    }
    default:
      throw new Error(`column ${c.name}: type ${c.columnType} has no Oracle mapping in seaotter`);
  }
}
