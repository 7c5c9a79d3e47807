// The master's role in a ZooKeeper-coordinated cluster: win the election, then recover leftover
// runs before coordinating anything new; step down when the session is lost (the coordinator
// transport fences its runs) and campaign again with the next session, as a standby.
import type { Clock } from '../../substrate/types.js';
import { isZkError } from '../../substrate/zookeeper.js';
import type { ThreadRegistry } from '../../threads/index.js';
import type { MasterInfo } from './codec.js';
import type { ZkCoordinatorRpcs } from './coordinator-rpcs.js';
import { LeaderElection } from './election.js';
import { recoverProcedures, type RecoveredRun, type ResumePolicy } from './recovery.js';

export interface ZkMasterRoleOptions {
  rpcs: ZkCoordinatorRpcs;
  info: MasterInfo;
  clock: Clock;
  threads: ThreadRegistry;
  policy?: ResumePolicy;
  wakeIntervalMs?: number;
  log?: (message: string) => void;
  /** Called each time this master becomes active, after recovery. */
  onActive?: (recovered: RecoveredRun[]) => void;
  /** Called when it stops being active (session lost). */
  onStandby?: (reason: string) => void;
}

/** Pause before campaigning again after a recovery that failed. */
const RECOVERY_RETRY_MS = 1_000;

export class ZkMasterRole {
  readonly election: LeaderElection;
  private stopped = false;
  private activeValue = false;
  private lastRecovery: RecoveredRun[] = [];
  private readonly log: (message: string) => void;

  constructor(private readonly options: ZkMasterRoleOptions) {
    this.log = options.log ?? (() => {});
    this.election = new LeaderElection(options.rpcs.session, options.info, this.log);
    this.election.onLeadershipChange(({ leader, reason }) => {
      if (leader || !this.activeValue) return;
      this.activeValue = false;
      options.onStandby?.(reason);
      // Campaign again with the next session; the returned promise is watched by loop().
      if (!this.stopped) void this.loop();
    });
  }

  get isActive(): boolean {
    return this.activeValue;
  }

  get recovered(): readonly RecoveredRun[] {
    return this.lastRecovery;
  }

  /**
   * Campaigns; resolves once this master is active and has handled every leftover run. A master
   * that loses the lead while it recovers campaigns again rather than turn active without it.
   */
  async becomeActive(): Promise<RecoveredRun[]> {
    for (;;) {
      await this.election.campaign();
      let recovered: RecoveredRun[];
      try {
        recovered = await this.recover();
      } catch (err) {
        if (this.stopped || isZkError(err, 'CLOSED')) throw err;
        // A lost connection or an expired session mid-recovery: look at the election again.
        this.log(`${this.options.info.name}: recovery failed, campaigning again: ${(err as Error).message}`);
        await new Promise<void>((r) => this.options.clock.setTimer(RECOVERY_RETRY_MS, r));
        continue;
      }
      if (this.stopped) throw new Error(`${this.options.info.name}: stopped while recovering`);
      if (this.election.isLeader) return this.activate(recovered);
      this.log(`${this.options.info.name}: lost the lead while recovering; campaigning again`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.election.resign();
  }

  private recover(): Promise<RecoveredRun[]> {
    const { rpcs, clock, threads } = this.options;
    return recoverProcedures({
      rpcs,
      node: this.options.info.name,
      clock,
      threads,
      log: this.log,
      ...(this.options.policy ? { policy: this.options.policy } : {}),
      ...(this.options.wakeIntervalMs ? { wakeIntervalMs: this.options.wakeIntervalMs } : {}),
    });
  }

  private activate(recovered: RecoveredRun[]): RecoveredRun[] {
    this.lastRecovery = recovered;
    this.activeValue = true;
    this.options.onActive?.(this.lastRecovery);
    return this.lastRecovery;
  }

  private async loop(): Promise<void> {
    try {
      await this.becomeActive();
    } catch (err) {
      if (!this.stopped) this.log(`${this.options.info.name}: election ended: ${(err as Error).message}`);
    }
  }
}
