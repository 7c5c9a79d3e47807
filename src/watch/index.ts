// Live watching: synchronized rounds of every target, the sliding window analyzed by the one
// analysis core, alerts confirmed over consecutive windows, Prometheus metrics, the flight recorder.
export {
  Watcher,
  DEFAULT_WINDOW,
  MAX_ROUNDS_IN_FLIGHT,
  watchCaptureTimeoutMs,
  type RoundReport,
  type WatchEvent,
  type WatchListener,
  type WatchOptions,
  type WatchSummary,
} from './watcher.js';
export { ALERT_ON, CONFIRM_WINDOWS, Confirmation, alertOf, type AlertOn } from './confirm.js';
export { MAX_WINDOW, RoundParser, RoundWindow, analyzeWindow } from './window.js';
export {
  WatchMetrics,
  startMetricsServer,
  MAX_METRIC_NODES,
  MAX_METRIC_POOLS_PER_NODE,
  type MetricsServer,
} from './metrics.js';
export { FlightRecorder, MAX_KEEP } from './recorder.js';
export { AlertCommand, DEFAULT_ON_ALERT_TIMEOUT_MS, describeRun } from './on-alert.js';
