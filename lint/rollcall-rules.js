// rollcall's own ESLint rules: the architecture as tooling.
//
// - rollcall/layers: every import (static, re-export, dynamic, type-only) from one folder of src to
//   another must follow the layer graph given in eslint.config.js (arrows point down).
// - rollcall/protocol-imports: protocol code imports only relative project modules and an
//   allowlist of pure packages; never a Node built-in or another npm package.
// - rollcall/protocol-globals: protocol code uses only an allowlist of pure globals (the language's
//   own, TextEncoder, URL...); setTimeout, performance, process, crypto, globalThis... are the
//   host's, and protocol code takes time, I/O and randomness from the injected Substrate.
//
// Why ESLint rules and not dependency-cruiser: the lint already runs on every `npm test`, reports
// per rule id (the lint test checks each one), sees globals that an import graph cannot
// (globalThis.setTimeout, crypto.randomUUID() need no import), and adds no dependency.
import path from 'node:path';

/** The layer of a file: the first entry whose path (a file, or a folder ending in '/') matches. */
function layerOf(file, layers) {
  for (const layer of layers) {
    for (const p of layer.paths) {
      if (p.endsWith('/') ? file.startsWith(p) : file === p) return layer.name;
    }
  }
  return undefined;
}

/** Project-relative path with '/' separators, and TypeScript's '.js' import suffix mapped to '.ts'. */
function projectPath(cwd, absolute) {
  return path.relative(cwd, absolute).split(path.sep).join('/').replace(/\.js$/, '.ts');
}

/** Calls `check(node, specifier)` for every import-like node of a module with a literal source. */
function importVisitors(check) {
  const literal = (node, source) => {
    if (source && source.type === 'Literal' && typeof source.value === 'string') check(node, source.value);
  };
  return {
    ImportDeclaration: (node) => literal(node, node.source),
    ExportNamedDeclaration: (node) => literal(node, node.source),
    ExportAllDeclaration: (node) => literal(node, node.source),
    ImportExpression: (node) => (node.source.type === 'Literal' ? literal(node, node.source) : check(node, null)),
    TSImportEqualsDeclaration: (node) =>
      node.moduleReference.type === 'TSExternalModuleReference' && literal(node, node.moduleReference.expression),
    TSImportType: (node) => literal(node, node.argument.type === 'TSLiteralType' ? node.argument.literal : node.argument),
    CallExpression: (node) => {
      if (node.callee.type === 'Identifier' && node.callee.name === 'require') {
        const a = node.arguments[0];
        if (a && a.type === 'Literal') literal(node, a);
        else check(node, null);
      }
    },
  };
}

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'imports between the folders of src follow the layer graph' },
    schema: [{ type: 'object', additionalProperties: true }],
    messages: {
      forbiddenLayer: "{{from}} must not import {{to}} ('{{spec}}'): {{from}} may import {{allowed}}",
      unknownLayer: '{{file}} is in no layer: add its folder to the layer table in eslint.config.js',
      outsideSource: "'{{spec}}' leaves src: project code imports only project modules and packages",
    },
  },
  create(context) {
    const { layers: table, allow, exceptions = [] } = context.options[0];
    const cwd = context.cwd;
    const file = projectPath(cwd, context.filename);
    if (!file.startsWith('src/')) return {};
    const from = layerOf(file, table);
    if (from === undefined) {
      return { Program: (node) => context.report({ node, messageId: 'unknownLayer', data: { file } }) };
    }
    return importVisitors((node, spec) => {
      if (spec === null || !spec.startsWith('.')) return;
      const target = projectPath(cwd, path.resolve(path.dirname(context.filename), spec));
      if (!target.startsWith('src/')) {
        context.report({ node, messageId: 'outsideSource', data: { spec } });
        return;
      }
      const to = layerOf(target, table);
      if (to === undefined || to === from || (allow[from] ?? []).includes(to)) return;
      if (exceptions.some((e) => e.from === file && e.to.includes(target))) return;
      const allowed = (allow[from] ?? []).join(', ') || 'nothing but itself';
      context.report({ node, messageId: 'forbiddenLayer', data: { from, to, spec, allowed } });
    });
  },
};

const protocolImports = {
  meta: {
    type: 'problem',
    docs: { description: 'protocol code imports only project modules and pure packages' },
    schema: [{ type: 'object', properties: { allow: { type: 'array', items: { type: 'string' } } } }],
    messages: {
      nodeBuiltin:
        "'{{spec}}' is the host's: protocol code takes time, I/O and randomness from the injected Substrate",
      package: "'{{spec}}' is not on the allowlist of pure packages protocol code may import ({{allowed}})",
      dynamicImport: 'protocol code imports modules statically, by a literal name the lint can check',
    },
  },
  create(context) {
    const allow = context.options[0]?.allow ?? [];
    return importVisitors((node, spec) => {
      if (spec === null) {
        context.report({ node, messageId: 'dynamicImport' });
        return;
      }
      if (spec.startsWith('.') || allow.includes(spec)) return;
      const builtin = spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0]);
      context.report({
        node,
        messageId: builtin ? 'nodeBuiltin' : 'package',
        data: { spec, allowed: allow.join(', ') || 'none' },
      });
    });
  },
};

const protocolGlobals = {
  meta: {
    type: 'problem',
    docs: { description: 'protocol code uses only pure globals' },
    schema: [{ type: 'object', properties: { allow: { type: 'array', items: { type: 'string' } } } }],
    messages: {
      hostGlobal: "'{{name}}' is the host's: protocol code takes time, I/O and randomness from the injected Substrate",
    },
  },
  create(context) {
    const allow = new Set(context.options[0]?.allow ?? []);
    const inType = (node) => {
      for (let n = node.parent; n; n = n.parent) if (n.type === 'TSTypeQuery') return true;
      return false;
    };
    const report = (ref) => {
      const name = ref.identifier.name;
      // Type positions (Uint8Array in a signature, typeof setTimeout) cost nothing at run time.
      if (ref.isValueReference === false || allow.has(name) || inType(ref.identifier)) return;
      context.report({ node: ref.identifier, messageId: 'hostGlobal', data: { name } });
    };
    return {
      'Program:exit'(node) {
        const scope = context.sourceCode.getScope(node);
        for (const ref of scope.through) report(ref);
        // Globals the parser knows from its lib (setTimeout, crypto...) resolve to implicit variables.
        for (const v of scope.variables) {
          if (v.defs.length === 0) for (const ref of v.references) report(ref);
        }
      },
    };
  },
};

/** Node's built-in modules by bare name (they may be imported without 'node:'). */
const BUILTINS = new Set([
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'constants', 'crypto', 'dgram',
  'diagnostics_channel', 'dns', 'domain', 'events', 'fs', 'http', 'http2', 'https', 'inspector', 'module', 'net',
  'os', 'path', 'perf_hooks', 'process', 'punycode', 'querystring', 'readline', 'repl', 'stream', 'string_decoder',
  'sys', 'timers', 'tls', 'trace_events', 'tty', 'url', 'util', 'v8', 'vm', 'wasi', 'worker_threads', 'zlib',
]);

export default {
  meta: { name: 'rollcall' },
  rules: { layers, 'protocol-imports': protocolImports, 'protocol-globals': protocolGlobals },
};
