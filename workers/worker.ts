/**
 * The worker of one datacenter: polls `seaotter.<dc>` only, for workflow and activity tasks. The
 * workflows, capture, extract and transform run where the source is, file copy and load where the
 * target is (lib/routing.ts). SIGINT/SIGTERM drain in-flight activities before exit.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { setWorkerDatacenter } from '../activities/datacenter.js';
import { setWorkerConfig } from '../activities/worker-config.js';
import type { SeaotterConfig } from '../lib/config/schema.js';
import { setCopyConcurrency } from '../activities/files/copy-files.js';
import { createActivities } from '../activities/index.js';
import { COMMIT_LAG_BUCKETS_SECONDS, METRICS } from '../activities/metrics.js';
import { s3IdleSeconds } from '../activities/files/stores/s3-client.js';
import { Resources, sessionIdleSeconds } from '../activities/resources.js';
import { beginShutdown } from '../activities/shutdown.js';
import { codecFromEnv } from '../client/codec.js';
import { isUnreachable } from '../client/errors.js';
import { taskQueueFor, type PipelineSpec } from '../lib/spec.js';
import { signedText } from '../lib/spec-trust.js';
import { VmWatchdog, watchdogModeFromEnv } from './vm-watchdog.js';

export interface WorkerOptions {
  dc: string;
  /** The worker's config: pipeline specs are checked against it before any activity connects (activities/worker-config.ts). */
  config: { path: string; value: SeaotterConfig; read: () => Promise<SeaotterConfig> };
  address: string;
  namespace: string;
  metricsPort?: number;
  /** Files copied at once over all batches (activities/files/copy-files.ts; default 64). */
  copyConcurrency?: number;
}

/**
 * The prebuilt workflow bundle (see scripts/bundle-workflows.ts), else the workflow sources; with a
 * codec key, the one whose failures go through the codec (lib/failure-converter.cts).
 */
function workflowSource(encodedFailures: boolean): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const bundle = fileURLToPath(new URL(encodedFailures ? '../workflow-bundle-encoded-failures.js' : '../workflow-bundle.js', import.meta.url));
  if (existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)) };
}

const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('../lib/failure-converter.cjs', import.meta.url));

/** Longest wait between two attempts to reach Temporal. */
const CONNECT_RETRY_MAX_MS = 30_000;

/**
 * Connects to Temporal, and while it cannot be reached (a worker started before its server, or
 * during a restart of it) tries again with backoff, saying so on stderr each time; SIGINT or
 * SIGTERM end the wait.
 */
async function connectRetrying(address: string): Promise<{ nativeConnection: NativeConnection; clientConnection: Connection }> {
  let delay = 1000;
  for (;;) {
    try {
      const nativeConnection = await NativeConnection.connect({ address });
      try {
        return { nativeConnection, clientConnection: await Connection.connect({ address }) };
      } catch (err) {
        await nativeConnection.close().catch(() => undefined);
        throw err;
      }
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      const message = String((err as Error).message ?? err);
      const reason = /ConnectionRefused|Connection refused|ECONNREFUSED/i.test(message)
        ? 'connection refused'
        : /dns error|ENOTFOUND|lookup address/i.test(message)
          ? 'host name not found'
          : message.split('\n')[0].slice(0, 200);
      console.error(`seaotter worker: cannot reach Temporal at ${address} (${reason}); trying again in ${delay / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, CONNECT_RETRY_MAX_MS);
    }
  }
}

export async function runWorker(opts: WorkerOptions): Promise<void> {
  // One data converter for the worker and its client: capture's updates carry encrypted payloads too.
  // Workers refuse payloads that are not encrypted (client/codec.ts), unless SEAOTTER_CODEC_ACCEPT_PLAIN=1.
  const codec = codecFromEnv(process.env, { refusePlain: true });
  // Malformed SEAOTTER_SESSION_IDLE_SECONDS or SEAOTTER_S3_IDLE_SECONDS stop the worker here, not its first load.
  sessionIdleSeconds();
  s3IdleSeconds();
  const watchdogMode = watchdogModeFromEnv();
  setWorkerDatacenter(opts.dc);
  setWorkerConfig({
    path: opts.config.path,
    config: opts.config.value,
    read: opts.config.read,
    ...(codec ? { signatureProblem: (spec: PipelineSpec) => codec.signatureProblem(signedText(spec), spec.signature) } : {}),
  });
  if (opts.copyConcurrency) setCopyConcurrency(opts.copyConcurrency);
  // With a key, failures' messages are encrypted too (lib/failure-converter.cts).
  const dataConverter = codec ? { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH } : { payloadCodecs: [] };
  if (opts.metricsPort) {
    Runtime.install({
      // seaotter's own metrics (activities/metrics.ts) are served here too, with buckets in seconds.
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${opts.metricsPort}`, histogramBucketOverrides: { [METRICS.commitLag[0]]: COMMIT_LAG_BUCKETS_SECONDS } } },
      },
    });
  }
  const { nativeConnection, clientConnection } = await connectRetrying(opts.address);
  const client = new Client({ connection: clientConnection, namespace: opts.namespace, dataConverter });
  const resources = new Resources();
  const taskQueue = taskQueueFor(opts.dc);
  const watchdog = new VmWatchdog((message) => {
    console.error(`seaotter worker: ${message}`);
    process.exitCode = 1;
  });
  const create = () => Worker.create({
    connection: nativeConnection,
    namespace: opts.namespace,
    taskQueue,
    dataConverter,
    ...workflowSource(codec !== undefined),
    activities: createActivities({ resources, client: () => client }),
    shutdownGraceTime: '10 seconds',
    // Heartbeats reach the server at most a second late: cancellation (stop, continue-as-new)
    // reaches capture promptly, and a retry resumes from fresh progress.
    maxHeartbeatThrottleInterval: '1 second',
    maxConcurrentActivityTaskExecutions: 64,
  });
  const worker = watchdogMode === 'shared' ? await watchdog.around(create) : await create();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, beginShutdown);
  console.log(`seaotter worker for datacenter ${opts.dc} polling ${taskQueue} at ${opts.address}`);
  console.log(
    watchdog.mode === 'shared'
      ? 'workflow sandbox: calls are bounded by one shared watchdog (SEAOTTER_VM_WATCHDOG=per-call for a thread per call)'
      : "workflow sandbox: calls are bounded by the SDK's watchdog thread per call",
  );
  console.log(
    codec
      ? `payloads are encrypted with key id ${codec.keyIds.join(', decrypted also with old ')}; ` +
          (codec.acceptPlain ? 'payloads that are not encrypted are taken too (SEAOTTER_CODEC_ACCEPT_PLAIN=1)' : 'payloads that are not encrypted are refused')
      : 'payloads are not encrypted (SEAOTTER_CODEC_KEY is not set)',
  );
  console.log(
    codec
      ? `pipelines run only as ${opts.config.path} defines them, and only as pipeline apply signed them with key id ${codec.keyIds.join(' or ')}`
      : `pipelines run only between the data sources ${opts.config.path} defines; their table mappings are not signed (SEAOTTER_CODEC_KEY is not set)`,
  );
  try {
    await worker.run();
  } finally {
    watchdog.stop();
    await resources.close();
    await clientConnection.close();
    await nativeConnection.close();
  }
}
