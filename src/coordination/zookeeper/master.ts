// The master's role in a ZooKeeper-coordinated cluster: win the election, then recover leftover
// runs before coordinating anything new; step down when the session is lost (the coordinator
// transport fences its runs) and campaign again with the next session, as a standby.
import type { Clock } from '../../substrate/types.js';
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

  /** Campaigns; resolves once this master is active and has handled every leftover run. */
  async becomeActive(): Promise<RecoveredRun[]> {
    await this.election.campaign();
    return this.activate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.election.resign();
  }

  private async activate(): Promise<RecoveredRun[]> {
    const { rpcs, clock, threads } = this.options;
    this.lastRecovery = await recoverProcedures({
      rpcs,
      node: this.options.info.name,
      clock,
      threads,
      log: this.log,
      ...(this.options.policy ? { policy: this.options.policy } : {}),
      ...(this.options.wakeIntervalMs ? { wakeIntervalMs: this.options.wakeIntervalMs } : {}),
    });
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
