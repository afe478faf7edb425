/**
 * Marks the built CLI (package.json `bin`) executable. tsc writes it as a plain file, and `npx
 * seaotter` in a fresh checkout runs it through the shell, which refuses a file without the bit.
 */
import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

await chmod(fileURLToPath(new URL('../client/main.js', import.meta.url)), 0o755);
