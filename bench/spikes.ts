// The worst moments of a lag phase, next to the pipeline's continue-as-new moments: a lag spike
// that lines up with a new run of the pipeline workflow is that hand-over, not load.
import type { Client } from '@temporalio/client';
import { pipelineWorkflowId } from '../lib/spec.js';
import type { LagPhaseResult } from './phases.js';

export interface SpikeReport {
  spikes: { atS: number; lagMs: number }[];
  /** Seconds into the phase at which a new run of the pipeline workflow started. */
  continuedAsNewAtS: number[];
}

export async function spikeReport(client: Client, pipelineId: string, r: LagPhaseResult<unknown>): Promise<SpikeReport> {
  const end = r.startedAt + r.sampledSeconds * 1000;
  const continuedAsNewAtS: number[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${pipelineWorkflowId(pipelineId)}'` })) {
    const at = w.startTime.getTime();
    if (at > r.startedAt && at <= end) continuedAsNewAtS.push(Math.round((at - r.startedAt) / 100) / 10);
  }
  return { spikes: r.spikes, continuedAsNewAtS: continuedAsNewAtS.sort((a, b) => a - b) };
}

export function formatSpikes(phase: string, s: SpikeReport): string {
  const worst = s.spikes.map((x) => `${(x.lagMs / 1000).toFixed(2)} s at ${x.atS.toFixed(1)} s`).join(', ');
  const can = s.continuedAsNewAtS.length ? s.continuedAsNewAtS.map((x) => `${x.toFixed(1)} s`).join(', ') : 'none';
  return `${phase}: seaotter's highest lag samples ${worst}; pipeline continued as new at ${can}`;
}
