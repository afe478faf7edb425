// Throwaway MariaDB servers for tests, the quickstart and the benchmark: one data directory each,
// bound to 127.0.0.1, never the machine's system service.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { freePort, isAlive, killPid, sleep, spawnServer, stopPid, tailFile, tempDir } from './ports.js';

const run = promisify(execFile);

/** Options for {@link startMariadb}; every field has a sensible default. */
export interface StartMariadbOptions {
  /** Directory holding data, socket, log and credentials; reused when already initialised. */
  dir?: string;
  serverId?: number;
  /** Row-based binlog with full images and metadata (default true). */
  binlog?: boolean;
  /** Flush and sync on every commit (default false: fast, loses the last second on a crash). */
  durable?: boolean;
  port?: number;
  /** Used in the temp dir name and in error messages. */
  name?: string;
  extraArgs?: string[];
}

/** A running throwaway server; `user` has every privilege, replication included. */
export interface MariadbServer {
  host: '127.0.0.1';
  port: number;
  user: 'seaotter';
  password: string;
  rootPassword: string;
  serverId: number;
  dir: string;
  socket: string;
  pid: number;
  /** A new connection as `user`, with big numbers and dates as strings. */
  connect(): Promise<Connection>;
  /** SIGTERM, then SIGKILL after 30 s. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same data and port (after stop or kill). */
  restart(): Promise<void>;
}

/** What a data directory remembers between starts, so a restart finds the same accounts. */
interface Saved {
  port: number;
  serverId: number;
  password: string;
  rootPassword: string;
}

const READY_TIMEOUT_MS = 60_000;

/** Finds mariadbd and mariadb-install-db in the usual Debian places or on PATH. */
export function findMariadbBinaries(): { mariadbd: string; installDb: string } {
  const find = (name: string, dirs: string[]) => {
    const pathDirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
    for (const dir of [...dirs, ...pathDirs]) {
      const candidate = path.join(dir, name);
      if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error(`${name} not found; run \`node scripts/setup.mjs\` to install MariaDB`);
  };
  return {
    mariadbd: find('mariadbd', ['/usr/sbin', '/usr/local/sbin']),
    installDb: find('mariadb-install-db', ['/usr/bin', '/usr/local/bin']),
  };
}

/** Starts (initialising if needed) a MariaDB server in its own directory and waits until it serves. */
export async function startMariadb(opts: StartMariadbOptions = {}): Promise<MariadbServer> {
  const bins = findMariadbBinaries();
  const name = opts.name ?? 'mariadb';
  const dir = opts.dir ?? tempDir(`seaotter-${name}-`);
  fs.mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const savedFile = path.join(dir, 'seaotter-server.json');
  const socket = path.join(dir, 'mysqld.sock');
  const logFile = path.join(dir, 'mariadbd.log');
  // A private tmpdir: servers bootstrapping at once in a shared /tmp collide on temp table names.
  const tmpDir = path.join(dir, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true });

  const initialised = fs.existsSync(path.join(dataDir, 'mysql', 'global_priv.frm')) && fs.existsSync(savedFile);
  if (!initialised) await initialise(bins.installDb, dataDir, tmpDir, path.join(dir, 'install-db.log'));
  const saved: Partial<Saved> = initialised ? JSON.parse(fs.readFileSync(savedFile, 'utf8')) : {};

  let port = opts.port ?? saved.port ?? (await freePort());
  const serverId = opts.serverId ?? saved.serverId ?? port;
  const args = (p: number) => [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--port=${p}`,
    '--bind-address=127.0.0.1',
    `--socket=${socket}`,
    `--tmpdir=${tmpDir}`,
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    '--user=root',
    `--server-id=${serverId}`,
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    // Small memory: several servers share a small machine in tests and the benchmark.
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-buffer-size=8M',
    '--aria-pagecache-buffer-size=8M',
    '--key-buffer-size=8M',
    ...(opts.binlog ?? true
      ? ['--log-bin=mysql-bin', '--binlog-format=ROW', '--binlog-row-image=FULL',
         '--binlog-row-metadata=FULL', '--log-slave-updates']
      : []),
    ...(opts.durable
      ? ['--innodb-flush-log-at-trx-commit=1', '--sync-binlog=1']
      : ['--innodb-flush-log-at-trx-commit=2', '--sync-binlog=0']),
    ...(opts.extraArgs ?? []),
  ];

  let child: ChildProcess;
  const credentials = { password: saved.password ?? '', rootPassword: saved.rootPassword ?? '' };
  // A free port can be taken between freePort() and bind(); pick another unless one was asked for.
  for (let attempt = 1; ; attempt++) {
    child = spawnServer(bins.mariadbd, args(port), { logFile, cwd: dir });
    try {
      await waitReady(child, port, credentials.rootPassword, logFile, name);
      break;
    } catch (err) {
      const portClash = /Address already in use|Bind on TCP\/IP port/.test(tailFile(logFile, 15));
      if (!portClash || opts.port !== undefined || saved.port !== undefined || attempt >= 3) throw err;
      port = await freePort();
    }
  }

  if (!initialised) {
    credentials.password = randomBytes(12).toString('hex');
    credentials.rootPassword = randomBytes(12).toString('hex');
    await createAccounts(port, credentials.password, credentials.rootPassword);
    const toSave: Saved = { port, serverId, ...credentials };
    fs.writeFileSync(savedFile, JSON.stringify(toSave, null, 2) + '\n', { mode: 0o600 });
  }

  const server: MariadbServer = {
    host: '127.0.0.1',
    port,
    user: 'seaotter',
    password: credentials.password,
    rootPassword: credentials.rootPassword,
    serverId,
    dir,
    socket,
    pid: child.pid!,
    connect: () => mysql.createConnection(connectionOptions(server)),
    stop: () => stopPid(server.pid, 30_000),
    kill: () => killPid(server.pid),
    async restart() {
      if (isAlive(server.pid)) await stopPid(server.pid, 30_000);
      const again = spawnServer(bins.mariadbd, args(port), { logFile, cwd: dir });
      server.pid = again.pid!;
      await waitReady(again, port, credentials.rootPassword, logFile, name);
    },
  };
  return server;
}

/** Connection options for a server's `seaotter` account (also handy for pools). */
export function connectionOptions(server: Pick<MariadbServer, 'host' | 'port' | 'user' | 'password'>): ConnectionOptions {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  };
}

async function initialise(installDb: string, dataDir: string, tmpDir: string, logFile: string): Promise<void> {
  // A half-made data directory (crash during a previous init) would be refused; start over.
  fs.rmSync(dataDir, { recursive: true, force: true });
  try {
    const { stdout, stderr } = await run(installDb, [
      '--no-defaults', `--datadir=${dataDir}`, `--tmpdir=${tmpDir}`, '--user=root',
      '--auth-root-authentication-method=normal', '--skip-test-db',
    ]);
    fs.writeFileSync(logFile, stdout + stderr);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`mariadb-install-db failed in ${dataDir}: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/** Waits until root can log in over TCP; fails fast, with the log's tail, if the server exits. */
async function waitReady(child: ChildProcess, port: number, rootPassword: string, logFile: string, name: string): Promise<void> {
  let exited: string | undefined;
  const onExit = (code: number | null, sig: string | null) => (exited = `exited (${sig ?? code})`);
  child.once('exit', onExit);
  child.once('error', (err) => (exited = `could not start: ${err.message}`));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  try {
    while (Date.now() < deadline && exited === undefined) {
      try {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: rootPassword, connectTimeout: 2000 });
        await conn.end();
        return;
      } catch (err) {
        lastError = (err as Error).message;
        await sleep(100);
      }
    }
  } finally {
    child.off('exit', onExit);
  }
  const why = exited ?? `did not accept connections within ${READY_TIMEOUT_MS / 1000} s (${lastError})`;
  throw new Error(`MariaDB ${name} on port ${port} ${why}; log ${logFile}:\n${tailFile(logFile)}`);
}

async function createAccounts(port: number, password: string, rootPassword: string): Promise<void> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    for (const host of ['127.0.0.1', 'localhost']) {
      await conn.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', ['seaotter', host, password]);
      await conn.query('GRANT ALL ON *.* TO ?@? WITH GRANT OPTION', ['seaotter', host]);
    }
    // Root is passwordless after mariadb-install-db; any local user could otherwise log in.
    const [roots] = await conn.query(
      "SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host IN ('localhost', '127.0.0.1', '::1')",
    );
    for (const { host } of roots as Array<{ host: string }>) {
      await conn.query('ALTER USER ?@? IDENTIFIED BY ?', ['root', host, rootPassword]);
    }
  } finally {
    await conn.end();
  }
}
