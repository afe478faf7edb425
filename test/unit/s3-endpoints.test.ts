/**
 * Per-datacenter S3 endpoints: which endpoint a process of each datacenter uses, that the S3
 * client really goes there, and that `endpoints` keys must be datacenters of the config.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s3ClientFor } from '../../activities/files/stores/s3-client.js';
import { endpointFor } from '../../lib/config/endpoints.js';
import { parseConfig } from '../../lib/config/parse.js';
import type { S3StoreConfig } from '../../lib/config/schema.js';

const store: S3StoreConfig = {
  type: 's3',
  bucket: 'stage',
  region: 'us-east-1',
  datacenter: 'hz',
  endpoint: 'http://10.0.0.1:7070',
  endpoints: { us: 'http://10.9.0.1:7070' },
};

const choices: { name: string; store: S3StoreConfig; dc: string | undefined; want: string | undefined }[] = [
  { name: 'a datacenter with its own endpoint uses it', store, dc: 'us', want: 'http://10.9.0.1:7070' },
  { name: 'a datacenter without one uses endpoint', store, dc: 'hz', want: 'http://10.0.0.1:7070' },
  { name: 'no datacenter (the CLI) uses endpoint', store, dc: undefined, want: 'http://10.0.0.1:7070' },
  { name: 'no endpoints map', store: { ...store, endpoints: undefined }, dc: 'us', want: 'http://10.0.0.1:7070' },
  { name: 'only a per-datacenter endpoint, other datacenter: SDK default', store: { ...store, endpoint: undefined }, dc: 'hz', want: undefined },
  { name: 'only a per-datacenter endpoint, its datacenter', store: { ...store, endpoint: undefined }, dc: 'us', want: 'http://10.9.0.1:7070' },
];

for (const c of choices) {
  test(`endpointFor: ${c.name}`, () => assert.equal(endpointFor(c.store, c.dc), c.want));
}

test('s3ClientFor connects each datacenter to its endpoint', async () => {
  for (const [dc, host] of [['us', '10.9.0.1'], ['hz', '10.0.0.1'], [undefined, '10.0.0.1']] as const) {
    const client = s3ClientFor(store, dc);
    const ep = await client.config.endpoint!();
    assert.equal(ep.hostname, host, `datacenter ${dc}`);
    assert.equal(String(ep.port), '7070');
  }
  assert.notEqual(s3ClientFor(store, 'us'), s3ClientFor(store, 'hz'), 'one client per endpoint');
  assert.equal(s3ClientFor(store, 'hz'), s3ClientFor(store, undefined), 'the same endpoint shares a client');
});

function configWith(stageStore: string): string {
  return [
    'dataSources:',
    '  src: { type: mariadb, host: 127.0.0.1, user: sync, datacenter: hz }',
    '  dst: { type: mariadb, host: 127.0.0.1, user: sync, datacenter: us }',
    `  st: ${stageStore}`,
    'stage: { type: s3, source: st }',
    'pipelines:',
    '  - { id: p, source: src, target: dst, tables: [{ source: a.b }] }',
    '',
  ].join('\n');
}

const checks: { name: string; store: string; problems: { path: string; message: RegExp }[] }[] = [
  { name: 'known datacenters', store: '{ type: s3, bucket: b, datacenter: hz, endpoint: "http://h:1", endpoints: { us: "http://u:1", hz: "http://h:2" } }', problems: [] },
  {
    name: 'a key that is no datacenter of the config',
    store: '{ type: s3, bucket: b, datacenter: hz, endpoints: { eu: "http://e:1", us: "http://u:1" } }',
    problems: [{ path: 'dataSources.st.endpoints.eu', message: /no data source is in datacenter "eu" \(known: hz, us\)/ }],
  },
  {
    name: 'a value that is no URL',
    store: '{ type: s3, bucket: b, datacenter: hz, endpoints: { us: "10.9.0.1:7070" } }',
    problems: [{ path: 'dataSources.st.endpoints.us', message: /url/i }],
  },
  {
    name: 'a key that is no datacenter name',
    store: '{ type: s3, bucket: b, datacenter: hz, endpoints: { "u s": "http://u:1" } }',
    problems: [{ path: 'dataSources.st.endpoints.u s', message: /no data source is in datacenter "u s"/ }],
  },
];

for (const c of checks) {
  test(`config check of endpoints: ${c.name}`, () => {
    const r = parseConfig(configWith(c.store));
    if (!c.problems.length) {
      assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
      return;
    }
    assert.ok(!r.ok, 'expected problems');
    assert.equal(r.problems.length, c.problems.length, JSON.stringify(r.problems));
    for (const [i, want] of c.problems.entries()) {
      assert.equal(r.problems[i]!.path, want.path);
      assert.match(r.problems[i]!.message, want.message);
    }
  });
}
