/**
 * Heartbeats on a timer while an activity runs, so a worker that dies (kill -9, lost host) is
 * noticed within the heartbeat timeout and its activity retried elsewhere, not after the long
 * start-to-close timeout.
 */
import { activityInfo, heartbeat } from '@temporalio/activity';

export const HEARTBEAT_INTERVAL_MS = 2000;

export async function withHeartbeat<T>(fn: () => Promise<T>, details?: () => unknown): Promise<T> {
  // Local activities live inside their workflow task; they do not heartbeat.
  if (activityInfo().isLocal) return fn();
  const timer = setInterval(() => heartbeat(details?.()), HEARTBEAT_INTERVAL_MS);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
