// `rollcall agent`: serve this host's JVMs to `rollcall capture --agent` running elsewhere.
import { Command, InvalidArgumentError, Option } from 'commander';
import { AgentConfigError, CaptureAgent } from '../../capture/agent/server.js';
import { JVM_METHODS, parseJvmMatcher, type JvmMethod } from '../../capture/index.js';
import { enterRealtime } from '../../capture/realtime.js';
import { DEFAULT_SOCKET_WAIT_MS } from '../../capture/sources/attach.js';
import { readSecretFile, NodeConfigError } from '../../runtime/secrets.js';
import { parseAddress, type Address } from '../../substrate/types.js';
import { UsageError } from '../errors.js';
import { choiceOption, collect, intOption } from '../options.js';
import { untilSignal } from './cluster.js';

interface AgentFlags {
  listen: Address;
  jvmMatch?: string[];
  secretFile?: string;
  jvmMethod: JvmMethod;
  attachTimeoutMs: number;
  threadCpu: boolean;
  realtime: boolean;
  verbose?: boolean;
  json?: boolean;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description(
      "Serve this host's JVMs to `rollcall capture --agent`: dumps (and per-thread CPU) taken here at the scheduled instant.",
    )
    .requiredOption('--listen <HOST:PORT>', 'address to listen on (port 0: any free port)', (v: string) => {
      try {
        return parseAddress(v);
      } catch (err) {
        throw new InvalidArgumentError(`--listen: ${(err as Error).message}`);
      }
    })
    .option('--jvm-match <REGEX>', 'serve only JVMs whose main class or command line matches; repeatable', collect)
    .option('--secret-file <FILE>', 'the cluster secret; clients must send its Bearer token; required beyond loopback')
    .addOption(
      new Option('--jvm-method <METHOD>', 'how JVMs are dumped')
        .default('auto')
        .argParser(choiceOption('--jvm-method', JVM_METHODS)),
    )
    .option(
      '--attach-timeout-ms <MS>',
      'how long a JVM may take to start its attach listener after SIGQUIT',
      intOption('--attach-timeout-ms', 1, 600_000),
      DEFAULT_SOCKET_WAIT_MS,
    )
    .option('--no-thread-cpu', 'do not read per-thread CPU from /proc')
    .option('--no-realtime', 'do not run the releasing thread under SCHED_FIFO (when allowed)')
    .option('--verbose', 'print one line per request on stderr')
    .option('--json', 'print the ready line as JSON')
    .addHelpText(
      'after',
      `
Endpoints (JSON): GET /clock, GET /jvms (like \`capture --list-jvms --json\`), and
GET /jvms/<pid>/stacks?at=<epoch ms> — the dump and per-thread CPU taken at that instant on this
host's clock (capture measures the offset to its own clock with /clock before every request).
It dumps only processes proven to be HotSpot JVMs and never runs a command it is sent.

With --secret-file every request must carry \`Authorization: Bearer <token>\`, the token derived
from the cluster secret (HMAC-SHA256 of "rollcall admin v1"); \`rollcall capture --secret-file\`
sends it. Without a secret the agent listens on loopback only. Ctrl-C stops it.

Example:
  rollcall agent --listen 0.0.0.0:7070 --secret-file /etc/rollcall/cluster.secret
  rollcall capture --agent rs1=http://rs1:7070 --jvm-match HRegionServer --secret-file cluster.secret --out b`,
    )
    .action(async (flags: AgentFlags) => {
      let agent: CaptureAgent;
      try {
        const secret = flags.secretFile !== undefined ? readSecretFile(flags.secretFile) : undefined;
        const serve = (flags.jvmMatch ?? []).map((v) => {
          try {
            return parseJvmMatcher(v);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
        });
        agent = await CaptureAgent.start({
          serve,
          host: flags.listen.host,
          port: flags.listen.port,
          ...(secret !== undefined ? { secret } : {}),
          jvmMethod: flags.jvmMethod,
          socketWaitMs: flags.attachTimeoutMs,
          threadCpu: flags.threadCpu,
          ...(flags.verbose ? { log: (l: string) => process.stderr.write(`agent: ${l}\n`) } : {}),
        });
      } catch (err) {
        if (err instanceof NodeConfigError || err instanceof AgentConfigError) throw new UsageError(err.message);
        const code = (err as NodeJS.ErrnoException).code;
        if (typeof code === 'string')
          throw new UsageError(`cannot listen on ${flags.listen.host}:${flags.listen.port}: ${code}`);
        throw err;
      }
      process.stdout.write(
        flags.json
          ? JSON.stringify({ agent: agent.url, authenticated: flags.secretFile !== undefined }) + '\n'
          : `agent: ${agent.url}${flags.secretFile !== undefined ? ' (Bearer token required)' : ''}\n`,
      );
      const realtime = flags.realtime ? enterRealtime() : undefined;
      try {
        await untilSignal();
      } finally {
        realtime?.restore();
        await agent.close();
      }
    });
}
