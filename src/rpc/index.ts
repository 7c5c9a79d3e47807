export * from './errors.js';
export * from './messages.js';
export { HandlerPool, handlerThreadName, MAX_HANDLERS_PER_POOL, type PoolConfig, type PoolCall } from './pool.js';
export { RpcServer, type CallContext, type MethodHandler, type RpcServerOptions } from './server.js';
export {
  ConnectionLedger,
  DEFAULT_SERVER_CONNECTION_LIMITS,
  InboundConnection,
  type ServerConnectionLimits,
} from './inbound.js';
export {
  RpcClient,
  DEFAULT_RPC_TIMEOUT_MS,
  DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
  type CallOptions,
  type Peer,
  type RpcClientOptions,
} from './client.js';
