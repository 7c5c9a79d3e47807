// The capture layer: sources (HotSpot attach, jcmd/jstack, HTTP, commands, ssh/kubectl, agents),
// the scheduler of instants, synchronized rounds (Capturer) and the bundle writer.
export { epochNowMs, sleepUntil } from './clock.js';
export {
  Capturer,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  MAX_CAPTURE_BYTES,
  MAX_TARGETS,
  PREPARE_LEAD_MS,
  bundleTargets,
  targetsProblem,
  type CapturerOptions,
  type RoundHandle,
  type RoundResult,
} from './round.js';
export { captureBundle, validateCapture, MAX_CAPTURES, MAX_ROUNDS, type CaptureOptions } from './bundle-writer.js';
export { DirectorySink, MemorySink, type CaptureSink } from './sink.js';
export { JVM_METHODS, type JvmMethod } from './runners.js';
export { findJvmTool, type JvmTool } from './sources/process.js';
export { parseTargetsText, TARGETS_FILE_HELP, MAX_TARGETS_FILE_BYTES, type TargetSpec } from './targets.js';
export { resolveTargets, ResolveError, type TargetRequest } from './resolve.js';
export { listJvms, inspectJvm, parseJvmMatcher, type JvmInfo } from './jvm/discovery.js';
