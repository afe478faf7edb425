/** The CLI's Temporal connection, from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (CONTRACT.md). */
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from './codec.js';
import { UnreachableError } from './errors.js';

export function temporalAddress(): string {
  return process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}

export function temporalNamespace(): string {
  return process.env.TEMPORAL_NAMESPACE ?? 'default';
}

/** A client on TEMPORAL_ADDRESS, with the payload codec when SEAOTTER_CODEC_KEY is set. */
export async function connectClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const dataConverter = dataConverterFromEnv();
  const address = temporalAddress();
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: '5 seconds' });
  } catch (err) {
    throw new UnreachableError(`cannot reach Temporal at ${address}: ${(err as Error).message} (start one with "seaotter dev up")`);
  }
  return { client: new Client({ connection, namespace: temporalNamespace(), dataConverter }), close: () => connection.close() };
}
