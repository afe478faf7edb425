import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../lib/config/parse.js';

const config = (ora: string) => `dataSources:
  src: { type: mariadb, host: 127.0.0.1, user: u, datacenter: hz }
  ora: ${ora}
pipelines:
  - id: to-oracle
    source: src
    target: ora
    tables: [{ source: shop.orders, target: APP.ORDERS }]
`;

test('an Oracle target: metaSchema is optional (default: the user\'s schema) and may be set', () => {
  const plain = parseConfig(config('{ type: oracle, connectString: "db:1521/ORCLPDB1", user: app, passwordEnv: ORA_PW, datacenter: us }'));
  assert.ok(plain.ok, JSON.stringify(!plain.ok && plain.problems));
  const ds = plain.config.dataSources.ora;
  assert.equal(ds.type, 'oracle');
  assert.equal(ds.type === 'oracle' && ds.metaSchema, undefined);
  const set = parseConfig(config('{ type: oracle, connectString: "db:1521/ORCLPDB1", user: app, datacenter: us, metaSchema: SEAOTTER }'));
  assert.ok(set.ok);
  const d2 = set.config.dataSources.ora;
  assert.equal(d2.type === 'oracle' && d2.metaSchema, 'SEAOTTER');
});

test('an Oracle metaSchema that is not a plain schema name is a problem at its path', () => {
  const r = parseConfig(config('{ type: oracle, connectString: "db:1521/X", user: app, datacenter: us, metaSchema: "my schema" }'));
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path), ['dataSources.ora.metaSchema']);
  assert.match(r.problems[0].message, /an Oracle schema name/);
});
