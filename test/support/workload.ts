/**
 * A steady write load for resilience tests, and a tripwire that catches a batch applied twice:
 * `events` is insert-only on the source, so any UPDATE reaching it on the target (an upsert that
 * found its row already there) is a duplicate application, recorded by a trigger in `audit.dups`.
 */
import assert from 'node:assert/strict';
import type { Connection } from 'mysql2/promise';
import { checksum, Cluster, dumpTable, waitFor, type ClusterOptions } from './cluster.js';

export const WORKLOAD_TABLES = ['wl.events', 'wl.counters'];

export async function createWorkloadSchema(src: Connection, dst: Connection): Promise<void> {
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE IF NOT EXISTS wl');
    await c.query('CREATE TABLE IF NOT EXISTS wl.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, body VARCHAR(200))');
    await c.query('CREATE TABLE IF NOT EXISTS wl.counters (id INT PRIMARY KEY, n BIGINT NOT NULL)');
  }
  await dst.query('CREATE DATABASE IF NOT EXISTS audit');
  await dst.query('CREATE TABLE IF NOT EXISTS audit.dups (id BIGINT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))');
  await dst.query('CREATE TRIGGER IF NOT EXISTS wl.events_applied_twice BEFORE UPDATE ON wl.events FOR EACH ROW INSERT INTO audit.dups (id) VALUES (OLD.id)');
  await src.query('INSERT IGNORE INTO wl.counters VALUES (1,0),(2,0),(3,0),(4,0),(5,0)');
}

/** Rows applied twice so far (0 unless exactly-once broke). */
export async function duplicateApplications(dst: Connection): Promise<number> {
  const [rows] = await dst.query('SELECT COUNT(*) AS n FROM audit.dups');
  return Number((rows as { n: number }[])[0].n);
}

/** Writes transactions until stopped: inserts (1–5 rows) plus a counter increment per transaction. */
export class Workload {
  private running = false;
  private done: Promise<void> = Promise.resolve();
  transactions = 0;

  constructor(
    private readonly src: Connection,
    private readonly pauseMs = 5,
  ) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        await this.one();
        if (this.pauseMs) await new Promise((r) => setTimeout(r, this.pauseMs));
      }
    })();
  }

  async one(): Promise<void> {
    const n = 1 + (this.transactions % 5);
    await this.src.query('BEGIN');
    const values = Array.from({ length: n }, (_, i) => [this.transactions, `tx ${this.transactions} row ${i}`]);
    await this.src.query('INSERT INTO wl.events (k, body) VALUES ?', [values]);
    await this.src.query('UPDATE wl.counters SET n = n + 1 WHERE id = ?', [1 + (this.transactions % 5)]);
    await this.src.query('COMMIT');
    this.transactions++;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** A cluster running one pipeline over the workload tables, with a worker, applied and ready. */
export async function startWorkloadCluster(
  opts: ClusterOptions & { pipeline: string; extraYaml?: string },
): Promise<{ cluster: Cluster; src: Connection; dst: Connection }> {
  const cluster = await Cluster.start(opts);
  const src = await cluster.source.connect();
  const dst = await cluster.target.connect();
  await createWorkloadSchema(src, dst);
  await cluster.runPipelines(`pipelines:
  - id: ${opts.pipeline}
    source: src
    target: dst
    tables:
${WORKLOAD_TABLES.map((t) => `      - source: ${t}`).join('\n')}
${opts.extraYaml ?? ''}
`);
  return { cluster, src, dst };
}

/**
 * Waits until every workload table on the target equals the source (full rows, then CHECKSUM
 * TABLE), and checks nothing was applied twice. A failure names the rows that differ; given the
 * cluster, its message also carries the cluster's post-mortem.
 */
export async function assertWorkloadInSync(src: Connection, dst: Connection, timeoutMs = 120_000, cluster?: Cluster): Promise<void> {
  const check = async () => {
    for (const t of WORKLOAD_TABLES) {
      const want = await dumpTable(src, t);
      try {
        await waitFor(`${t} in sync`, async () => JSON.stringify(await dumpTable(dst, t)) === JSON.stringify(want), timeoutMs, 300);
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${describeDifference(want, await dumpTable(dst, t))}`);
      }
      assert.equal(await checksum(dst, t), await checksum(src, t), `CHECKSUM TABLE ${t}`);
    }
    assert.equal(await duplicateApplications(dst), 0, 'no row applied twice');
  };
  await (cluster ? cluster.explainFailure(check) : check());
}

/** Which rows (by first column, the key) the target lacks, has extra, or has different. */
function describeDifference(want: string[], got: string[]): string {
  const byKey = (rows: string[]) => new Map(rows.map((r) => [String((JSON.parse(r) as unknown[])[0]), r]));
  const w = byKey(want);
  const g = byKey(got);
  const missing = [...w.keys()].filter((k) => !g.has(k));
  const extra = [...g.keys()].filter((k) => !w.has(k));
  const differ = [...w.keys()].filter((k) => g.has(k) && g.get(k) !== w.get(k));
  const few = (keys: string[]) => `${keys.length}${keys.length ? ` (${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''})` : ''}`;
  return `source ${want.length} rows, target ${got.length}: missing ${few(missing)}, extra ${few(extra)}, different ${few(differ)}`;
}
