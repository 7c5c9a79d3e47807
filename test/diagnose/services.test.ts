// Calls linked by service, on stacks shaped as each framework prints them (frame names from the
// frameworks' sources: Apache Thrift, Hadoop IPC, Java RMI, gRPC-java), whatever the threads are
// called; pools found by executor frames; and what is waiting rather than stuck.
import { describe, expect, it } from 'vitest';
import { parseRules, siteFacts } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { classOf, jstack, run, type T } from './jstack-text.js';

const J = 'java.base@17';
const WORKER = [
  `java.util.concurrent.ThreadPoolExecutor.runWorker(${J}/ThreadPoolExecutor.java:1136)`,
  `java.util.concurrent.ThreadPoolExecutor$Worker.run(${J}/ThreadPoolExecutor.java:635)`,
  `java.lang.Thread.run(${J}/Thread.java:840)`,
];
const SOCKET_READ = [
  `sun.nio.ch.Net.poll(${J}/Native Method)`,
  `sun.nio.ch.NioSocketImpl.park(${J}/NioSocketImpl.java:181)`,
  `sun.nio.ch.NioSocketImpl.timedRead(${J}/NioSocketImpl.java:285)`,
  `sun.nio.ch.NioSocketImpl.implRead(${J}/NioSocketImpl.java:309)`,
  `sun.nio.ch.NioSocketImpl.read(${J}/NioSocketImpl.java:350)`,
  `java.net.Socket$SocketInputStream.read(${J}/Socket.java:966)`,
  `java.io.BufferedInputStream.fill(${J}/BufferedInputStream.java:244)`,
  `java.io.BufferedInputStream.read1(${J}/BufferedInputStream.java:284)`,
  `java.io.BufferedInputStream.read(${J}/BufferedInputStream.java:343)`,
];
const PARK = [
  `jdk.internal.misc.Unsafe.park(${J}/Native Method)`,
  `java.util.concurrent.locks.LockSupport.park(${J}/LockSupport.java:211)`,
];

/** A Thrift client call blocked reading the reply: `service.method` from `X$Client.recv_m`. */
const thriftCall = (service: string, method: string): string[] => [
  ...SOCKET_READ,
  'org.apache.thrift.transport.TIOStreamTransport.read(TIOStreamTransport.java:127)',
  'org.apache.thrift.transport.TTransport.readAll(TTransport.java:86)',
  'org.apache.thrift.protocol.TBinaryProtocol.readAll(TBinaryProtocol.java:429)',
  'org.apache.thrift.protocol.TBinaryProtocol.readI32(TBinaryProtocol.java:318)',
  'org.apache.thrift.protocol.TBinaryProtocol.readMessageBegin(TBinaryProtocol.java:219)',
  'org.apache.thrift.TServiceClient.receiveBase(TServiceClient.java:77)',
  `shop.${service}$Client.recv_${method}(${service}.java:120)`,
  `shop.${service}$Client.${method}(${service}.java:107)`,
];
/** A Thrift handler running `service.method`, under TBaseProcessor and TThreadPoolServer. */
const thriftServe = (service: string, method: string, impl: string[]): string[] => [
  ...impl,
  `shop.${service}Handler.${method}(${service}Handler.java:30)`,
  `shop.${service}$Processor$${method}.getResult(${service}.java:420)`,
  `shop.${service}$Processor$${method}.getResult(${service}.java:404)`,
  'org.apache.thrift.ProcessFunction.process(ProcessFunction.java:40)',
  'org.apache.thrift.TBaseProcessor.process(TBaseProcessor.java:40)',
  'org.apache.thrift.server.TThreadPoolServer$WorkerProcess.run(TThreadPoolServer.java:313)',
  ...WORKER,
];
const rounds = <X>(n: number, f: (r: number) => X): X[] => Array.from({ length: n }, (_, r) => f(r));

describe('calls linked by service', () => {
  it('Thrift: handlers blocked calling each other across two processes are a deadlock, whatever the thread names', () => {
    // n0's Gateway handlers call n1's Calculator.add; Calculator.add calls back Gateway.audit on n0,
    // whose two handlers are the ones waiting. No name says "pool": their executor frames do.
    const gateway = (i: number): T => ({
      name: `gw-handler-${i}`,
      state: 'RUNNABLE',
      cpu: 5,
      stack: thriftServe('Gateway', 'handle', thriftCall('Calculator', 'add')),
    });
    const calc = (i: number): T => ({
      name: `calc-${i}`,
      state: 'RUNNABLE',
      cpu: 7,
      stack: thriftServe('Calculator', 'add', thriftCall('Gateway', 'audit')),
    });
    const res = run([rounds(3, () => [gateway(0), gateway(1)]), rounds(3, () => [calc(0), calc(1)])]);
    expect(res.verdict).toBe('deadlock');
    const d = res.deadlocks[0]!;
    expect(d.nodes.sort()).toEqual(['n0', 'n1']);
    const calls = d.cycle.filter((s) => s.service !== undefined).map((s) => `${s.service}/${s.method}`);
    expect(calls).toEqual(expect.arrayContaining(['Calculator/add', 'Gateway/audit']));
    // A socket read inside a client call is a wait on that call, not idle.
    expect(classOf(res, 'gw-handler-0')).toBe('blocked');
    expect(res.pools.find((p) => p.node === 'n0' && p.pool === 'gw-handler')).toMatchObject({
      family: 'executor',
      exhausted: true,
      serves: ['Gateway'],
    });
    expect(res.stuckTotal).toBe(4);
  });

  it('Thrift: the same calls with a free handler on n0 are no deadlock', () => {
    const idle: T = {
      name: 'gw-handler-2',
      state: 'WAITING (parking)',
      stack: [
        ...PARK,
        `java.util.concurrent.LinkedBlockingQueue.take(${J}/LinkedBlockingQueue.java:435)`,
        `java.util.concurrent.ThreadPoolExecutor.getTask(${J}/ThreadPoolExecutor.java:1062)`,
        ...WORKER,
      ],
    };
    const gw: T = {
      name: 'gw-handler-0',
      state: 'RUNNABLE',
      stack: thriftServe('Gateway', 'handle', thriftCall('Calculator', 'add')),
    };
    const calc: T = {
      name: 'calc-0',
      state: 'RUNNABLE',
      stack: thriftServe('Calculator', 'add', thriftCall('Gateway', 'audit')),
    };
    const res = run([rounds(3, () => [gw, idle]), rounds(3, () => [calc])]);
    expect(res.verdict).not.toBe('deadlock');
    expect(res.pools.find((p) => p.node === 'n0' && p.pool === 'gw-handler')).toMatchObject({
      family: 'executor',
      idle: 1,
    });
  });

  it('Hadoop IPC: a client call is linked to the handler serving that protocol method', () => {
    const client: T = {
      name: 'DataXceiver for client',
      state: 'WAITING (on object monitor)',
      stack: [
        `java.lang.Object.wait(${J}/Native Method)`,
        'org.apache.hadoop.ipc.Client.call(Client.java:1457)',
        'org.apache.hadoop.ipc.Client.call(Client.java:1394)',
        'org.apache.hadoop.ipc.ProtobufRpcEngine2$Invoker.invoke(ProtobufRpcEngine2.java:242)',
        'com.sun.proxy.$Proxy35.getFileInfo(Unknown Source)',
        'org.apache.hadoop.hdfs.protocolPB.ClientNamenodeProtocolTranslatorPB.getFileInfo(ClientNamenodeProtocolTranslatorPB.java:965)',
        'org.apache.hadoop.hdfs.DFSClient.getFileInfo(DFSClient.java:1739)',
        `java.lang.Thread.run(${J}/Thread.java:840)`,
      ],
    };
    const handler = (r: number): T => ({
      name: 'IPC Server handler 3 on default port 8020',
      state: 'RUNNABLE',
      stack: [
        `org.apache.hadoop.hdfs.server.namenode.FSNamesystem.getFileInfo${r}(FSNamesystem.java:3127)`,
        'org.apache.hadoop.hdfs.server.namenode.NameNodeRpcServer.getFileInfo(NameNodeRpcServer.java:1154)',
        'org.apache.hadoop.hdfs.protocolPB.ClientNamenodeProtocolServerSideTranslatorPB.getFileInfo(ClientNamenodeProtocolServerSideTranslatorPB.java:966)',
        'org.apache.hadoop.hdfs.protocol.proto.ClientNamenodeProtocolProtos$ClientNamenodeProtocol$2.callBlockingMethod(ClientNamenodeProtocolProtos.java)',
        'org.apache.hadoop.ipc.ProtobufRpcEngine2$Server$ProtoBufRpcInvoker.call(ProtobufRpcEngine2.java:621)',
        'org.apache.hadoop.ipc.RPC$Server.call(RPC.java:1025)',
        'org.apache.hadoop.ipc.Server$RpcCall.run(Server.java:876)',
        'org.apache.hadoop.ipc.Server$Handler.run(Server.java:2682)',
      ],
    });
    const res = run([rounds(2, () => [client]), rounds(2, (r) => [handler(r)])]);
    const edge = res.detail!.graph.edges.find((e) => e.kind === 'rpc')!;
    expect(edge.label).toMatch(
      /^rpc ClientNamenodeProtocol\/getFileInfo → n1 \(served by "IPC Server handler 3 on default port 8020"\)/,
    );
    // The NameNode progresses: the client is blocked on a live call, not deadlocked, not stuck.
    expect(['healthy', 'slow']).toContain(res.verdict);
    expect(classOf(res, 'DataXceiver for client')).toBe('blocked');
  });

  it('RMI: a proxy call meets the connection thread dispatching the same method', () => {
    const client: T = {
      name: 'main',
      state: 'RUNNABLE',
      stack: [
        ...SOCKET_READ,
        `java.io.DataInputStream.readByte(${J}/DataInputStream.java:271)`,
        `sun.rmi.transport.StreamRemoteCall.executeCall(java.rmi@17/StreamRemoteCall.java:240)`,
        `sun.rmi.server.UnicastRef.invoke(java.rmi@17/UnicastRef.java:164)`,
        `java.rmi.server.RemoteObjectInvocationHandler.invokeRemoteMethod(java.rmi@17/RemoteObjectInvocationHandler.java:217)`,
        `java.rmi.server.RemoteObjectInvocationHandler.invoke(java.rmi@17/RemoteObjectInvocationHandler.java:162)`,
        'jdk.proxy1.$Proxy0.lookupPrice(Unknown Source)',
        'com.example.Shop.main(Shop.java:12)',
      ],
    };
    const server: T = {
      name: 'RMI TCP Connection(3)-127.0.0.1',
      state: 'BLOCKED (on object monitor)',
      stack: [
        'com.example.PriceServiceImpl.lookupPrice(PriceServiceImpl.java:20)',
        `jdk.internal.reflect.DirectMethodHandleAccessor.invoke(${J}/DirectMethodHandleAccessor.java:104)`,
        `java.lang.reflect.Method.invoke(${J}/Method.java:578)`,
        `sun.rmi.server.UnicastServerRef.dispatch(java.rmi@17/UnicastServerRef.java:360)`,
        `sun.rmi.transport.Transport$1.run(java.rmi@17/Transport.java:200)`,
      ],
    };
    const f = siteFacts(
      parseDumpText(jstack([client, server]), { frames: new FrameTable() }).dumps[0]!.threads[0]!.frames,
    );
    expect(f.call).toMatchObject({ framework: 'rmi', service: 'RMI', method: 'lookupPrice' });
    const res = run([rounds(2, () => [client]), rounds(2, () => [server])]);
    const edge = res.detail!.graph.edges.find((e) => e.kind === 'rpc')!;
    expect(edge.label).toBe('rpc RMI/lookupPrice → n1 (served by "RMI TCP Connection(3)-127.0.0.1")');
  });

  it('gRPC: a service no dump shows served goes where a rules file says, and then closes the cycle', () => {
    const stub = (svc: string, m: string): string[] => [
      ...PARK,
      'io.grpc.stub.ClientCalls$ThreadlessExecutor.waitAndDrain(ClientCalls.java:731)',
      'io.grpc.stub.ClientCalls.blockingUnaryCall(ClientCalls.java:149)',
      `shop.api.${svc}Grpc$${svc}BlockingStub.${m}(${svc}Grpc.java:157)`,
    ];
    // n0 serves Inventory/reserve and, inside it, calls Orders/audit; n1's batch jobs (pool-1) call
    // Inventory/reserve. Nothing shows Orders served anywhere.
    const inventory: T = {
      name: 'grpc-default-executor-0',
      state: 'WAITING (parking)',
      stack: [
        ...stub('Orders', 'audit'),
        'shop.InventoryService.reserve(InventoryService.java:40)',
        'shop.api.InventoryGrpc$MethodHandlers.invoke(InventoryGrpc.java:205)',
        'io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)',
        ...WORKER,
      ],
    };
    const job = (i: number): T => ({
      name: `pool-1-thread-${i}`,
      state: 'WAITING (parking)',
      stack: [...stub('Inventory', 'reserve'), 'shop.Batch.run(Batch.java:9)', ...WORKER],
    });
    const samples = [rounds(3, () => [inventory]), rounds(3, () => [job(1), job(2)])];
    const without = run(samples);
    expect(without.verdict).toBe('stuck');
    expect(without.deadlocks).toEqual([]);
    const rules = parseRules(
      JSON.stringify({ services: [{ service: '^Orders$', target: { node: 'n1', pool: '^pool-1$' } }] }),
    );
    const withRule = run(samples, { rules: [rules] });
    expect(withRule.verdict).toBe('deadlock');
    expect(withRule.deadlocks[0]!.nodes.sort()).toEqual(['n0', 'n1']);
  });
});

describe('waiting is not stuck', () => {
  it('a join, a latch and a queue take with nothing linked are waiting, listed apart; the verdict stays healthy', () => {
    const threads: T[] = [
      {
        name: 'main',
        state: 'WAITING (on object monitor)',
        stack: [
          `java.lang.Object.wait(${J}/Native Method)`,
          `java.lang.Thread.join(${J}/Thread.java:1313)`,
          'org.example.Server.main(Server.java:12)',
        ],
      },
      {
        name: 'election listener',
        state: 'WAITING (parking)',
        stack: [
          ...PARK,
          `java.util.concurrent.locks.AbstractQueuedSynchronizer.acquireSharedInterruptibly(${J}/AbstractQueuedSynchronizer.java:1047)`,
          `java.util.concurrent.CountDownLatch.await(${J}/CountDownLatch.java:230)`,
          'org.example.Listener.run(Listener.java:90)',
        ],
        locks: ['parking to wait for  <0x00000000f0000010> (a java.util.concurrent.CountDownLatch$Sync)'],
      },
      {
        name: 'shutdown waiter',
        state: 'TIMED_WAITING (parking)',
        stack: [
          ...PARK,
          `java.util.concurrent.ThreadPoolExecutor.awaitTermination(${J}/ThreadPoolExecutor.java:1464)`,
          'org.example.Server.stop(Server.java:40)',
          'org.example.Server$1.run(Server.java:44)',
        ],
      },
    ];
    const res = run([rounds(3, () => threads)]);
    expect(res.verdict).toBe('healthy');
    expect(res.stuck).toEqual([]);
    expect(res.threads.waiting).toBe(3);
    expect(res.waiting.map((w) => w.thread)).toEqual(['main', 'election listener', 'shutdown waiter']);
  });

  it('--explain says what a thread waits for and why that makes it stuck or waiting', () => {
    const holder: T = {
      name: 'holder',
      state: 'WAITING (parking)',
      stack: [
        ...PARK,
        `java.util.concurrent.CountDownLatch.await(${J}/CountDownLatch.java:230)`,
        'org.example.A.run(A.java:1)',
      ],
      locks: ['parking to wait for  <0x00000000f0000020> (a java.util.concurrent.CountDownLatch$Sync)'],
    };
    const owner: T = {
      name: 'owner',
      state: 'RUNNABLE',
      stack: ['org.example.Store.flush(Store.java:5)', 'org.example.C.run(C.java:1)'],
      locks: ['locked <0x00000000f0000030> (a org.example.Store)'],
    };
    const waiter: T = {
      name: 'waiter',
      state: 'BLOCKED (on object monitor)',
      stack: ['org.example.B.update(B.java:2)', 'org.example.B.run(B.java:3)'],
      locks: ['waiting to lock <0x00000000f0000030> (a org.example.Store)'],
    };
    const samples = [rounds(2, () => [holder, owner, waiter])];
    const res = run(samples, { explain: ['n0/waiter', 'n0/holder'] });
    const [w, h] = res.explanations!;
    expect(w).toMatchObject({ node: 'n0', thread: 'waiter', class: 'blocked' });
    expect(w!.evidence.join('\n')).toMatch(/held by "owner"/);
    expect(h!.class).toBe('waiting');
    expect(h!.evidence.join('\n')).toMatch(/nothing the dumps link it to/);
    expect(() => run(samples, { explain: ['n0/nobody'] })).toThrow(/no thread "nobody" on n0/);
    expect(() => run(samples, { explain: ['nowhere'] })).toThrow(/not NODE\/THREAD/);
  });
});
