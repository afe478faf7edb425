// seaotter's own processes, as tests and the benchmark run them: the CLI (one command, waited for)
// and workers (long-running, stopped by PID).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnServer } from './ports.js';

/** The compiled CLI entry point (dist/client/main.js). */
export const SEAOTTER_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `seaotter <args>` with the given environment and resolves with its exit code and output. */
export function runSeaotter(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000, cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SEAOTTER_MAIN, ...args], { env, cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `seaotter <args>` and throws, with its output, unless it exits 0. */
export async function runSeaotterOk(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000, cwd?: string): Promise<string> {
  const r = await runSeaotter(args, env, timeoutMs, cwd);
  if (r.code !== 0) throw new Error(`seaotter ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Starts `seaotter worker --config <configPath> --dc <dc>` with env, output appended to logFile.
 * Like the servers, it is killed when this process exits. `SEAOTTER_WORKER_NODE_ARGS` (space
 * separated, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) adds Node options, for profiling a run.
 */
export function spawnSeaotterWorker(opts: { configPath: string; dc: string; env: NodeJS.ProcessEnv; logFile: string; metricsPort?: number }): { pid: number; logFile: string } {
  const nodeArgs = (opts.env.SEAOTTER_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const metrics = opts.metricsPort ? ['--metrics-port', String(opts.metricsPort)] : [];
  const args = [...nodeArgs, SEAOTTER_MAIN, 'worker', '--config', opts.configPath, '--dc', opts.dc, ...metrics];
  const child = spawnServer(process.execPath, args, { logFile: opts.logFile, env: opts.env });
  return { pid: child.pid!, logFile: opts.logFile };
}
