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
  loadAuthenticator,
  startLocalCluster,
  startProcessCluster,
  stderrLog,
  type NodeEndpoint,
} from '../../runtime/index.js';
import { ZkStartupError, zkClusterSettings } from '../../coordination/zookeeper/index.js';
import { MAX_HANDLERS_PER_POOL } from '../../rpc/index.js';
import { UsageError } from '../errors.js';
import { COORDINATION_HELP, coordinationOption } from './coordination.js';
import { choiceOption, durationMsOption, intOption } from '../options.js';

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
    );
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

interface StartFlags extends TuningFlags {
  nodes: number;
  mode: RolllogMode;
  processes?: boolean;
  secretFile?: string;
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
      'run each node in its own OS process (`rollcall node`), authenticated with a generated secret',
    )
    .option('--secret-file <FILE>', 'in-process cluster: authenticate connections with this shared secret')
    .option('--coordination <URL>', COORDINATION_HELP, coordinationOption)
    .option('--json', 'print one JSON object with every node instead of a table')
    .option('--verbose', 'log node events to stderr');
  addTuningOptions(start);
  start.action(async (flags: StartFlags) => {
    const log = stderrLog('cluster', flags.verbose === true);
    let endpoints: NodeEndpoint[];
    let secretFile: string | undefined;
    let stop: () => Promise<void>;
    let pids: number[] = [];
    try {
      if (flags.processes) {
        const pc = await startProcessCluster({
          workers: flags.nodes,
          nodeArgs: [...tuningArgs(flags), ...(flags.coordination ? ['--coordination', flags.coordination] : [])],
          masterArgs: ['--mode', flags.mode],
          log,
        });
        endpoints = pc.endpoints;
        secretFile = pc.secretFile;
        pids = pc.pids();
        stop = pc.stop;
      } else {
        const auth = flags.secretFile ? loadAuthenticator(flags.secretFile) : undefined;
        const zk = flags.coordination
          ? zkClusterSettings(flags.coordination, { procedureTimeoutMs: flags.procedureTimeoutMs, log })
          : undefined;
        const lc = await startLocalCluster({
          workers: flags.nodes,
          master: { ...masterSettings(flags, flags.mode), ...zk?.master },
          worker: { ...workerSettings(flags), ...zk?.worker },
          ...(auth ? { auth } : {}),
          log,
        });
        endpoints = lc.endpoints();
        secretFile = flags.secretFile;
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
      const secret = secretFile ? ` --secret-file ${secretFile}` : '';
      process.stdout.write(`\nrun: rollcall rolllog --master ${master.rpc}${secret} --mode ${flags.mode} --runs 5\n`);
      process.stdout.write(`dumps: curl ${master.admin ?? ''}/stacks\nCtrl-C stops the cluster.\n`);
    }
    const s = await signal;
    process.stderr.write(
      `rollcall cluster: ${s}: stopping ${endpoints.length} nodes${pids.length ? ` (pids ${pids.join(' ')})` : ''}\n`,
    );
    await stop();
    process.stderr.write('rollcall cluster: stopped\n');
  });
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
