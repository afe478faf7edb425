// The benchmark's output: a console table, a markdown table for the README, and a JSON file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporalVersion } from '../client/servers/temporal-dev.js';

export interface ResultRow {
  phase: string;
  system: string;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  rowsPerSec?: number;
  /** seaotter's value ÷ this row's (p99 lag in lag phases, rows/s in catch-up). */
  ratio?: number;
  note?: string;
}

export const LEGEND = [
  'lag = now − newest heartbeat visible on the copy, sampled every 100 ms; includes up to 100 ms of write granularity (a perfect copy shows ~50 ms p50).',
  'ratio (replica rows) = seaotter ÷ this replica: for lag phases p99 lag (>1: seaotter lags more), for catch-up rows/s (<1: seaotter is slower).',
];

export interface Machine {
  nproc: number;
  memoryGiB: number;
  cpuModel: string;
  node: string;
  mariadb: string;
  sysbench: string;
  temporal: string;
  platform: string;
  seaotterCommit: string;
}

export function machineInfo(mariadbVersion: string): Machine {
  const cpuinfo = safe(() => fs.readFileSync('/proc/cpuinfo', 'utf8'), '');
  const tryRun = (cmd: string, args: string[]) => safe(() => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(), '?');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const commit = tryRun('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const dirty = tryRun('git', ['-C', root, 'status', '--porcelain']) ? ' (uncommitted changes)' : '';
  return {
    nproc: Number(tryRun('nproc', [])) || os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?',
    node: process.version,
    mariadb: mariadbVersion,
    sysbench: tryRun('sysbench', ['--version']),
    temporal: safe(() => temporalVersion().split('\n')[0] ?? '?', '?'),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    seaotterCommit: commit + dirty,
  };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fmtRate(r: number | undefined): string {
  if (r === undefined || Number.isNaN(r)) return '';
  return Math.round(r).toLocaleString('en-US');
}

function fmtRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '' : `×${r.toFixed(2)}`;
}

const HEADERS = ['phase', 'system', 'p50 lag', 'p99 lag', 'max lag', 'rows/s', 'seaotter ÷ this', 'notes'];

function cells(r: ResultRow): string[] {
  return [r.phase, r.system, fmtMs(r.p50Ms), fmtMs(r.p99Ms), fmtMs(r.maxMs), fmtRate(r.rowsPerSec), fmtRatio(r.ratio), r.note ?? ''];
}

/** A plain-text table with aligned columns. */
export function textTable(rows: ResultRow[]): string {
  const data = [HEADERS, ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...data.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(data[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...data.slice(1).map(line)].join('\n');
}

/** The same table in markdown, for pasting into the README. */
export function markdownTable(rows: ResultRow[], machine: Machine, settings: string): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine.nproc} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ` +
      `MariaDB ${machine.mariadb}, Node ${machine.node}; ${settings}`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `| ${HEADERS.map((_, i) => (i >= 2 && i <= 6 ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
    '',
    ...LEGEND.map((l) => `- ${l}`),
  ].join('\n');
}

/** Writes bench/results/<ISO time>.json (in the source tree, next to this file's source). */
export function writeResults(data: unknown): string {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(data, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
  return file;
}
