/**
 * The worker's own config (`seaotter worker --config F`), against which every activity checks the
 * pipeline spec it was given before it connects anywhere (lib/spec-trust.ts), and with a codec
 * key, the spec's signature by `pipeline apply`. A spec the config does not allow makes the
 * config be read again (an operator may have changed it and applied it), and when it still does
 * not allow it, the activity fails with every difference listed and is retried, visible in
 * `seaotter pipeline status` and the Web UI, until a worker whose config allows it takes it. The
 * file is also read again a minute after the last read, so what it no longer allows is refused.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { SeaotterConfig } from '../lib/config/schema.js';
import type { PipelineSpec } from '../lib/spec.js';
import { canonicalJson, specOutsideConfig, trustKey } from '../lib/spec-trust.js';

interface OwnConfig {
  path: string;
  config: SeaotterConfig;
  read: () => Promise<SeaotterConfig>;
  /** With a codec key: why the spec's signature is not `pipeline apply`'s, or undefined when it is. */
  signatureProblem?: (spec: PipelineSpec) => string | undefined;
}

let own: (OwnConfig & { readAt: number }) | undefined;
/** Specs (by trustKey) the config allowed, so a passed check is not worked out again. */
const allowed = new Set<string>();
const MAX_ALLOWED = 1000;
/** The config file is read again at most this often while checks pass, so what it no longer allows is refused. */
const REREAD_MS = 60_000;

/** Set once by the worker at start; `read` reads the file again (client/config-file.ts). */
export function setWorkerConfig(own_: OwnConfig): void {
  own = { ...own_, readAt: Date.now() };
  allowed.clear();
}

let rereading: Promise<void> | undefined;

/**
 * Reads the config file again (one read for all activities that ask at once); a changed one may
 * allow less than before, so what it allowed is asked again.
 */
function reread(o: OwnConfig & { readAt: number }): Promise<void> {
  rereading ??= (async () => {
    try {
      const fresh = await o.read();
      if (canonicalJson(fresh) !== canonicalJson(o.config)) allowed.clear();
      o.config = fresh;
    } finally {
      o.readAt = Date.now();
      rereading = undefined;
    }
  })();
  return rereading;
}

/** The error type of a spec outside the worker's config (retried). */
const NOT_IN_WORKER_CONFIG = 'NotInWorkerConfig';

/**
 * Throws unless the worker's config allows `spec`. Without a worker config (activities run
 * outside `seaotter worker`, as in unit tests) there is nothing to check against.
 */
export async function checkSpecAllowed(spec: PipelineSpec): Promise<void> {
  if (!own) return;
  // The signature covers the whole spec, so it is checked every time (an HMAC of its JSON).
  const unsigned = own.signatureProblem?.(spec);
  // A file that cannot be read now keeps the config read last (the failure shows below if it matters).
  if (Date.now() - own.readAt > REREAD_MS) await reread(own).catch(() => undefined);
  const key = trustKey(spec);
  if (!unsigned && allowed.has(key)) return;
  let problems = specOutsideConfig(spec, own.config);
  let readError = '';
  if (problems.length) {
    try {
      await reread(own);
      problems = specOutsideConfig(spec, own.config);
    } catch (err) {
      readError = ` (reading it again failed: ${(err as Error).message.split('\n')[0]})`;
    }
  }
  if (problems.length) {
    if (unsigned) problems.push(`${unsigned} (with SEAOTTER_CODEC_KEY, pipeline apply signs what it applies)`);
    throw ApplicationFailure.create({
      type: NOT_IN_WORKER_CONFIG,
      message:
        `pipeline ${spec.id} asks this worker for what its config ${own.path} does not allow${readError}: ${problems.join('; ')}. ` +
        'A worker connects only where its own config says: run it with the config the pipeline was applied from.',
    });
  }
  if (unsigned) {
    throw ApplicationFailure.create({
      type: NOT_IN_WORKER_CONFIG,
      message:
        `pipeline ${spec.id} is not run by this worker: ${unsigned}. With SEAOTTER_CODEC_KEY, workers run only what pipeline apply ` +
        'signed with that key: apply the config with the key set (with --replace when the pipeline runs an unsigned spec).',
    });
  }
  if (allowed.size >= MAX_ALLOWED) allowed.clear();
  allowed.add(key);
}
