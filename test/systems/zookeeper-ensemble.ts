// A real ZooKeeper ensemble for tests: three (or `size`) servers of Debian's zookeeper package on
// loopback, each a JVM with its own data directory, quorum and election ports; and a light client
// load (a few sessions reading and writing small znodes) so the servers' request threads work.
//
//   const zk = await startZkEnsemble();           // resolves once one leader and the rest follow
//   const load = await startZkLoad(zk);           // one session per server, ~20 ops/s each
//   ... capture zk.servers (name + pid: 'zk1', 'zk2', 'zk3') ...
//   await load.stop(); await zk.stop();           // always kills every JVM it started
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZkUrl } from '../../src/coordination/zookeeper/connection.js';
import { openZkSession } from '../../src/coordination/zookeeper/index.js';
import { requireTool } from '../support/environment.js';
import { SMALL_JVM_FLAGS, commandWorks, killAll, launch, type LaunchedProcess } from './jvm.js';

const ZK_JAR = '/usr/share/java/zookeeper.jar';
/** The jar's manifest names its dependencies; log4j prints warnings to stdout for error messages. */
const CLASSPATH = ['/etc/zookeeper/conf', ZK_JAR, '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];
const START_LIMIT_MS = 60_000;
const START_ATTEMPTS = 3;
/** Bound on the ensemble's size (quorum ports per server). */
const MAX_SERVERS = 7;
const QUORUM_POLL_MS = 200;

export function zkEnsembleForTests(): boolean {
  const ok = existsSync(ZK_JAR) && commandWorks('java', ['-version']);
  return requireTool('ZooKeeper ensemble', ok, "Debian's zookeeper package and a JDK; .ci/setup-system installs them");
}

export interface ZkEnsembleServer {
  name: string;
  pid: number;
  clientPort: number;
  process: LaunchedProcess;
}

export interface ZkEnsemble {
  servers: ZkEnsembleServer[];
  /** HOST:PORT,HOST:PORT,… */
  connectString: string;
  /** `srvr` mode of each server: leader, follower. */
  modes(): Promise<string[]>;
  /** Kills every server and removes the data directories. Safe to call twice. */
  stop(): Promise<void>;
}

/** Sends a four-letter command; resolves with the answer ('' when the server does not answer). */
export function fourLetter(port: number, command: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    s.on('connect', () => s.write(command));
    s.on('data', (d) => (out += d.toString('utf8')));
    s.on('end', done);
    s.on('error', done);
  });
}

export function freePorts(n: number): Promise<number[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => {
            const a = s.address();
            const port = typeof a === 'object' && a !== null ? a.port : 0;
            s.close(() => resolve(port));
          });
        }),
    ),
  );
}

async function startOnce(size: number): Promise<ZkEnsemble> {
  const ports = await freePorts(size * 3);
  const root = mkdtempSync(join(tmpdir(), 'rollcall-zk-ensemble-'));
  const peers = Array.from(
    { length: size },
    (_, i) => `server.${i + 1}=127.0.0.1:${ports[size + i]}:${ports[2 * size + i]}`,
  ).join('\n');
  const servers: ZkEnsembleServer[] = [];
  const stop = async (): Promise<void> => {
    await killAll(servers.map((s) => s.process));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const dir = join(root, `zk${i + 1}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'myid'), `${i + 1}\n`);
      writeFileSync(
        join(dir, 'zoo.cfg'),
        [
          'tickTime=500',
          'initLimit=20',
          'syncLimit=10',
          `dataDir=${join(dir, 'data')}`,
          `clientPort=${ports[i]}`,
          'clientPortAddress=127.0.0.1',
          'admin.enableServer=false',
          '4lw.commands.whitelist=ruok,srvr,stat,mntr',
          'maxClientCnxns=0',
          peers,
          '',
        ].join('\n'),
      );
      const process = launch({
        name: `zk${i + 1}`,
        command: 'java',
        args: [
          ...SMALL_JVM_FLAGS,
          '-Dzookeeper.root.logger=WARN,CONSOLE',
          `-Dzookeeper.log.dir=${dir}`,
          '-cp',
          CLASSPATH.join(':'),
          'org.apache.zookeeper.server.quorum.QuorumPeerMain',
          join(dir, 'zoo.cfg'),
        ],
      });
      servers.push({ name: `zk${i + 1}`, pid: process.pid, clientPort: ports[i]!, process });
    }
    const modes = async (): Promise<string[]> =>
      Promise.all(
        servers.map(async (s) => /^Mode: (\w+)/m.exec(await fourLetter(s.clientPort, 'srvr'))?.[1] ?? 'down'),
      );
    // Polls (a quorum forms in a few seconds; no event to wait on from outside the JVMs).
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      if (servers.some((s) => s.process.exited())) throw new Error(`a server exited: ${exitedTail(servers)}`);
      const m = await modes();
      if (m.filter((x) => x === 'leader').length === 1 && m.filter((x) => x === 'follower').length === size - 1) break;
      if (Date.now() > deadline) throw new Error(`no quorum within ${START_LIMIT_MS} ms (modes ${m.join(', ')})`);
      await new Promise((r) => setTimeout(r, QUORUM_POLL_MS));
    }
    return { servers, connectString: servers.map((s) => `127.0.0.1:${s.clientPort}`).join(','), modes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function exitedTail(servers: ZkEnsembleServer[]): string {
  return servers
    .filter((s) => s.process.exited())
    .map((s) => `${s.name}: ${s.process.tail()}`)
    .join('\n');
}

/** Starts `size` servers (default 3); retries on new ports when a port was taken meanwhile. */
export async function startZkEnsemble(size = 3): Promise<ZkEnsemble> {
  if (size < 1 || size > MAX_SERVERS) throw new RangeError(`ensemble of 1..${MAX_SERVERS} servers`);
  let last: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(size);
    } catch (err) {
      last = err;
      console.warn(`ZooKeeper ensemble start attempt ${attempt}/${START_ATTEMPTS} failed: ${(err as Error).message}`);
    }
  }
  throw last;
}

export interface ZkLoad {
  /** Operations completed so far (all sessions). */
  ops(): number;
  /** Stops the loops and closes the sessions. */
  stop(): Promise<void>;
}

/** One session per server, each writing and reading a small znode every `pauseMs`. */
export async function startZkLoad(zk: ZkEnsemble, pauseMs = 50): Promise<ZkLoad> {
  let ops = 0;
  let running = true;
  const sessions = await Promise.all(
    zk.servers.map((s) => openZkSession(parseZkUrl(`zookeeper://127.0.0.1:${s.clientPort}/rollcall-load`))),
  );
  const loops = sessions.map(async (session, i) => {
    const path = `/item-${i}`;
    await session.createIfAbsent(path, new Uint8Array([0]));
    for (let k = 0; running; k++) {
      await session.setData(path, new TextEncoder().encode(`value ${k}`));
      await session.getData(path);
      await session.getChildren('/');
      ops += 3;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    ops: () => ops,
    stop: async () => {
      running = false;
      await Promise.allSettled(loops);
      await Promise.all(sessions.map((s) => s.close()));
    },
  };
}
