/** Errors the CLI turns into exit codes: 1 for the user's mistakes, 2 for servers it cannot reach. */
export class UserError extends Error {
  readonly exitCode = 1;
}

export class UnreachableError extends Error {
  readonly exitCode = 2;
}

/** Network-level failures (refused, timed out, unknown host) are "cannot reach", not user error. */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string | number })?.code;
  const msg = String((err as Error)?.message ?? '');
  return (
    ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST'].includes(String(code)) ||
    // (The worker's native connection words it its own way: `ConnectionRefused`, `dns error`.)
    /ECONNREFUSED|connect ETIMEDOUT|failed to connect|Failed to connect|UNAVAILABLE|deadline exceeded|ConnectionRefused|Connection refused|tcp connect error|dns error|ConnectError\(/i.test(msg)
  );
}
