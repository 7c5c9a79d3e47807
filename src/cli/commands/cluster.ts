// `rollcall cluster start`: a master and N workers that keep running (in this process, or one OS
// process per node with --processes), printing every node's RPC and admin address; Ctrl-C stops
// them all. Also the pool and timeout flags shared with `rollcall rolllog` and `rollcall node`.
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  MASTER_DEFAULTS,
  ROLLLOG_MODES,
  WORKER_DEFAULTS,
  type MasterConfig,
  type RolllogMode,
  type WorkerConfig,
} from '../../cluster/index.js';
import {
  NodeConfigError,
  adminToken,
  ensureFdsFor,
  ensureProcessesFor,
  loadSecurity,
  readSecretFile,
  startLocalCluster,
  startProcessCluster,
  stderrLog,
  type NodeEndpoint,
  type NodeExit,
} from '../../runtime/index.js';
import { ZkStartupError, zkClusterSettings } from '../../coordination/zookeeper/index.js';
import { MAX_HANDLERS_PER_POOL } from '../../rpc/index.js';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { COORDINATION_HELP, coordinationOption, requireReachableZooKeeper } from './coordination.js';
import { choiceOption, durationMsOption, intOption } from '../options.js';
import { addSecurityOptions, securityArgs, securityFiles, type SecurityFlags } from '../security.js';

export interface TuningFlags {
  handlers: number;
  priorityHandlers: number;
  coordinatorPool: number;
  memberPool: number;
  rpcTimeoutMs: number;
  procedureTimeoutMs: number;
  memberTimeoutMs?: number;
  wakeIntervalMs: number;
  checkCostMs: number;
  writeRate: number;
  memberLeaseMs: number;
  reportIntervalMs: number;
}

/** The RPC server's own bound on a pool, so the flag refuses what the server would. */
const MAX_POOL = MAX_HANDLERS_PER_POOL;
const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

/** Adds the pool-size and timeout flags every cluster-running command takes. */
export function addTuningOptions(cmd: Command): Command {
  const ms = (name: string): ((v: string) => number) => {
    const parse = durationMsOption(name);
    return (v) => {
      const n = parse(v);
      if (n <= 0 || n > MAX_TIMEOUT_MS)
        throw new InvalidArgumentError(`${name} must be between 1 ms and 24 h, not '${v}'`);
      return n;
    };
  };
  return cmd
    .option(
      '--handlers <N>',
      "master's default-pool handlers (3 queues per 30)",
      intOption('--handlers', 1, MAX_POOL),
      MASTER_DEFAULTS.handlers,
    )
    .option(
      '--priority-handlers <N>',
      "master's priority-pool handlers (worker reports)",
      intOption('--priority-handlers', 1, MAX_POOL),
      MASTER_DEFAULTS.priorityHandlers,
    )
    .option(
      '--coordinator-pool <N>',
      "master's procedure coordinator threads",
      intOption('--coordinator-pool', 1, MAX_POOL),
      MASTER_DEFAULTS.coordinatorThreads,
    )
    .option(
      '--member-pool <N>',
      "each worker's subprocedure threads",
      intOption('--member-pool', 1, MAX_POOL),
      WORKER_DEFAULTS.memberThreads,
    )
    .option('--rpc-timeout-ms <MS>', 'RPC call timeout', ms('--rpc-timeout-ms'), MASTER_DEFAULTS.rpcTimeoutMs)
    .option(
      '--procedure-timeout-ms <MS>',
      'procedure timer',
      ms('--procedure-timeout-ms'),
      MASTER_DEFAULTS.procedureTimeoutMs,
    )
    .option(
      '--member-timeout-ms <MS>',
      'member (subprocedure) timer (default: the procedure timer)',
      ms('--member-timeout-ms'),
    )
    .option(
      '--wake-interval-ms <MS>',
      'barrier error re-check interval',
      ms('--wake-interval-ms'),
      MASTER_DEFAULTS.wakeIntervalMs,
    )
    .option(
      '--check-cost-ms <MS>',
      "master's work per legacy sanity check",
      intOption('--check-cost-ms', 0, 3_600_000),
      MASTER_DEFAULTS.checkCostMs,
    )
    .option(
      '--write-rate <N>',
      'WAL entries per second per worker from a load generator',
      intOption('--write-rate', 0, 1_000_000),
      0,
    )
    .option(
      '--member-lease-ms <MS>',
      'master: a worker not heard from for this long is dropped, and a run waiting for it aborts',
      ms('--member-lease-ms'),
      MASTER_DEFAULTS.memberLeaseMs,
    )
    .option(
      '--report-interval-ms <MS>',
      'worker: how often it reports to the master (renewing its lease)',
      ms('--report-interval-ms'),
      WORKER_DEFAULTS.reportIntervalMs,
    );
}

/** Reports renew the lease: a lease no longer than the report interval would drop live workers. */
export function checkLease(f: TuningFlags): void {
  if (f.memberLeaseMs <= f.reportIntervalMs) {
    throw new UsageError(
      `--member-lease-ms (${f.memberLeaseMs}) must be longer than --report-interval-ms (${f.reportIntervalMs}): ` +
        'reports renew the lease (three reports per lease is the default)',
    );
  }
}

export function masterSettings(f: TuningFlags, mode?: RolllogMode): Partial<MasterConfig> {
  return {
    handlers: f.handlers,
    priorityHandlers: f.priorityHandlers,
    coordinatorThreads: f.coordinatorPool,
    rpcTimeoutMs: f.rpcTimeoutMs,
    procedureTimeoutMs: f.procedureTimeoutMs,
    wakeIntervalMs: f.wakeIntervalMs,
    checkCostMs: f.checkCostMs,
    memberLeaseMs: f.memberLeaseMs,
    ...(mode ? { defaultMode: mode } : {}),
  };
}

export function workerSettings(f: TuningFlags): Partial<WorkerConfig> {
  return {
    memberThreads: f.memberPool,
    rpcTimeoutMs: f.rpcTimeoutMs,
    memberTimeoutMs: f.memberTimeoutMs ?? f.procedureTimeoutMs,
    wakeIntervalMs: f.wakeIntervalMs,
    writeRate: f.writeRate,
    reportIntervalMs: f.reportIntervalMs,
  };
}

/** The same flags as arguments of `rollcall node`. */
export function tuningArgs(f: TuningFlags): string[] {
  return [
    ['--handlers', f.handlers],
    ['--priority-handlers', f.priorityHandlers],
    ['--coordinator-pool', f.coordinatorPool],
    ['--member-pool', f.memberPool],
    ['--rpc-timeout-ms', f.rpcTimeoutMs],
    ['--procedure-timeout-ms', f.procedureTimeoutMs],
    ...(f.memberTimeoutMs !== undefined ? [['--member-timeout-ms', f.memberTimeoutMs] as const] : []),
    ['--wake-interval-ms', f.wakeIntervalMs],
    ['--check-cost-ms', f.checkCostMs],
    ['--write-rate', f.writeRate],
    ['--member-lease-ms', f.memberLeaseMs],
    ['--report-interval-ms', f.reportIntervalMs],
  ].flatMap(([k, v]) => [String(k), String(v)]);
}

/** Rethrows a runtime configuration error as a usage error (exit 2). */
export function asUsage(err: unknown): never {
  if (err instanceof NodeConfigError || err instanceof ZkStartupError) throw new UsageError(err.message);
  throw err;
}

/** Resolves when the process gets SIGINT or SIGTERM (then removes its handlers). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

interface StartFlags extends TuningFlags, SecurityFlags {
  nodes: number;
  mode: RolllogMode;
  processes?: boolean;
  coordination?: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('Run a rollcall cluster: a master and N workers.');
  const start = cluster
    .command('start')
    .description(
      "Start a master and N workers and keep them running, printing every node's RPC and admin address. Ctrl-C stops them all.",
    )
    .requiredOption('--nodes <N>', 'number of workers', intOption('--nodes', 1, 5000))
    .addOption(
      new Option('--mode <MODE>', 'default rolllog mode of the master')
        .argParser(choiceOption('--mode', ROLLLOG_MODES))
        .default('fixed'),
    )
    .option(
      '--processes',
      'run each node in its own OS process (`rollcall node`), secured with a generated secret unless given one',
    )
    .option('--coordination <URL>', COORDINATION_HELP, coordinationOption)
    .option('--json', 'print one JSON object with every node instead of a table')
    .option('--verbose', 'log node events to stderr');
  addSecurityOptions(start, 'cluster secret (mode 600) securing links and admin listeners');
  addTuningOptions(start);
  start.action(async (flags: StartFlags) => {
    const log = stderrLog('cluster', flags.verbose === true);
    checkLease(flags);
    const files = securityFiles(flags);
    try {
      if (flags.processes) ensureProcessesFor(flags.nodes, `--nodes ${flags.nodes} --processes`);
      else ensureFdsFor(flags.nodes, `--nodes ${flags.nodes}`);
    } catch (err) {
      asUsage(err);
    }
    await requireReachableZooKeeper(flags.coordination);
    let endpoints: NodeEndpoint[];
    let secretFile: string | undefined = flags.secretFile;
    let stop: () => Promise<void>;
    let pids: number[] = [];
    // A node process that dies is said at once (after the ready output), the cluster keeps the others.
    const exits = nodeExitReporter(flags.json === true);
    try {
      if (flags.processes) {
        // Checked here, so a bad file is one line from this command rather than one per child.
        loadSecurity(files);
        const given = securityArgs(files);
        const pc = await startProcessCluster({
          workers: flags.nodes,
          ...(given.length > 0 ? { secret: false } : {}),
          nodeArgs: [
            ...tuningArgs(flags),
            ...given,
            ...(flags.coordination ? ['--coordination', flags.coordination] : []),
          ],
          masterArgs: ['--mode', flags.mode],
          log,
          onExit: exits.report,
        });
        endpoints = pc.endpoints;
        secretFile ??= pc.secretFile;
        pids = pc.pids();
        stop = pc.stop;
      } else {
        const security = loadSecurity(files);
        const zk = flags.coordination
          ? zkClusterSettings(flags.coordination, { procedureTimeoutMs: flags.procedureTimeoutMs, log })
          : undefined;
        const lc = await startLocalCluster({
          workers: flags.nodes,
          master: { ...masterSettings(flags, flags.mode), ...zk?.master },
          worker: { ...workerSettings(flags), ...zk?.worker },
          security,
          log,
        });
        endpoints = lc.endpoints();
        stop = lc.stop;
      }
    } catch (err) {
      asUsage(err);
    }
    const signal = untilSignal();
    const master = endpoints[0]!;
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          event: 'ready',
          mode: flags.mode,
          processes: flags.processes === true,
          ...(secretFile ? { secretFile } : {}),
          nodes: endpoints,
        }) + '\n',
      );
    } else {
      const where = flags.processes ? `${endpoints.length} processes` : 'in this process';
      process.stdout.write(
        `rollcall cluster: master + ${flags.nodes} workers (${where}, default mode ${flags.mode})\n`,
      );
      printTable(endpoints);
      const clientFiles = { ...files, ...(secretFile !== undefined ? { secretFile } : {}) };
      const secured = securityArgs(clientFiles)
        .map((a) => ` ${a}`)
        .join('');
      process.stdout.write(`\nrun: rollcall rolllog --master ${master.rpc}${secured} --mode ${flags.mode} --runs 5\n`);
      process.stdout.write(`dumps: ${curlHint(master.admin ?? '', clientFiles)}\nCtrl-C stops the cluster.\n`);
    }
    exits.announced();
    const s = await Promise.race([signal, exits.allGone]);
    if (s === ALL_GONE) {
      process.stderr.write('rollcall cluster: every node has exited\n');
      process.exitCode = EXIT_USAGE;
    } else {
      const which = pids.length ? ` (pids ${pids.join(' ')})` : '';
      process.stderr.write(`rollcall cluster: ${s}: stopping ${endpoints.length} nodes${which}\n`);
    }
    await stop();
    process.stderr.write('rollcall cluster: stopped\n');
  });
}

const ALL_GONE = 'all nodes exited';

/**
 * Reports node processes that end on their own: one line on stderr, and in the command's output a
 * JSON event (--json) or, when stdout is not the terminal stderr already writes to, the same line.
 * Exits before the ready output are held until it is out, so that stays the first line.
 */
function nodeExitReporter(json: boolean): {
  report: (exit: NodeExit) => void;
  announced: () => void;
  allGone: Promise<typeof ALL_GONE>;
} {
  let held: NodeExit[] | undefined = [];
  let gone!: (v: typeof ALL_GONE) => void;
  const allGone = new Promise<typeof ALL_GONE>((r) => (gone = r));
  const write = (e: NodeExit): void => {
    const how = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
    const line = `${e.role} ${e.name} (pid ${e.pid ?? '?'}) ${how}; ${e.running} node(s) still running`;
    process.stderr.write(`rollcall cluster: ${line}\n`);
    if (json) {
      const event = {
        event: 'exit',
        name: e.name,
        role: e.role,
        pid: e.pid,
        code: e.code,
        signal: e.signal,
        running: e.running,
      };
      process.stdout.write(JSON.stringify(event) + '\n');
    } else if (!process.stdout.isTTY) process.stdout.write(`exit: ${line}\n`);
    if (e.running === 0) gone(ALL_GONE);
  };
  return {
    report: (e) => (held ? held.push(e) : write(e)),
    announced: () => {
      const h = held ?? [];
      held = undefined;
      h.forEach(write);
    },
    allGone,
  };
}

function printTable(endpoints: NodeEndpoint[]): void {
  const rows = [
    ['NODE', 'ROLE', 'RPC', 'ADMIN', 'PID'],
    ...endpoints.map((e) => [e.name, e.role, e.rpc, e.admin ?? '-', e.pid ? String(e.pid) : '-']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd() + '\n',
    );
}

/** How to read a node's dump by hand: with the token (and certificates) its admin listener requires. */
function curlHint(admin: string, files: SecurityFlags): string {
  const token = files.secretFile !== undefined ? adminToken(readSecretFile(files.secretFile)) : undefined;
  const tls =
    files.tlsCert !== undefined ? ` --cacert ${files.tlsCa} --cert ${files.tlsCert} --key ${files.tlsKey}` : '';
  const header = token !== undefined ? ` -H 'Authorization: Bearer ${token}'` : '';
  return `curl${header}${tls} ${admin}/stacks`;
}
