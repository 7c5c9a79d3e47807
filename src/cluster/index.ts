export * from './config.js';
export * from './messages.js';
export { Master, masterConfig, MAX_MEMBERS } from './master.js';
export { Membership, DuplicateNodeError, DUPLICATE_NODE_ERROR, type MemberRecord } from './membership.js';
export { Worker, workerConfig, type WorkerSettings } from './worker.js';
export {
  Wal,
  segmentName,
  WAL_FRAMES,
  type RollResult,
  type SegmentContents,
  type RecoveryReport,
  type WalOptions,
} from './wal.js';
export { BackupSystemTable, BACKUP_TABLE_LOG, COMPACT_AFTER_RECORDS, type BackupRow } from './backup-table.js';
export { WalLoadGenerator } from './loadgen.js';
export {
  LogRollBackupSubprocedure,
  LogRollMasterProcedureManager,
  LOGROLL_FRAMES,
  parseLogRollArgs,
  type LogRollArgs,
  type LogRollHost,
} from './logroll.js';
export {
  BackupAdminClient,
  isUnreachable,
  POLL_DEFAULTS,
  type RolllogOutcome,
  type RolllogRequest,
  type RolllogRunResult,
} from './client.js';
export {
  Cluster,
  startCluster,
  defaultWorkerName,
  CLIENT_NODE,
  MAX_CLUSTER_WORKERS,
  DEFAULT_START_CONCURRENCY,
  type ClusterSpec,
} from './harness.js';
export { crc32 } from './crc32.js';
export {
  encodeRecord,
  scanRecords,
  salvageRecords,
  CorruptDataError,
  RECORD_HEADER_BYTES,
  MAX_RECORD_BYTES,
  type Damage,
  type ScanResult,
} from './records.js';
export { verifyWal, verifyBackupTable, type FileVerdict, type FileKind, type FileStatus } from './verify.js';
