/**
 * The shared sandbox watchdog (workers/vm-watchdog.ts), with real worker threads standing in for
 * the SDK's workflow thread: calls keep their results, only the outermost call is timed, and a
 * call over its limit is stopped by the watchdog rather than by a per-call `vm` timeout.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import workerThreads from 'node:worker_threads';
import { VmWatchdog, watchdogModeFromEnv } from '../../workers/vm-watchdog.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seaotter-vm-watchdog-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Stands in for the SDK's workflow thread: answers each request with a call into a vm context
// given `timeout`, as the SDK's calls are.
const sandboxThread = path.join(dir, 'sandbox-thread.cjs');
fs.writeFileSync(
  sandboxThread,
  `const vm = require('node:vm');
const { parentPort } = require('node:worker_threads');
const ctx = vm.createContext({ inner: null });
ctx.inner = () => vm.runInContext('6 * 7', ctx, { timeout: 1000 });
parentPort.on('message', ({ id, code, timeout }) => {
  try {
    parentPort.postMessage({ id, value: vm.runInContext(code, ctx, { timeout }) });
  } catch (err) {
    parentPort.postMessage({ id, error: err.code ?? err.message });
  }
});
`,
);

function ask(thread: workerThreads.Worker, code: string, timeout: number): Promise<{ value?: unknown; error?: string }> {
  const id = Math.random();
  return new Promise((resolve) => {
    const onMessage = (m: { id: number; value?: unknown; error?: string }) => {
      if (m.id !== id) return;
      thread.off('message', onMessage);
      resolve(m);
    };
    thread.on('message', onMessage);
    thread.postMessage({ id, code, timeout });
  });
}

const isSandbox = (file: string) => file === sandboxThread;

async function startWatched(stuck: string[]): Promise<{ watchdog: VmWatchdog; thread: workerThreads.Worker }> {
  const watchdog = new VmWatchdog((m) => stuck.push(m), isSandbox);
  const Original = workerThreads.Worker;
  const thread = await watchdog.around(async () => new workerThreads.Worker(sandboxThread));
  assert.equal(workerThreads.Worker, Original, 'around() puts the Worker class back');
  return { watchdog, thread };
}

test('calls keep their results under the shared watchdog, nested ones too, and nothing is flagged', async () => {
  const stuck: string[] = [];
  const { watchdog, thread } = await startWatched(stuck);
  try {
    assert.equal(watchdog.mode, 'shared');
    assert.deepEqual((await ask(thread, '1 + 1', 5000)).value, 2);
    assert.deepEqual((await ask(thread, 'inner() + 1', 5000)).value, 43);
    assert.equal(watchdog.installed, 1, 'the preload ran in the thread');
    // A call well within its limit, checked after it ended: not stuck.
    watchdog.check();
    // Errors of the code itself still come back as errors.
    assert.match((await ask(thread, 'missing()', 5000)).error ?? '', /missing is not defined/);
  } finally {
    await thread.terminate();
    watchdog.stop();
  }
  assert.deepEqual(stuck, []);
});

test('a call over its limit is stopped by the watchdog, which terminates the thread and says why', async () => {
  const stuck: string[] = [];
  const { watchdog, thread } = await startWatched(stuck);
  try {
    const exited = once(thread, 'exit');
    const answer = ask(thread, 'for (;;) {}', 300);
    const [code] = (await exited) as [number];
    assert.equal(code, 1, 'terminated');
    assert.equal(stuck.length, 1);
    assert.match(stuck[0]!, /ran \d+ ms in one call without yielding \(limit 300 ms/);
    // Node's own per-call timeout would have answered ERR_SCRIPT_EXECUTION_TIMEOUT instead.
    const raced = await Promise.race([answer, new Promise((r) => setTimeout(() => r('no answer'), 200))]);
    assert.equal(raced, 'no answer');
  } finally {
    watchdog.stop();
  }
});

test('without around(), the same thread is bounded by the per-call vm timeout (the SDK default)', async () => {
  const thread = new workerThreads.Worker(sandboxThread);
  try {
    assert.equal((await ask(thread, 'for (;;) {}', 300)).error, 'ERR_SCRIPT_EXECUTION_TIMEOUT');
  } finally {
    await thread.terminate();
  }
});

test('other threads, and threads given workerData of their own, are left as they are', async () => {
  const watchdog = new VmWatchdog(() => undefined, isSandbox);
  const threads = await watchdog.around(async () => [
    new workerThreads.Worker('require("node:worker_threads").parentPort.postMessage(1)', { eval: true }),
    new workerThreads.Worker(sandboxThread, { workerData: { mine: true } }),
  ]);
  try {
    assert.equal(watchdog.mode, 'per-call');
    assert.equal(watchdog.installed, 0);
  } finally {
    for (const t of threads) await t.terminate();
    watchdog.stop();
  }
});

test('a worker started with Node flags of its own still gets the shared watchdog; its threads inherit them', async () => {
  const script = `
    import { VmWatchdog } from ${JSON.stringify(new URL('../../workers/vm-watchdog.js', import.meta.url).href)};
    import workerThreads from 'node:worker_threads';
    const watchdog = new VmWatchdog(() => undefined, (f) => f === ${JSON.stringify(sandboxThread)});
    const thread = await watchdog.around(async () => new workerThreads.Worker(${JSON.stringify(sandboxThread)}));
    await new Promise((r) => setTimeout(r, 300));
    console.log(JSON.stringify({ mode: watchdog.mode, installed: watchdog.installed }));
    await thread.terminate();
    watchdog.stop();`;
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, ['--max-old-space-size=2048', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim()), { mode: 'shared', installed: 1 });
});

test('SEAOTTER_VM_WATCHDOG takes shared (default) or per-call', () => {
  assert.equal(watchdogModeFromEnv({}), 'shared');
  assert.equal(watchdogModeFromEnv({ SEAOTTER_VM_WATCHDOG: 'per-call' }), 'per-call');
  assert.throws(() => watchdogModeFromEnv({ SEAOTTER_VM_WATCHDOG: 'off' }), /must be "shared" or "per-call", not "off"/);
});
