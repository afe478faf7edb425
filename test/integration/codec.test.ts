/**
 * Encrypted payloads on real servers: with SEAOTTER_CODEC_KEY on the worker and the CLI, a
 * pipeline syncs as usual, the raw history (read without the codec) holds only ciphertext, a
 * client with the codec reads it normally, and `seaotter codec-server` decodes it for the
 * `temporal` CLI (the same endpoint the Web UI calls).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Connection as SqlConnection } from 'mysql2/promise';
import { codecFromEnv, ENCRYPTED_ENCODING } from '../../client/codec.js';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { freePort, spawnServer, stopPid, tailFile, waitForPort } from '../../client/servers/ports.js';
import { runSeaotter, SEAOTTER_MAIN } from '../../client/servers/seaotter-process.js';
import { resolveTemporalBin } from '../../client/servers/temporal-dev.js';
import type { PipelineWorkflowInput } from '../../workflows/pipeline-state.js';
import { Cluster, dumpTable, waitFor } from '../support/cluster.js';

const run = promisify(execFile);
const KEY = randomBytes(32).toString('base64');
const CANARY = 'PLAINTEXT-CANARY-12345';
const TABLE = 'vault.canary_secrets';
const PIPELINE_ID = 'seaotter-pipeline-vault';

const VAULT_PIPELINE = `  - id: vault
    source: src
    target: dst
    start: current
    tables:
      - source: ${TABLE}
      - source: vault.typed
    batch: { maxRows: 2, maxWaitMs: 50 }
`;
const LATER_PIPELINE = '  - id: later\n    source: src\n    target: dst\n    start: current\n    tables: [{ source: vault.later }]\n';

let cluster: Cluster;
let src: SqlConnection;
let dst: SqlConnection;
let plainConnection: Connection;
let plain: Client;

before(async () => {
  cluster = await Cluster.start({ name: 'codec', codecKey: KEY });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE vault');
    await c.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, secret VARCHAR(64))`);
  }
  // A column the target holds as a number: a text the source puts there is refused, with the
  // value quoted in the server's error (see the last test).
  await src.query('CREATE TABLE vault.typed (id INT PRIMARY KEY, v VARCHAR(40))');
  await dst.query('CREATE TABLE vault.typed (id INT PRIMARY KEY, v INT)');
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\npipelines:\n${VAULT_PIPELINE}`);
  const worker = cluster.startWorker();
  await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
  // The whole log: the line comes first, and the capture's start can follow it within the second.
  await waitFor('the worker to say its payloads are encrypted', async () => /payloads are encrypted with key id [0-9a-f]{8}/.test(fs.readFileSync(worker.logFile, 'utf8')));
  plainConnection = await Connection.connect({ address: cluster.temporal.address });
  plain = new Client({ connection: plainConnection });
});

after(async () => {
  await plainConnection?.close();
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/** Every payload in a raw history, with where it is. */
function payloadsIn(value: unknown, at = ''): { at: string; payload: Payload }[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return [];
  const v = value as Record<string, unknown>;
  if (v.metadata && typeof v.metadata === 'object' && (v.metadata as Record<string, unknown>).encoding instanceof Uint8Array) return [{ at, payload: v as Payload }];
  return Object.entries(v).flatMap(([k, x]) => payloadsIn(x, `${at}.${k}`));
}

/**
 * The history as text: its JSON (protobuf's, bytes as base64) and every string and byte string
 * in it as UTF-8, so no encoding hides a needle.
 */
function historyText(history: unknown): string {
  const parts: string[] = [JSON.stringify(history)];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return parts.join('\n');
}

const encodingOf = (p: Payload) => Buffer.from(p.metadata!.encoding).toString();

test('rows sync; the raw history holds neither row values nor the password nor the spec in clear', async () => {
  await src.query(`INSERT INTO ${TABLE} VALUES (1, ?), (2, ?), (3, 'other')`, [CANARY, `${CANARY}-two`]);
  await src.query(`UPDATE ${TABLE} SET secret = ? WHERE id = 3`, [`${CANARY}-three`]);
  const want = await dumpTable(src, TABLE);
  await waitFor('rows on the target', async () => JSON.stringify(await dumpTable(dst, TABLE)) === JSON.stringify(want), 60_000);

  const status = await pipelineStatus(cluster.client, 'vault');
  assert.equal(status.state, 'running', 'the codec client reads the status query');
  assert.ok(status.rowsApplied >= 4 && status.committedSeq >= 1, JSON.stringify(status));

  const secrets = [CANARY, cluster.source.password, cluster.target.password, 'canary_secrets'];
  for (const workflowId of [PIPELINE_ID, 'seaotter-batch-vault-1']) {
    const history = await plain.workflow.getHandle(workflowId).fetchHistory();
    const text = historyText(history);
    for (const s of secrets) assert.ok(!text.includes(s), `${workflowId}: "${s}" is not in the raw history`);
    // Search attributes are indexed, so never encoded; a local activity marker's `data` is the SDK's
    // own bookkeeping (activity type, attempt, times), its `result` goes through the codec; a patch
    // marker's `patch-data` is the SDK's record of a code path taken (the patch id, workflows/batch.ts).
    // None of them holds data of ours: the scan for secrets above covers them too.
    const found = payloadsIn(history).filter((p) => !p.at.includes('searchAttributes') && !/markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(p.at));
    assert.ok(found.length >= 2, `${workflowId}: payloads found (${found.length})`);
    for (const p of found) assert.equal(encodingOf(p.payload), ENCRYPTED_ENCODING, `${workflowId} ${p.at}`);

    // The workflow's input (the resolved spec) is encrypted, and decrypting it shows what the
    // checks above would have caught in clear.
    const started = history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!;
    const input = started.input!.payloads! as Payload[];
    assert.ok(input.length > 0 && input.every((p) => encodingOf(p) === ENCRYPTED_ENCODING), `${workflowId}: input encrypted`);
    const clear = (await codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!.decode(input)).map((p) => Buffer.from(p.data!).toString()).join('\n');
    assert.match(clear, /canary_secrets/, `${workflowId}: the decrypted spec names the table`);
  }
});

test('a CLI without the key cannot read the status; with it, it can', async () => {
  const withKey = await cluster.cliOk(['pipeline', 'status', 'vault', '--json']);
  assert.equal(JSON.parse(withKey).state, 'running');
  const env = { ...cluster.env(), SEAOTTER_CODEC_KEY: '' };
  const without = await runSeaotter(['pipeline', 'status', 'vault', '--json'], env);
  assert.notEqual(without.code, 0, without.stdout);
  assert.match(without.stderr, /SEAOTTER_CODEC_KEY/);
  // apply without the key neither hands the config over nor, with --replace, restarts the
  // pipeline unencrypted (which workers with the key would refuse).
  for (const args of [['pipeline', 'apply', '--config', cluster.configPath], ['pipeline', 'apply', '--replace', '--config', cluster.configPath]]) {
    const r = await runSeaotter(args, env);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^seaotter: pipeline vault (answers encrypted|runs with encrypted payloads): set SEAOTTER_CODEC_KEY to the workers' key/);
  }
  assert.equal((await pipelineStatus(cluster.client, 'vault')).state, 'running', 'the pipeline runs on, unreplaced');
  const wrong = await runSeaotter(['pipeline', 'status', 'vault'], { ...cluster.env(), SEAOTTER_CODEC_KEY: 'too-short' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^seaotter: SEAOTTER_CODEC_KEY must be the base64 of exactly 32 bytes/);
});

test('seaotter codec-server decodes history and queries for the temporal CLI', async () => {
  const port = await freePort();
  const logFile = path.join(cluster.dir, 'codec-server.log');
  const server = spawnServer(process.execPath, [SEAOTTER_MAIN, 'codec-server', '--port', String(port)], { logFile, env: cluster.env() });
  try {
    await waitForPort('127.0.0.1', port, 15_000);
    await waitFor('the Web UI hint', async () => tailFile(logFile).includes(`--ui-codec-endpoint http://127.0.0.1:${port}`), 5_000);
    const temporal = (args: string[]) => run(resolveTemporalBin(), [...args, '--address', cluster.temporal.address, '-o', 'json'], { maxBuffer: 64 * 1024 * 1024 });
    const endpoint = ['--codec-endpoint', `http://127.0.0.1:${port}`];

    // `-o json` prints payloads as protobuf JSON (base64): look at their encodings and decoded data.
    const show = async (args: string[]) => {
      const found = payloadsInJson(JSON.parse((await temporal(['workflow', 'show', '--workflow-id', PIPELINE_ID, ...args])).stdout));
      return { encodings: new Set(found.map((p) => p.encoding)), data: found.map((p) => p.data).join('\n') };
    };
    const raw = await show([]);
    assert.deepEqual([...raw.encodings], [ENCRYPTED_ENCODING], 'without the codec server every payload is ciphertext');
    assert.ok(!raw.data.includes('canary_secrets'));
    const decoded = await show(endpoint);
    assert.ok(!decoded.encodings.has(ENCRYPTED_ENCODING), `with it every payload is decoded: ${[...decoded.encodings].join(', ')}`);
    assert.match(decoded.data, /canary_secrets/, 'and the spec reads in clear');

    const queried = (await temporal(['workflow', 'query', '--workflow-id', PIPELINE_ID, '--name', 'status', ...endpoint])).stdout;
    assert.match(queried, /"state":\s*"running"/);
  } finally {
    await stopPid(server.pid!, 5_000);
  }
});

/** Payloads in the `temporal` CLI's JSON (base64 metadata and data), search attributes and SDK markers (local activity, patch) left out. */
function payloadsInJson(value: unknown, at = ''): { encoding: string; data: string }[] {
  if (!value || typeof value !== 'object') return [];
  const v = value as { metadata?: { encoding?: unknown }; data?: unknown };
  if (typeof v.metadata?.encoding === 'string') {
    if (at.includes('searchAttributes') || /markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(at)) return [];
    return [{ encoding: Buffer.from(v.metadata.encoding, 'base64').toString(), data: Buffer.from(String(v.data ?? ''), 'base64').toString() }];
  }
  return Object.entries(v).flatMap(([k, x]) => payloadsInJson(x, `${at}.${k}`));
}

/** The vault pipeline workflow's input, decrypted from its history: the intruders below start from the real spec. */
async function vaultInput(): Promise<PipelineWorkflowInput> {
  const history = await plain.workflow.getHandle(PIPELINE_ID).fetchHistory();
  const started = history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!;
  const [decoded] = await codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!.decode(started.input!.payloads! as Payload[]);
  return defaultPayloadConverter.fromPayload<PipelineWorkflowInput>(decoded);
}

/** The message of the first failed workflow task of a workflow (decrypted when a worker encoded it), once there is one. */
async function workflowTaskFailure(workflowId: string): Promise<string | undefined> {
  const history = await plain.workflow.getHandle(workflowId).fetchHistory();
  const failure = history.events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure;
  if (!failure) return undefined;
  if (!failure.encodedAttributes) return failure.message ?? '';
  const [payload] = await codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!.decode([failure.encodedAttributes as Payload]);
  return defaultPayloadConverter.fromPayload<{ message: string }>(payload).message;
}

test('a pipeline started by hand with another host is not run: without the key not read at all, with it checked against the config', async () => {
  // A listener that counts: the source the intruders name.
  let connections = 0;
  const listener = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const input = await vaultInput();
  const spec = { ...input.spec, source: { ...input.spec.source, port } };
  try {
    // Without the key (a plain payload): the worker refuses to read the workflow's input.
    await plain.workflow.start('pipelineWorkflow', { taskQueue: spec.sourceQueue, workflowId: 'seaotter-pipeline-intruder', args: [{ ...input, spec }] });
    const why = await waitFor('the intruder\'s workflow task failing', () => workflowTaskFailure('seaotter-pipeline-intruder'), 60_000, 300);
    assert.match(why, /a payload that is not encrypted \(json\/plain\) reached a worker with SEAOTTER_CODEC_KEY/);

    // With the key (encrypted, as a replayed ciphertext or a holder of the key not going through
    // apply would send it): the config check and the signature refuse it, saying why.
    await cluster.client.workflow.start('pipelineWorkflow', { taskQueue: spec.sourceQueue, workflowId: 'seaotter-pipeline-keyed', args: [{ ...input, spec }] });
    const status = await waitFor('the keyed intruder\'s capture retrying with the reason', async () => {
      const s = await pipelineStatus(cluster.client, 'keyed');
      return s.retrying.some((r) => r.activity === 'captureBinlog' && r.attempt >= 2) ? s : null;
    }, 60_000, 300);
    const error = status.retrying.find((r) => r.activity === 'captureBinlog')!.error;
    assert.match(error, new RegExp(`does not allow: data source "src" differs: port: ${port} in the pipeline, ${cluster.source.port} here;`), error);
    assert.match(error, /its signature does not match it: it was changed after it was applied/, 'the copied signature does not cover the change');
    assert.ok(error.includes(cluster.configPath), 'it names the config it checked against');
    assert.equal(connections, 0, 'no connection reached the host the spec named');
    const vault = await pipelineStatus(cluster.client, 'vault');
    assert.equal(vault.state, 'running', 'the real pipeline runs on');
  } finally {
    for (const id of ['seaotter-pipeline-intruder', 'seaotter-pipeline-keyed']) await plain.workflow.getHandle(id).terminate('test done').catch(() => undefined);
    listener.close();
  }
});

test('a spec that keeps the data sources but maps elsewhere is not run: apply signs what it applies', async () => {
  const vault = await pipelineStatus(cluster.client, 'vault');
  assert.equal(vault.specSignedBy, codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!.keyIds[0], 'apply signed the running spec');
  // Every setting the config check compares is as in the config; only the mapping differs: the
  // canary table's rows would go into vault.typed. Encrypted, as the previous test's second
  // intruder: unsigned, and then with the real signature.
  const input = await vaultInput();
  const tables = input.spec.tables.map((t) => (t.source.table === 'canary_secrets' ? { ...t, target: { schema: 'vault', table: 'typed' } } : t));
  for (const [name, signature, why] of [
    ['unsigned', undefined, /is not run by this worker: it is not signed\. With SEAOTTER_CODEC_KEY, workers run only what pipeline apply signed/],
    ['resigned', input.spec.signature, /is not run by this worker: its signature does not match it: it was changed after it was applied/],
  ] as const) {
    const workflowId = `seaotter-pipeline-${name}`;
    try {
      await cluster.client.workflow.start('pipelineWorkflow', { taskQueue: input.spec.sourceQueue, workflowId, args: [{ ...input, spec: { ...input.spec, tables, signature } }] });
      const status = await waitFor(`${name}: capture retrying with the reason`, async () => {
        const s = await pipelineStatus(cluster.client, name);
        return s.retrying.some((r) => r.activity === 'captureBinlog') ? s : null;
      }, 60_000, 300);
      assert.match(status.retrying.find((r) => r.activity === 'captureBinlog')!.error, why);
    } finally {
      await plain.workflow.getHandle(workflowId).terminate('test done').catch(() => undefined);
    }
  }
});

test('a pipeline added to the config after the worker started runs: the worker reads its config again', async () => {
  for (const c of [src, dst]) await c.query('CREATE TABLE vault.later (id INT PRIMARY KEY, v VARCHAR(20))');
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\npipelines:\n${VAULT_PIPELINE}${LATER_PIPELINE}`);
  const applied = await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.match(applied, /later/);
  await src.query("INSERT INTO vault.later VALUES (1, 'after'), (2, 'start')");
  const want = await dumpTable(src, 'vault.later');
  await waitFor('vault.later on the target', async () => JSON.stringify(await dumpTable(dst, 'vault.later')) === JSON.stringify(want), 60_000);
  const later = await pipelineStatus(cluster.client, 'later');
  assert.deepEqual(later.retrying, [], 'no activity failed on the way');
});

test('a pipeline applied without the key is not run by workers with it; apply with the key says to replace it, and --replace runs it', async () => {
  for (const c of [src, dst]) await c.query('CREATE TABLE vault.plain (id INT PRIMARY KEY, v VARCHAR(20))');
  const plainPipeline = '  - id: plainp\n    source: src\n    target: dst\n    start: current\n    tables: [{ source: vault.plain }]\n';
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\npipelines:\n${VAULT_PIPELINE}${LATER_PIPELINE}${plainPipeline}`);
  const alone = path.join(cluster.dir, 'plain-only.yaml');
  fs.writeFileSync(alone, `${cluster.dataSourcesYaml()}\npipelines:\n${plainPipeline}`);
  const keyless = await runSeaotter(['pipeline', 'apply', '--config', alone], { ...cluster.env(), SEAOTTER_CODEC_KEY: '' });
  assert.equal(keyless.code, 0, keyless.stderr);
  const refused = await waitFor('plainp: its workflow task failing', () => workflowTaskFailure('seaotter-pipeline-plainp'), 60_000, 300);
  assert.match(refused, /a payload that is not encrypted \(json\/plain\) reached a worker with SEAOTTER_CODEC_KEY/);
  const status = await cluster.cli(['pipeline', 'status', 'plainp']);
  assert.equal(status.code, 1, status.stdout);
  assert.match(status.stderr, /^seaotter: pipeline plainp cannot answer: its workflow task fails \(attempt \d+\): a payload that is not encrypted \(json\/plain\) reached a worker with SEAOTTER_CODEC_KEY/);

  const again = await cluster.cli(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(again.code, 1, again.stdout);
  assert.match(again.stderr, /pipeline plainp is running but cannot answer \(its workflow task fails \(attempt \d+\): a payload that is not encrypted .*\); .*started without SEAOTTER_CODEC_KEY while workers have it, apply again with --replace/);
  assert.doesNotMatch(again.stdout, /updated|started/, 'nothing was changed');
  await cluster.cliOk(['pipeline', 'apply', '--replace', '--config', alone]);
  await src.query("INSERT INTO vault.plain VALUES (1, 'signed now')");
  const want = await dumpTable(src, 'vault.plain');
  await waitFor('vault.plain on the target', async () => JSON.stringify(await dumpTable(dst, 'vault.plain')) === JSON.stringify(want), 60_000);
  assert.equal((await pipelineStatus(cluster.client, 'plainp')).specSignedBy, codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!.keyIds[0]);
});

test('apply refuses a config that changes where running pipelines connect, before changing any; --replace is the way', async () => {
  const good = fs.readFileSync(cluster.configPath, 'utf8');
  const moved = path.join(cluster.dir, 'moved.yaml');
  // The same server and password, under another variable: apply can connect, the settings differ.
  fs.writeFileSync(moved, good.replace('passwordEnv: DST_PW,', 'passwordEnv: DST_PW2,'));
  const r = await runSeaotter(['pipeline', 'apply', '--config', moved], { ...cluster.env(), DST_PW2: cluster.target.password });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /^seaotter: pipeline vault: this config changes where it connects or what it runs \(data source "dst" differs: passwordEnv: "DST_PW" in the pipeline, "DST_PW2" here\), and workers reading it would refuse its batches in flight: apply again with --replace/);
  assert.equal(r.stdout, '', 'no pipeline was updated or started');
  assert.equal((await pipelineStatus(cluster.client, 'vault')).state, 'running');
});

test('a row the target refuses: the error, which quotes its value, is encrypted in history; status shows it decrypted', async () => {
  const REFUSED = 'REFUSED-CANARY-777';
  await src.query('INSERT INTO vault.typed VALUES (1, ?)', [REFUSED]);
  const halted = await waitFor('vault halted', async () => {
    const s = await pipelineStatus(cluster.client, 'vault');
    return s.state === 'halted' ? s : null;
  }, 90_000, 300);
  assert.match(halted.lastError?.message ?? '', new RegExp(`Incorrect integer value: '${REFUSED}'`), 'the codec client reads the error');
  const cli = await cluster.cliOk(['pipeline', 'status', 'vault']);
  assert.match(cli, new RegExp(REFUSED), 'and so does the CLI');

  const ids = [PIPELINE_ID];
  for await (const w of plain.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND SeaotterPipeline = 'vault'` })) ids.push(w.workflowId);
  let failures = 0;
  for (const workflowId of ids) {
    const history = await plain.workflow.getHandle(workflowId).fetchHistory();
    assert.ok(!historyText(history).includes(REFUSED), `${workflowId}: "${REFUSED}" is not in the raw history`);
    for (const e of history.events ?? []) {
      const failure = e.activityTaskFailedEventAttributes?.failure ?? e.workflowExecutionFailedEventAttributes?.failure ?? e.childWorkflowExecutionFailedEventAttributes?.failure;
      if (!failure) continue;
      failures++;
      assert.equal(failure.message, 'Encoded failure', `${workflowId}: the failure's message is in its encoded attributes`);
      assert.equal(encodingOf(failure.encodedAttributes as Payload), ENCRYPTED_ENCODING, `${workflowId}: encrypted`);
    }
  }
  assert.ok(failures >= 2, `failures found in history: ${failures}`);

  // The source's value fixed, the target's checkpoint unchanged: resume loads the fix.
  await src.query("UPDATE vault.typed SET v = '42' WHERE id = 1");
  await dst.query('ALTER TABLE vault.typed MODIFY v VARCHAR(40)');
  await cluster.cliOk(['pipeline', 'resume', 'vault']);
  const want = await dumpTable(src, 'vault.typed');
  await waitFor('rows on the target', async () => JSON.stringify(await dumpTable(dst, 'vault.typed')) === JSON.stringify(want), 90_000);
});
