// Link security of the real network: every connection is TLS before a single frame crosses it.
// Two ways to key it, both standard TLS rather than a scheme of our own:
// - a pre-shared key derived from the cluster secret: TLS 1.2 with an ECDHE-PSK suite, so both ends
//   prove they hold the key in the handshake (its Finished messages), and the ephemeral ECDHE
//   exchange gives forward secrecy (a secret leaked later does not decrypt recorded traffic);
// - certificates: mutual TLS, each side presenting a certificate signed by the cluster's CA.
// The floor of the stack: it knows nothing of secrets files, nodes or RPC; callers hand it keys.
import type tls from 'node:tls';

export type LinkSecurity =
  | {
      kind: 'psk';
      /** The TLS pre-shared key (at least 16 bytes; runtime derives it from the cluster secret). */
      key: Uint8Array;
    }
  | {
      kind: 'certificates';
      /** PEM: this node's certificate chain, its private key, and the CA every peer's certificate must chain to. */
      cert: Uint8Array;
      key: Uint8Array;
      ca: Uint8Array;
    };

/** The identity a client names in a PSK handshake (and the server's hint): one key per cluster. */
export const PSK_IDENTITY = 'rollcall/1';
/** AEAD first; both suites are ephemeral ECDHE, so a leaked secret does not open old captures. */
export const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384';
export const MIN_PSK_BYTES = 16;

/** Node 20 supports PSK only up to TLS 1.2. */
const PSK_PROTOCOL = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: PSK_CIPHERS } as const;

export function serverTlsOptions(security: LinkSecurity, handshakeTimeoutMs: number): tls.TlsOptions {
  if (security.kind === 'psk') {
    checkPsk(security.key);
    const key = Buffer.from(security.key);
    return {
      ...PSK_PROTOCOL,
      pskIdentityHint: PSK_IDENTITY,
      // Any identity gets the cluster key: the handshake then fails unless the client holds it.
      pskCallback: () => key,
      handshakeTimeout: handshakeTimeoutMs,
    };
  }
  return {
    ...certificateOptions(security),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

export function clientTlsOptions(security: LinkSecurity): tls.ConnectionOptions {
  if (security.kind === 'psk') {
    checkPsk(security.key);
    const key = Buffer.from(security.key);
    return {
      ...PSK_PROTOCOL,
      pskCallback: () => ({ psk: key, identity: PSK_IDENTITY }),
      // With PSK there is no certificate: the key is the server's identity.
      checkServerIdentity: () => undefined,
    };
  }
  return {
    ...certificateOptions(security),
    rejectUnauthorized: true,
    // Cluster membership is the CA's signature; nodes are reached by the address they registered
    // (often an IP), which certificates rarely name.
    checkServerIdentity: () => undefined,
  };
}

/** A one-line hint for a failed handshake, naming the likely cause. */
export function handshakeHint(security: LinkSecurity | undefined): string {
  if (!security) return 'the peer speaks TLS: pass the cluster secret (--secret-file) or certificates (--tls-*)';
  return security.kind === 'psk'
    ? 'does the peer use the same cluster secret?'
    : "is the peer's certificate signed by --tls-ca, and ours by its CA?";
}

function certificateOptions(c: Extract<LinkSecurity, { kind: 'certificates' }>): tls.SecureContextOptions {
  return { minVersion: 'TLSv1.2', cert: Buffer.from(c.cert), key: Buffer.from(c.key), ca: Buffer.from(c.ca) };
}

function checkPsk(key: Uint8Array): void {
  if (key.byteLength < MIN_PSK_BYTES) throw new Error(`a TLS pre-shared key needs at least ${MIN_PSK_BYTES} bytes`);
}
