/**
 * Bundles the workflows once at build time, so a worker (re)starts in a second, not in ten. Two
 * bundles: one for workers without a codec key, and one whose failures carry their messages in
 * encoded attributes, for workers with one (lib/failure-converter.cts).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
const failureConverterPath = fileURLToPath(new URL('../lib/failure-converter.cjs', import.meta.url));
const logger = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } as never;
for (const [name, extra] of [
  ['workflow-bundle.js', {}],
  ['workflow-bundle-encoded-failures.js', { failureConverterPath }],
] as const) {
  const out = fileURLToPath(new URL(`../${name}`, import.meta.url));
  const { code } = await bundleWorkflowCode({ workflowsPath, logger, ...extra });
  await writeFile(out, code);
  console.log(`workflow bundle written: ${out} (${Math.round(code.length / 1024)} KiB)`);
}
