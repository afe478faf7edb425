/**
 * `npm run quickstart`: a Temporal dev server with the Web UI, two MariaDB servers, a worker and
 * the `orders` pipeline; then rows written on the source, watched arriving on the target, and
 * checked with CHECKSUM TABLE. Safe to run again: data, ports and the pipeline's state are kept
 * (`.seaotter/quickstart/`, `.seaotter/dev/`).
 *
 *   node dist/scripts/quickstart.js [--seconds N] [--keep]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../client/pipeline-commands.js';
import { connectClient } from '../client/temporal.js';
import { isAlive, sleep, stopPid } from '../client/servers/ports.js';
import { devUp, resolveTemporalBin } from '../client/servers/temporal-dev.js';
import { checksum, countRows, createSchema, OrderWriter, TABLE } from './quickstart-demo.js';
import { cli, CONFIG, log, QS_DIR, ROOT, startDb, startWorker, WORKER_LOG, writeConfig, type QuickstartDb } from './quickstart-steps.js';

const PIPELINE = 'orders';
const WORKFLOW_ID = `seaotter-pipeline-${PIPELINE}`;
const PER_SECOND = 20;

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (args.help) {
  console.log('usage: node dist/scripts/quickstart.js [--seconds N] [--keep]\n  --seconds N  write rows for N seconds (default 30)\n  --keep       keep the worker and the databases running until Ctrl-C');
  process.exit(0);
}
const seconds = Number(args.seconds);
if (!Number.isInteger(seconds) || seconds < 1) {
  console.error(`[quickstart] --seconds wants a whole number of seconds, not "${args.seconds}"`);
  process.exit(1);
}
process.chdir(ROOT); // so `.seaotter/…` here and in `npx seaotter dev down` are the same directory

const dbs: QuickstartDb[] = [];
const conns: Connection[] = [];
let worker: number | undefined;
let temporal: Awaited<ReturnType<typeof connectClient>> | undefined;
let stopping: Promise<void> | undefined;
let keptExitCode: number | undefined; // set in --keep's wait, where Ctrl-C is the normal way out

/** Stops what this run started, by PID; the Temporal dev server (detached) stays up on purpose. */
async function stopOwn(): Promise<void> {
  await Promise.allSettled(conns.map((c) => c.end()));
  if (worker !== undefined && isAlive(worker)) {
    log(`stopping the worker (pid ${worker}; it gives running activities up to 10 s to finish)`);
    await stopPid(worker, 20_000);
  }
  for (const db of dbs) {
    if (!isAlive(db.server.pid)) continue;
    log(`stopping the ${db.name} MariaDB (pid ${db.server.pid})`);
    await db.server.stop();
  }
  await temporal?.close().catch(() => undefined);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(130); // a second Ctrl-C: the exit hook SIGKILLs what is left
    console.log();
    log(`${sig}: stopping (Ctrl-C again to stop at once)`);
    stopping = stopOwn().finally(() => {
      log('the Temporal dev server keeps running; `npx seaotter dev down` stops it');
      process.exit(keptExitCode ?? 130);
    });
  });
}

async function main(): Promise<boolean> {
  const t0 = Date.now();
  log('1/6 Temporal dev server (gRPC 127.0.0.1:7233, Web UI http://127.0.0.1:8233)');
  const dev = await devUp({ dir: path.join('.seaotter', 'dev') });
  log(`    ${dev.alreadyRunning ? 'already running' : 'started'} (pid ${dev.pid}), state in .seaotter/dev/temporal.db`);
  process.env.TEMPORAL_ADDRESS = dev.address;
  process.env.TEMPORAL_NAMESPACE = 'default';

  log(`2/6 MariaDB source and target (data in ${QS_DIR}/{source,target})`);
  const started = await Promise.allSettled([startDb('source', 1), startDb('target', 2)]);
  for (const r of started) if (r.status === 'fulfilled') dbs.push(r.value);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const [source, target] = dbs;
  for (const db of dbs) log(`    ${db.name}: 127.0.0.1:${db.server.port} (pid ${db.server.pid}, ${db.fresh ? 'new data directory' : 'data kept from the last run'})`);
  process.env.SRC_PW = source.server.password;
  process.env.DST_PW = target.server.password;
  const src = await source.server.connect();
  const dst = await target.server.connect();
  conns.push(src, dst);
  for (const c of [src, dst]) await createSchema(c);
  log(`    ${TABLE} ready on both: source ${await countRows(src)} rows, target ${await countRows(dst)} rows`);

  log(`3/6 config ${CONFIG} (from examples/quickstart.yaml) and a worker for datacenter "local"`);
  writeConfig(source.server, target.server);
  temporal = await connectClient();
  const { client } = temporal;
  if (source.fresh || target.fresh) await forgetOldPipeline(client);
  worker = await startWorker();
  log(`    worker pid ${worker}, polling task queue seaotter.local; log ${WORKER_LOG}`);

  log(`4/6 npx seaotter pipeline apply --config ${CONFIG}`);
  let applied: string;
  try {
    applied = await cli(['pipeline', 'apply', '--config', CONFIG]);
  } catch (err) {
    // A pipeline left running by an older seaotter build cannot run this build's workflow code:
    // replace it; it restarts from the target's checkpoint, so nothing is lost or applied twice.
    if (!/--replace/.test(String((err as Error).message))) throw err;
    log('    the running pipeline is from an older build; replacing it (restarts from the target checkpoint)');
    applied = await cli(['pipeline', 'apply', '--replace', '--config', CONFIG]);
  }
  for (const line of applied.trim().split('\n')) log(`    ${line}`);
  log(`    ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const snapshot = async (): Promise<string> => {
    const [s, d] = await Promise.all([countRows(src), countRows(dst)]);
    let state: string;
    try {
      const st = await Promise.race([pipelineStatus(client, PIPELINE), sleep(3000).then(() => Promise.reject(new Error('no answer within 3 s')))]);
      state = `batches committed ${st.committedSeq} │ in flight ${st.batchesInFlight} │ lag ${st.lagSeconds.toFixed(1)} s${st.state === 'running' ? '' : ` │ ${st.state.toUpperCase()}`}`;
      if (st.lastError) state += ` │ ${st.lastError.message}`;
    } catch (err) {
      state = `status: ${(err as Error).message}`;
    }
    return `source ${s} rows │ target ${d} rows │ ${state}`;
  };
  const live = async (label: string) => log(`${label}  ${await snapshot()}`);

  log(`5/6 writing ~${PER_SECOND} changes/s to ${TABLE} on the source for ${seconds} s (inserts with a small picture, updates, deletes, some 3-row transactions)`);
  const writer = new OrderWriter(src);
  await writer.load();
  const w0 = Date.now();
  for (let s = 1; s <= seconds; s++) {
    for (let k = 1; k <= PER_SECOND; k++) {
      await writer.step();
      await sleep(Math.max(0, w0 + ((s - 1) * PER_SECOND + k) * (1000 / PER_SECOND) - Date.now()));
    }
    await live(`${String(s).padStart(4)} s`);
  }
  const c = writer.counts;
  log(`    wrote ${c.inserted} inserts, ${c.updated} updates, ${c.deleted} deletes (${c.transactions} multi-row transactions)`);

  log('6/6 waiting for the target to catch up, then CHECKSUM TABLE on both');
  const deadline = Date.now() + 150_000;
  let sums = await Promise.all([checksum(src), checksum(dst)]);
  const withoutLag = (line: string) => line.replace(/lag [\d.]+ s/, '');
  let [last, lastShown, lastMove, hinted] = ['', 0, Date.now(), false];
  // Give up early on a halted pipeline: waiting cannot help until someone resumes it.
  while (sums[0] !== sums[1] && Date.now() < deadline && !(hinted && last.includes('HALTED') && Date.now() - lastMove > 20_000)) {
    await sleep(1000);
    const line = await snapshot();
    const moved = withoutLag(line) !== withoutLag(last);
    if (moved) lastMove = Date.now();
    if (moved || Date.now() - lastShown >= 5000) {
      log(`     …  ${line}`);
      lastShown = Date.now();
    }
    last = line;
    if (!hinted && Date.now() - lastMove > 10_000) {
      hinted = true;
      log(line.includes('HALTED')
        ? `    the pipeline is halted (the reason is above); after fixing the cause: npx seaotter pipeline resume ${PIPELINE}`
        : '    no progress for 10 s: a batch task lost with an earlier worker (Ctrl-C, crash) is retried when its timeout (≤ 1 min) passes');
    }
    sums = await Promise.all([checksum(src), checksum(dst)]);
  }
  await live('   end');
  const ok = sums[0] === sums[1];
  log(`    CHECKSUM TABLE ${TABLE}: source ${sums[0]}, target ${sums[1]}  ${ok ? '✓ identical' : '✗ DIFFERENT'}`);
  if (!ok) log(`    see ${WORKER_LOG} and \`npx seaotter pipeline status ${PIPELINE}\``);
  printGuide();
  if (args.keep) await keepRunning(snapshot, source, target, ok ? 0 : 1);
  return ok;
}

/** New databases under a pipeline that remembers old ones: end the old run, apply starts afresh. */
async function forgetOldPipeline(client: Awaited<ReturnType<typeof connectClient>>['client']): Promise<void> {
  try {
    const handle = client.workflow.getHandle(WORKFLOW_ID);
    if ((await handle.describe()).status.name !== 'RUNNING') return;
    log(`    the databases are new but ${WORKFLOW_ID} still runs from an earlier quickstart: terminating it`);
    await handle.terminate('the quickstart databases were created anew');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

function printGuide(): void {
  const ui = 'http://127.0.0.1:8233';
  const bin = resolveTemporalBin();
  const onPath = (process.env.PATH ?? '').split(path.delimiter).includes(path.dirname(bin));
  const temporalCmd = onPath ? 'temporal' : bin;
  log();
  log(`Web UI            ${ui}`);
  log(`  the pipeline    ${ui}/namespaces/default/workflows/${WORKFLOW_ID}`);
  log(`  its batches     ${ui}/namespaces/default/workflows?query=${encodeURIComponent(`SeaotterPipeline="${PIPELINE}"`)}`);
  const needsWorker = args.keep ? '' : '; it asks the workflow, so a worker must run (--keep)';
  log(`status            npx seaotter pipeline status ${PIPELINE}   (--json for one JSON object${needsWorker})`);
  log(`pause / resume    npx seaotter pipeline pause ${PIPELINE}    npx seaotter pipeline resume ${PIPELINE}`);
  log(`  with Temporal   ${temporalCmd} workflow signal --workflow-id ${WORKFLOW_ID} --name pause   (--name resume)`);
  log(`stop everything   npx seaotter dev down`);
  log();
}

/** --keep: the worker and the databases stay up; a line is printed whenever something moved. */
async function keepRunning(snapshot: () => Promise<string>, source: QuickstartDb, target: QuickstartDb, exitCode: number): Promise<never> {
  for (const db of [source, target]) {
    // The password goes into a client options file only its owner reads, not onto the screen.
    const options = path.join(db.server.dir, 'client.cnf');
    writeFileSync(options, `[client]\nhost=127.0.0.1\nport=${db.server.port}\nuser=seaotter\npassword=${db.server.password}\n`, { mode: 0o600 });
    log(`${db.name.padEnd(6)} mariadb --defaults-extra-file=${options} shop`);
  }
  log('the worker and both databases keep running: change shop.orders on the source and watch; Ctrl-C stops them');
  keptExitCode = exitCode;
  let last = '';
  for (;;) {
    await sleep(2000);
    if (stopping) continue;
    const line = await snapshot().catch((err: Error) => err.message);
    if (line !== last) log(`${new Date().toTimeString().slice(0, 8)}  ${line}`);
    last = line;
  }
}

try {
  const ok = await main();
  await stopOwn();
  log('the Temporal dev server keeps running, so the Web UI stays browsable; `npx seaotter dev down` stops it');
  log('the pipeline workflow stays open in Temporal: run the quickstart again to continue where it stopped');
  process.exit(ok ? 0 : 1);
} catch (err) {
  if (stopping) await stopping;
  console.error(`[quickstart] failed: ${(err as Error).message}`);
  await stopOwn();
  process.exit(1);
}
