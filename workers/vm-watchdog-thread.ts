/**
 * Loaded first in the worker's workflow thread (see vm-watchdog.ts). The SDK runs every call into
 * the workflow sandbox as `runInContext(…, { timeout })`, and Node starts and joins a watchdog
 * thread for each such call. Here a call keeps its limit but runs without that thread: it records
 * when the outermost call began in memory shared with the worker's main thread, whose one timer
 * enforces the limit. Without the shared memory (any other thread) this module does nothing.
 */
import vm from 'node:vm';
import { workerData } from 'node:worker_threads';
import { WATCHDOG_DATA_KEY, WatchdogSlot, type WatchdogData } from './vm-watchdog-shared.js';

const data = (workerData as Record<string, unknown> | null | undefined)?.[WATCHDOG_DATA_KEY] as WatchdogData | undefined;
if (data) {
  const slots = new BigInt64Array(data.state);
  const original = vm.Script.prototype.runInContext;
  let depth = 0;
  vm.Script.prototype.runInContext = function runInContext(this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) {
    if (options?.timeout === undefined) return original.call(this, context, options);
    const { timeout, ...rest } = options;
    if (depth++ === 0) {
      Atomics.store(slots, WatchdogSlot.LimitMs, BigInt(timeout));
      Atomics.store(slots, WatchdogSlot.BusySince, BigInt(Date.now()));
    }
    try {
      return original.call(this, context, rest);
    } finally {
      if (--depth === 0) Atomics.store(slots, WatchdogSlot.BusySince, 0n);
    }
  };
  Atomics.store(slots, WatchdogSlot.Installed, 1n);
}
