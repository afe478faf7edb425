/**
 * Oracle. Identifiers are double-quoted and used exactly as the mapping names them: Oracle folds
 * unquoted names to upper case, so a table created as `orders` is `"ORDERS"` and must be mapped
 * as `ORDERS`. Upserts are `MERGE … USING (SELECT :1 "A", … FROM dual)`, compiled once per step
 * and run with `executeMany`, one bind row per table row; binds are `:1`, `:2`… in column order.
 * seaotter's own checkpoint table uses upper-case names, so it reads unquoted in SQL*Plus.
 */
import type { LoadStep } from '../../load-plan.js';
import { BaseQueryCompiler, type CheckpointName } from '../base-compiler.js';
import type { CheckpointWrite, CompiledBatch, CompiledQuery } from '../dialect.js';

export class OracleQueryCompiler extends BaseQueryCompiler {
  /** Double quotes; Oracle has no escape for a double quote inside a quoted identifier. */
  protected override quoteIdentifier(name: string): string {
    if (name === '' || name.includes('"') || name.includes('\0')) throw new Error(`not a valid Oracle identifier: ${JSON.stringify(name)}`);
    return `"${name}"`;
  }

  protected override placeholder(index: number): string {
    return `:${index}`;
  }

  protected override checkpointName(name: CheckpointName): string {
    return name.toUpperCase();
  }

  override compileUpsert(step: LoadStep): CompiledBatch {
    const nonKey = this.checkStep(step, 'upsert');
    const q = (c: string): string => this.quoteIdentifier(c);
    const source = step.columns.map((c, i) => `${this.placeholder(i + 1)} ${q(c)}`).join(', ');
    const on = step.key.map((k) => `t.${q(k)} = s.${q(k)}`).join(' AND ');
    // Key columns cannot be updated by a MERGE; a key-only table just inserts what is missing.
    const matched = nonKey.length ? ` WHEN MATCHED THEN UPDATE SET ${nonKey.map((c) => `t.${q(c)} = s.${q(c)}`).join(', ')}` : '';
    const sql =
      `MERGE INTO ${this.tableName(step.table)} t USING (SELECT ${source} FROM dual) s ON (${on})${matched}` +
      ` WHEN NOT MATCHED THEN INSERT (${this.columnList(step.columns)}) VALUES (${step.columns.map((c) => `s.${q(c)}`).join(', ')})`;
    return { kind: 'batch', sql, rows: step.rows, columns: step.columns };
  }

  override compileDelete(step: LoadStep): CompiledBatch {
    this.checkStep(step, 'delete');
    const where = step.columns.map((c, i) => `${this.quoteIdentifier(c)} = ${this.placeholder(i + 1)}`).join(' AND ');
    return { kind: 'batch', sql: `DELETE FROM ${this.tableName(step.table)} WHERE ${where}`, rows: step.rows, columns: step.columns };
  }

  override compileUpdate(step: LoadStep): CompiledBatch {
    const { sql, order } = this.singleRowUpdate(step);
    // SET's columns first, then the key's: the rows' values and their binds' types in that order.
    return { kind: 'batch', sql, rows: step.rows.map((row) => order.map((i) => row[i])), columns: order.map((i) => step.columns[i]) };
  }

  override compileCheckpointUpsert(metaSchema: string, checkpoint: CheckpointWrite): CompiledQuery {
    const c = (name: CheckpointName): string => this.cp(name);
    const sql =
      `MERGE INTO ${this.checkpointTable(metaSchema)} t USING (SELECT :1 ${c('pipeline')}, :2 ${c('seq')}, :3 ${c('position')},` +
      ` :4 ${c('rows_applied')} FROM dual) s ON (t.${c('pipeline')} = s.${c('pipeline')})` +
      ` WHEN MATCHED THEN UPDATE SET t.${c('seq')} = s.${c('seq')}, t.${c('position')} = s.${c('position')},` +
      ` t.${c('rows_applied')} = t.${c('rows_applied')} + s.${c('rows_applied')}, t.${c('updated_at')} = SYSTIMESTAMP` +
      ` WHEN NOT MATCHED THEN INSERT (${c('pipeline')},${c('seq')},${c('position')},${c('rows_applied')},${c('updated_at')})` +
      ` VALUES (s.${c('pipeline')}, s.${c('seq')}, s.${c('position')}, s.${c('rows_applied')}, SYSTIMESTAMP)`;
    return { kind: 'query', sql, params: [checkpoint.pipeline, checkpoint.seq, checkpoint.position, checkpoint.rows] };
  }

  /** Oracle before 23ai has no `IF NOT EXISTS`: ORA-00955 means the table is already there. */
  override compileCheckpointTableDdl(metaSchema: string): CompiledQuery {
    const c = (name: CheckpointName): string => this.cp(name);
    const sql =
      `CREATE TABLE ${this.checkpointTable(metaSchema)} (${c('pipeline')} VARCHAR2(190 CHAR) NOT NULL,` +
      ` ${c('seq')} NUMBER(19) NOT NULL, ${c('position')} VARCHAR2(512 CHAR) NOT NULL,` +
      ` ${c('rows_applied')} NUMBER(19) DEFAULT 0 NOT NULL, ${c('updated_at')} TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL,` +
      ` PRIMARY KEY (${c('pipeline')}))`;
    return { kind: 'query', sql, params: [] };
  }
}
