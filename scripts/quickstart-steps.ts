/**
 * The quickstart's building blocks that touch processes and files: its MariaDB servers, the
 * config it writes, the worker it runs and the CLI calls it makes. Everything lives under
 * `.seaotter/quickstart/` so a second run finds the same data, ports and passwords.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMariadb, type MariadbServer } from '../client/servers/mariadb.js';
import { isAlive, sleep, spawnServer, tailFile } from '../client/servers/ports.js';
import { runSeaotterOk } from '../client/servers/seaotter-process.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = path.join(ROOT, 'dist', 'client', 'main.js');
export const QS_DIR = path.join('.seaotter', 'quickstart');
export const CONFIG = path.join(QS_DIR, 'seaotter.yaml');
export const WORKER_LOG = path.join(QS_DIR, 'worker.log');

export const log = (line = ''): void => console.log(line ? `[quickstart] ${line}` : '');

/** A quickstart database: the server and whether this run created its data directory. */
export interface QuickstartDb {
  server: MariadbServer;
  name: 'source' | 'target';
  fresh: boolean;
}

/** Starts (or re-opens) the source or target server in its persistent directory. */
export async function startDb(name: 'source' | 'target', serverId: number): Promise<QuickstartDb> {
  const dir = path.resolve(QS_DIR, name);
  const pid = readPid(path.join(dir, 'mysqld.pid'));
  if (pid !== undefined && isAlive(pid) && cmdline(pid).includes('mariadbd') && cmdline(pid).includes(dir)) {
    throw new Error(`the ${name} MariaDB of another quickstart is still running (pid ${pid}); stop that quickstart (Ctrl-C) first`);
  }
  const fresh = !fs.existsSync(path.join(dir, 'seaotter-server.json'));
  const server = await startMariadb({ dir, name: `quickstart-${name}`, serverId });
  return { server, name, fresh };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Writes the config from examples/quickstart.yaml with this machine's ports and stage dir. */
export function writeConfig(source: MariadbServer, target: MariadbServer): void {
  const template = fs.readFileSync(path.join(ROOT, 'examples', 'quickstart.yaml'), 'utf8');
  const values: Record<string, string> = {
    SRC_PORT: String(source.port),
    DST_PORT: String(target.port),
    STAGE_DIR: JSON.stringify(path.resolve(QS_DIR, 'stage')),
  };
  const text = template.replace(/\$\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
  fs.writeFileSync(CONFIG, text);
}

/** Starts `seaotter worker` (it dies with this process) and waits until it polls its task queue. */
export async function startWorker(): Promise<number> {
  fs.appendFileSync(WORKER_LOG, `\n--- quickstart worker, ${new Date().toISOString()} ---\n`);
  const from = fs.statSync(WORKER_LOG).size;
  const child = spawnServer(process.execPath, [MAIN, 'worker', '--config', CONFIG, '--dc', 'local'], { logFile: WORKER_LOG, cwd: ROOT });
  const pid = child.pid!;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`the worker exited; ${WORKER_LOG}:\n${tailFile(WORKER_LOG, 20)}`);
    const fd = fs.openSync(WORKER_LOG, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - from));
      fs.readSync(fd, buf, 0, buf.length, from);
      if (buf.toString('utf8').includes('polling seaotter.local')) return pid;
    } finally {
      fs.closeSync(fd);
    }
    await sleep(200);
  }
  throw new Error(`the worker did not start polling within 60 s; ${WORKER_LOG}:\n${tailFile(WORKER_LOG, 20)}`);
}

/** Runs the seaotter CLI with this process's environment; rejects with its output on failure. */
export function cli(args: string[]): Promise<string> {
  return runSeaotterOk(args, process.env, 120_000, ROOT);
}
