/**
 * Resolves when this worker process is asked to stop (SIGINT/SIGTERM). Long-running activities
 * (capture) end promptly on it so another worker takes over at once; short ones just finish.
 */
let signalShutdown: () => void = () => {};

export const workerShutdown: Promise<void> = new Promise((resolve) => {
  signalShutdown = resolve;
});
// Nothing awaits it until an activity runs; keep an unobserved rejection-free promise.
void workerShutdown;

export function beginShutdown(): void {
  signalShutdown();
}
