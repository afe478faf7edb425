/**
 * One watchdog for the workflow sandbox instead of one thread per call into it.
 *
 * The SDK bounds every call into a workflow's sandbox (`isolateExecutionTimeout`, 5 s) by passing
 * `timeout` to Node's `vm`, and Node creates and joins a watchdog thread for each such call: about
 * 50 µs of CPU per call on an idle machine and several times that in wall time on a busy one, on
 * the single workflow thread that every batch's workflow tasks go through. `around(create)` starts
 * the SDK's workflow threads through a bootstrap that first loads vm-watchdog-thread.ts, which
 * keeps each call's limit in shared memory instead; this class checks it from the main thread.
 *
 * A call over its limit can only be workflow code that never yields (seaotter's workflows do not
 * run user code). The SDK would fail that workflow task; here the workflow thread is terminated,
 * the SDK worker fails, and the process exits with the reason logged, so a supervisor restarts it
 * and the task goes to another worker. `SEAOTTER_VM_WATCHDOG=per-call` keeps the SDK's own.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import workerThreads from 'node:worker_threads';
import { WATCHDOG_DATA_KEY, WATCHDOG_SLOTS, WatchdogSlot, type WatchdogData } from './vm-watchdog-shared.js';

const SDK_WORKFLOW_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread\.js$/;
const PRELOAD = pathToFileURL(fileURLToPath(new URL('./vm-watchdog-thread.js', import.meta.url))).href;
const CHECK_EVERY_MS = 500;

interface Watched {
  thread: workerThreads.Worker;
  slots: BigInt64Array;
}

export type WatchdogMode = 'shared' | 'per-call';

export class VmWatchdog {
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onStuck: (message: string) => void,
    /** Which threads to watch, by their script's path: the SDK's workflow threads. */
    private readonly matches: (file: string) => boolean = (file) => SDK_WORKFLOW_THREAD.test(file),
  ) {}

  /** `shared` when the workflow threads were started with the preload, else `per-call` (the SDK's own). */
  get mode(): WatchdogMode {
    return this.watched.length > 0 ? 'shared' : 'per-call';
  }

  /** Threads that have taken over their calls' limits (the preload ran in them). */
  get installed(): number {
    return this.watched.filter((w) => Atomics.load(w.slots, WatchdogSlot.Installed) === 1n).length;
  }

  /** Runs `create` (the SDK's `Worker.create`) with its workflow threads watched by this watchdog. */
  async around<T>(create: () => Promise<T>): Promise<T> {
    const Original = workerThreads.Worker;
    const watched = this.watched;
    const self = this;
    class WatchedWorker extends Original {
      constructor(filename: string | URL, options: workerThreads.WorkerOptions = {}) {
        const file = filename instanceof URL ? fileURLToPath(filename) : filename;
        if (!self.matches(file) || options.eval || options.workerData !== undefined) {
          super(filename, options);
          return;
        }
        const state = new SharedArrayBuffer(WATCHDOG_SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
        const data: WatchdogData = { state };
        // The thread loads the preload, then the SDK's script. A bootstrap rather than an
        // --import flag: given flags, a thread no longer inherits the process's as it would by
        // default. The SDK's messages wait in the thread's port until its script listens.
        super(bootstrap(file), { ...options, eval: true, workerData: { [WATCHDOG_DATA_KEY]: data } });
        watched.push({ thread: this, slots: new BigInt64Array(state) });
      }
    }
    const module = workerThreads as { Worker: typeof Original };
    module.Worker = WatchedWorker;
    try {
      return await create();
    } finally {
      module.Worker = Original;
      if (this.watched.length > 0 && !this.timer) {
        this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
        this.timer.unref();
      }
    }
  }

  /** Terminates a workflow thread whose current call into the sandbox is over its limit. */
  check(): void {
    const now = Date.now();
    for (const w of this.watched) {
      const since = Number(Atomics.load(w.slots, WatchdogSlot.BusySince));
      const limit = Number(Atomics.load(w.slots, WatchdogSlot.LimitMs));
      if (since === 0 || now - since <= limit) continue;
      Atomics.store(w.slots, WatchdogSlot.BusySince, 0n);
      this.onStuck(
        `workflow code ran ${now - since} ms in one call without yielding (limit ${limit} ms, the SDK's isolateExecutionTimeout): ` +
          'a deadlock in workflow code; the workflow thread is stopped and the worker exits so that the task goes to another worker',
      );
      void w.thread.terminate();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A thread's code that loads the preload and then `file`; it uses neither `require` nor static
 * imports, so it runs whether Node takes eval'd code as CommonJS or, under the process's
 * `--input-type=module`, as a module.
 */
function bootstrap(file: string): string {
  return (
    `import(${JSON.stringify(PRELOAD)}).then(() => import('node:module'))` +
    `.then(({ createRequire }) => createRequire(${JSON.stringify(file)})(${JSON.stringify(file)}));`
  );
}

/** `SEAOTTER_VM_WATCHDOG`: `shared` (default) or `per-call` (the SDK's, one thread per call). */
export function watchdogModeFromEnv(env: NodeJS.ProcessEnv = process.env): WatchdogMode {
  const v = env.SEAOTTER_VM_WATCHDOG;
  if (v === undefined || v === '' || v === 'shared') return 'shared';
  if (v === 'per-call') return 'per-call';
  throw new Error(`SEAOTTER_VM_WATCHDOG must be "shared" or "per-call", not "${v}"`);
}
