// Linking calls by service. A thread blocked in a client stub names the service and method it
// calls; a thread running a framework's dispatch frames names the service and method it serves.
// Whoever the dumps show dispatching a service — on any node, in any sample, whatever the threads
// are called — is who serves it: a blocked call waits for the threads seen serving that method in
// the same sample, or (when none is) for a handler of the pools seen serving that service.
//
// Frames read (innermost first), from the frameworks' sources:
//   gRPC-java   client  ClientCalls.blockingUnaryCall / blockingServerStreamingCall /
//                       ClientCalls$BlockingResponseStream.hasNext|next, over `XGrpc$XBlockingStub.m`
//               server  `XGrpc$MethodHandlers.invoke` under `io.grpc.stub.ServerCalls$…`
//   protobuf    client  `…$XService$BlockingStub.m` (HBase, any java_generic_services stub)
//   (HBase)     server  `…$XService$2.callBlockingMethod` (under RpcServer.call)
//   Hadoop IPC  client  `ProtobufRpcEngine(2)|WritableRpcEngine$Invoker.invoke`, the `$ProxyN.m`
//                       protocol proxy, `XTranslatorPB` / `XClientSideTranslatorPB`
//               server  `XServerSideTranslatorPB.m` (under `…$2.callBlockingMethod`, RPC$Server.call)
//   Thrift      client  `TServiceClient.receiveBase` over `X$Client.recv_m`
//               server  `X$Processor$m.getResult` (under ProcessFunction / TBaseProcessor.process)
//   Java RMI    client  `sun.rmi.server.UnicastRef.invoke`, then the `$ProxyN.m` or `X_Stub.m` frame
//               server  `sun.rmi.server.UnicastServerRef.dispatch`, the method past the reflection
// Computed once per distinct stack (stacks.ts memoizes), so none of this runs per thread.
import type { Frame } from '../dumps/model.js';

export type RpcFramework = 'grpc' | 'protobuf' | 'hadoop-ipc' | 'thrift' | 'rmi';

export interface RpcSite {
  framework: RpcFramework;
  /** Simple service name as both sides print it: `Inventory`, `ClientService`, `ClientNamenodeProtocol`. */
  service: string;
  /** The method, as the stub and the implementation name it (`reserve`), when the frames show it. */
  method?: string;
  /** The frames that say so, as printed. */
  evidence: string[];
}

export type CallSite = RpcSite;
export type ServeSite = RpcSite;

export interface SiteFacts {
  call?: CallSite;
  serves?: ServeSite;
  /** Runs as a pool worker: a ThreadPoolExecutor worker (any package) or a ForkJoin worker. */
  worker?: 'executor' | 'fork-join';
  /** Waits for work on a hand-off queue (SynchronousQueue): its pool makes threads on demand. */
  handoff?: boolean;
}

/** RMI has no service name in the frames: calls and dispatches meet on the method. */
export const RMI_SERVICE = 'RMI';
/** Frames looked at per stack (machinery, stub and dispatch are never this deep). */
const MAX_SITE_FRAMES = 400;
/** A stub frame must be this close below the call machinery. */
const STUB_WITHIN = 8;
const HANDOFF_WITHIN = 12;

/** `com.example.InventoryGrpc$InventoryBlockingStub` → `InventoryGrpc`. */
function outerSimple(className: string): string {
  const dollar = className.indexOf('$');
  const outer = dollar < 0 ? className : className.slice(0, dollar);
  return outer.slice(outer.lastIndexOf('.') + 1);
}

/** `a.b.C$D$E` → `D` for the segment before the last one. */
function segmentBeforeLast(className: string): string | undefined {
  const parts = className.split('$');
  return parts.length >= 3 ? parts[parts.length - 2] : undefined;
}

function simpleName(className: string): string {
  const s = className.slice(className.lastIndexOf('.') + 1);
  return s.slice(s.lastIndexOf('$') + 1);
}

const REFLECTION = /^(?:java\.lang\.reflect\.|jdk\.internal\.reflect\.|sun\.reflect\.)/;
const PROXY = /(?:^|\.)\$Proxy\d+$/;
const HADOOP_INVOKER =
  /^org\.apache\.hadoop\.ipc\.(?:ProtobufRpcEngine2?|ProtobufRpcEngineShaded|WritableRpcEngine|RPC)\$Invoker$/;
const TRANSLATOR = /^(\w+?)(?:ClientSide)?TranslatorPB$/;
const SERVER_TRANSLATOR = /^(\w+)ServerSideTranslatorPB$/;

/** Every RPC fact of a stack, in one pass. */
export function siteFacts(frames: readonly Frame[]): SiteFacts {
  const out: SiteFacts = {};
  const n = Math.min(frames.length, MAX_SITE_FRAMES);
  for (let i = 0; i < n; i++) {
    const f = frames[i]!;
    const c = f.className;
    const m = f.method;
    if (out.call === undefined) {
      const call = clientCall(frames, i, c, m);
      if (call !== undefined) out.call = call;
    }
    if (out.serves === undefined) {
      const serves = dispatch(frames, i, c, m);
      if (serves !== undefined) out.serves = serves;
    }
    if (m === 'run') {
      if (c.endsWith('ThreadPoolExecutor$Worker')) out.worker = 'executor';
      else if (c === 'java.util.concurrent.ForkJoinWorkerThread') out.worker = 'fork-join';
    }
    if (i < HANDOFF_WITHIN && c.startsWith('java.util.concurrent.SynchronousQueue')) out.handoff = true;
  }
  return out;
}

function clientCall(frames: readonly Frame[], i: number, c: string, m: string): CallSite | undefined {
  if (c === 'io.grpc.stub.ClientCalls' || c === 'io.grpc.stub.ClientCalls$BlockingResponseStream') {
    if (!/^(?:blockingUnaryCall|blockingServerStreamingCall|hasNext|next)$/.test(m)) return undefined;
    const stub = below(frames, i, (x) => x.className.endsWith('BlockingStub') && x.className.includes('Grpc$'));
    if (stub === undefined) return undefined;
    const service = outerSimple(stub.className).replace(/Grpc$/, '');
    return { framework: 'grpc', service, method: stub.method, evidence: [frames[i]!.text, stub.text] };
  }
  if (c.endsWith('$BlockingStub') && !c.includes('Grpc$')) {
    const service = segmentBeforeLast(c);
    if (service === undefined) return undefined;
    return { framework: 'protobuf', service, method: m, evidence: [frames[i]!.text] };
  }
  if (m === 'invoke' && HADOOP_INVOKER.test(c)) {
    const proxy = below(frames, i, (x) => PROXY.test(x.className));
    const translator = below(frames, i, (x) => TRANSLATOR.test(simpleName(x.className)));
    const service = translator === undefined ? undefined : TRANSLATOR.exec(simpleName(translator.className))![1]!;
    if (service === undefined) return undefined;
    return {
      framework: 'hadoop-ipc',
      service,
      method: translator!.method || proxy?.method,
      evidence: [frames[i]!.text, ...(proxy !== undefined ? [proxy.text] : []), translator!.text],
    };
  }
  if (c === 'org.apache.thrift.TServiceClient' && m === 'receiveBase') {
    const client = below(frames, i, (x) => x.className.endsWith('$Client'));
    if (client === undefined) return undefined;
    return {
      framework: 'thrift',
      service: outerSimple(client.className),
      method: client.method.replace(/^recv_/, ''),
      evidence: [frames[i]!.text, client.text],
    };
  }
  if (c === 'sun.rmi.server.UnicastRef' && m === 'invoke') {
    const stub = below(
      frames,
      i,
      (x) => PROXY.test(x.className) || x.className.endsWith('_Stub'),
      STUB_WITHIN + 4, // RemoteObjectInvocationHandler adds a few frames
    );
    if (stub === undefined) return undefined;
    return { framework: 'rmi', service: RMI_SERVICE, method: stub.method, evidence: [frames[i]!.text, stub.text] };
  }
  return undefined;
}

function dispatch(frames: readonly Frame[], i: number, c: string, m: string): ServeSite | undefined {
  if (m === 'invoke' && c.endsWith('Grpc$MethodHandlers')) {
    const under = frames[i + 1];
    if (under === undefined || !under.className.startsWith('io.grpc.stub.ServerCalls$')) return undefined;
    const impl = frames[i - 1];
    return {
      framework: 'grpc',
      service: outerSimple(c).replace(/Grpc$/, ''),
      ...(impl !== undefined ? { method: impl.method } : {}),
      evidence: [frames[i]!.text, ...(impl !== undefined ? [impl.text] : [])],
    };
  }
  if (m === 'callBlockingMethod' && /\$\d+$/.test(c)) {
    const impl = frames[i - 1];
    const translator = impl === undefined ? null : SERVER_TRANSLATOR.exec(simpleName(impl.className));
    if (translator !== null && impl !== undefined) {
      return {
        framework: 'hadoop-ipc',
        service: translator[1]!,
        method: impl.method,
        evidence: [impl.text, frames[i]!.text],
      };
    }
    const service = segmentBeforeLast(c);
    if (service === undefined) return undefined;
    return {
      framework: 'protobuf',
      service,
      ...(impl !== undefined ? { method: impl.method } : {}),
      evidence: [frames[i]!.text, ...(impl !== undefined ? [impl.text] : [])],
    };
  }
  if (c.endsWith('ServerSideTranslatorPB')) {
    const t = SERVER_TRANSLATOR.exec(simpleName(c));
    if (t !== null) return { framework: 'hadoop-ipc', service: t[1]!, method: m, evidence: [frames[i]!.text] };
  }
  if (m === 'getResult' && c.includes('$Processor$')) {
    const at = c.lastIndexOf('$Processor$');
    return {
      framework: 'thrift',
      service: outerSimple(c.slice(0, at)),
      method: c.slice(at + '$Processor$'.length),
      evidence: [frames[i]!.text],
    };
  }
  if (c === 'sun.rmi.server.UnicastServerRef' && m === 'dispatch') {
    for (let k = i - 1; k >= 0; k--) {
      const f = frames[k]!;
      if (REFLECTION.test(f.className)) continue;
      return { framework: 'rmi', service: RMI_SERVICE, method: f.method, evidence: [frames[i]!.text, f.text] };
    }
  }
  return undefined;
}

/** The first frame below (outer to) i, within `within`, that matches. */
function below(
  frames: readonly Frame[],
  i: number,
  test: (f: Frame) => boolean,
  within = STUB_WITHIN,
): Frame | undefined {
  const end = Math.min(frames.length, i + 1 + within);
  for (let k = i + 1; k < end; k++) if (test(frames[k]!)) return frames[k];
  return undefined;
}

/** `Inventory/reserve`, `ClientService/get`, `RMI/lookup`. */
export function siteName(s: { service: string; method?: string }): string {
  return s.method === undefined ? s.service : `${s.service}/${s.method}`;
}

// ---- who serves what -------------------------------------------------------------------------

/** Bounds on the directory. */
export const MAX_SERVICES = 10_000;
const MAX_SERVERS_PER_ROUND_METHOD = 100_000;

export interface Serving {
  readonly tracks: readonly number[];
  readonly sites: readonly ServeSite[];
}
const NONE: Serving = { tracks: [], sites: [] };

export interface ServedOn {
  node: number;
  /** Pools whose threads dispatched the service, with sightings. */
  pools: Map<string, number>;
  /** Sightings by threads in no pool (one thread per connection, as RMI). */
  unpooled: number;
  methods: Set<string>;
}

/** Which node, pool and thread serves which service, across every sample. */
export class ServiceDirectory {
  private readonly services = new Map<string, Map<number, ServedOn>>();
  /** Per round: `service/method` → serving tracks, and the dispatch each was seen in. */
  private readonly byRound: Map<string, { tracks: number[]; sites: ServeSite[] }>[] = [];

  record(r: number, track: number, node: number, site: ServeSite, pool: string | undefined): void {
    let nodes = this.services.get(site.service);
    if (nodes === undefined) {
      if (this.services.size >= MAX_SERVICES) return;
      this.services.set(site.service, (nodes = new Map()));
    }
    let on = nodes.get(node);
    if (on === undefined) nodes.set(node, (on = { node, pools: new Map(), unpooled: 0, methods: new Set() }));
    if (pool !== undefined) on.pools.set(pool, (on.pools.get(pool) ?? 0) + 1);
    else on.unpooled++;
    if (site.method !== undefined && on.methods.size < MAX_SERVICES) on.methods.add(site.method);
    const round = (this.byRound[r] ??= new Map());
    const key = siteName(site);
    let list = round.get(key);
    if (list === undefined) round.set(key, (list = { tracks: [], sites: [] }));
    if (list.tracks.length < MAX_SERVERS_PER_ROUND_METHOD) {
      list.tracks.push(track);
      list.sites.push(site);
    }
  }

  /** Threads seen serving this service and method in round r, with what showed it. */
  servingIn(r: number, site: { service: string; method?: string }): Serving {
    if (site.method === undefined) return NONE;
    return this.byRound[r]?.get(siteName(site)) ?? NONE;
  }

  /** Where the service was seen served, over all samples. */
  servedOn(service: string): readonly ServedOn[] {
    const nodes = this.services.get(service);
    return nodes === undefined ? [] : [...nodes.values()];
  }

  get size(): number {
    return this.services.size;
  }
}
