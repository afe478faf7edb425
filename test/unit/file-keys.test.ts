/**
 * File rules: how row values become object keys (prefix, template, resolver output), which keys
 * are refused, which row image names the files, the batch's plan (each copy once, deletes of keys
 * also copied dropped), config problems by path, the done-prefix a copy's heartbeat carries, and
 * batch-after-batch permits for pipelines whose rules delete files.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveProcessorPaths } from '../../lib/config/parse.js';
import { checkKey, fileImage, hasFileDeletes, keysFromColumns, keysFromResolver, planFiles, templateColumns, toFileRule, type FileRef, type FileRule } from '../../lib/file-keys.js';
import type { Row } from '../../lib/model.js';
import { PrefixProgress } from '../../lib/prefix-progress.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { Pipeline } from '../../workflows/pipeline-state.js';

const rule = (over: Partial<FileRule>): FileRule => ({ columns: ['pic'], from: 'a', to: 'b', prefix: '', onDelete: 'keep', onMissing: 'halt', ...over });

test('keys from columns: prefix, template, several columns, NULL and empty values', () => {
  const row: Row = { id: 7, pic: 'x/1.jpg', thumb: 't/1.jpg', shop: 'hz', none: null, empty: '', bytes: new Uint8Array(Buffer.from('b/2.png')) };
  const cases: [Partial<FileRule>, string[]][] = [
    [{}, ['x/1.jpg']],
    [{ prefix: 'pics/' }, ['pics/x/1.jpg']],
    [{ columns: ['pic', 'thumb'] }, ['x/1.jpg', 't/1.jpg']],
    [{ columns: ['none', 'empty'] }, []],
    [{ columns: ['bytes'] }, ['b/2.png']],
    [{ template: '{shop}/{id}/{value}' }, ['hz/7/x/1.jpg']],
    [{ template: '{shop}/{value}', prefix: 'p/' }, ['p/hz/x/1.jpg']],
    [{ template: '{none}/{value}' }, []],
    [{ prefix: '/' }, ['x/1.jpg']],
  ];
  for (const [over, expected] of cases) assert.deepEqual(keysFromColumns(rule(over), row), expected, JSON.stringify(over));
});

test('keys that could escape a store or name nothing are refused', () => {
  for (const [key, message] of [
    ['a/../b', /"\.\." path segment/],
    ['..', /path segment/],
    ['a//b', /empty/],
    ['a/./b', /path segment/],
    ['', /empty file key/],
    ['a\0b', /NUL/],
  ] as const) {
    assert.throws(() => checkKey(key), message, key);
  }
  assert.equal(checkKey('/abs/key.jpg'), 'abs/key.jpg');
  assert.throws(() => keysFromColumns(rule({ columns: ['gone'] }), { pic: 'x' }), /file column "gone" is not in the row/);
  assert.throws(() => keysFromColumns(rule({ template: '{gone}/{value}' }), { pic: 'x' }), /names column "gone"/);
});

test('resolver results: a list of strings, prefixed and checked', () => {
  assert.deepEqual(keysFromResolver(rule({ prefix: 'r/' }), ['a.jpg', 'b/c.jpg']), ['r/a.jpg', 'r/b/c.jpg']);
  assert.deepEqual(keysFromResolver(rule({}), []), []);
  assert.throws(() => keysFromResolver(rule({}), 'a.jpg'), /not a list of keys/);
  assert.throws(() => keysFromResolver(rule({}), [1]), /of type number/);
  assert.throws(() => keysFromResolver(rule({}), ['../x']), /path segment/);
});

test('the row image that names files: new row for insert/update, old row for delete', () => {
  const before = { pic: 'old' };
  const after = { pic: 'new' };
  assert.equal(fileImage('insert', undefined, after), after);
  assert.equal(fileImage('update', before, after), after);
  assert.equal(fileImage('delete', before, undefined), before);
  assert.deepEqual(templateColumns('{shop}/{id}/{value}'), ['shop', 'id']);
});

test('plan: each copy once, deletes once, no delete of a key the batch also copies', () => {
  const ref = (op: FileRef['op'], key: string, to = 'b'): FileRef => ({ op, from: 'a', to, key, onMissing: 'halt', table: 's.t' });
  const plan = planFiles([ref('copy', 'k1'), ref('copy', 'k1'), ref('delete', 'k1'), ref('delete', 'k2'), ref('delete', 'k2'), ref('copy', 'k3'), ref('delete', 'k3', 'c')]);
  assert.deepEqual(plan.copies.map((r) => r.key), ['k1', 'k3']);
  assert.deepEqual(plan.deletes.map((r) => `${r.to}:${r.key}`), ['b:k2', 'c:k3']);
});

test('config: file rules with defaults, and problems by path', () => {
  const base = (files: unknown) => `
dataSources:
  src: { type: mariadb, host: h, user: u, datacenter: a }
  dst: { type: mariadb, host: h, user: u, datacenter: b }
  s3a: { type: s3, endpoint: "http://127.0.0.1:9000", bucket: pics, accessKeyEnv: K, secretKeyEnv: S, datacenter: a }
  dirb: { type: dir, path: /srv/pics, datacenter: b }
pipelines:
  - id: p
    source: src
    target: dst
    tables:
      - source: shop.orders
        files: ${JSON.stringify(files)}
`;
  const ok = parseConfig(base([{ column: 'pic', from: 's3a', to: 'dirb' }, { columns: ['a', 'b'], from: 's3a', to: 'dirb', resolver: './r.mjs', onDelete: 'delete', onMissing: 'skip' }]));
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  const files = ok.config.pipelines[0].tables[0].files!;
  assert.deepEqual(toFileRule(files[0]), { columns: ['pic'], from: 's3a', to: 'dirb', prefix: '', onDelete: 'keep', onMissing: 'halt' });
  const resolved = resolveProcessorPaths(ok.config, (p) => `/etc/seaotter/${p}`);
  assert.equal(resolved.pipelines[0].tables[0].files![1].resolver, '/etc/seaotter/./r.mjs');

  const cases: [unknown, string, RegExp][] = [
    [[{ from: 's3a', to: 'dirb' }], 'files[0]', /name the column/],
    [[{ column: 'a', columns: ['b'], from: 's3a', to: 'dirb' }], 'files[0]', /column or columns, not both/],
    [[{ column: 'a', template: '{value}', resolver: './r.mjs', from: 's3a', to: 'dirb' }], 'files[0].template', /template or resolver/],
    [[{ column: 'a', from: 's3a', to: 'dirb', onDelete: 'drop' }], 'files[0].onDelete', /./],
    [[{ column: 'a', from: 'nope', to: 'dirb' }], 'files[0].from', /no data source named "nope"/],
    [[{ column: 'a', from: 's3a', to: 'dst' }], 'files[0].to', /files need an s3 or dir store/],
  ];
  for (const [files, path, message] of cases) {
    const r = parseConfig(base(files));
    assert.ok(!r.ok, JSON.stringify(files));
    const hit = r.problems.find((p) => p.path === `pipelines[0].tables[0].${path}` && message.test(p.message));
    assert.ok(hit, `${JSON.stringify(files)}: expected ${path} ${message}, got ${JSON.stringify(r.problems)}`);
  }
});

test('done prefix: out-of-order completion advances only over finished items', () => {
  const p = new PrefixProgress(2);
  assert.equal(p.watermark, 2);
  for (const [i, expected] of [[4, 2], [3, 2], [2, 5], [6, 5], [5, 7]] as const) {
    p.done(i);
    assert.equal(p.watermark, expected, `after ${i}`);
  }
});

test('the example gallery resolver names a cover and one key per photo', async () => {
  const mod = (await import(new URL('../../../examples/resolvers/gallery.mjs', import.meta.url).href)) as { default: (row: Row, ctx: unknown) => unknown };
  const context = { pipeline: 'p', table: 'shop.gallery', action: 'insert', seq: 1 };
  assert.deepEqual(keysFromResolver(rule({ columns: [], prefix: 'pics/' }), mod.default({ id: 9, photo_count: 2 }, context)), [
    'pics/gallery/9/cover.jpg',
    'pics/gallery/9/1.jpg',
    'pics/gallery/9/2.jpg',
  ]);
  assert.deepEqual(mod.default({ id: 3, photo_count: null }, context), ['gallery/3/cover.jpg']);
});

test('pipelines with onDelete: delete rules run file steps batch after batch', () => {
  assert.equal(hasFileDeletes([{}, { files: [rule({})] }]), false);
  assert.equal(hasFileDeletes([{ files: [rule({}), rule({ onDelete: 'delete' })] }]), true);
});

test('with file deletes, the pipeline permits only the batch next to commit', () => {
  const at = (pos: number) => ({ file: 'mysql-bin.000001', pos });
  const base = { id: 'p', start: at(4), batch: { maxRows: 10, maxWaitMs: 10, maxInFlight: 4 }, version: 'v1' };
  const withDeletes = new Pipeline({ spec: { ...base, tables: [{ files: [rule({ onDelete: 'delete' })] }] } as unknown as PipelineSpec });
  const keeping = new Pipeline({ spec: { ...base, tables: [{ files: [rule({})] }] } as unknown as PipelineSpec });
  for (const p of [withDeletes, keeping]) {
    for (const [from, to] of [[4, 100], [100, 200], [200, 300]]) {
      p.accept({ from: at(from), to: at(to), ref: `r${from}`, rows: 1, transactions: 1, firstEventTime: from, lastEventTime: to });
    }
  }
  assert.deepEqual([1, 2, 3].map((seq) => withDeletes.mayLoadBatch(seq)), [true, false, false]);
  assert.deepEqual([1, 2, 3].map((seq) => keeping.mayLoadBatch(seq)), [true, true, true]);
  withDeletes.commit(1, 1, 5000);
  assert.deepEqual([2, 3].map((seq) => withDeletes.mayLoadBatch(seq)), [true, false]);
  withDeletes.s.paused = true;
  assert.equal(withDeletes.mayLoadBatch(2), false);
});
