// The dumps layer: model, parsers, bundles and the per-thread CPU beside dumps (capture is src/capture). See model.ts for the data shapes.
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
export { MAX_ROUNDS } from './limits.js';
export {
  attachCpuSidecar,
  attachThreadCpu,
  readCpuSample,
  type ThreadCpu,
  type ThreadCpuSample,
} from './thread-cpu.js';
