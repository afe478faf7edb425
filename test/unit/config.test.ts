/**
 * parseConfig: every kind of mistake is reported by its path with a useful message, several at
 * once are all listed, and a valid config comes back with its defaults filled in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, type ConfigProblem } from '../../lib/config/parse.js';

/** Two good MariaDB data sources and a dir store, in YAML flow style (one line each). */
const DS = {
  src: '{ type: mariadb, host: 127.0.0.1, port: 3306, user: sync, passwordEnv: SRC_PW, datacenter: hz }',
  dst: '{ type: mariadb, host: 127.0.0.1, port: 3307, user: sync, passwordEnv: DST_PW, datacenter: us }',
  pics: '{ type: dir, path: /srv/pics, datacenter: us }',
};

/** A config built from parts; each part defaults to something valid. */
function config(parts: { dataSources?: Record<string, string>; extraTop?: string; pipelines?: string[] } = {}): string {
  const ds = parts.dataSources ?? DS;
  const pipelines = parts.pipelines ?? [pipeline()];
  return [
    'dataSources:',
    ...Object.entries(ds).map(([k, v]) => `  ${k}: ${v}`),
    ...(parts.extraTop ? [parts.extraTop] : []),
    'pipelines:',
    ...pipelines,
  ].join('\n') + '\n';
}

/** One pipeline list item; `extra` lines go under it (already indented four spaces). */
function pipeline(o: { id?: string; source?: string; target?: string; tables?: string; extra?: string[] } = {}): string {
  return [
    `  - id: ${o.id ?? 'orders'}`,
    `    source: ${o.source ?? 'src'}`,
    `    target: ${o.target ?? 'dst'}`,
    `    tables: ${o.tables ?? '[{ source: shop.orders }]'}`,
    ...(o.extra ?? []),
  ].join('\n');
}

interface Case {
  name: string;
  text: string;
  path: string;
  message: RegExp;
}

const cases: Case[] = [
  {
    name: 'invalid YAML',
    text: 'dataSources: {}\nstage: type: local\npipelines: []\n',
    path: 'line 2',
    message: /not valid YAML/,
  },
  {
    name: 'unknown top-level key',
    text: config({ extraTop: 'sources: {}' }),
    path: '(top level)',
    message: /unknown key\(s\): sources/,
  },
  {
    name: 'an S3 access key without its secret',
    text: config({ dataSources: { ...DS, s3: '{ type: s3, bucket: b, accessKeyEnv: S3_KEY, datacenter: us }' } }),
    path: 'dataSources.s3.secretKeyEnv',
    message: /together, or neither/,
  },
  {
    name: 'an S3 key variable that is not a variable name',
    text: config({ dataSources: { ...DS, s3: '{ type: s3, bucket: b, accessKeyEnv: "a b", secretKeyEnv: S3_SECRET, datacenter: us }' } }),
    path: 'dataSources.s3.accessKeyEnv',
    message: /must name an environment variable/,
  },
  {
    name: 'onError skip with the stage in S3',
    text: config({
      dataSources: { ...DS, s3: '{ type: s3, bucket: b, datacenter: us }' },
      extraTop: 'stage: { type: s3, source: s3 }',
      pipelines: [pipeline({ extra: ['    load: { onError: skip }'] })],
    }),
    path: 'pipelines[0].load.onError',
    message: /local stage/,
  },
  {
    name: 'missing dataSources',
    text: `pipelines:\n${pipeline()}\n`,
    path: 'dataSources',
    message: /received undefined|required|missing/i,
  },
  {
    name: 'data source with a bad type',
    text: config({ dataSources: { ...DS, src: '{ type: postgres, host: h, user: u, datacenter: hz }' } }),
    path: 'dataSources.src.type',
    message: /mariadb/,
  },
  {
    name: 'missing host',
    text: config({ dataSources: { ...DS, src: '{ type: mariadb, user: u, datacenter: hz }' } }),
    path: 'dataSources.src.host',
    message: /required/,
  },
  {
    name: 'port out of range',
    text: config({ dataSources: { ...DS, dst: '{ type: mysql, host: h, port: 70000, user: u, datacenter: us }' } }),
    path: 'dataSources.dst.port',
    message: /65535/,
  },
  {
    name: 'passwordEnv that is not an environment variable name',
    text: config({ dataSources: { ...DS, src: '{ type: mariadb, host: h, user: u, passwordEnv: "SRC-PW", datacenter: hz }' } }),
    path: 'dataSources.src.passwordEnv',
    message: /environment variable/,
  },
  {
    name: 'pipeline source naming an unknown data source',
    text: config({ pipelines: [pipeline({ source: 'nosuch' })] }),
    path: 'pipelines[0].source',
    message: /no data source named "nosuch"/,
  },
  {
    name: 'target of type dir',
    text: config({ pipelines: [pipeline({ target: 'pics' })] }),
    path: 'pipelines[0].target',
    message: /type dir.*target must be/,
  },
  {
    name: 'source and target the same',
    text: config({ pipelines: [pipeline({ target: 'src' })] }),
    path: 'pipelines[0].target',
    message: /same data source/,
  },
  {
    name: 'duplicate pipeline ids',
    text: config({ pipelines: [pipeline({ id: 'orders' }), pipeline({ id: 'orders', tables: '[{ source: shop.items }]' })] }),
    path: 'pipelines[1].id',
    message: /duplicate pipeline id "orders".*pipelines\[0\]/,
  },
  {
    name: 'tables empty',
    text: config({ pipelines: [pipeline({ tables: '[]' })] }),
    path: 'pipelines[0].tables',
    message: /at least one table/,
  },
  {
    name: 'bad regex in tables[].source',
    text: config({ pipelines: [pipeline({ tables: '[{ source: "shop\\\\.(order_\\\\d+" }]' })] }),
    path: 'pipelines[0].tables[0].source',
    message: /not a valid regex/,
  },
  {
    name: 'target using $2 when the pattern has one group',
    text: config({ pipelines: [pipeline({ tables: '[{ source: "shop\\\\.order_(\\\\d+)", target: "shop_us.orders_$2" }]' })] }),
    path: 'pipelines[0].tables[0].target',
    message: /\$2.*1 group/,
  },
  {
    name: 'columns include and exclude both given',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders, columns: { include: [a], exclude: [b] } }]' })] }),
    path: 'pipelines[0].tables[0].columns',
    message: /include or exclude, not both/,
  },
  {
    name: 'the same exact table mapped twice',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders }, { source: shop.items }, { source: shop.orders, target: x.y }]' })] }),
    path: 'pipelines[0].tables[2].source',
    message: /"shop\.orders" is also mapped by pipelines\[0\]\.tables\[0\]/,
  },
  {
    name: 'an exact table that another rule\'s regex also matches (both rules named)',
    text: config({ pipelines: [pipeline({ tables: '[{ source: "shop\\\\.order_\\\\d+" }, { source: shop.order_7 }]' })] }),
    path: 'pipelines[0].tables[1].source',
    message: /shop\.order_7 is matched by both pipelines\[0\]\.tables\[0\] \("shop\\\.order_\\d\+"\) and pipelines\[0\]\.tables\[1\] \("shop\.order_7"\)/,
  },
  {
    name: 'a column group with an excluded column',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders, columns: { exclude: [zip], groups: [[street, zip]] } }]' })] }),
    path: 'pipelines[0].tables[0].columns.groups[0][1]',
    message: /"zip" is excluded, so it cannot be in a group/,
  },
  {
    name: 'an empty column group',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders, columns: { groups: [[]] } }]' })] }),
    path: 'pipelines[0].tables[0].columns.groups[0]',
    message: /at least one column/,
  },
  {
    name: 'a derived column that is also a rename target',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders, columns: { rename: { dc: region }, add: { region: { value: hz } } } }]' })] }),
    path: 'pipelines[0].tables[0].columns.add.region',
    message: /already the target of rename dc/,
  },
  {
    name: 'a derived column of an unknown kind',
    text: config({ pipelines: [pipeline({ tables: '[{ source: shop.orders, columns: { add: { region: { expr: "1+1" } } } }]' })] }),
    path: 'pipelines[0].tables[0].columns.add.region',
    message: /expected \{ value: … \}, \{ source: table \| schema \| name \} or \{ copy: column \}/,
  },
  {
    name: "mode 'diff'",
    text: config({ pipelines: [pipeline({ extra: ['    mode: diff'] })] }),
    path: 'pipelines[0].mode',
    message: /row.*field/,
  },
  {
    name: 'batch.maxRows 0',
    text: config({ pipelines: [pipeline({ extra: ['    batch: { maxRows: 0 }'] })] }),
    path: 'pipelines[0].batch.maxRows',
    message: />=\s*1/,
  },
  {
    name: "load.mode 'fast'",
    text: config({ pipelines: [pipeline({ extra: ['    load: { mode: fast }'] })] }),
    path: 'pipelines[0].load.mode',
    message: /atomic.*parallel/,
  },
  {
    name: 'start with a malformed GTID',
    text: config({ pipelines: [pipeline({ extra: ['    start: { gtid: "0-1" }'] })] }),
    path: 'pipelines[0].start.gtid',
    message: /MariaDB GTID such as "0-1-100"/,
  },
  {
    name: 'twoWay peer missing',
    text: config({ pipelines: [pipeline({ extra: ['    twoWay: { peer: orders-back }'] })] }),
    path: 'pipelines[0].twoWay.peer',
    message: /no pipeline with id "orders-back"/,
  },
];

function problemsOf(text: string): ConfigProblem[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, `expected problems, but the config parsed:\n${text}`);
  return r.ok ? [] : r.problems;
}

for (const c of cases) {
  test(`config mistake: ${c.name}`, () => {
    const problems = problemsOf(c.text);
    const hit = problems.find((p) => p.path === c.path);
    assert.ok(hit, `no problem at ${c.path}; got ${JSON.stringify(problems)}`);
    assert.match(hit.message, c.message);
    // One mistake, one problem: nothing else in these configs is wrong.
    assert.equal(problems.length, 1, `exactly one problem expected, got ${JSON.stringify(problems)}`);
  });
}

test('the base config of the mistake cases is itself valid', () => {
  const r = parseConfig(config());
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
});

/** CONTRACT.md's example, adapted to pass (its orders-back peer now exists and runs dst → src). */
const CONTRACT_EXAMPLE = String.raw`
dataSources:
  src:  { type: mariadb, host: 127.0.0.1, port: 3306, user: sync, passwordEnv: SRC_PW, datacenter: hz }
  dst:  { type: mysql,   host: 127.0.0.1, port: 3307, user: sync, passwordEnv: DST_PW, datacenter: us }
  ora:  { type: oracle,  connectString: "host:1521/service", user: app, passwordEnv: ORA_PW, datacenter: us }
  pics-hz: { type: s3, endpoint: "http://127.0.0.1:9000", bucket: pics, region: us-east-1,
             accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: hz }
  pics-us: { type: dir, path: /srv/pics, datacenter: us }          # a local directory as a file store
stage: { type: local, dir: /var/lib/seaotter/stage }
pipelines:
  - id: orders
    source: src
    target: dst
    start: { gtid: "0-1-100" }
    tables:
      - source: "shop\\.order_(\\d+)"
        target: "shop_us.orders_$1"
        columns: { exclude: [internal_note], rename: { buyer: buyer_id } }
        where: { status: { in: [paid, shipped] } }
        weight: 10
        files:
          - column: pic_path
            from: pics-hz
            to: pics-us
    batch: { maxRows: 5000, maxWaitMs: 200 }
    load: { mode: atomic, parallelism: 4, onError: halt }
    ddl: apply
    consistency: binlog
    twoWay: { peer: orders-back }
  - id: orders-back
    source: dst
    target: src
    start: { file: bin.000003, pos: 4 }
    tables:
      - source: shop_us.orders
        target: shop.orders
    twoWay: { peer: orders }
  - id: to-oracle
    source: src
    target: ora
    tables:
      - source: shop.customers
`;

test('a full valid config parses, with defaults filled in', () => {
  const r = parseConfig(CONTRACT_EXAMPLE);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const c = r.config;
  assert.deepEqual(Object.keys(c.dataSources), ['src', 'dst', 'ora', 'pics-hz', 'pics-us']);
  assert.equal(c.pipelines.length, 3);
  const [orders, back, ora] = c.pipelines;
  assert.deepEqual(orders.start, { gtid: '0-1-100' });
  assert.equal(orders.batch.maxWaitMs, 200);
  assert.equal(orders.ddl, 'apply');
  assert.equal(orders.tables[0].weight, 10);
  assert.deepEqual(orders.tables[0].where, { status: { in: ['paid', 'shipped'] } });
  assert.deepEqual(back.start, { file: 'bin.000003', pos: 4 });
  // Defaults.
  assert.equal(ora.start, 'current');
  assert.deepEqual(ora.batch, { maxRows: 20000, maxWaitMs: 50, maxInFlight: 4, inlineMaxBytes: 0, idleAdvanceSeconds: 300 });
  assert.deepEqual(ora.load, { mode: 'atomic', parallelism: 4, onError: 'halt' });
  assert.equal(ora.ddl, 'skip');
  assert.equal(ora.consistency, 'binlog');
  assert.equal(ora.continueAsNewEvery, 500);
  assert.equal(ora.tables[0].weight, 0);
  assert.equal(ora.twoWay, undefined);
  const src = c.dataSources.src;
  assert.equal(src.type, 'mariadb');
  if (src.type === 'mariadb') assert.equal(src.metaSchema, 'seaotter');
  const s3 = c.dataSources['pics-hz'];
  if (s3.type === 's3') assert.equal(s3.region, 'us-east-1');
});

test('defaults: port 3306, stage local, batch settings from an empty batch block', () => {
  const r = parseConfig(
    config({
      dataSources: { src: '{ type: mariadb, host: h, user: u, datacenter: hz }', dst: DS.dst },
      pipelines: [pipeline({ extra: ['    batch: {}'] })],
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const src = r.config.dataSources.src;
  assert.ok(src.type === 'mariadb' && src.port === 3306 && src.passwordEnv === undefined);
  assert.deepEqual(r.config.stage, { type: 'local', dir: '/var/lib/seaotter/stage' });
  assert.equal(r.config.pipelines[0].batch.maxRows, 20000);
});

test('JSON is accepted too', () => {
  const r = parseConfig(
    JSON.stringify({
      dataSources: { a: { type: 'mariadb', host: 'h', user: 'u', datacenter: 'x' }, b: { type: 'mysql', host: 'h', user: 'u', datacenter: 'x' } },
      pipelines: [{ id: 'p', source: 'a', target: 'b', tables: [{ source: 's.t' }] }],
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
});

test('several schema mistakes at once are all listed, each by path', () => {
  const problems = problemsOf(
    config({
      dataSources: {
        src: '{ type: mariadb, host: h, port: 0, user: u, passwordEnv: "1PW", datacenter: hz }',
        dst: '{ type: mariadb, user: u, datacenter: us, colour: blue }',
      },
      extraTop: 'extra: 1',
      pipelines: [
        pipeline({ tables: '[]', extra: ['    batch: { maxRows: 0 }', '    load: { mode: fast, onError: retry }'] }),
        pipeline({ id: 'b', extra: ['    start: { gtid: "x" }'] }),
      ],
    }),
  );
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    '(top level)',
    'dataSources.dst',
    'dataSources.dst.host',
    'dataSources.src.passwordEnv',
    'dataSources.src.port',
    'pipelines[0].batch.maxRows',
    'pipelines[0].load.mode',
    'pipelines[0].load.onError',
    'pipelines[0].tables',
    'pipelines[1].start.gtid',
  ]);
  assert.match(problems.find((p) => p.path === 'dataSources.dst')!.message, /unknown key\(s\): colour/);
});

test('several reference mistakes at once are all listed, each by path', () => {
  const problems = problemsOf(
    config({
      pipelines: [
        pipeline({
          source: 'nosuch',
          target: 'pics',
          tables: '[{ source: "a\\\\.(b", target: x.y }, { source: "s\\\\.(t)", target: "s.$3" }, { source: s.t, columns: { include: [a], exclude: [b] } }, { source: s.t }]',
          extra: ['    twoWay: { peer: gone }'],
        }),
        pipeline({ id: 'orders', target: 'src' }),
      ],
    }),
  );
  assert.deepEqual(
    problems.map((p) => p.path),
    [
      'pipelines[0].source',
      'pipelines[0].target',
      'pipelines[0].tables[0].source',
      'pipelines[0].tables[1].target',
      'pipelines[0].tables[2].columns',
      'pipelines[0].tables[3].source',
      // s.t is also matched by the regex of tables[1].
      'pipelines[0].tables[2].source',
      'pipelines[0].twoWay.peer',
      'pipelines[1].id',
      'pipelines[1].target',
    ],
  );
});

test('a schema mistake does not hide reference mistakes: both are listed, each once', () => {
  const problems = problemsOf(
    config({
      pipelines: [
        pipeline({ target: 'nope', extra: ['    batch: { maxRows: -5 }'] }),
        pipeline({ id: 'b', tables: '[{ source: "a\\\\.(b" }]', extra: ['    mode: fast'] }),
        // A wrong value at a path the references check too: reported once, by the schema.
        pipeline({ id: 'c', source: '[1, 2]' }),
      ],
    }),
  );
  assert.deepEqual(problems.map((p) => p.path).sort(), [
    'pipelines[0].batch.maxRows',
    'pipelines[0].target',
    'pipelines[1].mode',
    'pipelines[1].tables[0].source',
    'pipelines[2].source',
  ]);
  assert.match(problems.find((p) => p.path === 'pipelines[0].target')!.message, /no data source named "nope"/);
});

test('twoWay peer must run the opposite direction', () => {
  const problems = problemsOf(
    config({
      pipelines: [
        pipeline({ id: 'a', extra: ['    twoWay: { peer: b }'] }),
        pipeline({ id: 'b', tables: '[{ source: shop.items }]' }),
      ],
    }),
  );
  assert.equal(problems.length, 1);
  assert.equal(problems[0].path, 'pipelines[0].twoWay.peer');
  assert.match(problems[0].message, /must run dst → src/);
});

test('a file that is not a mapping is one clear problem', () => {
  for (const text of ['', '42', '- a\n- b\n']) {
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /expected a mapping/);
  }
});

test('examples/two-datacenters.yaml is a valid config with the cross-datacenter settings README recommends', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../../../examples/two-datacenters.yaml', import.meta.url), 'utf8');
  const r = parseConfig(text);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const p = r.config.pipelines[0]!;
  assert.deepEqual([p.batch.maxInFlight, p.batch.inlineMaxBytes], [16, 1048576]);
  assert.equal(p.tables[0]!.files?.[0]?.to, 'pics-us');
  const pics = r.config.dataSources['pics-hz'] as { endpoints?: Record<string, string>; datacenter: string };
  assert.deepEqual([pics.datacenter, Object.keys(pics.endpoints ?? {})], ['hz', ['us']]);
});

test('apply refuses twoWay before it asks any server, so an unreachable one cannot hide why', async () => {
  const { resolvePipelines } = await import('../../client/resolve.js');
  const r = parseConfig(
    config({
      // Nothing listens on port 1: reaching the databases first would fail with "cannot reach".
      dataSources: { ...DS, src: DS.src.replace('port: 3306', 'port: 1'), dst: DS.dst.replace('port: 3307', 'port: 1') },
      pipelines: [pipeline({ extra: ['    twoWay: { peer: back }'] }), pipeline({ id: 'back', source: 'dst', target: 'src' })],
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  await assert.rejects(resolvePipelines(r.config), (err: Error & { exitCode?: number }) => {
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /pipelines\.orders\.twoWay: two-way sync is not supported by this build yet/);
    return true;
  });
});
