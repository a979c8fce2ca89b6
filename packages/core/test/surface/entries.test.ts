import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import {
  AUDIT_LOG_TYPES,
  AUDIT_LOG_VALUES,
  AUDIT_PROOF_TYPES,
  AUDIT_PROOF_VALUES,
  HTTP_TYPES,
  HTTP_VALUES,
  INVERSIFY_TYPES,
  INVERSIFY_VALUES,
  MAIN_TYPES,
  MAIN_VALUES,
  STORE_TYPES,
  STORE_VALUES,
  WEBAUTHN_TYPES,
  WEBAUTHN_VALUES,
} from './public-surface';

const SRC = path.resolve(__dirname, '..', '..', 'src');
const ENTRIES = {
  '@bulwark/core': { file: 'index.ts', values: MAIN_VALUES, types: MAIN_TYPES },
  '@bulwark/core/http': { file: 'http/index.ts', values: HTTP_VALUES, types: HTTP_TYPES },
  '@bulwark/core/store': { file: 'store.ts', values: STORE_VALUES, types: STORE_TYPES },
  '@bulwark/core/inversify': { file: 'inversify.ts', values: INVERSIFY_VALUES, types: INVERSIFY_TYPES },
  '@bulwark/core/audit-log': { file: 'audit-log.ts', values: AUDIT_LOG_VALUES, types: AUDIT_LOG_TYPES },
  '@bulwark/core/audit-proof': {
    file: 'audit-proof.ts',
    values: AUDIT_PROOF_VALUES,
    types: AUDIT_PROOF_TYPES,
  },
  '@bulwark/core/webauthn': { file: 'webauthn.ts', values: WEBAUTHN_VALUES, types: WEBAUTHN_TYPES },
} as const;

const sorted = (names: Iterable<string>): string[] => [...names].sort();

describe('public surface of @bulwark/core', () => {
  it.each(Object.entries(ENTRIES))('%s exports exactly its listed values at run time', (spec, entry) => {
    // Through the same specifier an application uses (jest maps it to the source entry).
    const mod = require(spec) as Record<string, unknown>;
    expect(sorted(Object.keys(mod))).toEqual(sorted(entry.values));
    for (const name of entry.values) expect(mod[name]).toBeDefined();
  });

  it('exports exactly the listed names, types included, as the compiler sees each entry', () => {
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    };
    const files = Object.values(ENTRIES).map((e) => path.join(SRC, e.file));
    const program = ts.createProgram(files, options);
    const checker = program.getTypeChecker();
    for (const [spec, entry] of Object.entries(ENTRIES)) {
      const source = program.getSourceFile(path.join(SRC, entry.file))!;
      const values: string[] = [];
      const types: string[] = [];
      for (const symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)) {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        (target.flags & ts.SymbolFlags.Value ? values : types).push(symbol.name);
      }
      expect({ spec, values: sorted(values), types: sorted(types) }).toEqual({
        spec,
        values: sorted(entry.values),
        types: sorted(entry.types),
      });
    }
  }, 60_000);

  it('keeps the adapter kernel and the store helpers out of the main entry', () => {
    const main = new Set<string>([...MAIN_VALUES, ...MAIN_TYPES]);
    // What only an adapter or a store implementation needs is not the user's API. The few names
    // in both are what an application itself writes: the HTTP error it throws, the principal
    // type its handlers read, the trust-proxy setting, and the store interfaces a config accepts.
    const shared = sorted(
      [...HTTP_VALUES, ...HTTP_TYPES, ...STORE_VALUES, ...STORE_TYPES].filter((n) => main.has(n)),
    );
    expect(shared).toEqual(
      sorted([
        'AccountStore',
        'AuditEntry',
        'AuditEvent',
        'AuditHead',
        'AuditPage',
        'AuditQuery',
        'AuditRedaction',
        'AuditStore',
        'BreakGlassStore',
        'BulwarkHttpError',
        'BurstResult',
        'Checkpoint',
        'CheckpointStore',
        'ConsentRecord',
        'ConsentStore',
        'DataSubjectRequest',
        'DsrFilter',
        'DsrHistoryEntry',
        'DsrStatus',
        'DsrStore',
        'DetectionWindowStore',
        'DsrType',
        'HttpPrincipal',
        'KeyStore',
        'MfaStore',
        'OtpStore',
        'RegisterKind',
        'RegisterStore',
        'RevocationStatus',
        'RevocationStore',
        'SessionStore',
        'StoredBreakGlassGrant',
        'StoredRecord',
        'TrustProxyOption',
        'trustProxyFromEnv',
      ]),
    );
    for (const name of [
      'planBulwarkBundle',
      'kitService',
      'problemFor',
      'InputGuard',
      'normalizeAuditQuery',
    ]) {
      expect(main.has(name)).toBe(false);
    }
    for (const name of ['bulwarkContainerModule', 'BULWARK_TYPES']) expect(main.has(name)).toBe(false);
  });

  it('gives from the audit-log entry only names of the main entry, as the very same objects', () => {
    const main = new Set<string>([...MAIN_VALUES, ...MAIN_TYPES]);
    expect([...AUDIT_LOG_VALUES, ...AUDIT_LOG_TYPES].filter((name) => !main.has(name))).toEqual([]);
    const mainModule = require('@bulwark/core') as Record<string, unknown>;
    const auditModule = require('@bulwark/core/audit-log') as Record<string, unknown>;
    // Same objects: an error thrown through one entry is `instanceof` the other's class.
    for (const name of AUDIT_LOG_VALUES) expect(auditModule[name]).toBe(mainModule[name]);
    // ...and it leaves the rest of Bulwark out (what keeps `bulwark audit` quick to start).
    for (const name of ['KeyRing', 'createBulwark', 'ComplianceKit', 'PolicyEngine']) {
      expect(main.has(name)).toBe(true);
      expect(name in auditModule).toBe(false);
    }
  });

  it('gives from the audit-proof entry only names of the main entry, as the very same objects', () => {
    const main = new Set<string>([...MAIN_VALUES, ...MAIN_TYPES]);
    expect([...AUDIT_PROOF_VALUES, ...AUDIT_PROOF_TYPES].filter((name) => !main.has(name))).toEqual([]);
    const mainModule = require('@bulwark/core') as Record<string, unknown>;
    const proofModule = require('@bulwark/core/audit-proof') as Record<string, unknown>;
    for (const name of AUDIT_PROOF_VALUES) expect(proofModule[name]).toBe(mainModule[name]);
    for (const name of ['AuditLog', 'FileAuditStore', 'JsonLinesLogReader', 'KeyRing']) {
      expect(name in proofModule).toBe(false);
    }
  });

  it('documents every value of the main entry in the README', () => {
    const readme = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
    const undocumented = MAIN_VALUES.filter((name) => !new RegExp('`' + name + '[`(<]').test(readme));
    expect(undocumented).toEqual([]);
  });
});
