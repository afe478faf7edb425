/**
 * specOutsideConfig: a worker runs a pipeline spec only when its own config defines the pipeline
 * between the same data sources, with the same settings, through the same stage, and names every
 * module the spec runs. Each difference is listed, by name and setting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, resolveProcessorPaths } from '../../lib/config/parse.js';
import type { SeaotterConfig } from '../../lib/config/schema.js';
import { canonicalJson, signedText, specOutsideConfig, trustKey } from '../../lib/spec-trust.js';
import { resolveStage, type PipelineSpec } from '../../lib/spec.js';

function config(opts: { dstPort?: number; stage?: string; processor?: string; extraSource?: string } = {}): SeaotterConfig {
  const text = [
    'dataSources:',
    '  src: { type: mariadb, host: 127.0.0.1, port: 3306, user: sync, passwordEnv: SRC_PW, datacenter: hz }',
    `  dst: { type: mariadb, host: 127.0.0.1, port: ${opts.dstPort ?? 3307}, user: sync, passwordEnv: DST_PW, datacenter: us }`,
    '  pics-hz: { type: s3, endpoint: "http://127.0.0.1:9000", endpoints: { us: "http://127.0.0.1:9100" }, bucket: pics, region: us-east-1, accessKeyEnv: K, secretKeyEnv: S, datacenter: hz }',
    '  pics-us: { type: dir, path: /srv/pics, datacenter: us }',
    ...(opts.extraSource ? [opts.extraSource] : []),
    opts.stage ?? 'stage: { type: s3, source: pics-hz, prefix: stage/ }',
    'pipelines:',
    '  - id: orders',
    '    source: src',
    '    target: dst',
    ...(opts.processor ? [`    processor: ${opts.processor}`] : []),
    '    tables:',
    '      - source: shop.orders',
    '        files: [{ column: pic, from: pics-hz, to: pics-us }]',
  ].join('\n');
  const r = parseConfig(text);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return resolveProcessorPaths(r.config, (p) => (p.startsWith('/') ? p : `/etc/seaotter/${p}`));
}

/** The spec `pipeline apply` would make of `c` (the parts the check reads). */
function specOf(c: SeaotterConfig): PipelineSpec {
  const p = c.pipelines[0];
  return {
    id: p.id,
    sourceName: p.source,
    targetName: p.target,
    source: c.dataSources[p.source],
    target: c.dataSources[p.target],
    stage: resolveStage(c),
    fileStores: { 'pics-hz': c.dataSources['pics-hz'], 'pics-us': c.dataSources['pics-us'] },
    tables: [{ source: { schema: 'shop', table: 'orders' }, target: { schema: 'shop', table: 'orders' }, columns: [], primaryKey: ['id'], uniqueKeys: [], weight: 0, ...(p.processor ? { processor: p.processor } : {}) }],
    rules: [],
  } as unknown as PipelineSpec;
}

test('the spec made from the same config passes', () => {
  const c = config({ processor: 'proc.mjs' });
  assert.deepEqual(specOutsideConfig(specOf(c), c), []);
  // Key order does not matter: a config parsed elsewhere may list settings in another order.
  const reordered = structuredClone(specOf(c));
  reordered.target = Object.fromEntries(Object.entries(reordered.target).reverse()) as typeof reordered.target;
  assert.deepEqual(specOutsideConfig(reordered, c), []);
  assert.equal(trustKey(reordered), trustKey(specOf(c)));
});

test('another host, port or password variable for a named data source is refused, by setting', () => {
  const c = config();
  const spec = specOf(c);
  spec.target = { ...spec.target, host: '203.0.113.9', passwordEnv: 'ROOT_PW' } as typeof spec.target;
  assert.deepEqual(specOutsideConfig(spec, c), [
    'data source "dst" differs: host: "203.0.113.9" in the pipeline, "127.0.0.1" here',
    'data source "dst" differs: passwordEnv: "ROOT_PW" in the pipeline, "DST_PW" here',
  ]);
  // The config changed since the pipeline was applied: the same message, from the other side.
  assert.deepEqual(specOutsideConfig(specOf(c), config({ dstPort: 3308 })), ['data source "dst" differs: port: 3307 in the pipeline, 3308 here']);
});

test('a pipeline, data source or file store the config does not define is refused', () => {
  const c = config();
  const spec = specOf(c);
  assert.deepEqual(specOutsideConfig({ ...spec, id: 'other' }, c), ['pipeline "other" is not defined here']);
  assert.deepEqual(specOutsideConfig({ ...spec, targetName: 'evil' }, c), [
    'the pipeline\'s target is "evil", here "dst"',
    'data source "evil" is not defined here',
  ]);
  const store = { type: 'dir', path: '/etc', datacenter: 'us' };
  assert.deepEqual(specOutsideConfig({ ...spec, fileStores: { ...spec.fileStores, 'pics-us': store } } as PipelineSpec, c), ['data source "pics-us" differs: path: "/etc" in the pipeline, "/srv/pics" here']);
  assert.deepEqual(specOutsideConfig({ ...spec, fileStores: { ...spec.fileStores, loot: store } } as PipelineSpec, c), ['data source "loot" is not defined here']);
  // A store the config defines, but for no file rule of this pipeline, is not this pipeline's.
  const other = config({ extraSource: '  spare: { type: dir, path: /srv/spare, datacenter: us }' });
  assert.deepEqual(specOutsideConfig({ ...spec, fileStores: { ...spec.fileStores, spare: other.dataSources.spare } } as PipelineSpec, other), ['file store "spare" is not named by the pipeline\'s file rules here']);
});

test('another stage is refused, local or s3', () => {
  const c = config();
  assert.deepEqual(specOutsideConfig({ ...specOf(c), stage: { type: 'local', dir: '/root' } }, c), [
    'the stage differs: dir: "/root" in the pipeline, not set here',
    'the stage differs: prefix: not set in the pipeline, "stage/" here',
    'the stage differs: source: not set in the pipeline, "pics-hz" here',
    'the stage differs: store: not set in the pipeline, ' + canonicalJson(c.dataSources['pics-hz']) + ' here',
    'the stage differs: type: "local" in the pipeline, "s3" here',
  ]);
  const local = config({ stage: 'stage: { type: local, dir: /var/lib/seaotter/stage }' });
  assert.deepEqual(specOutsideConfig({ ...specOf(local), stage: { type: 'local', dir: '/tmp/x' } }, local), ['the stage differs: dir: "/tmp/x" in the pipeline, "/var/lib/seaotter/stage" here']);
});

test('a processor or resolver module the config does not name is refused', () => {
  const c = config({ processor: 'proc.mjs' });
  const spec = specOf(c);
  assert.deepEqual(specOutsideConfig(spec, c), []);
  spec.tables[0].processor = '/tmp/evil.mjs';
  spec.rules = [{ source: 'shop.x', weight: 0, files: [{ columns: [], from: 'pics-hz', to: 'pics-us', resolver: '/tmp/res.mjs' }] }] as unknown as PipelineSpec['rules'];
  const notNamed = (m: string) => `module ${m} is not named by the pipeline here (paths relative to the config file resolve where the config is)`;
  assert.deepEqual(specOutsideConfig(spec, c), [notNamed('/tmp/evil.mjs'), notNamed('/tmp/res.mjs')]);
  // A spec that brings a `modules` list of its own is still judged by its tables and rules.
  assert.deepEqual(specOutsideConfig({ ...spec, modules: [] } as unknown as PipelineSpec, c), [notNamed('/tmp/evil.mjs'), notNamed('/tmp/res.mjs')]);
  // Relative paths in the config are the config file's (client/config-file.ts): the same module.
  assert.deepEqual(specOutsideConfig(specOf(config({ processor: '/etc/seaotter/proc.mjs' })), c), []);
});

test('the signed text is the whole spec but its signature, canonically', () => {
  const spec = specOf(config());
  const signed = { ...spec, signature: 'abcd1234:xyz' };
  assert.equal(signedText(signed), signedText(spec));
  assert.equal(signedText(Object.fromEntries(Object.entries(spec).reverse()) as unknown as PipelineSpec), signedText(spec));
  // Table mappings are signed too: the config check above does not look at them.
  const retargeted = structuredClone(spec);
  retargeted.tables[0].target.table = 'users';
  assert.notEqual(signedText(retargeted), signedText(spec));
  assert.deepEqual(specOutsideConfig(retargeted, config()), []);
});
