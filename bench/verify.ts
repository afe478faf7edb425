// Checks the benchmark relies on: table checksums, replica status and GTID positions, polling.
import type { Connection } from 'mysql2/promise';

/** Every table the benchmark writes, as `schema.table`. */
export function benchTables(sbtestTables: number): string[] {
  return [...Array.from({ length: sbtestTables }, (_, i) => `sbtest.sbtest${i + 1}`), 'bench.heartbeat', 'bench.backlog'];
}

/** `CHECKSUM TABLE` of each table, by name. */
export async function checksums(conn: Connection, tables: string[]): Promise<Record<string, string>> {
  const [rows] = await conn.query(`CHECKSUM TABLE ${tables.join(', ')}`);
  const out: Record<string, string> = {};
  for (const r of rows as { Table: string; Checksum: string | number | null }[]) out[r.Table] = String(r.Checksum);
  return out;
}

/** Tables whose checksum differs from the source's (empty when all match). */
export function differences(source: Record<string, string>, other: Record<string, string>): string[] {
  return Object.keys(source).filter((t) => source[t] !== other[t]);
}

/** A MariaDB GTID position as domain → sequence number (`0-1-100,1-2-7`). */
export function parseGtids(pos: string): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const part of pos.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [domain, , seq] = part.split('-');
    out.set(Number(domain), BigInt(seq!));
  }
  return out;
}

/** True when `applied` has reached `wanted` in every domain of `wanted`. */
export function gtidReached(applied: string, wanted: string): boolean {
  const a = parseGtids(applied);
  for (const [domain, seq] of parseGtids(wanted)) if ((a.get(domain) ?? -1n) < seq) return false;
  return true;
}

export async function scalar(conn: Connection, sql: string, params: unknown[] = []): Promise<string> {
  const [rows] = await conn.query({ sql, rowsAsArray: true }, params);
  const v = (rows as unknown[][])[0]?.[0];
  return v === null || v === undefined ? '' : String(v);
}

/** What matters of `SHOW SLAVE STATUS`. */
export interface ReplicaState {
  ioRunning: string;
  sqlRunning: string;
  secondsBehind: number | null;
  gtidIoPos: string;
  lastError: string;
}

export async function replicaState(conn: Connection): Promise<ReplicaState> {
  const [rows] = await conn.query('SHOW SLAVE STATUS');
  const r = (rows as Record<string, string | number | null>[])[0];
  if (!r) throw new Error('SHOW SLAVE STATUS is empty: replication is not configured');
  return {
    ioRunning: String(r.Slave_IO_Running),
    sqlRunning: String(r.Slave_SQL_Running),
    secondsBehind: r.Seconds_Behind_Master === null ? null : Number(r.Seconds_Behind_Master),
    gtidIoPos: String(r.Gtid_IO_Pos ?? ''),
    lastError: [r.Last_IO_Error, r.Last_SQL_Error].filter(Boolean).join('; '),
  };
}

/** Points a replica at the source from the source's current GTID position and starts it. */
export async function startReplication(replica: Connection, source: { port: number; user: string; password: string }, fromGtid: string): Promise<void> {
  await replica.query('SET GLOBAL gtid_slave_pos = ?', [fromGtid]);
  await replica.query(
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos`,
    [source.user, source.password],
  );
  await replica.query('START SLAVE');
  await waitUntil('replica threads running', async () => {
    const s = await replicaState(replica);
    if (s.lastError) throw new Error(`replica error: ${s.lastError}`);
    return s.ioRunning === 'Yes' && s.sqlRunning === 'Yes';
  }, 30_000);
}

/** Resolves when a replica has applied everything up to `gtid`; throws on a replication error. */
export async function waitReplicaCaughtUp(replica: Connection, gtid: string, timeoutMs: number, everyMs = 100): Promise<void> {
  await waitUntil(`replica at ${gtid}`, async () => {
    if (gtidReached(await scalar(replica, 'SELECT @@gtid_slave_pos'), gtid)) return true;
    const s = await replicaState(replica);
    if (s.lastError || s.sqlRunning === 'No') throw new FatalWait(`replica stopped: ${s.lastError || 'SQL thread not running'}`);
    return false;
  }, timeoutMs, everyMs);
}

/** An error that ends {@link waitUntil} at once instead of being retried. */
export class FatalWait extends Error {}

/** Polls `check` until it returns true; throws after timeoutMs (with the last error, if any). */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof FatalWait) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
