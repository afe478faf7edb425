/**
 * S3 clients for s3 data sources, one per store settings in a process. Keys come from the
 * environment variables the config names (accessKeyEnv / secretKeyEnv), never from the config,
 * and are never logged; without them the SDK's default chain applies (env, profile, role).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { endpointFor } from '../../../lib/config/endpoints.js';
import type { S3StoreConfig } from '../../../lib/config/schema.js';
import { workerDatacenter } from '../../datacenter.js';

const clients = new Map<string, S3Client>();

// seaotter supports Node 20 with the SDK version it locks; the SDK's notice about its future
// releases would only clutter worker logs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function envValue(name: string, field: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`environment variable ${name} (named by ${field}) is not set here`);
  return value;
}

/**
 * How long an S3 request may see no byte before it is abandoned (and retried by the SDK):
 * SEAOTTER_S3_IDLE_SECONDS, default 120. Longer than a copy's pauses (a part waiting for the
 * target to take the one before), far shorter than a dead connection's minutes.
 */
export function s3IdleSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SEAOTTER_S3_IDLE_SECONDS;
  const n = raw === undefined || raw === '' ? 120 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 86_400) throw new Error(`SEAOTTER_S3_IDLE_SECONDS must be a whole number of seconds (1 to 86400), not "${raw}"`);
  return n;
}

/** Credentials named by the store, or undefined for the SDK's default chain. */
function credentialsOf(config: S3StoreConfig): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (!config.accessKeyEnv && !config.secretKeyEnv) return undefined;
  if (!config.accessKeyEnv || !config.secretKeyEnv) throw new Error('give both accessKeyEnv and secretKeyEnv, or neither');
  return { accessKeyId: envValue(config.accessKeyEnv, 'accessKeyEnv'), secretAccessKey: envValue(config.secretKeyEnv, 'secretKeyEnv') };
}

/**
 * The client for a store as this process reaches it: a worker of datacenter X goes through the
 * store's `endpoints[X]` when given (a per-region address), else `endpoint`.
 */
export function s3ClientFor(config: S3StoreConfig, dc: string | undefined = workerDatacenter()): S3Client {
  const credentials = credentialsOf(config);
  const endpoint = endpointFor(config, dc);
  // Keyed by settings, not by key values: a changed variable takes a worker restart, as passwords do.
  const id = JSON.stringify([endpoint, config.region, config.accessKeyEnv, config.secretKeyEnv]);
  let client = clients.get(id);
  if (!client) {
    client = new S3Client({
      region: config.region,
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      ...(credentials ? { credentials } : {}),
      maxAttempts: 3,
      // Up to COPY_CONCURRENCY (64) copies share a store's client, with deletes and the stage's
      // requests besides: more than the SDK's 50 sockets, so that none waits for a socket.
      // A request that sees no byte for s3IdleSeconds() (a link that drops packets rather than
      // refusing them) is abandoned and retried, instead of holding its copy until TCP keepalive
      // gives up on the connection (about 11 minutes).
      requestHandler: {
        httpAgent: { maxSockets: 128 },
        httpsAgent: { maxSockets: 128 },
        connectionTimeout: 10_000,
        socketTimeout: s3IdleSeconds() * 1000,
      },
      // Checksums only when an operation requires them: S3-compatible servers differ in support.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    clients.set(id, client);
  }
  return client;
}

/** True for an S3 "not found" answer (404, NoSuchKey, NotFound, NoSuchBucket). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}
