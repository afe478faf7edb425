// Ports and processes of the local servers (MariaDB, the Temporal dev server).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Asks the kernel for a port nobody listens on (127.0.0.1:0), then releases it for the caller. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** Resolves true once one TCP connection to host:port succeeds, false if it never does. */
export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls until host:port accepts TCP connections; throws after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portAnswers(host, port)) return;
    await sleep(100);
  }
  throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`);
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Processes. Servers are always addressed by PID, never by name: other servers of the same
// kind (another test, the user's own) may be running on the machine.

const owned = new Set<number>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** True while pid names a process that has not exited (a zombie counts as exited). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until pid has exited; false if it is still alive after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait for the exit. */
export async function stopPid(pid: number, graceMs = 30_000): Promise<void> {
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return;
  await killPid(pid);
}

/** SIGKILL and wait for the exit. */
export async function killPid(pid: number): Promise<void> {
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 10_000))) throw new Error(`process ${pid} survived SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Options for {@link spawnServer}. */
export interface SpawnServerOptions {
  logFile: string;
  cwd?: string;
  /** Survive this process (for `seaotter dev up`); otherwise the server dies with us. */
  detached?: boolean;
  /** The server's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a long-running server with stdout and stderr appended to logFile. Unless detached, the
 * server is SIGKILLed when this process exits, even by a crash: by an 'exit' hook, and by the
 * kernel (setpriv --pdeathsig, which execs the server so the PID stays the same) when we are
 * killed outright.
 */
export function spawnServer(command: string, args: string[], opts: SpawnServerOptions): ChildProcess {
  const fd = fs.openSync(opts.logFile, 'a');
  try {
    const guarded = !opts.detached && fs.existsSync(SETPRIV);
    const child = guarded
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], spawnOptions(opts, fd))
      : spawn(command, args, spawnOptions(opts, fd));
    child.on('error', () => undefined); // reported by the caller's readiness wait instead
    if (opts.detached) {
      child.unref();
    } else if (child.pid !== undefined) {
      const pid = child.pid;
      owned.add(pid);
      child.once('exit', () => owned.delete(pid));
      installExitHook();
    }
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

const SETPRIV = '/usr/bin/setpriv';

function spawnOptions(opts: SpawnServerOptions, fd: number): SpawnOptions {
  return { cwd: opts.cwd, detached: opts.detached ?? false, stdio: ['ignore', fd, fd], env: opts.env };
}

/**
 * A new directory under the system's temp dir, removed when this process exits (after its
 * servers are killed) unless SEAOTTER_KEEP_TMP is set, to look at a failed run's data and logs.
 */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  installExitHook();
  return dir;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of owned) signal(pid, 'SIGKILL');
    if (process.env.SEAOTTER_KEEP_TMP) return;
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: a server killed a moment ago may still be closing files
      }
    }
  });
}

/** The last lines of a log file, for error messages. */
export function tailFile(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
