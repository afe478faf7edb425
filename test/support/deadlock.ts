/**
 * Tests' concurrent writers on one source table can deadlock each other; InnoDB then rolls back
 * the victim's whole transaction, and running it again is the client's job (not seaotter's).
 */
export async function retryDeadlocks<T>(write: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if ((err as { errno?: number }).errno !== 1213 || attempt >= attempts) throw err;
    }
  }
}
