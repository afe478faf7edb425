/**
 * What activities share inside one worker: connection pools per database and the passwords read
 * from the environment variables a config names. Nothing here ever reaches workflow history.
 */
import mysql from 'mysql2/promise';
import type oracledb from 'oracledb';
import type { MysqlSourceConfig, OracleSourceConfig } from '../lib/config/schema.js';

/** Connection options for mysql2 and zongji that keep every value exact (see lib/values.ts). */
export function mysqlOptions(ds: MysqlSourceConfig): mysql.ConnectionOptions {
  return {
    host: ds.host,
    port: ds.port,
    user: ds.user,
    password: passwordOf(ds),
    charset: 'utf8mb4',
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    connectTimeout: 10_000,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
  };
}

/** Reads the password variable a data source names; a named but unset variable is an error. */
export function passwordOf(ds: { passwordEnv?: string }): string | undefined {
  if (!ds.passwordEnv) return undefined;
  const value = process.env[ds.passwordEnv];
  if (value === undefined) throw new Error(`environment variable ${ds.passwordEnv} (named by passwordEnv) is not set here (every worker and command that connects to this data source needs it)`);
  return value;
}

/**
 * How long a worker's database session may sit idle before the server ends it (wait_timeout):
 * SEAOTTER_SESSION_IDLE_SECONDS, default 600. Longer than any pause inside a load (a parallel
 * load's turn waits while its parts are written), far shorter than a dead connection's hours.
 */
export function sessionIdleSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SEAOTTER_SESSION_IDLE_SECONDS;
  const n = raw === undefined || raw === '' ? 600 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 31_536_000) throw new Error(`SEAOTTER_SESSION_IDLE_SECONDS must be a whole number of seconds (1 to 31536000), not "${raw}"`);
  return n;
}

/** Pools keyed by server and user, created on first use and closed with the worker. */
export class Resources {
  private readonly pools = new Map<string, mysql.Pool>();
  private readonly oraclePools = new Map<string, Promise<oracledb.Pool>>();

  mysqlPool(ds: MysqlSourceConfig, connectionLimit = 4): mysql.Pool {
    const key = `${ds.host}:${ds.port}:${ds.user}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = mysql.createPool({ ...mysqlOptions(ds), connectionLimit, waitForConnections: true, enableKeepAlive: true });
      // Sessions write UTC so TIMESTAMP strings from the binlog (decoded in UTC) land unchanged.
      // wait_timeout: a worker that hangs or loses its host inside a load leaves its session idle
      // in a transaction that holds the pipeline's checkpoint row (or its DDL lock); the server
      // ends it after this long, so the load's retry on another worker goes on, instead of
      // waiting until the server notices the dead connection (hours, by TCP keepalive).
      pool.on('connection', (c) => {
        c.query(`SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO'), foreign_key_checks = 0, wait_timeout = ${sessionIdleSeconds()}`);
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** An Oracle pool per connect string and user (oracle-pool.ts). A failed creation is retried on next use. */
  oraclePool(ds: OracleSourceConfig, poolMax = 4): Promise<oracledb.Pool> {
    const key = `${ds.connectString}:${ds.user}`;
    let pool = this.oraclePools.get(key);
    if (!pool) {
      pool = import('./oracle-pool.js').then((m) => m.createOraclePool(ds, poolMax));
      pool.catch(() => this.oraclePools.delete(key));
      this.oraclePools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
    await Promise.allSettled([...this.oraclePools.values()].map(async (p) => (await p).close(10)));
    this.oraclePools.clear();
  }
}
