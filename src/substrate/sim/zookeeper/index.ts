// The simulated ZooKeeper: a server on a node of the simulated world and the client sessions that
// coordination code gets through simZkConnector.
export { SimZooKeeperServer, SIM_ZK_DEFAULTS, MAX_SIM_ZK_SESSIONS, type SimZkServerOptions } from './server.js';
export { SimZkSession, simZkConnector } from './client.js';
export { ZnodeTree, MAX_ZNODES } from './tree.js';
