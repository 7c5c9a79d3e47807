// Test certificates made with the openssl command: a CA and nodes it signs (EC P-256, one day).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const opensslAvailable = spawnSync('openssl', ['version']).status === 0;

export interface NodeCertificate {
  certFile: string;
  keyFile: string;
  caFile: string;
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export interface TestCa {
  dir: string;
  caFile: string;
  /** A certificate for `name` signed by this CA (key file mode 600). */
  issue(name: string): NodeCertificate;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export function makeCa(label = 'rollcall-test-ca'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${label}`], dir);
  const caFile = join(dir, 'ca.pem');
  return {
    dir,
    caFile,
    issue(name) {
      openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${name}.pem`,
          '-days',
          '1',
        ],
        dir,
      );
      const keyFile = join(dir, `${name}.key`);
      chmodSync(keyFile, 0o600);
      const certFile = join(dir, `${name}.pem`);
      return {
        certFile,
        keyFile,
        caFile,
        cert: readFileSync(certFile),
        key: readFileSync(keyFile),
        ca: readFileSync(caFile),
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
