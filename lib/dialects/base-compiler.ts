/**
 * The compiler shared by every dialect. Dialects differ in small hooks (identifier quoting,
 * placeholders, the names of seaotter's own table) and in the statements whose syntax really
 * differs (upsert, delete, field-mode update, checkpoint upsert, DDL).
 */
import type { LoadStep, TableRef } from '../load-plan.js';
import type { CheckpointWrite, CompiledQuery, CompiledStep, QueryCompiler } from './dialect.js';

/** The checkpoint table and its columns, as seaotter names them (dialects may spell them). */
export type CheckpointName = 'seaotter_checkpoint' | 'pipeline' | 'seq' | 'position' | 'rows_applied' | 'updated_at';

export abstract class BaseQueryCompiler implements QueryCompiler {
  /** A quoted identifier; throws for a name the dialect cannot quote. */
  protected abstract quoteIdentifier(name: string): string;
  /** The placeholder of the `index`-th parameter (1-based) of a statement. */
  protected abstract placeholder(index: number): string;

  abstract compileUpsert(step: LoadStep): CompiledStep;
  abstract compileDelete(step: LoadStep): CompiledStep;
  abstract compileUpdate(step: LoadStep): CompiledStep;
  abstract compileCheckpointUpsert(metaSchema: string, checkpoint: CheckpointWrite): CompiledQuery;
  abstract compileCheckpointTableDdl(metaSchema: string): CompiledQuery;

  /** How this dialect spells a name of the checkpoint table. */
  protected checkpointName(name: CheckpointName): string {
    return name;
  }

  compileStep(step: LoadStep): CompiledStep {
    switch (step.kind) {
      case 'upsert':
        return this.compileUpsert(step);
      case 'delete':
        return this.compileDelete(step);
      case 'update':
        return this.compileUpdate(step);
    }
  }

  compileCheckpointSelect(metaSchema: string, pipelineId: string): CompiledQuery {
    // Result columns keep seaotter's names whatever the dialect calls them, so callers read `seq`.
    const column = (c: CheckpointName): string => {
      const spelled = this.checkpointName(c);
      return spelled === c ? this.quoteIdentifier(c) : `${this.quoteIdentifier(spelled)} ${this.quoteIdentifier(c)}`;
    };
    const sql =
      `SELECT ${column('seq')}, ${column('position')}, ${column('rows_applied')} FROM ${this.checkpointTable(metaSchema)}` +
      ` WHERE ${this.cp('pipeline')} = ${this.placeholder(1)} FOR UPDATE`;
    return { kind: 'query', sql, params: [pipelineId] };
  }

  protected tableName(ref: TableRef): string {
    return `${this.quoteIdentifier(ref.schema)}.${this.quoteIdentifier(ref.table)}`;
  }

  protected checkpointTable(metaSchema: string): string {
    return this.tableName({ schema: metaSchema, table: this.checkpointName('seaotter_checkpoint') });
  }

  /** A quoted checkpoint table column. */
  protected cp(name: CheckpointName): string {
    return this.quoteIdentifier(this.checkpointName(name));
  }

  protected columnList(columns: readonly string[]): string {
    return columns.map((c) => this.quoteIdentifier(c)).join(',');
  }

  /** `count` placeholders from `first` on, comma-separated. */
  protected placeholders(count: number, first = 1): string {
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.placeholder(first + i));
    return out.join(',');
  }

  /** The step's non-key columns, after checking its shape. */
  protected checkStep(step: LoadStep, kind: LoadStep['kind']): string[] {
    const where = `${step.table.schema}.${step.table.table}`;
    if (step.kind !== kind) throw new Error(`${where}: a ${step.kind} step compiled as ${kind}`);
    if (step.rows.length === 0) throw new Error(`${where}: ${kind} step without rows`);
    if (step.key.length === 0) throw new Error(`${where}: ${kind} step without primary key`);
    for (const k of step.key) if (!step.columns.includes(k)) throw new Error(`${where}: ${kind} step lacks key column ${k}`);
    for (const row of step.rows) {
      if (row.length !== step.columns.length) throw new Error(`${where}: a row has ${row.length} values for ${step.columns.length} columns`);
    }
    const nonKey = step.columns.filter((c) => !step.key.includes(c));
    if (kind === 'delete' && nonKey.length > 0) throw new Error(`${where}: delete step by non-key column ${nonKey[0]}`);
    if (kind === 'update' && nonKey.length === 0) throw new Error(`${where}: update step without a column to set`);
    return nonKey;
  }

  /**
   * One row's `UPDATE t SET a = p1, b = p2 WHERE k = p3`, and for each placeholder in order the
   * index of its value in a step row (non-key columns, then the key).
   */
  protected singleRowUpdate(step: LoadStep): { sql: string; order: number[] } {
    const nonKey = this.checkStep(step, 'update');
    const order = [...nonKey, ...step.key].map((c) => step.columns.indexOf(c));
    const set = nonKey.map((c, i) => `${this.quoteIdentifier(c)} = ${this.placeholder(i + 1)}`).join(', ');
    const where = step.key.map((k, i) => `${this.quoteIdentifier(k)} = ${this.placeholder(nonKey.length + i + 1)}`).join(' AND ');
    return { sql: `UPDATE ${this.tableName(step.table)} SET ${set} WHERE ${where}`, order };
  }
}
