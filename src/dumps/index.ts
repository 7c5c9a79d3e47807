// The dumps layer: model, parsers, capture engine and bundles. See model.ts for the data shapes.
export * from './model.js';
export { FrameTable, StringInterner, defaultFrameTable, defaultStrings, parseFrameText, stackKeyOf } from './frames.js';
export type { FrameParts } from './frames.js';
export {
  detectFormat,
  parseDumpText,
  parseDumpBuffer,
  parseDumpFile,
  parseDumpFileSync,
  parseDumps,
  MAX_DUMP_INPUT_BYTES,
} from './parse.js';
export type { ParseOptions } from './parse.js';
export { rollcallFrameText } from './json.js';
export {
  captureBundle,
  validateCapture,
  findJvmTool,
  epochNowMs,
  DEFAULT_CAPTURE_TIMEOUT_MS,
  MAX_CAPTURE_BYTES,
  MAX_TARGETS,
  MAX_ROUNDS,
  MAX_CAPTURES,
} from './capture.js';
export type { CaptureOptions, TargetSpec, JvmTool } from './capture.js';
export {
  readBundle,
  readManifest,
  writeManifest,
  sanitizeNodeDir,
  BundleExistsError,
  BUNDLE_VERSION,
  MANIFEST_FILE,
} from './bundle.js';
export type {
  Bundle,
  BundleManifest,
  BundleNode,
  BundleRound,
  BundleSample,
  BundleTarget,
  CaptureRecord,
  TargetKind,
} from './bundle.js';
export { parseTargetsText, TARGETS_FILE_HELP } from './targets.js';
