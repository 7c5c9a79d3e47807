// Typed RPC errors. They cross the wire as {type, message, retryable}; the client rebuilds them.

export type RpcErrorType =
  | 'CallQueueTooBig'
  | 'CallTimeout'
  | 'UnknownMethod'
  | 'RemoteException'
  | 'ConnectionClosed'
  | 'ConnectFailed'
  | 'ServerStopped'
  | 'Auth'
  /** The server refused the connection: too many from this peer, or in total (retryable, later). */
  | 'TooManyConnections'
  | 'OperationTimeout'
  /** The caller withdrew the call (CallOptions.signal): its procedure was aborted. */
  | 'Cancelled'
  /** The node is up but not serving this yet (a standby master); retryable, elsewhere or later. */
  | 'ServerNotRunningYet';

export class RpcError extends Error {
  constructor(
    readonly type: RpcErrorType,
    message: string,
    /** Whether retrying the same call may help (the client's retry loop reads this). */
    readonly retryable: boolean,
    /** For RemoteException: the error class the handler threw. */
    readonly remoteType?: string,
  ) {
    super(message);
    this.name = type === 'RemoteException' && remoteType ? remoteType : `${type}Exception`;
  }
}

export class CallQueueTooBigError extends RpcError {
  constructor(message: string) {
    super('CallQueueTooBig', message, true);
  }
}

export class CallTimeoutError extends RpcError {
  constructor(message: string) {
    super('CallTimeout', message, true);
  }
}

export class UnknownMethodError extends RpcError {
  constructor(method: string) {
    super('UnknownMethod', `unknown method '${method}'`, false);
  }
}

export class RemoteError extends RpcError {
  constructor(message: string, remoteType: string) {
    super('RemoteException', message, false, remoteType);
  }
}

export interface WireError {
  type: RpcErrorType;
  message: string;
  retryable: boolean;
  remoteType?: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof RpcError) {
    return { type: err.type, message: err.message, retryable: err.retryable, remoteType: err.remoteType };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { type: 'RemoteException', message: e.message, retryable: false, remoteType: e.name };
}

export function fromWireError(w: WireError, where: string): RpcError {
  switch (w.type) {
    case 'CallQueueTooBig':
      return new CallQueueTooBigError(w.message);
    case 'UnknownMethod':
      return new RpcError('UnknownMethod', w.message, false);
    case 'RemoteException':
      return new RemoteError(`${w.message} (at ${where})`, w.remoteType ?? 'Error');
    default:
      return new RpcError(w.type, w.message, w.retryable, w.remoteType);
  }
}
