import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { Authenticator } from '../../rpc/auth.js';

/** HMAC-SHA256 over each connection's handshake nonce and the connecting node's name. */
export class HmacAuthenticator implements Authenticator {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 16) throw new Error('the cluster secret must be at least 16 bytes');
  }
  static fromFile(path: string): HmacAuthenticator {
    const text = fs.readFileSync(path);
    return new HmacAuthenticator(Buffer.from(text.toString('utf8').trim(), 'utf8'));
  }
  nonce(): string {
    return randomBytes(16).toString('hex');
  }
  prove(nonce: string, node: string): string {
    return createHmac('sha256', this.secret).update(`rollcall/1 ${nonce} ${node}`).digest('hex');
  }
  verify(nonce: string, node: string, proof: string): boolean {
    const expected = Buffer.from(this.prove(nonce, node), 'hex');
    const given = Buffer.from(proof, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
