// The --coordination flag's value: zookeeper://HOST:PORT[,HOST:PORT...]/CHROOT[?sessionTimeoutMs=N]. Parsing is strict
// and every error says what was wrong and what a good value looks like, because a typo here
// otherwise shows up much later as "cannot connect" or, worse, as two clusters silently sharing
// the root znode.
import type { Address } from '../../substrate/types.js';
import { ZkStartupError, type ZkConnectionSpec } from '../../substrate/zookeeper.js';

export { ZkStartupError, type ZkConnectionSpec };

/** A malformed --coordination value; the CLI turns it into exit code 2. */
export class ZkUrlError extends Error {
  override name = 'ZkUrlError';
}

export const ZK_SCHEME = 'zookeeper://';
/** An ensemble larger than this is a typo, not a deployment (ZooKeeper ensembles are 3, 5 or 7). */
export const MAX_ZK_SERVERS = 15;
/** ZooKeeper's own bounds are 2 and 20 ticks; these bracket any sane server configuration. */
export const MIN_SESSION_TIMEOUT_MS = 1_000;
export const MAX_SESSION_TIMEOUT_MS = 120_000;
const MAX_CHROOT_CHARS = 200;
const EXAMPLE = 'zookeeper://127.0.0.1:2181/rollcall';
/** Path segments ZooKeeper refuses or that would escape the chroot. */
const SEGMENT = /^[A-Za-z0-9_.-]+$/;

export function parseZkUrl(text: string): ZkConnectionSpec {
  const value = text.trim();
  if (!value.toLowerCase().startsWith(ZK_SCHEME)) {
    throw new ZkUrlError(
      `--coordination takes ${ZK_SCHEME}HOST:PORT[,HOST:PORT]/CHROOT (e.g. ${EXAMPLE}), not '${text}'`,
    );
  }
  const query = value.indexOf('?');
  const sessionTimeoutMs = query < 0 ? undefined : parseQuery(value.slice(query + 1), text);
  const rest = value.slice(ZK_SCHEME.length, query < 0 ? undefined : query);
  const slash = rest.indexOf('/');
  if (slash < 0) {
    throw new ZkUrlError(
      `'${text}' has no chroot: add a path such as /rollcall so this cluster's znodes do not mix with others' (e.g. ${EXAMPLE})`,
    );
  }
  const hostPart = rest.slice(0, slash);
  const chroot = rest.slice(slash).replace(/\/+$/, '');
  if (hostPart.length === 0) throw new ZkUrlError(`'${text}' names no ZooKeeper server (e.g. ${EXAMPLE})`);
  const servers = hostPart.split(',').map((s) => parseServer(s, text));
  if (servers.length > MAX_ZK_SERVERS) {
    throw new ZkUrlError(`'${text}' lists ${servers.length} servers; at most ${MAX_ZK_SERVERS} are accepted`);
  }
  if (chroot.length === 0) {
    throw new ZkUrlError(`'${text}': the chroot must not be '/' alone; use a path such as /rollcall`);
  }
  if (chroot.length > MAX_CHROOT_CHARS)
    throw new ZkUrlError(`'${text}': chroot longer than ${MAX_CHROOT_CHARS} characters`);
  for (const segment of chroot.slice(1).split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..' || segment === 'zookeeper') {
      throw new ZkUrlError(
        `'${text}': chroot segment '${segment}' is not allowed (letters, digits, '_', '.', '-'; not '.', '..' or 'zookeeper')`,
      );
    }
  }
  const suffix = sessionTimeoutMs === undefined ? '' : `?sessionTimeoutMs=${sessionTimeoutMs}`;
  return {
    servers,
    chroot,
    ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
    url: `${ZK_SCHEME}${clientConnectionString({ servers })}${chroot}${suffix}`,
  };
}

/** True when a --coordination value asks for ZooKeeper (the only non-default transport today). */
export function isZkUrl(text: string | undefined): text is string {
  return text !== undefined && text.trim().toLowerCase().startsWith(ZK_SCHEME);
}

/** The client library's connection string: servers only (rollcall prefixes the chroot itself). */
export function clientConnectionString(spec: Pick<ZkConnectionSpec, 'servers'>): string {
  return spec.servers.map((s) => `${s.host}:${s.port}`).join(',');
}

function parseServer(text: string, whole: string): Address {
  if (text.startsWith('[')) {
    // node-zookeeper-client splits servers on ':', so an IPv6 literal would be misread.
    throw new ZkUrlError(
      `'${whole}': IPv6 literals are not supported by the ZooKeeper client; use a host name for '${text}'`,
    );
  }
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!m) {
    throw new ZkUrlError(
      `'${whole}': server '${text}' is not HOST:PORT (every server needs its port, e.g. 127.0.0.1:2181)`,
    );
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ZkUrlError(`'${whole}': port ${m[2]} of '${text}' is out of range 1..65535`);
  return { host: m[1]!, port };
}

function parseQuery(query: string, whole: string): number | undefined {
  let timeout: number | undefined;
  for (const pair of query.split('&').filter((p) => p.length > 0)) {
    const [key, v] = pair.split('=', 2);
    if (key !== 'sessionTimeoutMs') {
      throw new ZkUrlError(`'${whole}': unknown parameter '${key}' (the only one is sessionTimeoutMs)`);
    }
    const n = Number(v);
    if (!Number.isInteger(n) || n < MIN_SESSION_TIMEOUT_MS || n > MAX_SESSION_TIMEOUT_MS) {
      throw new ZkUrlError(
        `'${whole}': sessionTimeoutMs takes a whole number of ms from ${MIN_SESSION_TIMEOUT_MS} to ${MAX_SESSION_TIMEOUT_MS}, not '${v ?? ''}'`,
      );
    }
    timeout = n;
  }
  return timeout;
}
