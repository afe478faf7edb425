/** The Oracle target dialect: one statement per step, run with `executeMany`. */
import type { SqlDialect } from '../dialect.js';
import { OracleQueryCompiler } from './oracle-query-compiler.js';

export const oracleDialect: SqlDialect = {
  name: 'oracle',
  compiler: new OracleQueryCompiler(),
  // Binds are per row with executeMany, so the placeholder limit never binds a step.
  capabilities: { supportsMultiRowValues: false, maxParams: Infinity, ddlIfNotExists: false },
};
