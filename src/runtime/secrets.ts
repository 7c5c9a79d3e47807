// The cluster's shared secret: read from a file, checked for a sane length, or generated for a
// local multi-process cluster. Nodes prove knowledge of it with HMAC over each handshake.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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

/** The cluster secret's bytes, as every component keys its HMACs with them: the file's text, trimmed. */
export function loadSecret(file: string): Buffer {
  if (!existsSync(file)) throw new NodeConfigError(`secret file ${file} does not exist`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new NodeConfigError(`cannot read secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const secret = Buffer.from(text, 'utf8');
  if (secret.length < 16) {
    throw new NodeConfigError(`secret file ${file} holds ${secret.length} bytes; the cluster secret needs at least 16`);
  }
  return secret;
}

/**
 * The bearer token of admin and agent HTTP listeners, derived from the cluster secret: hex
 * HMAC-SHA256 keyed with the secret's bytes over "rollcall admin v1". Sent as
 * `Authorization: Bearer <token>`.
 */
export function adminToken(secret: Buffer | string): string {
  return createHmac('sha256', secret).update('rollcall admin v1').digest('hex');
}

/** Whether an Authorization header carries the token, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+([0-9a-fA-F]{1,128})\s*$/.exec(header ?? '');
  // Both sides are hashed to a fixed length first, so the comparison time says nothing about length.
  const given = createHmac('sha256', 'rollcall bearer')
    .update(m?.[1]?.toLowerCase() ?? '')
    .digest();
  const expected = createHmac('sha256', 'rollcall bearer').update(token.toLowerCase()).digest();
  return timingSafeEqual(given, expected) && m !== null;
}
