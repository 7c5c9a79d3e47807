export * from './errors.js';
export * from './messages.js';
export type { Authenticator } from './auth.js';
export { HandlerPool, handlerThreadName, MAX_HANDLERS_PER_POOL, type PoolConfig, type PoolCall } from './pool.js';
export {
  RpcServer,
  DEFAULT_MAX_CONNECTIONS,
  type CallContext,
  type MethodHandler,
  type RpcServerOptions,
} from './server.js';
export { RpcClient, DEFAULT_RPC_TIMEOUT_MS, type CallOptions, type Peer, type RpcClientOptions } from './client.js';
