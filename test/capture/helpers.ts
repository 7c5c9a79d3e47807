// Shared by the capture tests: temporary folders removed after the file, and tags that let a test
// find its own JVMs (`--tag`) among those of test files running alongside.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A temporary-folder maker whose folders are removed once the calling test file is done. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

export function uniqueTag(what: string): string {
  return `${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** max − min. */
export const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
