// `rollcall node`: one master or worker in this process, so a cluster can span machines.
import { Command, InvalidArgumentError, Option } from 'commander';
import { CorruptDataError, ROLLLOG_MODES, type RolllogMode } from '../../cluster/index.js';
import { NodeConfigError, startNode, stderrLog } from '../../runtime/index.js';
import { formatAddress, parseAddress, type Address } from '../../substrate/types.js';
import { zkClusterSettings } from '../../coordination/zookeeper/index.js';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { choiceOption } from '../options.js';
import { addSecurityOptions, securityFiles, type SecurityFlags } from '../security.js';
import { COORDINATION_HELP, coordinationOption, requireReachableZooKeeper } from './coordination.js';
import {
  addTuningOptions,
  asUsage,
  checkLease,
  masterSettings,
  untilSignal,
  workerSettings,
  type TuningFlags,
} from './cluster.js';

interface NodeFlags extends TuningFlags, SecurityFlags {
  role: 'master' | 'worker';
  name?: string;
  listen: Address;
  admin: Address;
  master?: Address;
  data: string;
  mode: RolllogMode;
  json?: boolean;
  exitOnStdinClose?: boolean;
  coordination?: string;
  standby?: boolean;
}

function addressOption(flag: string): (v: string) => Address {
  return (v) => {
    try {
      return parseAddress(v);
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
    }
  };
}

export function registerNode(program: Command): void {
  const cmd = program
    .command('node')
    .description('Run one cluster node (master or worker) in this process; Ctrl-C stops it.')
    .addOption(
      new Option('--role <ROLE>', 'master or worker')
        .argParser(choiceOption('--role', ['master', 'worker'] as const))
        .makeOptionMandatory(),
    )
    .requiredOption('--listen <HOST:PORT>', 'RPC listen address (port 0: any free port)', addressOption('--listen'))
    .requiredOption(
      '--admin <HOST:PORT>',
      'admin HTTP listen address for /stacks and /metrics',
      addressOption('--admin'),
    )
    .option('--master <HOST:PORT>', "the master's RPC address (workers)", addressOption('--master'))
    .requiredOption('--data <DIR>', 'data directory (WAL segments, backup table)')
    .option('--name <NAME>', "node name (default: 'master', or worker@HOST:PORT of the bound address)")
    .addOption(
      new Option('--mode <MODE>', 'default rolllog mode (master)')
        .argParser(choiceOption('--mode', ROLLLOG_MODES))
        .default('fixed'),
    )
    .option('--coordination <URL>', COORDINATION_HELP, coordinationOption)
    .option(
      '--standby',
      'master: wait as a standby until elected (needs --coordination); resumes or aborts leftover runs',
    )
    .option('--json', 'print the ready line as JSON')
    .addOption(new Option('--exit-on-stdin-close', 'exit when stdin closes (a parent process died)').hideHelp());
  addSecurityOptions(
    cmd,
    'cluster secret (mode 600): links are TLS keyed from it, admin requests need a token derived from it; ' +
      'required (or --tls-*) to listen beyond loopback',
  );
  addTuningOptions(cmd);
  cmd.action(async (flags: NodeFlags) => {
    const log = stderrLog(flags.name ?? flags.role);
    checkLease(flags);
    if (flags.standby && (flags.role !== 'master' || !flags.coordination)) {
      throw new UsageError('--standby is for a master with --coordination zookeeper://…');
    }
    await requireReachableZooKeeper(flags.coordination);
    const zk = flags.coordination
      ? zkClusterSettings(flags.coordination, {
          procedureTimeoutMs: flags.procedureTimeoutMs,
          standby: flags.standby === true,
          rpcAddress: formatAddress(flags.listen),
          adminAddress: formatAddress(flags.admin),
          log,
        })
      : undefined;
    let node;
    try {
      node = await startNode({
        role: flags.role,
        ...(flags.name ? { name: flags.name } : {}),
        listen: flags.listen,
        admin: flags.admin,
        ...(flags.master ? { master: flags.master } : {}),
        dataDir: flags.data,
        security: securityFiles(flags),
        masterSettings: { ...masterSettings(flags, flags.mode), ...zk?.master },
        workerSettings: { ...workerSettings(flags), ...zk?.worker },
        log,
      });
    } catch (err) {
      if (err instanceof NodeConfigError) asUsage(err);
      // A node that cannot start (port in use, master unreachable, wrong secret) says why, once;
      // like every failure that is not a finding, that is exit 2.
      const hint =
        err instanceof CorruptDataError
          ? `: rollcall verify ${flags.data} reports it, --repair quarantines it (keeping a copy)`
          : '';
      process.stderr.write(`rollcall node: ${(err as Error).message}${hint}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    const running = node;
    const stopped = new Promise<string>((resolve) => {
      void untilSignal().then(resolve);
      if (flags.exitOnStdinClose) {
        process.stdin.on('end', () => resolve('stdin closed'));
        process.stdin.on('close', () => resolve('stdin closed'));
        process.stdin.resume();
      }
    });
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          event: 'ready',
          role: running.role,
          name: running.name,
          rpc: running.rpc,
          admin: running.admin,
          pid: running.pid,
        }) + '\n',
      );
    } else {
      process.stdout.write(
        `rollcall node ${running.name} (${running.role}): rpc ${running.rpc}, admin ${running.admin}; ${running.security}\n`,
      );
    }
    const why = await stopped;
    log(`${why}: stopping`);
    await running.stop();
    process.stdin.pause();
    // Everything is closed; if a stray handle still holds the loop, do not linger as a zombie node.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  });
}
