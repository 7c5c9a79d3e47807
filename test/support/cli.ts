// Runs the `rollcall` CLI in this process with stdout and stderr captured: fast, and exit codes
// come back as values instead of process exits.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'rollcall', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Arguments of `rollcall node` listening on loopback, any free ports. */
export function nodeArgs(role: 'master' | 'worker', dataDir: string, ...extra: string[]): string[] {
  return ['node', '--role', role, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data', dataDir, ...extra];
}
