// The cluster's shared secret: read from a file, checked for a sane length, or generated for a
// local multi-process cluster. Nodes prove knowledge of it with HMAC over each handshake.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { HmacAuthenticator } from '../substrate/real/auth.js';

/** A configuration a node refuses to run with (the CLI turns it into a usage error). */
export class NodeConfigError extends Error {
  override name = 'NodeConfigError';
}

export function loadAuthenticator(file: string): HmacAuthenticator {
  if (!existsSync(file)) throw new NodeConfigError(`secret file ${file} does not exist`);
  const text = readFileSync(file, 'utf8').trim();
  if (Buffer.byteLength(text) < 16) {
    throw new NodeConfigError(
      `secret file ${file} holds ${Buffer.byteLength(text)} bytes; the cluster secret needs at least 16`,
    );
  }
  return HmacAuthenticator.fromFile(file);
}

/** Writes a fresh random secret readable only by this user; returns its path. */
export async function writeSecretFile(dir: string): Promise<string> {
  const file = path.join(dir, 'cluster.secret');
  await fs.writeFile(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  return file;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Nodes on a network must authenticate each other: refuse to listen beyond loopback without a secret. */
export function checkListenPolicy(host: string, hasSecret: boolean, what: string): void {
  if (!hasSecret && !isLoopbackHost(host)) {
    throw new NodeConfigError(
      `refusing to listen for ${what} on ${host} without a cluster secret: pass --secret-file FILE (or listen on 127.0.0.1)`,
    );
  }
}
