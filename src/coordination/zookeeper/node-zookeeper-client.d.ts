// The part of node-zookeeper-client (plain JavaScript, no bundled types) that session.ts uses.
// Kept narrow on purpose: nothing outside session.ts touches the client, and every other module
// sees only rollcall's own types.
declare module 'node-zookeeper-client' {
  import type { EventEmitter } from 'node:events';

  /** Java longs (zxids, times, session ids) arrive as 8-byte big-endian buffers. */
  export interface Stat {
    czxid: Buffer;
    mzxid: Buffer;
    ctime: Buffer;
    mtime: Buffer;
    version: number;
    cversion: number;
    aversion: number;
    ephemeralOwner: Buffer;
    dataLength: number;
    numChildren: number;
    pzxid: Buffer;
  }

  export interface ClientEvent {
    getType(): number;
    getName(): string;
    getPath(): string;
  }

  export interface ClientState {
    getName(): string;
    getCode(): number;
  }

  export interface ZkException extends Error {
    getCode(): number;
    getName(): string;
    getPath(): string | undefined;
  }

  export type Watcher = (event: ClientEvent) => void;
  export type Callback<T> = (error: ZkException | null | undefined, result: T) => void;

  export interface Transaction {
    create(path: string, data: Buffer | undefined, mode: number): Transaction;
    check(path: string, version?: number): Transaction;
    setData(path: string, data: Buffer | null, version?: number): Transaction;
    remove(path: string, version?: number): Transaction;
    commit(callback: (error: ZkException | null | undefined) => void): void;
  }

  export interface ClientOptions {
    sessionTimeout?: number;
    spinDelay?: number;
    retries?: number;
  }

  export interface Client extends EventEmitter {
    connect(): void;
    close(): void;
    getState(): ClientState;
    getSessionId(): Buffer;
    getSessionTimeout(): number;
    create(path: string, data: Buffer | undefined, mode: number, callback: Callback<string>): void;
    remove(path: string, version: number, callback: (error: ZkException | null | undefined) => void): void;
    exists(path: string, watcher: Watcher | undefined, callback: Callback<Stat | null>): void;
    exists(path: string, callback: Callback<Stat | null>): void;
    getData(
      path: string,
      watcher: Watcher,
      callback: (e: ZkException | null | undefined, d: Buffer, s: Stat) => void,
    ): void;
    getData(path: string, callback: (e: ZkException | null | undefined, d: Buffer, s: Stat) => void): void;
    setData(path: string, data: Buffer | null, version: number, callback: Callback<Stat>): void;
    getChildren(
      path: string,
      watcher: Watcher,
      callback: (e: ZkException | null | undefined, c: string[]) => void,
    ): void;
    getChildren(path: string, callback: (e: ZkException | null | undefined, c: string[]) => void): void;
    transaction(): Transaction;
  }

  export function createClient(connectionString: string, options?: ClientOptions): Client;

  export const CreateMode: {
    PERSISTENT: number;
    PERSISTENT_SEQUENTIAL: number;
    EPHEMERAL: number;
    EPHEMERAL_SEQUENTIAL: number;
  };

  export const Event: {
    NODE_CREATED: number;
    NODE_DELETED: number;
    NODE_DATA_CHANGED: number;
    NODE_CHILDREN_CHANGED: number;
  };

  export const Exception: {
    OK: number;
    SYSTEM_ERROR: number;
    RUNTIME_INCONSISTENCY: number;
    DATA_INCONSISTENCY: number;
    CONNECTION_LOSS: number;
    MARSHALLING_ERROR: number;
    UNIMPLEMENTED: number;
    OPERATION_TIMEOUT: number;
    BAD_ARGUMENTS: number;
    API_ERROR: number;
    NO_NODE: number;
    NO_AUTH: number;
    BAD_VERSION: number;
    NO_CHILDREN_FOR_EPHEMERALS: number;
    NODE_EXISTS: number;
    NOT_EMPTY: number;
    SESSION_EXPIRED: number;
    INVALID_CALLBACK: number;
    INVALID_ACL: number;
    AUTH_FAILED: number;
  };

  const zookeeper: {
    createClient: typeof createClient;
    CreateMode: typeof CreateMode;
    Event: typeof Event;
    Exception: typeof Exception;
  };
  export default zookeeper;
}
