/**
 * Processors in transform: the example mask-email processor masks as the SQL expression does;
 * filter → processor → column mapping run in that order on source names; a processor that throws,
 * is missing, exports no function or returns a bad change fails the transform for good
 * ('TransformFailed') naming the module, the table and the row's key, never the row.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { prepareTableTransform } from '../../activities/transform/table-transform.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';

const MASK_EMAIL = fileURLToPath(new URL('../../../examples/processors/mask-email.mjs', import.meta.url));
const spec = { id: 'orders' } as PipelineSpec;

function mapping(extra: Partial<TableMapping> = {}): TableMapping {
  return {
    source: { schema: 'shop', table: 'orders' },
    target: { schema: 'shop_us', table: 'orders' },
    columns: [
      { source: 'id', target: 'order_id' },
      { source: 'status', target: 'status' },
      { source: 'email', target: 'email' },
    ],
    primaryKey: ['order_id'],
    uniqueKeys: [],
    weight: 0,
    ...extra,
  };
}

const insert = (after: RowChange['after']): RowChange => ({ schema: 'shop', table: 'orders', action: 'insert', after });

async function moduleFile(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** Asserts a TransformFailed, non-retryable, whose message matches every pattern. */
async function assertTransformFailed(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  const err = await p.then(
    () => assert.fail('expected a TransformFailed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, 'TransformFailed');
  assert.equal(err.nonRetryable, true);
  for (const re of patterns) assert.match(err.message, re);
  return err.message;
}

/** A temp dir for processor modules, removed when the file's tests end. */
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'seaotter-proc-'));
  dirs.push(dir);
  return dir;
}

test('mask-email masks as CONCAT(LEFT(e,1),"***",SUBSTRING(e, LOCATE("@",e))) does', async () => {
  const { maskEmail, default: process } = (await import(MASK_EMAIL)) as {
    maskEmail: (e: string) => string;
    default: (c: RowChange) => RowChange;
  };
  const cases: [string, string][] = [
    ['alice@example.com', 'a***@example.com'],
    ['b@x.org', 'b***@x.org'],
    ['a@b@c', 'a***@b@c'],
    ['@domain', '@***@domain'],
    ['noat', 'n***'],
    ['', '***'],
    ['ünïcode@例え.jp', 'ü***@例え.jp'],
    ['😀smile@x', '😀***@x'],
  ];
  for (const [email, want] of cases) assert.equal(maskEmail(email), want, email);
  const change: RowChange = { schema: 's', table: 't', action: 'update', before: { id: 1, email: 'old@a.com' }, after: { id: 1, email: null } };
  assert.deepEqual(process(change), { ...change, before: { id: 1, email: 'o***@a.com' }, after: { id: 1, email: null } });
});

test('filter, then processor, then mapping: on source names, counted', async () => {
  const t = await prepareTableTransform(spec, mapping({ where: { status: { in: ['paid'] } }, processor: MASK_EMAIL }), 7);
  assert.deepEqual(await t.apply(insert({ id: 1, status: 'paid', email: 'carol@shop.com' })), {
    schema: 'shop_us',
    table: 'orders',
    action: 'insert',
    after: { order_id: 1, status: 'paid', email: 'c***@shop.com' },
  });
  assert.equal(await t.apply(insert({ id: 2, status: 'new', email: 'x@y' })), null);
  // Moving out of the filter: a delete of the old key, masked like any row.
  const out = await t.apply({ schema: 'shop', table: 'orders', action: 'update', before: { id: 1, status: 'paid', email: 'c@d' }, after: { id: 1, status: 'new', email: 'c@d' } });
  assert.deepEqual(out, { schema: 'shop_us', table: 'orders', action: 'delete', before: { order_id: 1, status: 'paid', email: 'c***@d' } });
  assert.equal(t.filtered, 1);
  assert.equal(t.dropped, 0);
});

test('a processor sees the context, may use a named `process` export, be async, and drop rows', async () => {
  const dir = await tempDir();
  const file = await moduleFile(
    dir,
    'ctx.mjs',
    `export async function process(change, ctx) {
       if (change.after.id === 2) return null;
       change.after.status = ctx.pipeline + '/' + ctx.table + '/' + ctx.seq;
       return change;
     }`,
  );
  const t = await prepareTableTransform(spec, mapping({ processor: file }), 42);
  const out = await t.apply(insert({ id: 1, status: 'x', email: null }));
  assert.equal(out?.after?.status, 'orders/shop.orders/42');
  assert.equal(await t.apply(insert({ id: 2, status: 'x', email: null })), null);
  assert.equal(t.dropped, 1);
});

test('a processor that throws: TransformFailed naming the module, the table and the key, not the row', async () => {
  const dir = await tempDir();
  const file = await moduleFile(dir, 'boom.mjs', `export default (c) => { if (c.after.id === 13) throw new Error('unlucky row'); return c; };`);
  const t = await prepareTableTransform(spec, mapping({ processor: file }), 1);
  assert.ok(await t.apply(insert({ id: 12, status: 'paid', email: 'secret@x' })));
  const message = await assertTransformFailed(
    (async () => t.apply(insert({ id: 13, status: 'paid', email: 'secret@x' })))(),
    new RegExp(`processor ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed on shop\\.orders row id=13: unlucky row`),
  );
  assert.doesNotMatch(message, /secret/);
});

test('a missing module, one without a function, or one that fails to load: TransformFailed', async () => {
  const dir = await tempDir();
  await assertTransformFailed(prepareTableTransform(spec, mapping({ processor: path.join(dir, 'gone.mjs') }), 1), /gone\.mjs cannot be loaded: no such file.*shop\.orders/);
  const nofn = await moduleFile(dir, 'nofn.mjs', 'export const x = 1;');
  await assertTransformFailed(prepareTableTransform(spec, mapping({ processor: nofn }), 1), /nofn\.mjs exports neither a default function nor a function named "process"/);
  const syntax = await moduleFile(dir, 'syntax.mjs', 'export default (c) => {');
  await assertTransformFailed(prepareTableTransform(spec, mapping({ processor: syntax }), 1), /syntax\.mjs cannot be loaded: /);
  // Fixed (a new modification time): the next batch loads it.
  await writeFile(syntax, 'export default (c) => c;');
  await utimes(syntax, new Date(), new Date(Date.now() + 5000));
  const t = await prepareTableTransform(spec, mapping({ processor: syntax }), 2);
  assert.ok(await t.apply(insert({ id: 1, status: 'a', email: null })));
});

test('a processor returning a bad change: TransformFailed saying what is wrong', async () => {
  const dir = await tempDir();
  const cases: [string, RegExp][] = [
    [`export default () => 'yes';`, /not a change/],
    [`export default (c) => ({ action: 'update', after: c.after });`, /update without before image/],
    [`export default (c) => { c.after.status = new Date(0); return c; };`, /after image has column status of type Date/],
    [`export default (c) => { c.after.status = 10n; return c; };`, /column status of type bigint/],
  ];
  for (const [i, [code, re]] of cases.entries()) {
    const file = await moduleFile(dir, `bad${i}.mjs`, code);
    const t = await prepareTableTransform(spec, mapping({ processor: file }), 1);
    await assertTransformFailed((async () => t.apply(insert({ id: 5, status: 'a', email: null })))(), /failed on shop\.orders row id=5/, re);
  }
});

test('a row lacking a filtered column: TransformFailed naming the column and the key', async () => {
  const t = await prepareTableTransform(spec, mapping({ where: { region: 'eu' } }), 1);
  // Without a processor apply is synchronous, and so is its failure.
  await assertTransformFailed((async () => t.apply(insert({ id: 9, status: 'a', email: null })))(), /row filter of shop\.orders on row id=9: the row has no column "region"/);
});

test('columns a processor adds load under their own names; one the mapping already fills is refused', async () => {
  const dir = await tempDir();
  const file = await moduleFile(
    dir,
    'total.mjs',
    `export default (change) => {
      for (const row of [change.before, change.after]) if (row) row.label = row.status + ':' + row.id;
      return change;
    };`,
  );
  const t = await prepareTableTransform(spec, mapping({ processor: file }), 1);
  assert.deepEqual(await t.apply(insert({ id: 5, status: 'paid', email: 'a@b.c', internal: 'x' })), {
    schema: 'shop_us', table: 'orders', action: 'insert', after: { order_id: 5, status: 'paid', email: 'a@b.c', label: 'paid:5' },
  });
  // A field-mode update sees the added column change along with the one it comes from.
  const field = await prepareTableTransform(spec, mapping({ processor: file, mode: 'field' }), 1);
  const upd = await field.apply({ schema: 'shop', table: 'orders', action: 'update', before: { id: 5, status: 'new', email: 'e' }, after: { id: 5, status: 'paid', email: 'e' } });
  assert.deepEqual(upd?.changed, ['status', 'label']);
  // order_id is the target name the mapping fills from the source's id: a processor column named so is refused.
  const clash = await moduleFile(dir, 'clash.mjs', `export default (change) => ({ ...change, after: { ...change.after, order_id: 9 } });`);
  const c = await prepareTableTransform(spec, mapping({ processor: clash }), 1);
  await assertTransformFailed(Promise.resolve().then(() => c.apply(insert({ id: 5, status: 'paid', email: 'e' }))), /transform of shop\.orders failed on row id=5: the processor added column order_id, which the table's mapping already fills/);
  // In another case too: MySQL's column names are case-insensitive.
  const upper = await moduleFile(dir, 'upper.mjs', `export default (change) => ({ ...change, after: { ...change.after, Status: 'x' } });`);
  const u = await prepareTableTransform(spec, mapping({ processor: upper }), 1);
  await assertTransformFailed(Promise.resolve().then(() => u.apply(insert({ id: 5, status: 'paid', email: 'e' }))), /the processor added column Status, which the table's mapping already fills/);
});
