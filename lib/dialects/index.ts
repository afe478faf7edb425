/** Target dialects by data source type. */
import type { SqlDialect } from './dialect.js';
import { mysqlDialect } from './mysql/mysql-dialect.js';
import { oracleDialect } from './oracle/oracle-dialect.js';

export type { CheckpointWrite, CompiledBatch, CompiledQuery, CompiledStep, DialectCapabilities, QueryCompiler, SqlDialect } from './dialect.js';
export { mysqlDialect } from './mysql/mysql-dialect.js';
export { oracleDialect } from './oracle/oracle-dialect.js';

/** The dialect of a target data source; MySQL and MariaDB share one. */
export function dialectFor(type: 'mysql' | 'mariadb' | 'oracle'): SqlDialect {
  switch (type) {
    case 'mysql':
    case 'mariadb':
      return mysqlDialect;
    case 'oracle':
      return oracleDialect;
    default:
      throw new Error(`no SQL dialect for data source type ${String(type)}`);
  }
}
