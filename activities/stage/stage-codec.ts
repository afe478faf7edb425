/** How both stages store documents: gzip'd JSON lines of changes, or gzip'd JSON. */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/activity';
import type { RowChange } from '../../lib/model.js';
import { parseChanges, stringifyChanges } from '../../lib/values.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export async function encodeChanges(changes: RowChange[]): Promise<Buffer> {
  return gzipText(stringifyChanges(changes));
}

/** Text gzip'd as the stage stores it (level 1: fast; rows still shrink to a quarter or less). */
export function gzipText(text: string): Promise<Buffer> {
  return gzipAsync(Buffer.from(text), { level: 1 });
}

export async function decodeChanges(ref: string, body: Buffer): Promise<RowChange[]> {
  try {
    return parseChanges((await gunzipAsync(body)).toString('utf8'));
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`staged batch ${ref} cannot be read: ${(err as Error).message}`, 'StageCorrupt');
  }
}

export async function encodeJson(value: unknown): Promise<Buffer> {
  return gzipAsync(Buffer.from(JSON.stringify(value)), { level: 1 });
}

export async function decodeJson<T>(ref: string, body: Buffer): Promise<T> {
  try {
    return JSON.parse((await gunzipAsync(body)).toString('utf8')) as T;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`staged document ${ref} cannot be read: ${(err as Error).message}`, 'StageCorrupt');
  }
}

