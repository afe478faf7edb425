/**
 * Oracle connections (node-oracledb in Thin mode: no client libraries needed). Every session
 * gets the NLS settings seaotter's binds rely on (lib/dialects/oracle/oracle-binds.ts): decimal
 * point '.', timestamps as 'YYYY-MM-DD HH24:MI:SS.FF6', UTC.
 */
import oracledb from 'oracledb';
import type { OracleSourceConfig } from '../lib/config/schema.js';
import { passwordOf } from './resources.js';

export const ORACLE_SESSION_SQL =
  "ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,' NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS'" +
  " NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6' NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM' TIME_ZONE = '+00:00'";

/** Connection attributes of a data source; the password is read from its variable here, never stored. */
export function oracleConnectAttributes(ds: OracleSourceConfig): oracledb.ConnectionAttributes {
  return { user: ds.user, password: passwordOf(ds), connectString: ds.connectString, connectTimeout: 10 };
}

export function createOraclePool(ds: OracleSourceConfig, poolMax: number): Promise<oracledb.Pool> {
  return oracledb.createPool({
    ...oracleConnectAttributes(ds),
    poolMin: 0,
    poolMax,
    poolIncrement: 1,
    // New sessions only (no tag requested): set the NLS formats once per session.
    sessionCallback: (conn: oracledb.Connection, _tag: string, done: (err?: Error) => void) => {
      conn.execute(ORACLE_SESSION_SQL).then(() => done(), done);
    },
  });
}
