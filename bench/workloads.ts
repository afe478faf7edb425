// The source-side workloads: sysbench (prepare, oltp_write_only), the catch-up backlog, and the
// low-traffic trickle.
import { spawn } from 'node:child_process';
import type { Connection } from 'mysql2/promise';
import { sleep } from '../client/servers/ports.js';

/** PIDs of running sysbench processes, so a failed or interrupted run can kill them. */
export const sysbenchPids = new Set<number>();

export interface SysbenchTarget {
  port: number;
  user: string;
  password: string;
  tables: number;
  tableSize: number;
}

export interface SysbenchResult {
  transactions: number;
  tps: number;
  seconds: number;
  errors: number;
  p95LatencyMs: number;
  output: string;
}

/** Runs `sysbench oltp_write_only <command>` against the server; resolves with its parsed summary. */
export function sysbench(command: 'prepare' | 'run', db: SysbenchTarget, extra: string[] = []): Promise<SysbenchResult> {
  const args = [
    'oltp_write_only',
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${db.port}`,
    `--mysql-user=${db.user}`,
    `--mysql-password=${db.password}`,
    '--mysql-db=sbtest',
    `--tables=${db.tables}`,
    `--table-size=${db.tableSize}`,
    ...extra,
    command,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('sysbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid !== undefined) sysbenchPids.add(pid);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => reject(new Error(`sysbench could not start: ${err.message} (run \`node scripts/setup.mjs --for-bench\`)`)));
    child.on('close', (code, sig) => {
      if (pid !== undefined) sysbenchPids.delete(pid);
      if (code !== 0) return reject(new Error(`sysbench ${command} exited ${code ?? sig}:\n${output.slice(-3000)}`));
      const num = (re: RegExp) => Number(re.exec(output)?.[1] ?? NaN);
      resolve({
        transactions: num(/transactions:\s+(\d+)/),
        tps: num(/transactions:\s+\d+\s+\(([\d.]+) per sec/),
        seconds: num(/total time:\s+([\d.]+)s/),
        errors: num(/ignored errors:\s+(\d+)/),
        p95LatencyMs: num(/95th percentile:\s+([\d.]+)/),
        output,
      });
    });
  });
}

/** Kills the sysbench processes still running (by PID). */
export function killSysbench(): void {
  for (const pid of sysbenchPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const BACKLOG_DDL =
  'CREATE TABLE bench.backlog (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, v VARCHAR(64) NOT NULL, n INT NOT NULL, KEY k (k))';

export interface BacklogResult {
  rowChanges: number;
  transactions: number;
  seconds: number;
}

/**
 * Writes about `rowChanges` row changes to bench.backlog in transactions of `txRows` rows:
 * transactions alternate between inserting a new block of ids and updating that block. Each
 * connection in `writers` takes every n-th block (insert, then update), so small transactions
 * can be written at the speed of several clients. `startId` lets a second backlog follow the first.
 */
export async function writeBacklog(writers: Connection[], rowChanges: number, txRows: number, startId = 1): Promise<BacklogResult> {
  const t0 = Date.now();
  const blocks = Math.ceil(rowChanges / (2 * txRows));
  let changed = 0;
  let transactions = 0;
  let next = 0;
  await Promise.all(writers.map(async (source) => {
    for (let block = next++; block < blocks; block = next++) {
      const first = startId + block * txRows;
      const n = Math.min(txRows, Math.ceil((rowChanges - block * 2 * txRows) / 2));
      const values = Array.from({ length: n }, (_, j) => {
        const id = first + j;
        return [id, (id * 7919) % 100_000, `row ${id} ${'abcdefghij'.repeat(4)}`, 0];
      });
      const [ins] = await source.query('INSERT INTO bench.backlog (id, k, v, n) VALUES ?', [values]);
      const [upd] = await source.query("UPDATE bench.backlog SET n = n + 1, v = CONCAT('upd ', id) WHERE id BETWEEN ? AND ?", [first, first + n - 1]);
      changed += (ins as { affectedRows: number }).affectedRows + (upd as { affectedRows: number }).affectedRows;
      transactions += 2;
    }
  }));
  return { rowChanges: changed, transactions, seconds: (Date.now() - t0) / 1000 };
}

/** Highest id in bench.backlog (0 when empty), so another backlog can follow. */
export async function backlogMaxId(source: Connection): Promise<number> {
  const [rows] = await source.query('SELECT COALESCE(MAX(id), 0) AS m FROM bench.backlog');
  return Number((rows as { m: string | number }[])[0]!.m);
}

/**
 * `tps` single-row transactions per second for `seconds`: each updates one random sbtest row.
 * Returns how many it committed.
 */
export async function lowTraffic(source: Connection, tps: number, seconds: number, tables: number, tableSize: number): Promise<number> {
  const interval = 1000 / tps;
  const t0 = Date.now();
  let done = 0;
  for (let slot = 0; Date.now() - t0 < seconds * 1000; slot++) {
    const table = `sbtest.sbtest${1 + (slot % tables)}`;
    const id = 1 + Math.floor(Math.random() * tableSize);
    await source.query(`UPDATE ${table} SET k = k + 1 WHERE id = ?`, [id]);
    done++;
    await sleep(Math.max(0, t0 + (slot + 1) * interval - Date.now()));
  }
  return done;
}
