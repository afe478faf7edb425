#!/usr/bin/env node
// Runs the compiled tests (npm test builds first): unit tests, then integration tests, one file
// at a time since integration tests start real servers. Ends with a line `N passed, N failed`.
//
//   SEAOTTER_TEST=<substring>       only test files whose path contains it
//   SEAOTTER_TEST_TIMEOUT_MS=<ms>   per-test timeout (default 20 minutes)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filter = process.env.SEAOTTER_TEST ?? '';
const timeoutMs = Number(process.env.SEAOTTER_TEST_TIMEOUT_MS ?? 20 * 60_000);

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.js'))
    .map((entry) => path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

// Unit tests first, then integration tests: two runs, since `node --test` sorts the files it is given.
const phases = [testFiles(path.join(root, 'dist/test/unit')), testFiles(path.join(root, 'dist/test/integration'))]
  .map((files) => files.filter((file) => file.includes(filter)))
  .filter((files) => files.length > 0);
if (phases.length === 0) {
  console.error(filter ? `no compiled test file matches SEAOTTER_TEST=${filter}` : 'no compiled tests under dist/test; run `npm run build` first');
  console.log('0 passed, 0 failed');
  process.exit(1);
}

const total = { pass: 0, fail: 0, skipped: 0 };
let status = 0;
for (const files of phases) {
  const result = await runPhase(files);
  status ||= result.status;
  total.pass += result.pass;
  total.fail += result.fail;
  total.skipped += result.skipped;
}
console.log(`${total.pass} passed, ${total.fail} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exit(status);

/** Runs one `node --test` over files; its summary is read back from the spec reporter's output. */
function runPhase(files) {
  // --test-force-exit: a file that leaves a handle open (a pool, a worker) must not hang the run.
  // The summary comes from stdout because a file reporter loses its tail on force-exit.
  const args = [
    '--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, '--test-force-exit',
    '--test-reporter=spec', '--test-reporter-destination=stdout', ...files,
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['inherit', 'pipe', 'inherit'],
    env: process.stdout.isTTY && !process.env.NO_COLOR ? { ...process.env, FORCE_COLOR: '1' } : process.env,
  });
  const counts = {};
  const count = (line) => {
    // eslint-disable-next-line no-control-regex
    const match = /^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
    if (match) counts[match[1]] = Number(match[2]);
  };
  let pending = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(count);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      count(pending);
      let status = code ?? 1;
      let fail = (counts.fail ?? 0) + (counts.cancelled ?? 0);
      if (counts.pass === undefined) {
        console.error(`[run-tests] the test runner ended (${signal ?? code}) without a summary`);
        status ||= 1;
        fail ||= 1;
      }
      resolve({ status, pass: counts.pass ?? 0, fail, skipped: (counts.skipped ?? 0) + (counts.todo ?? 0) });
    });
  });
}
