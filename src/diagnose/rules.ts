// Rule packs add knowledge of frameworks to what the dumps show: which threads form a pool (and
// how big it may grow), which stacks are idle (waiting for work), which stacks wait on another
// process and where that wait lands, who serves a service the dumps never show served, and which
// node plays which role. They never stand in for the evidence: calls are linked by service
// (services.ts) and pools found by their executor frames first; rules cover what dumps cannot show.
// Built in: HBase, Hadoop IPC, gRPC-java (rollcall's own dumps carry explicit links and need no
// rules). Users add packs with `--rules FILE`.
//
// ## Rules file format (JSON, validated; unknown keys are rejected)
//
// {
//   "name": "my-system",                       // optional, shown in evidence
//   "pools": [                                 // thread name → pool; first match wins, before built-ins
//     { "threadName": "^worker-(?<handler>\\d+)-q(?<queue>\\d+)$", "pool": "workers", "size": 16 },
//     { "threadName": "^grpc-(\\w+)-executor-\\d+$", "pool": "grpc-$1", "unbounded": true }
//   ],                                         // size: its capacity; unbounded: makes threads on demand
//   "idle": [                                  // a frame (Class.method, regex) near the top = idle
//     { "frame": "^com\\.example\\.JobQueue\\.awaitJob$", "within": 8 }
//   ],
//   "waits": [                                 // a blocking frame (and optionally a deeper one) = a wait
//     {
//       "name": "example blocking client",
//       "frame": "^com\\.example\\.rpc\\.Client\\.callSync$",   // within the top `within` frames (12)
//       "via": "^com\\.example\\.(\\w+)Stub\\.",                  // optional deeper frame
//       "kind": "rpc",                                           // rpc | barrier | lock | other
//       "target": { "role": "master", "pool": "^default$" }      // see below
//     }
//   ],
//   "services": [                              // who serves a service when no dump shows it served
//     { "service": "^Orders$", "target": { "node": "orders", "pool": "^pool-1$" } }
//   ],
//   "roles": [                                 // which nodes play which role
//     { "role": "master", "threadName": "^MasterLoop$" },
//     { "role": "worker", "nodeName": "^worker" },
//     { "role": "master", "frame": "^com\\.example\\.Master\\.run$" }
//   ]
// }
//
// A wait target selects nodes, then what on them the thread waits for:
//   nodes:   "node": exact node name | "role": nodes with that role | "peers": true (nodes this
//            node has connections to, from `IPC Client (…) connection to host:port` style threads)
//            — combined with AND; none of them = every node. "self": false excludes the caller's node.
//   on them: "pool": regex on pool names (the thread waits for ANY handler of ANY matching pool), or
//            "threads" (regex on thread names) / "frames" (regex on a frame) picking busy threads;
//            with "members": true every selected node is a barrier member the thread waits for,
//            and a member is done when ALL its picked threads (and pools) are.
// When no node matches, the wait goes to an external vertex (outside the dumps): never a deadlock,
// but "stuck" if it lasts the whole span.
import { z } from 'zod';

export type WaitKind = 'rpc' | 'barrier' | 'lock' | 'other';

export interface PoolRule {
  threadName: RegExp;
  /** Pool name template: `$1`, `$<name>` expand to capture groups of threadName. */
  pool: string;
  /** Its capacity, when the threads seen may be fewer. */
  size?: number;
  /** It makes a thread for every task (a cached pool): it never runs out. */
  unbounded?: boolean;
}

export interface ServiceRule {
  /** Regex on the service name as calls print it (`Orders`, `ClientService`). */
  service: RegExp;
  target: TargetRule;
}

export interface IdleRule {
  frame: RegExp;
  /** Only frames within this many from the top count. */
  within: number;
}

export interface TargetRule {
  node?: string;
  role?: string;
  peers?: boolean;
  self?: boolean;
  pool?: RegExp;
  threads?: RegExp;
  /** Busy threads with a frame matching this (Class.method) belong to the target too. */
  frames?: RegExp;
  members?: boolean;
  /** Shown on the external vertex when nothing matches: `master (not in the dumps)`. */
  describe?: string;
}

export interface WaitRule {
  name: string;
  frame: RegExp;
  within: number;
  via?: RegExp;
  kind: WaitKind;
  target: TargetRule;
}

export interface RoleRule {
  role: string;
  threadName?: RegExp;
  frame?: RegExp;
  nodeName?: RegExp;
}

export interface RulePack {
  name: string;
  pools: PoolRule[];
  idle: IdleRule[];
  waits: WaitRule[];
  roles: RoleRule[];
  services: ServiceRule[];
}

/** Limits on a user rules file. */
export const MAX_RULES_FILE_BYTES = 1024 * 1024;
export const MAX_RULES_PER_KIND = 1000;
const MAX_REGEX_CHARS = 1000;
const DEFAULT_WITHIN = 12;
const MAX_WITHIN = 256;
const MAX_POOL_SIZE = 1_000_000;

const regex = z
  .string()
  .min(1)
  .max(MAX_REGEX_CHARS)
  .superRefine((s, ctx) => {
    try {
      new RegExp(s);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a regular expression: ${(err as Error).message}` });
    }
  });

const targetSchema = z
  .object({
    node: z.string().min(1).max(200).optional(),
    role: z.string().min(1).max(100).optional(),
    peers: z.boolean().optional(),
    self: z.boolean().optional(),
    pool: regex.optional(),
    threads: regex.optional(),
    frames: regex.optional(),
    members: z.boolean().optional(),
    describe: z.string().max(200).optional(),
  })
  .strict();

const rulesSchema = z
  .object({
    name: z.string().min(1).max(100).optional(),
    pools: z
      .array(
        z
          .object({
            threadName: regex,
            pool: z.string().min(1).max(200),
            size: z.number().int().min(1).max(MAX_POOL_SIZE).optional(),
            unbounded: z.boolean().optional(),
          })
          .strict(),
      )
      .max(MAX_RULES_PER_KIND)
      .optional(),
    services: z
      .array(z.object({ service: regex, target: targetSchema }).strict())
      .max(MAX_RULES_PER_KIND)
      .optional(),
    idle: z
      .array(z.object({ frame: regex, within: z.number().int().min(1).max(MAX_WITHIN).optional() }).strict())
      .max(MAX_RULES_PER_KIND)
      .optional(),
    waits: z
      .array(
        z
          .object({
            name: z.string().min(1).max(200).optional(),
            frame: regex,
            within: z.number().int().min(1).max(MAX_WITHIN).optional(),
            via: regex.optional(),
            kind: z.enum(['rpc', 'barrier', 'lock', 'other']).optional(),
            target: targetSchema,
          })
          .strict(),
      )
      .max(MAX_RULES_PER_KIND)
      .optional(),
    roles: z
      .array(
        z
          .object({
            role: z.string().min(1).max(100),
            threadName: regex.optional(),
            frame: regex.optional(),
            nodeName: regex.optional(),
          })
          .strict()
          .refine((r) => r.threadName !== undefined || r.frame !== undefined || r.nodeName !== undefined, {
            message: 'a role rule needs threadName, frame or nodeName',
          }),
      )
      .max(MAX_RULES_PER_KIND)
      .optional(),
  })
  .strict();

/** Thrown for a rules file that is not valid JSON or does not follow the format. */
export class RulesError extends Error {
  override name = 'RulesError';
}

/** Parses and validates a rules file's text. `source` names it in error messages. */
export function parseRules(text: string, source = 'rules'): RulePack {
  if (text.length > MAX_RULES_FILE_BYTES) throw new RulesError(`${source}: over ${MAX_RULES_FILE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RulesError(`${source}: not JSON (${(err as Error).message})`);
  }
  const parsed = rulesSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RulesError(`${source}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const r = parsed.data;
  const name = r.name ?? source;
  return {
    name,
    pools: (r.pools ?? []).map((p) => ({
      threadName: new RegExp(p.threadName),
      pool: p.pool,
      ...(p.size !== undefined ? { size: p.size } : {}),
      ...(p.unbounded !== undefined ? { unbounded: p.unbounded } : {}),
    })),
    services: (r.services ?? []).map((x) => ({ service: new RegExp(x.service), target: compileTarget(x.target) })),
    idle: (r.idle ?? []).map((i) => ({ frame: new RegExp(i.frame), within: i.within ?? DEFAULT_WITHIN })),
    waits: (r.waits ?? []).map((w, i) => ({
      name: w.name ?? `${name} wait rule ${i + 1}`,
      frame: new RegExp(w.frame),
      within: w.within ?? DEFAULT_WITHIN,
      ...(w.via !== undefined ? { via: new RegExp(w.via) } : {}),
      kind: w.kind ?? 'rpc',
      target: compileTarget(w.target),
    })),
    roles: (r.roles ?? []).map((x) => ({
      role: x.role,
      ...(x.threadName !== undefined ? { threadName: new RegExp(x.threadName) } : {}),
      ...(x.frame !== undefined ? { frame: new RegExp(x.frame) } : {}),
      ...(x.nodeName !== undefined ? { nodeName: new RegExp(x.nodeName) } : {}),
    })),
  };
}

function compileTarget(t: z.infer<typeof targetSchema>): TargetRule {
  const { pool, threads, frames, ...rest } = t;
  return {
    ...rest,
    ...(pool !== undefined ? { pool: new RegExp(pool) } : {}),
    ...(threads !== undefined ? { threads: new RegExp(threads) } : {}),
    ...(frames !== undefined ? { frames: new RegExp(frames) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Built-in packs. Frame patterns match `Class.method` (the class as printed, `$` for inner ones).

const HBASE_DEFAULT_POOL = /^RpcServer\.default\.|^(?:B\.)?defaultRpcServer/;
const HBASE_BLOCKING =
  /^org\.apache\.hadoop\.hbase\.ipc\.(?:BlockingRpcCallback\.get|AbstractRpcClient\.callBlockingMethod)$/;
const HBASE_SUBPROCEDURE = /subprocedure|member: '|backup-pool/i;

/** HBase 1.x/2.x: RPC handler pools, blocking stub calls, barrier procedures, master/region server roles. */
export const HBASE_RULES: RulePack = {
  name: 'hbase',
  pools: [],
  idle: [
    { frame: /\.getCallRunner$/, within: 12 },
    { frame: /^org\.apache\.hadoop\.hbase\.ipc\.(?:RpcExecutor|BalancedQueueRpcExecutor)\$Handler\.run$/, within: 8 },
    { frame: /^org\.apache\.hadoop\.hbase\.(?:ScheduledChore|ChoreService)/, within: 10 },
    // A chore's or the master's main loop sleeping between rounds.
    { frame: /^org\.apache\.hadoop\.hbase\.util\.Sleeper\.sleep$/, within: 4 },
  ],
  waits: [
    {
      name: 'HBase blocking call to a master service',
      frame: HBASE_BLOCKING,
      within: 16,
      via: /\$(?:RegionServerStatusService)\$BlockingStub\./,
      kind: 'rpc',
      target: {
        role: 'master',
        peers: true,
        pool: /^RpcServer\.priority\.|^PriorityRpcServer|^RpcServer\.default\.|defaultRpcServer/,
        describe: 'master (not in the dumps)',
      },
    },
    {
      name: 'HBase blocking call to a master service',
      frame: HBASE_BLOCKING,
      within: 16,
      via: /\$(?:MasterService|LockService|HbckService|ClientMetaService)\$BlockingStub\./,
      kind: 'rpc',
      target: { role: 'master', peers: true, pool: HBASE_DEFAULT_POOL, describe: 'master (not in the dumps)' },
    },
    {
      name: 'HBase blocking call to a region server service',
      frame: HBASE_BLOCKING,
      within: 16,
      via: /\$(?:AdminService|ClientService)\$BlockingStub\./,
      kind: 'rpc',
      // Any process hosting regions (an HBase 2 master hosts system tables too): the peers this one talks to.
      target: { peers: true, pool: HBASE_DEFAULT_POOL, describe: 'region server (not in the dumps)' },
    },
    {
      name: 'HBase blocking call',
      frame: HBASE_BLOCKING,
      within: 16,
      kind: 'rpc',
      target: { pool: HBASE_DEFAULT_POOL, self: false, describe: 'an HBase server (not in the dumps)' },
    },
    {
      name: 'HBase barrier procedure (coordinator waits for the members)',
      frame: /^org\.apache\.hadoop\.hbase\.procedure\.Procedure\.(?:waitForCompleted|waitForLatch)$/,
      within: 16,
      via: /^org\.apache\.hadoop\.hbase\.procedure\.Procedure\.(?:call|sendGlobalBarrier)|^org\.apache\.hadoop\.hbase\.procedure\.ProcedureCoordinator|waitForCompleted/,
      kind: 'barrier',
      target: {
        members: true,
        self: false,
        threads: HBASE_SUBPROCEDURE,
        frames: /^org\.apache\.hadoop\.hbase\.procedure\.Subprocedure\.call$/,
        describe: 'procedure members (not in the dumps)',
      },
    },
  ],
  roles: [
    { role: 'master', threadName: /becomeActiveMaster|^master[/:]|^HMaster|^M:\d+;|RpcServer\..*port=16000$/ },
    {
      role: 'master',
      frame: /^org\.apache\.hadoop\.hbase\.master\.HMaster\.(?:run|finishActiveMasterInitialization)$/,
    },
    { role: 'regionserver', threadName: /^regionserver[/:]|^RS:\d+;|^RS_|RpcServer\..*port=16020$|MemStoreFlusher/ },
    { role: 'regionserver', frame: /^org\.apache\.hadoop\.hbase\.regionserver\.HRegionServer\.run$/ },
    { role: 'master', nodeName: /master|hmaster/i },
    { role: 'regionserver', nodeName: /regionserver|region-server|^rs[\d._-]|^rs$|worker/i },
  ],
  services: [],
};

/** Hadoop IPC (HDFS, YARN): `IPC Server handler N on P` pools; `Client.call` waits on a peer. */
export const HADOOP_RULES: RulePack = {
  name: 'hadoop-ipc',
  pools: [],
  idle: [
    { frame: /^org\.apache\.hadoop\.ipc\.CallQueueManager\.take$/, within: 8 },
    { frame: /^org\.apache\.hadoop\.ipc\.Server\$(?:Listener|Responder|ConnectionManager)/, within: 10 },
    { frame: /^org\.apache\.hadoop\.ipc\.Client\$Connection\.(?:waitForWork|run)$/, within: 6 },
  ],
  waits: [
    {
      name: 'Hadoop IPC Client.call',
      frame: /^org\.apache\.hadoop\.ipc\.Client(?:\$Call)?\.(?:call|getRpcResponse|waitForCompletion)$/,
      within: 12,
      kind: 'rpc',
      target: { peers: true, pool: /^IPC Server handler/, describe: 'a Hadoop IPC server (not in the dumps)' },
    },
  ],
  roles: [],
  services: [],
};

/**
 * gRPC-java: `grpc-default-executor-N` is gRPC's shared cached pool (GrpcUtil.SHARED_CHANNEL_EXECUTOR,
 * `Executors.newCachedThreadPool`): it makes a thread per task and never runs out. A blocking stub
 * whose service no dump shows served waits on a peer's executor.
 */
export const GRPC_RULES: RulePack = {
  name: 'grpc-java',
  pools: [{ threadName: /^grpc-default-executor-\d+$/, pool: 'grpc-default-executor', unbounded: true }],
  idle: [{ frame: /^io\.grpc\.netty\.shaded\.io\.netty\.|^io\.netty\.channel\.(?:nio|epoll|kqueue)\./, within: 6 }],
  waits: [
    {
      name: 'gRPC blocking stub',
      frame: /^io\.grpc\.stub\.ClientCalls(?:\$ThreadlessExecutor)?\.(?:blockingUnaryCall|waitAndDrain|getUnchecked)$/,
      within: 12,
      kind: 'rpc',
      target: {
        peers: true,
        pool: /^grpc-default-executor/,
        self: false,
        describe: 'a gRPC server (not in the dumps)',
      },
    },
  ],
  roles: [],
  services: [],
};

export const BUILTIN_RULES: readonly RulePack[] = [HBASE_RULES, HADOOP_RULES, GRPC_RULES];
