/**
 * MySQL and MariaDB. Upserts are `INSERT … ON DUPLICATE KEY UPDATE` with `VALUES(col)`, which both
 * servers accept (MySQL 8.0.20+ deprecates it with a warning; MariaDB has no row alias syntax).
 * Parameters are `?`, in row-major order.
 */
import type { LoadStep } from '../../load-plan.js';
import type { SqlValue } from '../../model.js';
import { BaseQueryCompiler, type CheckpointName } from '../base-compiler.js';
import type { CheckpointWrite, CompiledQuery } from '../dialect.js';

function flatten(rows: readonly SqlValue[][]): SqlValue[] {
  const params: SqlValue[] = [];
  for (const row of rows) for (const v of row) params.push(v);
  return params;
}

export class MysqlQueryCompiler extends BaseQueryCompiler {
  /** Backticks, with a backtick inside doubled. */
  protected override quoteIdentifier(name: string): string {
    if (name === '' || name.includes('\0')) throw new Error(`not a valid MySQL identifier: ${JSON.stringify(name)}`);
    return '`' + name.replaceAll('`', '``') + '`';
  }

  protected override placeholder(): string {
    return '?';
  }

  override compileUpsert(step: LoadStep): CompiledQuery {
    const nonKey = this.checkStep(step, 'upsert');
    const tuple = `(${this.placeholders(step.columns.length)})`;
    // A table of key columns only has nothing to update; `k`=`k` keeps the statement an upsert
    // (INSERT IGNORE would also hide truncation and other errors as warnings).
    const first = this.quoteIdentifier(step.key[0]);
    const update = nonKey.length
      ? nonKey.map((c) => `${this.quoteIdentifier(c)}=VALUES(${this.quoteIdentifier(c)})`).join(', ')
      : `${first}=${first}`;
    const sql =
      `INSERT INTO ${this.tableName(step.table)} (${this.columnList(step.columns)})` +
      ` VALUES ${new Array<string>(step.rows.length).fill(tuple).join(',')} ON DUPLICATE KEY UPDATE ${update}`;
    return { kind: 'query', sql, params: flatten(step.rows) };
  }

  override compileDelete(step: LoadStep): CompiledQuery {
    this.checkStep(step, 'delete');
    const single = step.columns.length === 1;
    const tuple = single ? '?' : `(${this.placeholders(step.columns.length)})`;
    const target = single ? this.quoteIdentifier(step.columns[0]) : `(${this.columnList(step.columns)})`;
    const sql =
      `DELETE FROM ${this.tableName(step.table)} WHERE ${target} IN (${new Array<string>(step.rows.length).fill(tuple).join(',')})`;
    return { kind: 'query', sql, params: flatten(step.rows) };
  }

  /**
   * One row: a plain UPDATE. Several: one statement that finds rows by key (`WHERE key IN`) and
   * picks each column's value by key with a CASE (its ELSE keeps the value, should a key compare
   * equal in IN but not in the CASE).
   */
  override compileUpdate(step: LoadStep): CompiledQuery {
    if (step.rows.length === 1) {
      const { sql, order } = this.singleRowUpdate(step);
      return { kind: 'query', sql, params: order.map((i) => step.rows[0][i]) };
    }
    const nonKey = this.checkStep(step, 'update');
    const keyAt = step.key.map((k) => step.columns.indexOf(k));
    const when = `WHEN ${step.key.map((k) => `${this.quoteIdentifier(k)}=?`).join(' AND ')} THEN ?`;
    const params: SqlValue[] = [];
    const sets = nonKey.map((c) => {
      const at = step.columns.indexOf(c);
      for (const row of step.rows) {
        for (const i of keyAt) params.push(row[i]);
        params.push(row[at]);
      }
      const q = this.quoteIdentifier(c);
      return `${q}=CASE ${new Array<string>(step.rows.length).fill(when).join(' ')} ELSE ${q} END`;
    });
    const single = step.key.length === 1;
    const tuple = single ? '?' : `(${this.placeholders(step.key.length)})`;
    const target = single ? this.quoteIdentifier(step.key[0]) : `(${this.columnList(step.key)})`;
    for (const row of step.rows) for (const i of keyAt) params.push(row[i]);
    const sql =
      `UPDATE ${this.tableName(step.table)} SET ${sets.join(', ')}` +
      ` WHERE ${target} IN (${new Array<string>(step.rows.length).fill(tuple).join(',')})`;
    return { kind: 'query', sql, params };
  }

  override compileCheckpointUpsert(metaSchema: string, checkpoint: CheckpointWrite): CompiledQuery {
    const c = (name: CheckpointName): string => this.cp(name);
    const sql =
      `INSERT INTO ${this.checkpointTable(metaSchema)} (${c('pipeline')},${c('seq')},${c('position')},${c('rows_applied')},${c('updated_at')})` +
      ` VALUES (?,?,?,?,CURRENT_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE ${c('seq')}=VALUES(${c('seq')}),` +
      ` ${c('position')}=VALUES(${c('position')}), ${c('rows_applied')}=${c('rows_applied')}+VALUES(${c('rows_applied')}),` +
      ` ${c('updated_at')}=VALUES(${c('updated_at')})`;
    return { kind: 'query', sql, params: [checkpoint.pipeline, checkpoint.seq, checkpoint.position, checkpoint.rows] };
  }

  override compileCheckpointTableDdl(metaSchema: string): CompiledQuery {
    const c = (name: CheckpointName): string => this.cp(name);
    const sql =
      `CREATE TABLE IF NOT EXISTS ${this.checkpointTable(metaSchema)} (${c('pipeline')} VARCHAR(190) NOT NULL,` +
      ` ${c('seq')} BIGINT NOT NULL, ${c('position')} VARCHAR(512) NOT NULL, ${c('rows_applied')} BIGINT NOT NULL DEFAULT 0,` +
      ` ${c('updated_at')} TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (${c('pipeline')}))` +
      ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
    return { kind: 'query', sql, params: [] };
  }
}
