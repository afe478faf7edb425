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
      requestHandler: { httpAgent: { maxSockets: 128 }, httpsAgent: { maxSockets: 128 } },
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
