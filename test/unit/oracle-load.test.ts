/**
 * The Oracle loader's transaction protocol, against a recording fake of node-oracledb (no Oracle
 * server can run here; test/integration/oracle.test.ts checks the real server's answers): what
 * it sends, with which binds and bind types, in which order, and when it commits or rolls back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { asyncLocalStorage, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import oracledb from 'oracledb';
import { loadOracle } from '../../activities/load/oracle-target.js';
import type { Resources } from '../../activities/resources.js';
import { LocalStage } from '../../activities/stage/stage.js';
import type { NumberedBatch, RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';

type Call = { op: string; sql?: string; binds?: unknown; opts?: Record<string, unknown> };
type OraError = Error & { errorNum?: number; offset?: number };
const oraError = (num: number, offset?: number): OraError => Object.assign(new Error(`ORA-${String(num).padStart(5, '0')}: refused`), { errorNum: num, offset });

/** Keeps the checkpoint row like the server would (committed vs pending) and records every call. */
class FakeOracle {
  calls: Call[] = [];
  checkpoint: { seq: number; position: string } | undefined;
  private pending: { seq: number; position: string } | undefined;
  tableExists = false;
  /** Per executeMany: errors to throw, or batch errors to report. */
  manyResult: (sql: string, rows: unknown[][]) => { throws?: OraError; batchErrors?: OraError[] } = () => ({});

  async execute(sql: string, binds?: unknown, opts?: Record<string, unknown>) {
    this.calls.push({ op: 'execute', sql, binds, opts });
    if (sql.startsWith('CREATE TABLE')) {
      if (this.tableExists) throw oraError(955);
      this.tableExists = true;
      return {};
    }
    if (sql.includes('SYS_CONTEXT')) return { rows: [['APP']] };
    if (sql.includes('ALL_TAB_COLUMNS')) return { rows: [['ID', 'NUMBER'], ['NAME', 'VARCHAR2'], ['AT', 'TIMESTAMP(6)'], ['PIC', 'RAW']] };
    if (sql.includes('FOR UPDATE')) return { rows: this.checkpoint ? [this.checkpoint] : [] };
    if (sql.includes('VALUES (s."PIPELINE", 0')) {
      this.checkpoint ??= { seq: 0, position: '-' };
      return {};
    }
    if (sql.startsWith('MERGE INTO "APP"."SEAOTTER_CHECKPOINT"')) {
      const b = binds as [string, number, string, number];
      this.pending = { seq: b[1], position: b[2] };
      return {};
    }
    throw new Error(`unexpected statement ${sql}`);
  }

  async executeMany(sql: string, rows: unknown[][], opts: Record<string, unknown>) {
    this.calls.push({ op: 'executeMany', sql, binds: rows, opts });
    const r = this.manyResult(sql, rows);
    if (r.throws) throw r.throws;
    return { batchErrors: r.batchErrors };
  }

  async commit() {
    this.calls.push({ op: 'commit' });
    if (this.pending) this.checkpoint = this.pending;
    this.pending = undefined;
  }

  async rollback() {
    this.calls.push({ op: 'rollback' });
    this.pending = undefined;
  }

  async close() {}

  ops(): string[] {
    return this.calls.map((c) => (c.op === 'execute' ? (c.sql ?? '').slice(0, 30) : c.op));
  }
}

let n = 0;
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function setUp(changes: RowChange[], onError: 'halt' | 'skip' = 'halt') {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'seaotter-oracle-load-'));
  dirs.push(dir);
  const id = `p${++n}`;
  const stage = new LocalStage(dir);
  await stage.putChanges(`${id}/t`, changes);
  const spec = {
    id,
    target: { type: 'oracle', connectString: `fake:1521/t${n}`, user: 'app', datacenter: 'x' },
    stage: { type: 'local', dir },
    tables: [{ source: { schema: 's', table: 't' }, target: { schema: 'APP', table: 'T' }, columns: [], primaryKey: ['ID'], uniqueKeys: [], weight: 0 }],
    batch: { maxRows: 100, maxWaitMs: 50, maxInFlight: 1 },
    load: { mode: 'atomic', parallelism: 1, onError },
  } as unknown as PipelineSpec;
  const db = new FakeOracle();
  const resources = { oraclePool: async () => ({ getConnection: async () => db }) } as unknown as Resources;
  const batch = (seq: number, from: number, to: number): NumberedBatch => ({
    seq, from: { file: 'bin.000001', pos: from }, to: { file: 'bin.000001', pos: to }, ref: `${id}/c`, rows: changes.length, transactions: 1, firstEventTime: 0, lastEventTime: 0,
  });
  const run = (b: NumberedBatch) => inActivity(() => loadOracle({ resources }, { spec, batch: b, transformed: { ref: `${id}/t`, rows: changes.length, fileRefs: 0 } }));
  return { db, batch, run, dir, id };
}

/** Runs `fn` inside an activity context (the loader logs and watches for cancellation). */
function inActivity<T>(fn: () => Promise<T>): Promise<T> {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const ctx = new (Context as unknown as new (...a: unknown[]) => Context)({}, new Promise(() => {}), new AbortController().signal, () => {}, undefined, quiet);
  return asyncLocalStorage.run(ctx, fn);
}

const ins = (after: Record<string, unknown>): RowChange => ({ schema: 'APP', table: 'T', action: 'insert', after } as RowChange);
const del = (before: Record<string, unknown>): RowChange => ({ schema: 'APP', table: 'T', action: 'delete', before } as RowChange);

test('one transaction: lock the checkpoint, delete, merge with typed binds, write the checkpoint, commit', async () => {
  const { db, batch, run, id } = await setUp([
    ins({ ID: '18446744073709551615', NAME: 'é', AT: '2024-02-29 23:59:59.123456', PIC: Buffer.from([0, 255]) }),
    ins({ ID: 2, NAME: null, AT: '2024-01-01 00:00:00', PIC: null }),
    del({ ID: 7, NAME: 'x', AT: null, PIC: null }),
  ]);
  const r = await run(batch(1, 4, 100));
  assert.deepEqual(r, { rowsApplied: 3, alreadyApplied: false, statements: 2, deadLettered: 0 });
  const prefixes = (list: string[]) => list.map((x) => x.slice(0, 30));
  assert.deepEqual(db.ops(), prefixes([
    "SELECT SYS_CONTEXT('USERENV', '",
    'CREATE TABLE "APP"."SEAOTTER_CHE',
    'MERGE INTO "APP"."SEAOTTER_CHECK',
    'SELECT "SEQ" "seq", "POSITION" "',
    'SELECT COLUMN_NAME, DATA_TYPE FR',
    'executeMany',
    'executeMany',
    'MERGE INTO "APP"."SEAOTTER_CHECK',
    'commit',
  ]));
  const [del1, merge] = db.calls.filter((c) => c.op === 'executeMany');
  assert.equal(del1.sql, 'DELETE FROM "APP"."T" WHERE "ID" = :1');
  assert.deepEqual(del1.binds, [['7']]);
  assert.match(merge.sql!, /^MERGE INTO "APP"\."T" t USING \(SELECT :1 "ID", :2 "NAME", :3 "AT", :4 "PIC" FROM dual\) s ON \(t\."ID" = s\."ID"\)/);
  assert.deepEqual(merge.binds, [
    ['18446744073709551615', 'é', '2024-02-29 23:59:59.123456', Buffer.from([0, 255])],
    ['2', null, '2024-01-01 00:00:00.000000', null],
  ]);
  assert.deepEqual(merge.opts, {
    bindDefs: [
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 20 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 2 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 26 },
      { type: oracledb.DB_TYPE_RAW, maxSize: 2 },
    ],
    autoCommit: false,
    batchErrors: false,
  });
  const cp = db.calls.filter((c) => c.sql?.startsWith('MERGE INTO "APP"."SEAOTTER_CHECKPOINT"')).pop()!;
  assert.deepEqual(cp.binds, [id, 1, 'bin.000001:100', 3]);
  assert.deepEqual(db.checkpoint, { seq: 1, position: 'bin.000001:100' });
});

test('a retried load whose batch the checkpoint covers applies nothing', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'a', AT: null, PIC: null })]);
  await run(batch(1, 4, 100));
  db.calls = [];
  const again = await run(batch(1, 4, 100));
  assert.equal(again.alreadyApplied, true);
  assert.deepEqual(db.ops(), ['SELECT "SEQ" "seq", "POSITION"', 'rollback'], 'the staged batch is gone after the first commit, and not needed');
});

test('a batch that does not chain with the checkpoint halts, with nothing written', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'a', AT: null, PIC: null })]);
  await run(batch(1, 4, 100));
  db.calls = [];
  await assert.rejects(run(batch(2, 150, 200)), (err: unknown) => err instanceof ApplicationFailure && err.type === 'PositionMismatch' && err.nonRetryable === true);
  assert.ok(!db.ops().includes('executeMany') && !db.ops().includes('commit'));
  assert.deepEqual(db.checkpoint, { seq: 1, position: 'bin.000001:100' });
});

test('a refused row (ORA-12899) halts: rolled back, TargetRefused with the statement', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'far too long', AT: null, PIC: null })]);
  db.manyResult = () => ({ throws: oraError(12899) });
  await assert.rejects(run(batch(1, 4, 100)), (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'TargetRefused');
    assert.match(err.message, /value too large for column.*MERGE INTO "APP"\."T"/);
    return true;
  });
  assert.equal(db.ops().at(-1), 'rollback');
  assert.deepEqual(db.checkpoint, { seq: 0, position: '-' });
});

test('a value that cannot be bound (a zero date) is refused the same way', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'a', AT: '0000-00-00 00:00:00', PIC: null })]);
  await assert.rejects(run(batch(1, 4, 100)), (err: unknown) => err instanceof ApplicationFailure && err.type === 'TargetRefused' && /zero date/.test(err.message));
  assert.ok(!db.ops().includes('commit'));
});

test('a lost connection is retried (a plain error), not a halt', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'a', AT: null, PIC: null })]);
  db.manyResult = () => ({ throws: Object.assign(new Error('NJS-500: connection to the Oracle Database was broken'), { code: 'NJS-500' }) });
  await assert.rejects(run(batch(1, 4, 100)), (err: unknown) => !(err instanceof ApplicationFailure) && /NJS-500/.test((err as Error).message));
});

test('onError: skip dead-letters the rows Oracle reports as batch errors and commits the rest', async () => {
  const { db, batch, run, dir, id } = await setUp([ins({ ID: 1, NAME: 'ok', AT: null, PIC: null }), ins({ ID: 2, NAME: 'far too long', AT: null, PIC: null })], 'skip');
  db.manyResult = () => ({ batchErrors: [oraError(12899, 1)] });
  const r = await run(batch(1, 4, 100));
  assert.equal(r.deadLettered, 1);
  assert.equal(r.rowsApplied, 1);
  assert.equal(db.calls.find((c) => c.op === 'executeMany')!.opts!.batchErrors, true);
  assert.equal(db.ops().at(-1), 'commit');
  const lines = (await readFile(path.join(dir, id, 'dead-letter', 'batch-1.jsonl'), 'utf8')).trim().split('\n');
  assert.deepEqual(JSON.parse(lines[0]), { table: 'APP.T', kind: 'upsert', row: { ID: 2, NAME: 'far too long', AT: null, PIC: null }, errno: 12899, error: 'ORA-12899: refused' });
});

test('onError: skip still halts on a batch error that is not the data\'s fault', async () => {
  const { db, batch, run } = await setUp([ins({ ID: 1, NAME: 'ok', AT: null, PIC: null })], 'skip');
  db.manyResult = () => ({ batchErrors: [oraError(3113, 0)] });
  await assert.rejects(run(batch(1, 4, 100)), /ORA-03113/);
  assert.equal(db.ops().at(-1), 'rollback');
});

test('field mode: an UPDATE binds its SET values first, then its key, each with its own column type', async () => {
  const upd = (before: Record<string, unknown>, after: Record<string, unknown>, changed: string[]): RowChange =>
    ({ schema: 'APP', table: 'T', action: 'update', before, after, changed } as RowChange);
  const { db, batch, run } = await setUp([
    upd({ ID: 5, NAME: 'old', AT: null, PIC: null }, { ID: 5, NAME: 'new', AT: null, PIC: null }, ['NAME']),
    upd({ ID: 6, NAME: 'x', AT: null, PIC: null }, { ID: 6, NAME: 'y', AT: null, PIC: null }, ['NAME']),
  ]);
  await run(batch(1, 4, 100));
  const [update] = db.calls.filter((c) => c.op === 'executeMany');
  assert.equal(update.sql, 'UPDATE "APP"."T" SET "NAME" = :1 WHERE "ID" = :2');
  // NAME's value at :1 and the key at :2 (bound in the step's column order, ID first, row 5 would
  // have been set to NAME = 5 WHERE ID = 'new').
  assert.deepEqual(update.binds, [['new', '5'], ['y', '6']]);
  const defs = (update.opts as { bindDefs: { type: unknown }[] }).bindDefs;
  assert.equal(defs.length, 2);
  assert.notDeepEqual(defs[0], defs[1], 'a VARCHAR2 bind for NAME, a NUMBER bind for ID');
});
