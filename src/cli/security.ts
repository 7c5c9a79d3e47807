// The flags that secure a node's links and admin listener, or a client's connections to nodes:
// the same four on `rollcall node`, `cluster start` and `rolllog`.
import type { Command } from 'commander';
import type { SecurityFiles } from '../runtime/index.js';

export interface SecurityFlags {
  secretFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

export function addSecurityOptions(cmd: Command, secretHelp: string): Command {
  return cmd
    .option('--secret-file <FILE>', secretHelp)
    .option('--tls-cert <FILE>', 'mutual TLS: this side’s certificate (PEM), signed by --tls-ca')
    .option('--tls-key <FILE>', 'mutual TLS: its private key (PEM; mode 600)')
    .option('--tls-ca <FILE>', 'mutual TLS: the CA certificate every peer’s certificate must chain to');
}

export function securityFiles(f: SecurityFlags): SecurityFiles {
  return {
    ...(f.secretFile !== undefined ? { secretFile: f.secretFile } : {}),
    ...(f.tlsCert !== undefined ? { tlsCert: f.tlsCert } : {}),
    ...(f.tlsKey !== undefined ? { tlsKey: f.tlsKey } : {}),
    ...(f.tlsCa !== undefined ? { tlsCa: f.tlsCa } : {}),
  };
}

/** The same flags as arguments, for a child `rollcall node` or a printed command line. */
export function securityArgs(f: SecurityFiles): string[] {
  return [
    ...(f.secretFile !== undefined ? ['--secret-file', f.secretFile] : []),
    ...(f.tlsCert !== undefined ? ['--tls-cert', f.tlsCert] : []),
    ...(f.tlsKey !== undefined ? ['--tls-key', f.tlsKey] : []),
    ...(f.tlsCa !== undefined ? ['--tls-ca', f.tlsCa] : []),
  ];
}
