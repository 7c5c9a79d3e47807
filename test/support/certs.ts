// Test-only TLS material in test/support/tls (see its README): a cluster CA that signed node-1..3,
// and a rogue CA that signed rogue-1..2. Kept as files so no test needs the openssl command.
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinkSecurity } from '../../src/substrate/real/index.js';

const here = join(dirname(fileURLToPath(import.meta.url)), 'tls');

export type TestCertName = 'node-1' | 'node-2' | 'node-3' | 'rogue-1' | 'rogue-2';

export interface TestCertificate {
  cert: Buffer;
  key: Buffer;
  /** The cluster CA (for rogue certificates too: a rogue node still trusts the real cluster). */
  ca: Buffer;
}

export function testCert(name: TestCertName, caName: 'ca' | 'rogue-ca' = 'ca'): TestCertificate {
  return {
    cert: readFileSync(join(here, `${name}.pem`)),
    key: readFileSync(join(here, `${name}.key`)),
    ca: readFileSync(join(here, `${caName}.pem`)),
  };
}

export function certSecurity(name: TestCertName, caName: 'ca' | 'rogue-ca' = 'ca'): LinkSecurity {
  return { kind: 'certificates', ...testCert(name, caName) };
}

/**
 * The files for --tls-cert/--tls-key/--tls-ca, copied to a temporary folder with the key at mode
 * 600 (git keeps no permissions, and rollcall refuses a key others can read).
 */
export function certFiles(name: TestCertName): { cert: string; key: string; ca: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-tls-'));
  const copy = (file: string): string => {
    const to = join(dir, file);
    copyFileSync(join(here, file), to);
    return to;
  };
  const key = copy(`${name}.key`);
  chmodSync(key, 0o600);
  return {
    cert: copy(`${name}.pem`),
    key,
    ca: copy('ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
