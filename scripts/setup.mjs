#!/usr/bin/env node
// Installs what seaotter's tests, quickstart and benchmark need on a Debian machine, and only what
// is missing, so it is safe to run again. Node built-ins only: it runs before `npm ci`.
//
//   node scripts/setup.mjs [--for-tests] [--for-bench]
//
// npm packages (npm ci), MariaDB (apt), the Temporal CLI (built with `go install`, as only
// package registries are reachable), with --for-tests the S3 test server (Versity S3 Gateway,
// built with `go install`), and with --for-bench sysbench (apt), Toxiproxy (go install) and the
// same S3 server (the cross-datacenter benchmark's stage).
// Environment: SEAOTTER_CACHE (default ~/.cache/seaotter; the CLI goes to $SEAOTTER_CACHE/bin),
// SEAOTTER_TEMPORAL_BIN (use this `temporal` binary, build nothing), SEAOTTER_VERSITYGW_BIN and
// SEAOTTER_TOXIPROXY_BIN (the same for `versitygw` and `toxiproxy`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPORAL_CLI_VERSION = 'v1.5.1';
const VERSITYGW_VERSION = 'v1.8.0';
// The benchmark's latency-injecting proxy (npm run bench -- --cross-dc); the newest the Go proxy serves.
const TOXIPROXY_VERSION = 'v2.5.0';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const cache = process.env.SEAOTTER_CACHE || path.join(os.homedir(), '.cache', 'seaotter');

const log = (line) => console.log(`[setup] ${line}`);

function fail(message) {
  console.error(`[setup] error: ${message}`);
  process.exit(1);
}

/** Runs a command with inherited output; fails setup with `what` when it does not succeed. */
function run(command, argv, what, env = {}) {
  const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) fail(`${what}: ${result.error.message}`);
  if (result.status !== 0) fail(`${what}: \`${[command, ...argv].join(' ')}\` exited with ${result.status ?? result.signal}`);
}

/** The first existing file among the candidates, then `name` on PATH. */
function which(name, candidates = []) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  return [...candidates, ...dirs.map((dir) => path.join(dir, name))].find((file) => isExecutable(file));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function npmPackages() {
  const lock = path.join(root, 'package-lock.json');
  const installed = mtime(path.join(root, 'node_modules', '.package-lock.json'));
  const lockTime = mtime(lock);
  if (installed !== undefined && (lockTime === undefined || lockTime <= installed)) {
    log('npm packages: up to date');
    return;
  }
  if (lockTime !== undefined) {
    log('npm packages: npm ci');
    run('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci failed');
  } else {
    log('npm packages: npm install (no package-lock.json)');
    run('npm', ['install', '--no-audit', '--no-fund'], 'npm install failed');
  }
}

let aptUpdated = false;

function aptInstall(packages) {
  if (!which('apt-get')) fail(`apt-get not found; install ${packages.join(' ')} yourself`);
  if (process.getuid && process.getuid() !== 0) fail(`installing ${packages.join(' ')} needs root (apt-get); run as root or install them yourself`);
  if (!aptUpdated) {
    log('apt-get update');
    run('apt-get', ['update'], 'apt-get update failed');
    aptUpdated = true;
  }
  log(`apt-get install ${packages.join(' ')}`);
  // apt may start the system's MariaDB service; seaotter never uses it (it starts its own servers).
  run('apt-get', ['install', '-y', ...packages], `apt-get install ${packages.join(' ')} failed`, {
    DEBIAN_FRONTEND: 'noninteractive',
  });
}

function mariadb() {
  const server = which('mariadbd', ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd']);
  const installDb = which('mariadb-install-db', ['/usr/bin/mariadb-install-db']);
  if (server && installDb) {
    log(`MariaDB: ${server}`);
    return;
  }
  aptInstall(['mariadb-server', 'mariadb-client']);
  if (!which('mariadbd', ['/usr/sbin/mariadbd'])) fail('mariadbd still missing after apt-get install mariadb-server');
  log('MariaDB: installed');
}

/** `temporal --version` output, or undefined when the binary does not run. */
function temporalVersion(file) {
  const result = spawnSync(file, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

// A `go install` build reports "0.0.0-DEV (Server …)"; a release reports its own version.
function acceptableVersion(version) {
  const release = /temporal version (\d+)\.(\d+)/.exec(version ?? '');
  if (!release) return false;
  const [major, minor] = [Number(release[1]), Number(release[2])];
  return (major === 1 && minor >= 5) || major > 1 || /0\.0\.0-DEV/.test(version);
}

function temporalCli() {
  const override = process.env.SEAOTTER_TEMPORAL_BIN;
  if (override) {
    if (!temporalVersion(override)) fail(`SEAOTTER_TEMPORAL_BIN=${override} does not run`);
    log(`Temporal CLI: ${override} (SEAOTTER_TEMPORAL_BIN)`);
    return;
  }
  const target = path.join(cache, 'bin', 'temporal');
  for (const candidate of [target, '/root/.cache/seaotter/gobin/temporal']) {
    if (isExecutable(candidate) && temporalVersion(candidate)) {
      log(`Temporal CLI: ${candidate}`);
      return;
    }
  }
  const onPath = which('temporal');
  if (onPath && acceptableVersion(temporalVersion(onPath))) {
    log(`Temporal CLI: ${onPath} (${temporalVersion(onPath)})`);
    return;
  }

  const go = which('go', ['/usr/local/go/bin/go']);
  if (!go) fail('the Temporal CLI is missing and no Go toolchain was found to build it (looked on PATH and /usr/local/go/bin/go)');
  log(`Temporal CLI: building ${TEMPORAL_CLI_VERSION} with \`go install\` into ${path.dirname(target)} (takes several minutes)`);
  const started = Date.now();
  run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], 'building the Temporal CLI failed', {
    GOBIN: path.dirname(target),
    CGO_ENABLED: '0', // as the released binaries: no C compiler needed
  });
  const version = temporalVersion(target);
  if (!version) fail(`go install finished but ${target} does not run`);
  log(`Temporal CLI: built in ${Math.round((Date.now() - started) / 1000)} s: ${target} (${version.split('\n')[0]})`);
}

/**
 * The S3-compatible server the file-copy tests start: the Versity S3 Gateway (Apache-2.0) with its
 * posix backend. One to two minutes to build on a fresh machine.
 */
function versitygw() {
  const override = process.env.SEAOTTER_VERSITYGW_BIN;
  if (override) {
    if (!isExecutable(override)) fail(`SEAOTTER_VERSITYGW_BIN=${override} is not an executable file`);
    log(`S3 test server: ${override} (SEAOTTER_VERSITYGW_BIN)`);
    return;
  }
  const target = path.join(cache, 'bin', 'versitygw');
  if (isExecutable(target)) {
    log(`S3 test server: ${target}`);
    return;
  }
  const go = which('go', ['/usr/local/go/bin/go']);
  if (!go) fail('the S3 test server (versitygw) is missing and no Go toolchain was found to build it');
  log(`S3 test server: building versitygw ${VERSITYGW_VERSION} with \`go install\` into ${path.dirname(target)}`);
  const started = Date.now();
  run(go, ['install', `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`], 'building versitygw failed', {
    GOBIN: path.dirname(target),
    CGO_ENABLED: '0',
  });
  if (!isExecutable(target)) fail(`go install finished but ${target} is missing`);
  log(`S3 test server: built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
}

function sysbench() {
  const found = which('sysbench');
  if (found) {
    log(`sysbench: ${found}`);
    return;
  }
  aptInstall(['sysbench']);
  if (!which('sysbench')) fail('sysbench still missing after apt-get install sysbench');
  log('sysbench: installed');
}

/** Toxiproxy's server, built once into $SEAOTTER_CACHE/toxiproxy/server (bench/toxiproxy.ts looks there). */
function toxiproxy() {
  const override = process.env.SEAOTTER_TOXIPROXY_BIN;
  if (override) {
    if (!isExecutable(override)) fail(`SEAOTTER_TOXIPROXY_BIN=${override} is not an executable file`);
    log(`Toxiproxy: ${override} (SEAOTTER_TOXIPROXY_BIN)`);
    return;
  }
  const target = path.join(cache, 'toxiproxy', 'server');
  if (isExecutable(target)) {
    log(`Toxiproxy: ${target}`);
    return;
  }
  const go = which('go', ['/usr/local/go/bin/go']);
  if (!go) fail('Toxiproxy (for the cross-datacenter benchmark) is missing and no Go toolchain was found to build it');
  log(`Toxiproxy: building ${TOXIPROXY_VERSION} with \`go install\` into ${path.dirname(target)}`);
  run(go, ['install', `github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}`], 'building Toxiproxy failed', {
    GOBIN: path.dirname(target),
    CGO_ENABLED: '0',
  });
  if (!isExecutable(target)) fail(`go install finished but ${target} is missing`);
  log(`Toxiproxy: built ${target}`);
}

for (const arg of args) {
  if (!['--for-tests', '--for-bench'].includes(arg)) fail(`unknown argument ${arg} (expected --for-tests or --for-bench)`);
}
npmPackages();
mariadb();
temporalCli();
// The cross-datacenter benchmark keeps its stage in an S3 bucket, so it needs versitygw too.
if (args.has('--for-tests') || args.has('--for-bench')) versitygw();
if (args.has('--for-bench')) {
  sysbench();
  toxiproxy();
}
log('done');
