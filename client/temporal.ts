/** The CLI's Temporal connection, from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (CONTRACT.md). */
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from './codec.js';
import { UnreachableError, UserError } from './errors.js';

/** TEMPORAL_ADDRESS, checked: `host:port` (or a host alone), as the Temporal SDK takes it. */
export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]]+)(:\d{1,5})?$/.test(address)) {
    throw new UserError(`TEMPORAL_ADDRESS must be host:port (e.g. 127.0.0.1:7233), not ${JSON.stringify(address)}`);
  }
  return address;
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
