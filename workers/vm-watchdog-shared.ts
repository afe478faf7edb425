/** What the worker's main thread and its workflow thread share about calls into the sandbox. */

/** The key of the workflow thread's `workerData` that carries the shared memory. */
export const WATCHDOG_DATA_KEY = 'seaotterVmWatchdog';

export interface WatchdogData {
  /** A BigInt64Array's memory, indexed by `WatchdogSlot`. */
  state: SharedArrayBuffer;
}

export const WatchdogSlot = {
  /** 1 once the workflow thread has taken over the per-call limit. */
  Installed: 0,
  /** Date.now() when the running outermost call into the sandbox began; 0 while none runs. */
  BusySince: 1,
  /** The limit the SDK asked for on that call (its `isolateExecutionTimeout`), in ms. */
  LimitMs: 2,
} as const;

export const WATCHDOG_SLOTS = 3;
