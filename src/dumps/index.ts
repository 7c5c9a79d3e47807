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
