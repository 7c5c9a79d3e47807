// Authentication of rollcall's HTTP listeners (each node's admin listener, the capture agent): a
// bearer token derived from the cluster secret, checked in constant time. Kept this low so the
// admin, capture and runtime layers share one definition.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Bearer token for admin and agent listeners: hex HMAC-SHA256, keyed with the secret, of "rollcall admin v1". */
export function adminToken(secret: Uint8Array | string): string {
  return createHmac('sha256', secret).update('rollcall admin v1').digest('hex');
}

/**
 * Constant-time check of an Authorization header against the token (hashing equalizes lengths).
 * Tokens are hex, so case does not matter.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256')
    .update(m?.[1]?.toLowerCase() ?? '')
    .digest();
  const expected = createHash('sha256').update(token.toLowerCase()).digest();
  return m !== null && timingSafeEqual(given, expected);
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}
