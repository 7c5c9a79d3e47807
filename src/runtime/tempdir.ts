// Temporary directories for in-process clusters. Each is removed by its owner's stop(); one the
// process leaves behind in an abrupt exit (a reader closed the pipe, an error no one caught) is
// removed by an exit hook, so no run leaves data in the temp folder.
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { atExit } from './exit-hooks.js';

const live = new Set<string>();
atExit(() => {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
});

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  live.add(dir);
  return dir;
}

export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  live.delete(dir);
}
