/** The workflows the worker bundles. Deterministic code only: no I/O, no drivers, no Node built-ins. */
export { pipelineWorkflow } from './pipeline.js';
export { syncBatchWorkflow } from './batch.js';
