/** Bundles the workflows once at build time, so a worker (re)starts in a second, not in ten. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
const out = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
const { code } = await bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } as never });
await writeFile(out, code);
console.log(`workflow bundle written: ${out} (${Math.round(code.length / 1024)} KiB)`);
