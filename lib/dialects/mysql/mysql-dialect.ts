/** The MySQL/MariaDB target dialect (both servers share it). */
import type { SqlDialect } from '../dialect.js';
import { MysqlQueryCompiler } from './mysql-query-compiler.js';

export const mysqlDialect: SqlDialect = {
  name: 'mysql',
  compiler: new MysqlQueryCompiler(),
  capabilities: { supportsMultiRowValues: true, maxParams: 65535, ddlIfNotExists: true },
};
