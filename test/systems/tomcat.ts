// A real Tomcat 10 for tests (Debian's tomcat10): its own CATALINA_BASE in a temporary folder,
// the HTTP connector on a free loopback port, no shutdown port, one static web application; and a
// light HTTP load (a few clients fetching pages back to back with a pause).
//
//   const tomcat = await startTomcat();          // resolves once it answers HTTP
//   const load = startHttpLoad(tomcat.url, 2);   // 2 clients
//   ... capture { name: 'tomcat', pid: tomcat.pid } ...
//   await load.stop(); await tomcat.stop();      // always kills the JVM it started
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../support/environment.js';
import { commandWorks, launch, type LaunchedProcess } from './jvm.js';
import { freePorts } from './zookeeper-ensemble.js';

const CATALINA_HOME = '/usr/share/tomcat10';
const CATALINA_SH = join(CATALINA_HOME, 'bin/catalina.sh');
const START_LIMIT_MS = 60_000;
const READY_POLL_MS = 200;
/** Bound on load clients. */
const MAX_CLIENTS = 64;

export function tomcatForTests(): boolean {
  const ok = existsSync(CATALINA_SH) && commandWorks('java', ['-version']);
  return requireTool('Tomcat 10', ok, "Debian's tomcat10 package and a JDK; .ci/setup-system installs them");
}

export interface TomcatServer {
  name: string;
  pid: number;
  port: number;
  url: string;
  process: LaunchedProcess;
  /** Kills the JVM and removes CATALINA_BASE. Safe to call twice. */
  stop(): Promise<void>;
}

const SERVER_XML = (port: number): string => `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000" maxThreads="25" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
`;

export async function startTomcat(name = 'tomcat'): Promise<TomcatServer> {
  const [port] = await freePorts(1);
  const base = mkdtempSync(join(tmpdir(), 'rollcall-tomcat-'));
  for (const d of ['conf', 'logs', 'temp', 'work', 'webapps/ROOT']) mkdirSync(join(base, d), { recursive: true });
  // Debian's default configuration, then our own server.xml (ports, one host).
  for (const f of readdirSync(join(CATALINA_HOME, 'etc')))
    copyFileSync(join(CATALINA_HOME, 'etc', f), join(base, 'conf', f));
  writeFileSync(join(base, 'conf/server.xml'), SERVER_XML(port!));
  writeFileSync(join(base, 'webapps/ROOT/index.html'), '<!doctype html><title>rollcall</title><p>ok</p>\n');
  writeFileSync(join(base, 'webapps/ROOT/data.txt'), 'x'.repeat(64 * 1024));
  const process = launch({
    name,
    command: CATALINA_SH,
    args: ['run'],
    env: {
      ...globalThis.process.env,
      CATALINA_HOME,
      CATALINA_BASE: base,
      CATALINA_TMPDIR: join(base, 'temp'),
      CATALINA_OPTS: '-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1',
      // catalina.sh execs java in the foreground for `run`: the pid is the JVM's.
      CATALINA_PID: join(base, 'pid'),
    },
  });
  const url = `http://127.0.0.1:${port}/`;
  const stop = async (): Promise<void> => {
    await process.kill();
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      if (process.exited()) throw new Error(`tomcat exited: ${process.tail()}`);
      if (await answers(url)) break;
      if (Date.now() > deadline)
        throw new Error(`tomcat did not answer within ${START_LIMIT_MS} ms: ${process.tail()}`);
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, pid: process.pid, port: port!, url, process, stop };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export interface HttpLoad {
  requests(): number;
  failures(): number;
  stop(): Promise<void>;
}

/** `clients` loops, each fetching a page then the 64 KiB file, pausing `pauseMs` between rounds. */
export function startHttpLoad(url: string, clients = 2, pauseMs = 20): HttpLoad {
  if (clients < 1 || clients > MAX_CLIENTS) throw new RangeError(`1..${MAX_CLIENTS} load clients`);
  let requests = 0;
  let failures = 0;
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      for (const path of ['', 'data.txt']) {
        try {
          const res = await fetch(new URL(path, url), { signal: AbortSignal.timeout(5_000) });
          await res.arrayBuffer();
          if (res.status === 200) requests++;
          else failures++;
        } catch {
          failures++;
        }
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    requests: () => requests,
    failures: () => failures,
    stop: async () => {
      running = false;
      await Promise.allSettled(loops);
    },
  };
}
