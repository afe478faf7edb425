/**
 * Bad input is refused clearly: `config check` lists every problem by path; `pipeline apply`
 * refuses (and starts nothing) when tables, keys, columns or the source binlog are wrong; unknown
 * pipelines are a one-line user error; an unreachable server is exit code 2.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { freePort } from '../../client/servers/ports.js';
import { resolveTemporalBin } from '../../client/servers/temporal-dev.js';
import { Cluster, waitFor, type CliResult } from '../support/cluster.js';

const execFileAsync = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../client/main.js', import.meta.url));

let cluster: Cluster;
let src: Connection;
let dst: Connection;

/** Runs the CLI with exactly the given environment changes on top of the cluster's. */
function run(args: string[], env: NodeJS.ProcessEnv = cluster.env(), timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function configFile(name: string, text: string): Promise<string> {
  const file = path.join(cluster.dir, name);
  await writeFile(file, text);
  return file;
}

function pipelineYaml(id: string, tables: string[]): string {
  return `${cluster.dataSourcesYaml()}
pipelines:
  - id: ${id}
    source: src
    target: dst
    start: current
    tables:
${tables.map((t) => `      - source: ${t}`).join('\n')}
`;
}

/** Resolves when no workflow with this id exists at all (not running, not closed). */
async function assertNoWorkflow(pipelineId: string): Promise<void> {
  await assert.rejects(cluster.client.workflow.getHandle(`seaotter-pipeline-${pipelineId}`).describe(), /not found/i);
}

before(async () => {
  cluster = await Cluster.start({ name: 'badinput' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE shop');
    await c.query('CREATE TABLE shop.good (id INT PRIMARY KEY, v INT)');
    await c.query('CREATE TABLE shop.nopk (a INT, b INT)');
    await c.query('CREATE TABLE shop.places (id INT PRIMARY KEY, at POINT, area POLYGON)');
  }
  await src.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT, note VARCHAR(100))');
  await dst.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT)');
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('config check: three mistakes in one file → exit 1, each listed by path', async () => {
  const file = await configFile(
    'three.yaml',
    `dataSources:
  src: { type: mariadb, host: 127.0.0.1, port: 70000, user: u, datacenter: hz }
  dst: { type: mariadb, host: 127.0.0.1, user: u, datacenter: hz }
pipelines:
  - id: p
    source: src
    target: dst
    start: { gtid: "zero" }
    tables: [{ source: shop.good }]
    load: { mode: fast }
`,
  );
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /3 problem\(s\)/);
  assert.match(r.stderr, /^\s*dataSources\.src\.port: .*65535/m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.start\.gtid: .*GTID/m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.load\.mode: .*atomic/m);
  assert.equal(r.stdout, '');
});

test('config check: three reference mistakes → exit 1, each listed by path', async () => {
  const file = await configFile(
    'refs.yaml',
    `${cluster.dataSourcesYaml()}
pipelines:
  - id: p
    source: nosuch
    target: dst
    tables: [{ source: shop.good, columns: { include: [a], exclude: [b] } }]
    twoWay: { peer: gone }
`,
  );
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.source: no data source named "nosuch"/m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.tables\[0\]\.columns: /m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.twoWay\.peer: no pipeline with id "gone"/m);
});

test('config check: a valid file → exit 0', async () => {
  const file = await configFile('valid.yaml', pipelineYaml('ok', ['shop.good']));
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(1 pipeline\(s\), 2 data source\(s\)\)/);
});

test('config check: twoWay, which apply would refuse, is a problem here too', async () => {
  const file = await configFile(
    'two-way.yaml',
    `${cluster.dataSourcesYaml()}
pipelines:
  - { id: there, source: src, target: dst, tables: [{ source: shop.good }], twoWay: { peer: back } }
  - { id: back, source: dst, target: src, tables: [{ source: shop.good }] }
`,
  );
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /1 problem\(s\):\n\s*pipelines\.there\.twoWay: two-way sync is not supported by this build yet/);
  assert.equal(r.stdout, '');
});

test('config check: a missing file → exit 1 with a one-line reason naming the file', async () => {
  const file = path.join(cluster.dir, 'does-not-exist.yaml');
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /cannot read config .*does-not-exist\.yaml/);
  assert.match(lines[0], /ENOENT|no such file|not found/i);
});

test('pipeline apply refuses a missing table, a table without primary key, a target lacking a column and spatial columns; starts nothing', async () => {
  const file = await configFile('bad-tables.yaml', pipelineYaml('badtables', ['shop.ghost', 'shop.nopk', 'shop.orders', 'shop.good', 'shop.places']));
  const r = await run(['pipeline', 'apply', '--config', file]);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /tables\[0\]: no source table matches "shop\.ghost"/);
  assert.match(r.stderr, /tables\[1\]: source table shop\.nopk has no primary key/);
  assert.match(r.stderr, /tables\[2\]: target table shop\.orders lacks column\(s\) note/);
  assert.doesNotMatch(r.stderr, /tables\[3\]/, 'the good table is not a problem');
  assert.match(r.stderr, /tables\[4\]: source table shop\.places has spatial column\(s\) at point, area polygon, which seaotter cannot capture yet/);
  assert.doesNotMatch(r.stdout, /started/);
  await assertNoWorkflow('badtables');
});

test('pipeline apply refuses a source with binlog_format=STATEMENT, saying how to set it', async () => {
  const file = await configFile('stmt.yaml', pipelineYaml('stmt', ['shop.good']));
  await src.query("SET GLOBAL binlog_format = 'STATEMENT'");
  let r: CliResult;
  try {
    r = await run(['pipeline', 'apply', '--config', file]);
  } finally {
    await src.query("SET GLOBAL binlog_format = 'ROW'");
  }
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /binlog_format is STATEMENT/);
  assert.match(r.stderr, /SET GLOBAL binlog_format='ROW'/);
  assert.match(r.stderr, /my\.cnf/);
  await assertNoWorkflow('stmt');
  // With the binlog fixed the same file applies (no worker needed to start the workflow).
  const ok = await run(['pipeline', 'apply', '--config', file]);
  assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
  assert.match(ok.stdout, /stmt: started/);
  const d = await cluster.client.workflow.getHandle('seaotter-pipeline-stmt').describe();
  assert.equal(d.type, 'pipelineWorkflow');
  await cluster.client.workflow.getHandle('seaotter-pipeline-stmt').terminate('test done');
});

test('unknown pipeline: pause/resume/stop/status nosuch → exit 1 with a one-line reason', async () => {
  for (const args of [['pause', 'nosuch'], ['resume', 'nosuch'], ['stop', 'nosuch'], ['status', 'nosuch']]) {
    const r = await run(['pipeline', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line expected:\n${r.stderr}`);
    assert.match(lines[0], /^seaotter: .*"nosuch"/);
  }
});

test('Temporal unreachable → exit 2 (pause, status, apply)', async () => {
  const env = { ...cluster.env(), TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const file = await configFile('unreachable.yaml', pipelineYaml('unreach', ['shop.good']));
  for (const args of [['pipeline', 'pause', 'x'], ['pipeline', 'status'], ['pipeline', 'apply', '--config', file]]) {
    const started = Date.now();
    const r = await run(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /cannot reach .*127\.0\.0\.1:1/, r.stderr);
    assert.ok(Date.now() - started < 15_000, `${args.join(' ')} took ${Date.now() - started} ms`);
  }
  await assertNoWorkflow('unreach');
});

test('Temporal unreachable → a worker says so and tries again with backoff; a malformed TEMPORAL_ADDRESS → exit 1', async () => {
  const file = await configFile('worker-unreachable.yaml', pipelineYaml('wunreach', ['shop.good']));
  const worker = spawn(process.execPath, [MAIN, 'worker', '--config', file, '--dc', 'hz'], { env: { ...cluster.env(), TEMPORAL_ADDRESS: '127.0.0.1:1' } });
  let stderr = '';
  worker.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 20_000;
    while ((stderr.match(/trying again/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const lines = stderr.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [
      'seaotter worker: cannot reach Temporal at 127.0.0.1:1 (connection refused); trying again in 1 s',
      'seaotter worker: cannot reach Temporal at 127.0.0.1:1 (connection refused); trying again in 2 s',
    ], stderr);
    assert.equal(worker.exitCode, null, 'the worker waits for Temporal rather than exiting');
  } finally {
    worker.kill('SIGTERM');
  }
  assert.notEqual(await exited, 0);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');

  for (const address of ['http://127.0.0.1:7233', '']) {
    const r = await run(['pipeline', 'status'], { ...cluster.env(), TEMPORAL_ADDRESS: address });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `seaotter: TEMPORAL_ADDRESS must be host:port (e.g. 127.0.0.1:7233), not ${JSON.stringify(address)}`);
  }
});

test('something other than Temporal at TEMPORAL_ADDRESS → exit 2 with a one-line reason', async () => {
  // An HTTP/2 server that answers every call 404, as a proxy or another service would.
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 404 });
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    for (const args of [['pipeline', 'status'], ['pipeline', 'pause', 'x']]) {
      const r = await run(args, { ...cluster.env(), TEMPORAL_ADDRESS: address });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^seaotter: Temporal at ${address} did not answer as expected: .*404`), r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    server.close();
  }
});

test('Temporal refuses: an unknown namespace, or one without seaotter\'s search attributes → exit 1 with a one-line reason', async () => {
  const file = await configFile('namespaces.yaml', pipelineYaml('nsx', ['shop.good']));
  const unknown = await run(['pipeline', 'apply', '--config', file], { ...cluster.env(), TEMPORAL_NAMESPACE: 'nosuch' });
  assert.equal(unknown.code, 1, unknown.stderr);
  assert.match(unknown.stderr, /^seaotter: .*nosuch/);
  assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);

  await execFileAsync(resolveTemporalBin(), ['operator', 'namespace', 'create', '--namespace', 'bare', '--address', cluster.temporal.address]);
  const bare = await waitFor('the new namespace to answer', async () => {
    const r = await run(['pipeline', 'apply', '--config', file], { ...cluster.env(), TEMPORAL_NAMESPACE: 'bare' });
    return /nosuch|not found/i.test(r.stderr) && !/search attribute/i.test(r.stderr) ? null : r;
  }, 30_000, 500);
  assert.equal(bare.code, 1, bare.stderr);
  assert.match(bare.stderr, /^seaotter: Temporal at .* refused the request: .*search attribute.*register seaotter's search attributes/i);
  assert.equal(bare.stderr.trim().split('\n').length, 1, bare.stderr);
});

test('a data source that is not listening → pipeline apply exits 2', async () => {
  const port = await freePort();
  const file = await configFile(
    'db-down.yaml',
    pipelineYaml('dbdown', ['shop.good']).replace(`port: ${cluster.source.port}`, `port: ${port}`),
  );
  const r = await run(['pipeline', 'apply', '--config', file]);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`cannot reach data source src at 127\\.0\\.0\\.1:${port}`));
  await assertNoWorkflow('dbdown');
});

test('config check: overlapping rules (both named), a bad regex and a group of an excluded column, each by path; then a missing processor', async () => {
  const file = await configFile(
    'columns.yaml',
    `${cluster.dataSourcesYaml()}
pipelines:
  - id: cols
    source: src
    target: dst
    tables:
      - source: "shop\\\\.go+d"
      - source: shop.good
      - source: "shop\\\\.(bad"
      - source: shop.orders
        columns: { exclude: [note], groups: [[qty, note]] }
`,
  );
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /3 problem\(s\)/);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.tables\[1\]\.source: shop\.good is matched by both pipelines\[0\]\.tables\[0\] \("shop\\\.go\+d"\) and pipelines\[0\]\.tables\[1\] \("shop\.good"\)/m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.tables\[2\]\.source: not a valid regex/m);
  assert.match(r.stderr, /^\s*pipelines\[0\]\.tables\[3\]\.columns\.groups\[0\]\[1\]: "note" is excluded/m);

  const proc = await configFile('processor.yaml', `${pipelineYaml('proc', ['shop.good'])}    processor: ./processors/none.mjs\n`);
  const p = await run(['config', 'check', '--config', proc]);
  assert.equal(p.code, 1, p.stderr);
  assert.ok(p.stderr.includes(`pipelines[0].processor: cannot read module ${path.join(cluster.dir, 'processors', 'none.mjs')}: no such file`), p.stderr);
});

test('pipeline apply refuses overlapping regexes and column rules naming columns the source table lacks, by path and table; starts nothing', async () => {
  const file = await configFile(
    'apply-columns.yaml',
    `${cluster.dataSourcesYaml()}
pipelines:
  - id: overlap
    source: src
    target: dst
    tables:
      - source: "shop\\\\.(good|nopk2)"
      - source: "shop\\\\.go+d"
  - id: badcols
    source: src
    target: dst
    tables:
      - source: shop.orders
        columns:
          exclude: [note, nope]
          rename: { qtty: q }
          groups: [[qty, ghost]]
          add: { origin: { copy: missing } }
        where: { gone: 1 }
`,
  );
  const r = await run(['pipeline', 'apply', '--config', file]);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /pipelines\.overlap\.tables\[1\]: shop\.good is matched by both pipelines\.overlap\.tables\[0\] \("shop\\\.\(good\|nopk2\)"\) and tables\[1\] \("shop\\\.go\+d"\)/);
  const at = 'pipelines.badcols.tables[0]';
  for (const line of [
    `${at}.columns.exclude: the source table shop.orders has no column "nope"`,
    `${at}.columns.rename.qtty: the source table shop.orders has no column "qtty"`,
    `${at}.columns.groups[0][1]: the source table shop.orders has no column "ghost"`,
    `${at}.columns.add.origin.copy: the source table shop.orders has no column "missing"`,
    `${at}.where: the source table shop.orders has no column "gone"`,
  ]) {
    assert.ok(r.stderr.includes(line), `missing "${line}" in:\n${r.stderr}`);
  }
  await assertNoWorkflow('overlap');
  await assertNoWorkflow('badcols');
});
