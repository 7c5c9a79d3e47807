// Connection authentication: the server challenges with a nonce, the client proves it knows the
// cluster's shared secret. The keyed hash is injected (real: HMAC-SHA256) so protocol code stays pure.

export interface Authenticator {
  /** A fresh unpredictable nonce for one handshake. */
  nonce(): string;
  /** The proof a node gives for a nonce. */
  prove(nonce: string, node: string): string;
  /** Constant-time check of a proof. */
  verify(nonce: string, node: string, proof: string): boolean;
}
