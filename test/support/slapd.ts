/**
 * A private OpenLDAP server for the LDAP suites: Debian's slapd started on free ports with its
 * config, database and a self-signed TLS certificate in a temporary directory, seeded with slapadd
 * from `ldap/directory.ldif` (users, groups, a nested group, ppolicy-disabled, locked, expired and
 * reset accounts). The memberof and ppolicy overlays are loaded from the machine's modules.
 *
 *   describeWithSlapd('LDAP sign-in against OpenLDAP', () => { ... });
 *
 * Outside CI a missing slapd skips the suite with a one-line reason; with CI=true it fails
 * (.ci/run installs slapd and ldap-utils).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './private-server';

const SLAPD = process.env.BULWARK_SLAPD ?? '/usr/sbin/slapd';
const SLAPADD = process.env.BULWARK_SLAPADD ?? '/usr/sbin/slapadd';
const MODULES = ['/usr/lib/ldap', '/usr/lib/x86_64-linux-gnu/ldap', '/usr/lib/aarch64-linux-gnu/ldap'];
const SCHEMAS = '/etc/ldap/schema';

export const LDAP_SUFFIX = 'dc=bulwark,dc=test';
export const LDAP_ADMIN = { dn: `cn=admin,${LDAP_SUFFIX}`, password: 'admin-secret' };
export const LDAP_SERVICE = { dn: `cn=bulwark-reader,ou=services,${LDAP_SUFFIX}`, password: 'reader-secret' };

function modulePath(): string | undefined {
  return MODULES.find((dir) => existsSync(join(dir, 'back_mdb.so')));
}

export function slapdAvailable(): boolean {
  return existsSync(SLAPD) && existsSync(SLAPADD) && modulePath() !== undefined;
}

export function describeWithSlapd(title: string, body: () => void): void {
  if (slapdAvailable()) {
    describe(title, body);
    return;
  }
  const reason = `slapd is not installed (${SLAPD}, its modules and slapadd; apt-get install slapd ldap-utils)`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs slapd', () => {
        throw new Error(`${reason}; with CI=true a missing slapd is a failure (see .ci/run)`);
      });
    });
    return;
  }
  console.warn(`skipped "${title}": ${reason} (set CI=true to make this a failure)`);
  describe.skip(title, body);
}

function config(dir: string, modules: string): string {
  return `include ${SCHEMAS}/core.schema
include ${SCHEMAS}/cosine.schema
include ${SCHEMAS}/inetorgperson.schema
include ${SCHEMAS}/nis.schema
modulepath ${modules}
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile ${dir}/slapd.pid
TLSCertificateFile ${dir}/cert.pem
TLSCertificateKeyFile ${dir}/key.pem
database mdb
maxsize 16777216
suffix "${LDAP_SUFFIX}"
rootdn "${LDAP_ADMIN.dn}"
rootpw ${LDAP_ADMIN.password}
directory ${dir}/data
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
overlay ppolicy
ppolicy_default "cn=default,ou=policies,${LDAP_SUFFIX}"
ppolicy_use_lockout
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="${LDAP_SERVICE.dn}" read
  by self read
  by * none
`;
}

/** A running slapd; `url` (plain, StartTLS-capable), `ldapsUrl`, and `ca` (its certificate PEM). */
export class TestSlapd {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly url: string,
    readonly ldapsUrl: string,
    readonly ca: string,
  ) {}

  /** Starts slapd seeded from `ldif` (default: this folder's ldap/directory.ldif). */
  static async start(options: { ldif?: string } = {}): Promise<TestSlapd> {
    const modules = modulePath();
    if (modules === undefined) throw new Error('slapd modules not found');
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-slapd-'));
    mkdirSync(join(dir, 'data'));
    const cert = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    if (cert.status !== 0) throw new Error(`openssl failed: ${cert.stderr}`);
    const conf = join(dir, 'slapd.conf');
    writeFileSync(conf, config(dir, modules));
    const seed = spawnSync(
      SLAPADD,
      ['-f', conf, '-l', options.ldif ?? join(__dirname, 'ldap', 'directory.ldif')],
      {
        encoding: 'utf8',
      },
    );
    if (seed.status !== 0) throw new Error(`slapadd failed: ${seed.stderr}`);
    const [port, tlsPort] = [await freePort(), await freePort()];
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
    const child = spawn(SLAPD, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], { stdio: 'ignore' });
    const server = new TestSlapd(child, dir, url, ldapsUrl, readFileSync(join(dir, 'cert.pem'), 'utf8'));
    await server.waitReady(port);
    return server;
  }

  private async waitReady(port: number): Promise<void> {
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`slapd exited with ${this.child.exitCode}`);
      const probe = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
      if (probe.status === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('slapd did not start within 15 s');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
