// How a node (or a client of one) is secured: the cluster secret and the optional TLS certificates,
// read from files with the checks ssh makes (a secret others can read is refused), turned into the
// link security of the real network (TLS-PSK keyed from the secret, or mutual TLS) and the token
// of the admin listeners. Keys for different uses are derived separately from the secret, so the
// admin token (which may cross a network in clear) reveals nothing about the TLS key.
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { AdminAuth } from '../admin/http.js';
import { DUPLICATE_NODE_ERROR } from '../cluster/index.js';
import { RemoteError, RpcError } from '../rpc/index.js';
import { NetworkError } from '../substrate/types.js';
import type { LinkSecurity } from '../substrate/real/index.js';
import { adminToken, isLoopbackHost } from '../substrate/real/http-auth.js';

export { adminToken, isLoopbackHost };

/** A configuration a node refuses to run with (the CLI turns it into a usage error). */
export class NodeConfigError extends Error {
  override name = 'NodeConfigError';
}

export const MIN_SECRET_BYTES = 16;
/** A secret file is a line of text; anything bigger is the wrong file. */
export const MAX_SECRET_FILE_BYTES = 4096;
/** Certificates and keys: generous for a chain, small enough to refuse a wrong path at once. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** The TLS pre-shared key: HMAC-SHA256, keyed with the secret, of "rollcall tls-psk v1". */
export function tlsPsk(secret: Uint8Array): Buffer {
  return createHmac('sha256', secret).update('rollcall tls-psk v1').digest();
}

/**
 * Reads a private file (the secret, a TLS key) as ssh reads a private key: it must be a regular
 * file that neither group nor others can read or write, at most maxBytes long.
 */
function readPrivateFile(file: string, what: string, maxBytes: number): Buffer {
  const st = statOf(file, what);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new NodeConfigError(
      `permissions ${mode.toString(8).padStart(4, '0')} for ${what} ${file} are too open: it must not be ` +
        `accessible by group or others (run: chmod 600 ${file})`,
    );
  }
  return readBounded(file, what, st.size, maxBytes);
}

function statOf(file: string, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NodeConfigError(
      code === 'ENOENT' ? `${what} ${file} does not exist` : `cannot read ${what} ${file}: ${code ?? String(err)}`,
    );
  }
  if (st.isDirectory()) throw new NodeConfigError(`${what} ${file} is a directory; pass the file itself`);
  if (!st.isFile()) throw new NodeConfigError(`${what} ${file} is not a regular file`);
  return st;
}

function readBounded(file: string, what: string, size: number, maxBytes: number): Buffer {
  if (size > maxBytes) throw new NodeConfigError(`${what} ${file} is ${size} bytes (at most ${maxBytes})`);
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new NodeConfigError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The cluster secret's bytes: the file's text without surrounding whitespace (a final newline). */
export function readSecretFile(file: string): Buffer {
  const text = readPrivateFile(file, 'secret file', MAX_SECRET_FILE_BYTES).toString('utf8').trim();
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new NodeConfigError(
      `secret file ${file} holds ${bytes.length} bytes; the cluster secret needs at least ${MIN_SECRET_BYTES}`,
    );
  }
  return bytes;
}

/** Where a node's or client's security comes from: command-line files. */
export interface SecurityFiles {
  secretFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** TLS certificates (PEM) for mutual TLS. */
export interface CertificateFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** What securing a node or a client amounts to; nothing set means plain TCP and HTTP (loopback only). */
export interface NodeSecurity {
  /** TLS on every RPC connection. */
  link?: LinkSecurity;
  /** Admin listeners require `Authorization: Bearer <token>` (and admin clients send it). */
  adminToken?: string;
  /** Admin listeners serve HTTPS and accept a client certificate signed by the CA instead of the token. */
  adminCertificates?: CertificateFiles;
}

export const NO_SECURITY: NodeSecurity = {};

/** Reads and checks the files; throws NodeConfigError with one line naming what is wrong. */
export function loadSecurity(files: SecurityFiles): NodeSecurity {
  const tlsGiven = [files.tlsCert, files.tlsKey, files.tlsCa].filter((f) => f !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) {
    throw new NodeConfigError('--tls-cert, --tls-key and --tls-ca go together: pass all three');
  }
  const secret = files.secretFile !== undefined ? readSecretFile(files.secretFile) : undefined;
  const certificates =
    files.tlsCert !== undefined
      ? {
          cert: readBounded(
            files.tlsCert,
            'TLS certificate',
            statOf(files.tlsCert, 'TLS certificate').size,
            MAX_PEM_FILE_BYTES,
          ),
          key: readPrivateFile(files.tlsKey!, 'TLS key', MAX_PEM_FILE_BYTES),
          ca: readBounded(files.tlsCa!, 'TLS CA', statOf(files.tlsCa!, 'TLS CA').size, MAX_PEM_FILE_BYTES),
        }
      : undefined;
  return securityOf(secret, certificates);
}

/** Security from bytes already read (tests, generated secrets). */
export function securityOf(secret: Uint8Array | undefined, certificates?: CertificateFiles): NodeSecurity {
  if (secret !== undefined && secret.byteLength < MIN_SECRET_BYTES) {
    throw new NodeConfigError(`the cluster secret needs at least ${MIN_SECRET_BYTES} bytes`);
  }
  // Certificates, when given, key the links; the secret then still authenticates admin requests.
  const link: LinkSecurity | undefined = certificates
    ? { kind: 'certificates', ...certificates }
    : secret !== undefined
      ? { kind: 'psk', key: tlsPsk(secret) }
      : undefined;
  return {
    ...(link ? { link } : {}),
    ...(secret !== undefined ? { adminToken: adminToken(secret) } : {}),
    ...(certificates ? { adminCertificates: certificates } : {}),
  };
}

/** One line saying how links and admin listeners are protected. */
export function describeSecurity(s: NodeSecurity): string {
  const link =
    s.link === undefined
      ? 'plain TCP (loopback only)'
      : s.link.kind === 'psk'
        ? 'TLS 1.2 ECDHE-PSK keyed from the cluster secret'
        : 'mutual TLS (certificates signed by --tls-ca)';
  const admin = [s.adminCertificates ? 'HTTPS with a client certificate' : '', s.adminToken ? 'a bearer token' : '']
    .filter(Boolean)
    .join(' or ');
  return `links: ${link}; admin: ${admin || 'open (loopback only)'}`;
}

/** Writes a fresh random secret readable only by this user; returns its path. */
export async function writeSecretFile(dir: string): Promise<string> {
  const file = path.join(dir, 'cluster.secret');
  await fsp.writeFile(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  return file;
}

/** Nodes on a network must authenticate each other: refuse to listen beyond loopback without a secret. */
export function checkListenPolicy(host: string, authenticated: boolean, what: string): void {
  if (!authenticated && !isLoopbackHost(host)) {
    throw new NodeConfigError(
      `refusing to listen for ${what} on ${host} without authentication: pass --secret-file FILE ` +
        `(or --tls-cert/--tls-key/--tls-ca), or listen on 127.0.0.1`,
    );
  }
}

/** Whether an admin listener with this security authenticates its requests. */
export function adminAuthenticated(s: NodeSecurity): boolean {
  return s.adminToken !== undefined || s.adminCertificates !== undefined;
}

/** What admin listeners require and admin clients present. */
export function adminAuthOf(s: NodeSecurity): AdminAuth {
  return {
    ...(s.adminToken !== undefined ? { token: s.adminToken } : {}),
    ...(s.adminCertificates ? { tls: s.adminCertificates } : {}),
  };
}

/** Refuses RPC or admin listening beyond loopback without the authentication each needs. */
export function checkNodeListenPolicy(s: NodeSecurity, rpcHost: string, adminHost: string | undefined): void {
  checkListenPolicy(rpcHost, s.link !== undefined, 'RPC');
  if (adminHost !== undefined) checkListenPolicy(adminHost, adminAuthenticated(s), 'the admin listener (/stacks)');
}

/**
 * A start failure that is the operator's to fix, not the network's: the peer refused our key or
 * certificate, or our name is taken. The CLI reports it as a usage error (exit 2).
 */
export function configErrorOf(err: unknown): NodeConfigError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const auth =
      (e instanceof NetworkError && e.code === 'EAUTH') ||
      (e instanceof RpcError && e.type === 'Auth') ||
      (e instanceof RemoteError && e.remoteType === DUPLICATE_NODE_ERROR);
    if (auth) return new NodeConfigError((err as Error).message);
  }
  return undefined;
}
