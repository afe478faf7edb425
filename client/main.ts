#!/usr/bin/env node
/**
 * The `seaotter` command (CONTRACT.md). Exit codes: 0 ok, 1 user error (bad config, unknown
 * pipeline) with a one-line reason on stderr, 2 a server cannot be reached.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ENCRYPTED_ENCODING, KEY_ENV } from './codec.js';
import { missingProcessors, readConfigFile } from './config-file.js';
import { isUnreachable, UnreachableError, UserError } from './errors.js';
import { applyPipelines, formatStatus, formatUnanswered, listPipelines, NoWorkerError, pipelineStatus, signalPipeline, waitStopped } from './pipeline-commands.js';
import { connectClient, temporalAddress, temporalNamespace } from './temporal.js';

/** A commander parser for an option that takes a TCP port. */
function port(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`${name} wants a port number (1–65535), got "${value}"`);
    return n;
  };
}

/** This package's version, from its package.json. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** A commander parser for an option that takes a positive whole number. */
function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} wants a positive whole number, got "${value}"`);
    return n;
  };
}

const program = new Command('seaotter')
  .description('Keeps MySQL/MariaDB data in sync with MySQL/MariaDB or Oracle; every batch is a Temporal workflow.')
  .version(packageVersion(), '--version', "print seaotter's version")
  .showHelpAfterError();

const dev = program.command('dev').description('a local Temporal dev server with the Web UI');
dev
  .command('up')
  .description('start the dev server (gRPC 127.0.0.1:7233, Web UI 127.0.0.1:8233) with seaotter\'s search attributes; does nothing if it runs')
  .option('--dir <dir>', 'where the dev server keeps its database, log and pid', '.seaotter/dev')
  .action(async (o: { dir: string }) => {
    const { devUp } = await import('./servers/temporal-dev.js');
    const r = await devUp({ dir: o.dir });
    console.log(`${r.alreadyRunning ? 'already running' : 'started'}: Temporal at ${r.address} (pid ${r.pid})`);
    console.log(`Web UI: ${r.uiUrl}`);
  });
dev
  .command('down')
  .description('stop the dev server that dev up started')
  .option('--dir <dir>', 'the directory given to dev up', '.seaotter/dev')
  .action(async (o: { dir: string }) => {
    const { devDown } = await import('./servers/temporal-dev.js');
    const r = await devDown({ dir: o.dir });
    console.log(r.stopped ? `stopped the dev server (pid ${r.pid})` : 'no dev server was running');
  });

program
  .command('worker')
  .description('run a worker for one datacenter (task queue seaotter.<dc>)')
  .requiredOption('--config <file>', 'config file (YAML or JSON)')
  .requiredOption('--dc <name>', 'datacenter this worker serves')
  .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>', port('--metrics-port'))
  .option('--copy-concurrency <n>', 'files this worker copies at once, over all batches (default 64)', positiveInteger('--copy-concurrency'))
  .action(async (o: { config: string; dc: string; metricsPort?: number; copyConcurrency?: number }) => {
    const config = await readConfigFile(o.config);
    const known = new Set(Object.values(config.dataSources).map((d) => d.datacenter));
    if (!known.has(o.dc)) throw new UserError(`no data source of ${o.config} is in datacenter "${o.dc}" (known: ${[...known].join(', ')})`);
    const { runWorker } = await import('../workers/worker.js');
    try {
      await runWorker({ dc: o.dc, config: { path: o.config, value: config, read: () => readConfigFile(o.config) }, address: temporalAddress(), namespace: temporalNamespace(), metricsPort: o.metricsPort, copyConcurrency: o.copyConcurrency });
    } catch (err) {
      if (isUnreachable(err)) throw new UnreachableError(`cannot reach Temporal at ${temporalAddress()}: ${(err as Error).message}`);
      throw err;
    }
  });

program
  .command('codec-server')
  .description('the Temporal Web UI codec endpoint: decrypts payloads with SEAOTTER_CODEC_KEY (on 127.0.0.1)')
  .requiredOption('--port <port>', 'port to listen on', port('--port'))
  .option('--ui-origin <origin>', 'Web UI origin allowed by CORS; repeatable (default http://127.0.0.1:8233 and http://localhost:8233)', (v, all: string[] = []) => [...all, v])
  .action(async (o: { port: number; uiOrigin?: string[] }) => {
    const { runCodecServer } = await import('./codec-server.js');
    await runCodecServer({ port: o.port, uiOrigins: o.uiOrigin ?? [] });
  });

const config = program.command('config').description('configuration');
config
  .command('check')
  .description('validate a config file without any server: every problem, by path (exit 1)')
  .requiredOption('--config <file>', 'config file')
  .action(async (o: { config: string }) => {
    const c = await readConfigFile(o.config);
    const { unsupportedByThisBuild } = await import('./resolve.js');
    const missing = [...(await missingProcessors(c)), ...unsupportedByThisBuild(c)];
    if (missing.length) throw new UserError(`${o.config} has ${missing.length} problem(s):\n${missing.map((m) => `  ${m}`).join('\n')}`);
    console.log(`${o.config}: ok (${c.pipelines.length} pipeline(s), ${Object.keys(c.dataSources).length} data source(s))`);
  });

program
  .command('schema')
  .description("print the target's CREATE TABLE statements for a pipeline's mapped tables (MySQL/MariaDB or Oracle)")
  .requiredOption('--config <file>', 'config file')
  .requiredOption('--pipeline <id>', 'pipeline whose target tables to print')
  .option('--oracle-json <type>', 'Oracle type for JSON columns: clob (with an IS JSON check) or json (Oracle 21c+)', 'clob')
  .action(async (o: { config: string; pipeline: string; oracleJson: string }) => {
    if (o.oracleJson !== 'clob' && o.oracleJson !== 'json') throw new UserError(`--oracle-json must be clob or json, not ${o.oracleJson}`);
    const c = await readConfigFile(o.config);
    const { pipelineSchemaDdl } = await import('./schema-command.js');
    process.stdout.write(await pipelineSchemaDdl(c, o.pipeline, { oracleJson: o.oracleJson }));
  });

const pipeline = program.command('pipeline').description('start, watch and control pipelines');
pipeline
  .command('apply')
  .description('check the config against the databases and start every pipeline in it, or hand a changed one to its running workflow')
  .requiredOption('--config <file>', 'config file')
  .option('--replace', "end running pipeline workflows first and restart them from the target's checkpoint (after upgrading seaotter)")
  .action(async (o: { config: string; replace?: boolean }) => {
    const c = await readConfigFile(o.config);
    await withClient(async (client) => {
      for (const r of await applyPipelines(client, c, { replace: o.replace })) console.log(`${r.pipeline}: ${r.action} (${r.workflowId}) ${r.detail}`);
    });
  });
pipeline
  .command('status [id]')
  .description('state, positions, lag, rows/s, batches in flight and what waits or fails, of one pipeline or all running ones')
  .option('--json', 'one JSON object per pipeline, one per line')
  .action(async (id: string | undefined, o: { json?: boolean }) => {
    await withClient(async (client) => {
      const ids = id ? [id] : await listPipelines(client);
      if (!ids.length && !o.json) console.log('no running pipelines');
      for (const pid of ids) {
        try {
          const s = await pipelineStatus(client, pid);
          console.log(o.json ? JSON.stringify(s) : formatStatus(s));
        } catch (err) {
          // No worker runs the pipeline's workflow: show what it waits for rather than fail.
          if (!(err instanceof NoWorkerError)) throw err;
          console.log(o.json ? JSON.stringify(err.report) : formatUnanswered(err.report));
        }
      }
    });
  });
for (const action of ['pause', 'resume'] as const) {
  pipeline
    .command(`${action} <id>`)
    .description(`same as: temporal workflow signal --workflow-id seaotter-pipeline-<id> --name ${action}`)
    .action(async (id: string) => {
      await withClient(async (client) => {
        await signalPipeline(client, id, action);
        console.log(`${id}: ${action} sent`);
      });
    });
}
pipeline
  .command('stop <id>')
  .description('same as: temporal workflow signal --workflow-id seaotter-pipeline-<id> --name stop')
  .option('--wait', 'return once the loading batches have committed and the workflow has ended (status: stopped)')
  .action(async (id: string, opts: { wait?: boolean }) => {
    await withClient(async (client) => {
      await signalPipeline(client, id, 'stop');
      console.log(`${id}: stop sent`);
      if (!opts.wait) return;
      const final = await waitStopped(client, id);
      console.log(`${id}: stopped; committed batch ${final.committedSeq} at ${final.committedPosition || '-'}`);
    });
  });

async function withClient(fn: (client: Awaited<ReturnType<typeof connectClient>>['client']) => Promise<void>): Promise<void> {
  const { client, close } = await connectClient();
  try {
    await fn(client);
  } finally {
    await close();
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as Error & { exitCode?: number };
  if (e instanceof UserError || e instanceof UnreachableError) {
    console.error(`seaotter: ${e.message}`);
    process.exit(e.exitCode);
  }
  if (e.message?.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
    console.error(`seaotter: the workflows' payloads are encrypted; set ${KEY_ENV} to the workers' key`);
    process.exit(1);
  }
  if (isUnreachable(e)) {
    console.error(`seaotter: cannot reach a server: ${e.message}`);
    process.exit(2);
  }
  if (e.name === 'ServiceError') {
    const cause = (e as { cause?: Error & { code?: number } }).cause;
    const detail = cause?.message?.split('\n')[0];
    const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
    // Temporal answering and refusing: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
    // PERMISSION_DENIED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNAUTHENTICATED. Anything else
    // (no status, UNAVAILABLE, UNKNOWN and UNIMPLEMENTED for an HTTP error page, …): something
    // answered at the address, but not as a Temporal frontend does, or not now.
    const REFUSALS = [3, 5, 6, 7, 9, 10, 11, 16];
    if (typeof cause?.code !== 'number' || !REFUSALS.includes(cause.code)) {
      console.error(`seaotter: Temporal at ${address} did not answer as expected: ${e.message}${detail ? ` (${detail})` : ''}`);
      process.exit(2);
    }
    // Temporal answered, and refused: the request's fault or the namespace's set-up.
    const hint = /search attribute/i.test(detail ?? '') ? '; register seaotter\'s search attributes in this namespace (see the README, "Temporal server settings")' : '';
    console.error(`seaotter: Temporal at ${address} refused the request: ${detail ?? e.message}${hint}`);
    process.exit(1);
  }
  if (e.name === 'NamespaceNotFoundError') {
    console.error(`seaotter: ${e.message} at Temporal ${process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233'} (TEMPORAL_NAMESPACE)`);
    process.exit(1);
  }
  // Anything else: one line, as every error of the CLI; the stack with SEAOTTER_DEBUG=1.
  if (process.env.SEAOTTER_DEBUG) console.error(e.stack ?? String(e));
  else console.error(`seaotter: ${(e.message ?? String(e)).split('\n')[0]} (SEAOTTER_DEBUG=1 shows where)`);
  process.exit(1);
}
