import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import {
  BulwarkConfigError,
  ComplianceSigner,
  createBulwark,
  EnvKeyProvider,
  FileAttestationStore,
  FileKeyProvider,
  FileKeyStore,
  PasswordSignIn,
  renderHtml,
  WebhookChannel,
  type AuditActor,
  type AuditQuery,
  type Bulwark,
  type ComplianceReportResult,
  type DataSubjectRequest,
  type Framework,
  type HttpPrincipal,
  type KeyStore,
  type TrustProxyOption,
} from '@bulwark/core';
import { type BulwarkHttpKit } from '@bulwark/core/http';
import {
  bulwark,
  clientIp,
  auditRoute,
  handleClientErrors,
  privacyRouter,
  type BulwarkMiddleware,
} from '@bulwark/express';
import {
  BulwarkConsentTables1735689800000,
  BulwarkKeyTables1735689700000,
  BulwarkMfaFactorTables1736100000000,
  bulwarkConsentEntities,
  bulwarkKeyEntities,
  createAuditDataSource,
  findByBlindIndex,
  registerBulwarkAudit,
  registerBulwarkEncryption,
  TypeOrmAuditStore,
  TypeOrmConsentStore,
  TypeOrmKeyStore,
} from '@bulwark/typeorm';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { clinicNotesRetention } from './clinic-notes-retention';
import { clinicRecordsSource } from './clinic-records-source';
import { prepareDataDir, readJwtKey, type DataDirFiles } from './data-dir';
import { ClinicalNote } from './entities/clinical-note';
import { ClinicUser } from './entities/clinic-user';
import { Patient } from './entities/patient';
import { accountClosed, invalidCredentials, invalidInput, notFound } from './errors';
import { ClinicTables1736000000000 } from './migrations/clinic-tables-1736000000000';
import { CLINIC_POLICY } from './policy';
import { seedDemoData } from './seed';
import {
  PASSKEY_ENDPOINTS,
  PASSKEY_PUBLIC_PATHS,
  passkeyRoutes,
  type ClinicPasskeyOptions,
} from './passkeys';
import { CLINIC_PASSWORD_POLICY, passwordRoutes } from './password-routes';

export interface ClinicAppOptions {
  /** Data folder (SQLite files, demo secrets, reports). Default `./clinic-data`; created on first run. */
  dataDir?: string;
  /**
   * `postgres://...` to run on PostgreSQL. Default: the DATABASE_URL environment variable, else
   * SQLite in `dataDir`. `''` means SQLite whatever DATABASE_URL says (the demo and tests use it).
   */
  databaseUrl?: string;
  /** PostgreSQL schema for every table (created if missing). Default: the connection's default. */
  databaseSchema?: string;
  /** Listen on this port (0: any free port). Omit to get an app that is not listening (tests). */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Seed the demo users and patients when the database has no users. Default true. */
  seed?: boolean;
  /** Receives every 5xx error (clients only see a generic problem body). Default console.error. */
  logError?: (error: unknown) => void;
  /**
   * Reverse proxies trusted for X-Forwarded-For (see docs/reverse-proxy.md): false (default),
   * a hop count, or proxy addresses / CIDR ranges. Env `TRUST_PROXY` in `npm start`.
   */
  trustProxy?: TrustProxyOption;
  /** Passkeys for doctors: RP id and origins (default localhost, http://localhost:3000). */
  passkeys?: ClinicPasskeyOptions;
  /**
   * The security team's webhook receiver (Standard Webhooks, `whsec_` secret): critical alerts
   * (integrity alarms, break-glass use) and failed-login bursts go there, signed; failed deliveries
   * wait in `<dataDir>/alert-spool`. `http:` is accepted for a receiver on 127.0.0.1 only.
   */
  alertWebhook?: { url: string; secret: string };
}

export interface ClinicApp {
  readonly app: Express;
  readonly bulwark: Bulwark;
  readonly http: BulwarkMiddleware;
  readonly dataSource: DataSource;
  readonly files: DataDirFiles;
  readonly database: { kind: 'sqlite' | 'postgres'; where: string };
  /** Demo secrets generated on this start (empty when they already existed). */
  readonly generatedSecrets: readonly string[];
  /** Base URL when listening (`port` was given). */
  readonly url?: string;
  readonly server?: Server;
  /** The compliance report over live evidence (the audit chain is verified first). */
  complianceReport(framework?: Framework | 'all'): Promise<ComplianceReportResult>;
  /** Writes the self-contained HTML report; returns its path. */
  writeHtmlReport(file?: string, framework?: Framework | 'all'): Promise<string>;
  /** Stops listening, flushes the audit log, closes every database and key. Idempotent. */
  close(): Promise<void>;
}

const RESEARCH_PURPOSE = {
  id: 'research',
  name: 'Use of my health records in medical research',
  version: 1,
  text:
    'I agree that my health records may be used, after removing my name and identifiers, in ' +
    'medical research approved by the clinic ethics board. I can withdraw at any time.',
  dataCategories: ['phi'],
};

// HIPAA 164.316(b)(2)(i): documentation kept six years. Every category the app writes is listed,
// because an unlisted category is kept forever (never silently deleted).
const SIX_YEARS = 2192;
const AUDIT_CATEGORIES = ['default', 'audit', 'security', 'http', 'privacy', 'consent', 'phi-access', 'auth'];

function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

/** A required, bounded string from a JSON body. */
function bodyString(body: unknown, field: string, max = 256, optional = false): string | undefined {
  const value =
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalidInput(`body.${field}`, `${field} must be a non-empty string of at most ${max} characters.`);
  }
  return value;
}

/** A single query parameter (Express gives arrays for repeated keys: refused). */
function queryString(req: Request, name: string, max = 256): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw invalidInput(`query.${name}`, `${name} must be one string of at most ${max} characters.`);
  }
  return value;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** What staff see of a patient: SSN only as its last four digits (minimum necessary, 164.502(b)). */
function patientView(p: Patient) {
  return {
    id: p.id,
    fullName: p.fullName,
    email: p.email,
    ssnLast4: p.ssn === null ? null : p.ssn.replace(/[^0-9]/g, '').slice(-4),
    dateOfBirth: p.dateOfBirth,
    diagnosis: p.diagnosis,
    ward: p.ward,
    createdAt: p.createdAt,
  };
}

function noteView(n: ClinicalNote) {
  return { id: n.id, patientId: n.patientId, authorId: n.authorId, body: n.body, createdAt: n.createdAt };
}

const principalOf = (req: Request): HttpPrincipal => req.principal as HttpPrincipal;

/** The system a compliance report names. */
const REPORT_SYSTEM = 'express-clinic API';

async function openAppDataSource(
  files: DataDirFiles,
  url: string | undefined,
  schema: string | undefined,
): Promise<DataSource> {
  const common = {
    entities: [Patient, ClinicalNote, ClinicUser, ...bulwarkKeyEntities, ...bulwarkConsentEntities],
    migrations: [
      BulwarkKeyTables1735689700000,
      BulwarkConsentTables1735689800000,
      ClinicTables1736000000000,
      BulwarkMfaFactorTables1736100000000,
    ],
    // Schema changes only through migrations: never `synchronize` tables that hold ciphertext.
    synchronize: false,
    logging: false,
  };
  const options: DataSourceOptions = isPostgresUrl(url)
    ? { type: 'postgres', url, ...(schema !== undefined ? { schema } : {}), ...common }
    : { type: 'better-sqlite3', database: files.clinicDb, ...common };
  const dataSource = await new DataSource(options).initialize();
  try {
    if (isPostgresUrl(url) && schema !== undefined) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
        throw invalidInput('databaseSchema', 'databaseSchema must be a lower-case SQL identifier.');
      }
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    }
    await dataSource.runMigrations({ transaction: 'each' });
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  return dataSource;
}

/**
 * Builds the clinic: databases (SQLite in `dataDir`, or PostgreSQL), Bulwark's services wired by
 * `createBulwark`, field encryption and entity audit on the TypeORM DataSource, the Express app
 * with the Bulwark bundle in front of every route, and (first run) the demo data.
 */
export async function createClinicApp(options: ClinicAppOptions = {}): Promise<ClinicApp> {
  const dataDir = path.resolve(options.dataDir ?? 'clinic-data');
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  const onPostgres = isPostgresUrl(databaseUrl);
  const masterKeyFromEnv = (process.env.BULWARK_MASTER_KEY ?? '').trim() !== '';
  const { files, generated } = await prepareDataDir(dataDir, { masterKeyFromEnv });

  const cleanup: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  };
  try {
    const dataSource = await openAppDataSource(files, databaseUrl, options.databaseSchema);
    cleanup.push(async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    });

    // The audit trail has its own DataSource (on SQLite its own file): entity changes are audited
    // inside their transaction, and SQLite has a single writer.
    const auditDataSource = await createAuditDataSource({
      url: onPostgres ? databaseUrl : files.auditDb,
      ...(onPostgres && options.databaseSchema !== undefined ? { schema: options.databaseSchema } : {}),
    });
    const auditStore = await TypeOrmAuditStore.open(auditDataSource, { destroyDataSourceOnClose: true });
    let storeOwnedByKit = false; // from createBulwark on, kit.close() closes the store
    cleanup.push(async () => {
      if (!storeOwnedByKit) await auditStore.close();
    });

    // Wrapped keys: in PostgreSQL next to the data (shared by every instance), or in a file beside
    // the SQLite database. Either way the store only ever holds keys wrapped by the master key.
    const keyStore: KeyStore = onPostgres
      ? new TypeOrmKeyStore(dataSource)
      : new FileKeyStore({ path: files.keyStore });

    const kit = await createBulwark({
      // A demo: some registers live in memory (see docs/asvs.md for what the production preset,
      // on under NODE_ENV=production, requires of a real deployment).
      production: false,
      keys: {
        masterKey: masterKeyFromEnv ? new EnvKeyProvider() : new FileKeyProvider({ path: files.masterKey }),
        store: keyStore,
        ensure: ['phi'],
      },
      // argon2id, OWASP parameters; new passwords must pass the policy (PCI 8.3.6, HIPAA 164.308(a)(5)(ii)(D)).
      passwords: { policy: CLINIC_PASSWORD_POLICY },
      tokens: {
        algorithms: ['EdDSA'],
        signingKey: { key: await readJwtKey(files) },
        issuer: 'urn:bulwark:express-clinic',
        audience: 'clinic-api',
        defaultTtlSec: 900,
      },
      audit: {
        store: auditStore,
        hmacKey: { file: files.auditHmacKey },
        // Signed checkpoints every 1000 entries or every minute (whichever comes first): deleting
        // the newest entries of the log is then caught by verify.
        checkpoint: {
          signingKey: { file: files.checkpointKey },
          store: { file: files.checkpoints },
          every: { entries: 1000, ms: 60_000 },
        },
        logId: 'express-clinic',
        retention: { periods: Object.fromEntries(AUDIT_CATEGORIES.map((c) => [c, SIX_YEARS])) },
      },
      authz: { policy: CLINIC_POLICY },
      threat: {
        // OWASP account lockout: 5 consecutive failures for one account from one IP lock it.
        // 10 failures per account lock it for 30 minutes, for addresses the user has not signed in
        // from (lockout 'progressive', the default): strangers cannot lock staff out. A strict
        // reading of PCI DSS 8.3.4 (lock the user ID whatever the source) needs lockout: 'hard'.
        bruteForce: {
          ipAccount: { maxFailures: 5, windowSec: 900, lockoutSec: 60, maxLockoutSec: 3600 },
          account: { maxFailures: 10, windowSec: 3600, lockoutSec: 1800, maxLockoutSec: 86_400 },
        },
        detector: {},
      },
      ...(options.alertWebhook !== undefined
        ? {
            alerts: {
              channels: [
                new WebhookChannel({
                  name: 'soc',
                  url: options.alertWebhook.url,
                  secret: options.alertWebhook.secret,
                  allowInsecureHttp: /^http:\/\/127\.0\.0\.1[:/]/.test(options.alertWebhook.url),
                }),
              ],
              routes: [
                { channels: ['soc'], minSeverity: 'critical' as const },
                { channels: ['soc'], rules: ['failed-login-burst'] },
              ],
              spool: { dir: path.join(dataDir, 'alert-spool') },
            },
          }
        : {}),
      privacy: {
        consent: { store: new TypeOrmConsentStore(dataSource), purposes: [RESEARCH_PURPOSE] },
        dsr: {
          store: 'memory',
          // The privacy router hands over the bearer-authenticated principal: a subject may only
          // act on their own data (GDPR Art. 12(6) identity check).
          verifyIdentity: ({ subjectId, evidence }) =>
            (evidence as { authenticatedPrincipal?: string } | undefined)?.authenticatedPrincipal ===
            subjectId,
          receiptSigner: { file: files.receiptKey },
          // Erasure keeps the patient's denied / failed and sign-in entries, and any access to
          // another patient's record, with their id, name and e-mail replaced by a keyed pseudonym
          // (GDPR Art. 17(3)(b), (e); the key is derived from the audit HMAC key).
          evidence: {
            resourceSubject: (r) => (r.type === 'patients' ? r.id : undefined),
            subjectIdentifiers: async (subjectId) => {
              const user = await dataSource.getRepository(ClinicUser).findOneBy({ id: subjectId });
              const patient = await dataSource.getRepository(Patient).findOneBy({ id: subjectId });
              return [user?.username, user?.displayName, patient?.fullName, patient?.email].filter(
                (v): v is string => typeof v === 'string' && v !== '',
              );
            },
          },
        },
        processing: {
          controller: { name: 'Bulwark Demo Clinic' },
          activities: [
            {
              id: 'care',
              name: 'Patient care and billing',
              purposes: ['treatment', 'billing'],
              lawfulBasis: 'contract',
              entities: ['Patient', 'ClinicalNote'],
              subjectCategories: ['patients'],
              retention: { days: 3650, description: 'ten years after the last visit' },
              securityMeasures: [
                'AES-256-GCM field encryption under per-patient keys',
                'blind indexes for lookups',
                'tamper-evident audit trail',
                'role-based access control',
              ],
            },
          ],
        },
        retention: { rules: [{ category: 'phi', days: 3650, basis: 'medical records retention law' }] },
      },
      compliance: {
        privilegedRoles: ['privacy-officer'],
        auditCategories: AUDIT_CATEGORIES,
        // Manual controls are attested by a person (POST /compliance/attestations), signed, kept.
        attestations: {
          store: new FileAttestationStore(files.attestations),
          signer: await ComplianceSigner.fromJWK(
            'attestation',
            JSON.parse(await readFile(files.attestationKey, 'utf8')),
          ),
        },
      },
    });
    storeOwnedByKit = true;
    cleanup.push(() => kit.close());
    const keyRing = kit.keyRing!;
    const auditLog = kit.auditLog!;
    const dsr = kit.dsr!;
    const consent = kit.consent!;
    const compliance = kit.compliance!;

    // Entity-level audit events name the person behind the request (AsyncLocalStorage).
    const actors = new AsyncLocalStorage<AuditActor>();
    const encryption = await registerBulwarkEncryption(dataSource, { keyRing, defaultKeyId: 'phi' });
    const entityAudit = registerBulwarkAudit(dataSource, { auditLog, actor: () => actors.getStore() });
    cleanup.push(async () => {
      entityAudit.unregister();
      encryption.unregister();
    });

    dsr.registerSource(clinicRecordsSource(dataSource));
    // Consent history is exported, and deleted with everything else on erasure: once the patient's
    // records are gone there is no processing left whose lawfulness it would prove (Art. 7(1));
    // the (redacted) audit entries still show that consent events happened.
    dsr.registerSource(consent.dataSource({ eraseRecords: true }));
    kit.dataRetention!.registerSource(clinicNotesRetention(dataSource));

    if (options.seed !== false) await seedDemoData(dataSource, kit.passwords);

    const http = bulwark(kit as BulwarkHttpKit, {
      name: 'express-clinic',
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      authenticate: {
        publicPaths: ['/', '/health', '/auth/login', '/auth/password-check', ...PASSKEY_PUBLIC_PATHS],
      },
      // Bearer tokens only: no ambient credential for a cross-site form to ride on.
      csrf: false,
      ...(options.logError ? { problemDetails: { log: (error: unknown) => options.logError!(error) } } : {}),
    });
    compliance.registerHttpApp(() => http.evidence());
    cleanup.push(() => http.close());

    const app = buildRoutes({ kit, http, dataSource, actors, passkeys: options.passkeys });

    const runAuditReport = async (framework: Framework | 'all' = 'all'): Promise<ComplianceReportResult> => {
      await http.close(); // every request's event stored before the chain is verified
      await compliance.verifyAuditLog();
      return compliance.report(framework, { system: REPORT_SYSTEM, generatedBy: 'express-clinic demo' });
    };

    let server: Server | undefined;
    let url: string | undefined;
    if (options.port !== undefined) {
      const host = options.host ?? '127.0.0.1';
      server = await new Promise<Server>((resolve, reject) => {
        // Express 5 hands a listen error (EADDRINUSE...) to this callback.
        const s = app.listen(options.port!, host, (err?: Error) => (err ? reject(err) : resolve(s)));
        s.once('error', reject);
        // Oversized headers (431) and unparsable requests (400) answer problem+json too.
        handleClientErrors(s);
      });
      const listening = server;
      cleanup.push(() => new Promise<void>((resolve) => listening.close(() => resolve())));
      url = `http://${host}:${(server.address() as AddressInfo).port}`;
    }

    let closing: Promise<void> | undefined;
    return {
      app,
      bulwark: kit,
      http,
      dataSource,
      files,
      database: onPostgres
        ? { kind: 'postgres', where: redactUrl(databaseUrl) }
        : { kind: 'sqlite', where: files.clinicDb },
      generatedSecrets: generated,
      ...(url !== undefined ? { url } : {}),
      ...(server !== undefined ? { server } : {}),
      complianceReport: runAuditReport,
      async writeHtmlReport(file = files.reportHtml, framework = 'all') {
        await writeFile(file, renderHtml(await runAuditReport(framework)));
        return file;
      },
      close() {
        if (server !== undefined) server.closeAllConnections?.();
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
}

/** A database URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

interface RouteDeps {
  kit: Bulwark;
  http: BulwarkMiddleware;
  dataSource: DataSource;
  actors: AsyncLocalStorage<AuditActor>;
  passkeys?: ClinicPasskeyOptions;
}

const ENDPOINTS = [
  'POST   /auth/login                      { username, password } -> bearer token (brute-force protected)',
  'POST   /auth/password-check             { password, username? } -> { ok, reasons, score } (public)',
  'POST   /auth/password                   { currentPassword, newPassword } (policy enforced: 422 reasons)',
  'GET    /me                              who am I',
  'GET    /patients                        doctor, nurse',
  'GET    /patients/search?email=|ssn=     doctor, nurse (blind-index lookup)',
  'POST   /patients                        doctor',
  'GET    /patients/:id                    doctor, nurse, the patient themself',
  'PATCH  /patients/:id                    doctor',
  'GET    /patients/:id/notes              doctor, the patient themself',
  'POST   /patients/:id/notes              doctor',
  'GET    /research/cohort                 researcher: de-identified, consenting patients only',
  'POST   /research/questionnaire          needs your consent to "research"',
  'GET    /privacy/consents                your consents;  POST / DELETE /privacy/consents/research',
  'POST   /privacy/requests/export         your data (json, csv, xml)',
  'POST   /privacy/requests/erasure        ask for erasure (a privacy officer runs it)',
  "GET    /dsr/requests                    privacy officer (with the requester's recent security events)",
  'GET    /dsr/requests/:id                privacy officer',
  'POST   /dsr/requests/:id/erase          privacy officer',
  'GET    /audit/events                    auditor',
  'POST   /audit/reviews                   auditor: record a review of the trail',
  'GET    /audit/verify                    auditor: verify the hash chain and checkpoints',
  'POST   /audit/checkpoint                auditor: sign a tree head',
  'GET    /compliance/report?framework=hipaa&format=html   auditor',
  'POST   /compliance/attestations                        privacy officer (attest a manual control)',
];

function buildRoutes({ kit, http, dataSource, actors, passkeys }: RouteDeps): Express {
  const auditLog = kit.auditLog!;
  const tokens = kit.tokens!;
  const passwords = kit.passwords;
  const consent = kit.consent!;
  const dsr = kit.dsr!;
  const keyRing = kit.keyRing!;
  const patients = dataSource.getRepository(Patient);
  const notes = dataSource.getRepository(ClinicalNote);
  const users = dataSource.getRepository(ClinicUser);
  // Verifies the password (a dummy hash when the user does not exist: no user enumeration by
  // timing) and audits auth.login with method password, success or failure (ASVS V16.3.1).
  const signIn = new PasswordSignIn({ passwords, audit: auditLog });

  const app = express();
  app.disable('x-powered-by');
  app.use(http); // requestId, problem details, security headers, audit, input guard, authentication
  app.use(async (req: Request, _res: Response, next: NextFunction) => {
    const p = req.principal;
    if (p === undefined) return next();
    // Access tokens live 15 minutes; an account erased or removed in that time is refused at once.
    if (!(await users.existsBy({ id: p.id }))) throw accountClosed();
    const ip = clientIp(req);
    actors.run({ id: p.id, type: 'user', ...(ip !== undefined ? { ip } : {}) }, next);
  });

  app.get('/', (_req, res) => {
    res.json({
      name: 'Bulwark express-clinic',
      docs: 'examples/express-clinic/README.md',
      endpoints: [...ENDPOINTS, ...PASSKEY_ENDPOINTS],
    });
  });
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post('/auth/login', http.bruteForce(), async (req, res) => {
    const username = bodyString(req.body, 'username', 64)!;
    const password = bodyString(req.body, 'password', 1024)!;
    const user = await users.findOneBy({ username });
    const ip = clientIp(req);
    const { valid } = await signIn.verify({
      account: username,
      hash: user?.passwordHash,
      password,
      ...(user ? { userId: user.id } : {}),
      ...(ip ? { ip } : {}),
      ...(req.requestId ? { requestId: req.requestId } : {}),
    });
    if (!user || !valid) throw invalidCredentials();
    const token = await tokens.sign({ roles: [user.role], name: user.displayName }, { subject: user.id });
    res.json({
      token,
      tokenType: 'Bearer',
      expiresIn: 900,
      user: { id: user.id, role: user.role, displayName: user.displayName },
    });
  });

  app.use(passwordRoutes({ passwords, users, auditLog }));

  app.get('/me', async (req, res) => {
    const p = principalOf(req);
    const user = await users.findOneBy({ id: p.id });
    res.json({ id: p.id, roles: p.roles, displayName: user?.displayName ?? null });
  });

  const patientResource = (req: Request) => ({ type: 'patients', id: String(req.params.id) });

  app.get('/patients', http.authorize('patient:list', 'patients'), async (_req, res) => {
    const all = await patients.find({ order: { createdAt: 'ASC' } });
    res.json(all.map((p) => ({ id: p.id, fullName: p.fullName, ward: p.ward })));
  });

  app.get('/patients/search', http.authorize('patient:search', 'patients'), async (req, res) => {
    const email = queryString(req, 'email');
    const ssn = queryString(req, 'ssn', 32);
    if ((email === undefined) === (ssn === undefined)) {
      throw invalidInput('query', 'Give exactly one of email or ssn.');
    }
    // A lookup on the blind index (an HMAC of the normalised value), then false positives of the
    // truncated index are dropped by comparing the decrypted values: no plaintext in any WHERE.
    const found =
      email !== undefined
        ? await findByBlindIndex(patients, 'emailIndex', email)
        : await findByBlindIndex(patients, 'ssnIndex', ssn);
    res.json(found.map(patientView));
  });

  app.post('/patients', http.authorize('patient:create', 'patients'), async (req, res) => {
    const dateOfBirth = bodyString(req.body, 'dateOfBirth', 10)!;
    if (!ISO_DATE.test(dateOfBirth))
      throw invalidInput('body.dateOfBirth', 'dateOfBirth must be YYYY-MM-DD.');
    const patient = Object.assign(new Patient(), {
      id: randomUUID(),
      fullName: bodyString(req.body, 'fullName', 200)!,
      email: bodyString(req.body, 'email', 254, true) ?? null,
      ssn: bodyString(req.body, 'ssn', 32, true) ?? null,
      dateOfBirth,
      diagnosis: bodyString(req.body, 'diagnosis', 2000, true) ?? null,
      ward: bodyString(req.body, 'ward', 32)!,
      createdAt: new Date().toISOString(),
    });
    await patients.save(patient);
    res.status(201).json(patientView(patient));
  });

  // PHI routes: their audit event must be stored before the response leaves (fail-closed: a 503
  // problem instead of an unrecorded read when the audit store fails).
  const phi = auditRoute({ classified: true });
  app.get('/patients/:id', phi, http.authorize('patient:read', patientResource), async (req, res) => {
    const patient = await patients.findOneBy({ id: String(req.params.id) });
    if (patient === null) throw notFound('Patient');
    res.json(patientView(patient));
  });

  app.patch('/patients/:id', phi, http.authorize('patient:update', patientResource), async (req, res) => {
    const patient = await patients.findOneBy({ id: String(req.params.id) });
    if (patient === null) throw notFound('Patient');
    const diagnosis = bodyString(req.body, 'diagnosis', 2000, true);
    const ward = bodyString(req.body, 'ward', 32, true);
    const email = bodyString(req.body, 'email', 254, true);
    if (diagnosis === undefined && ward === undefined && email === undefined) {
      throw invalidInput('body', 'Nothing to change: give diagnosis, ward or email.');
    }
    if (diagnosis !== undefined) patient.diagnosis = diagnosis;
    if (ward !== undefined) patient.ward = ward;
    if (email !== undefined) patient.email = email;
    await patients.save(patient);
    res.json(patientView(patient));
  });

  app.get('/patients/:id/notes', phi, http.authorize('note:read', patientResource), async (req, res) => {
    const list = await notes.find({
      where: { patientId: String(req.params.id) },
      order: { createdAt: 'ASC' },
    });
    res.json(list.map(noteView));
  });

  app.post('/patients/:id/notes', phi, http.authorize('note:create', patientResource), async (req, res) => {
    const patientId = String(req.params.id);
    if (!(await patients.existsBy({ id: patientId }))) throw notFound('Patient');
    const note = Object.assign(new ClinicalNote(), {
      id: randomUUID(),
      patientId,
      authorId: principalOf(req).id,
      body: bodyString(req.body, 'body', 10_000)!,
      createdAt: new Date().toISOString(),
    });
    await notes.save(note);
    res.status(201).json(noteView(note));
  });

  // Research sees only patients whose consent to "research" stands right now; a pseudonym (a keyed
  // HMAC, not reversible without the key) replaces the identity.
  app.get('/research/cohort', http.authorize('research:read', 'research'), async (_req, res) => {
    const cohort = [];
    for (const p of await patients.find({ order: { createdAt: 'ASC' } })) {
      if (!(await consent.check(p.id, 'research')).granted) continue;
      cohort.push({
        pseudonym: keyRing.blindIndex('phi', p.id, { context: 'research.pseudonym', bits: 64 }),
        birthYear: Number(p.dateOfBirth.slice(0, 4)),
        diagnosis: p.diagnosis,
      });
    }
    res.json({ purpose: 'research', size: cohort.length, cohort });
  });

  app.post('/research/questionnaire', http.requireConsent('research'), (req, res) => {
    const answers = (req.body as { answers?: unknown } | undefined)?.answers;
    if (typeof answers !== 'object' || answers === null) {
      throw invalidInput('body.answers', 'answers must be an object.');
    }
    res.status(202).json({ accepted: true, purpose: 'research' });
  });

  // Data-subject requests the patients filed through /privacy, run by the privacy officer, who
  // sees the requester's recent denied / failed events first (an erasure may follow an attack).
  const requestView = async (r: DataSubjectRequest) => ({
    id: r.id,
    type: r.type,
    status: r.status,
    subjectRef: r.subjectRef,
    dueAt: r.effectiveDueAt,
    securityEvents: await dsr.securityEvents(r.id),
  });
  app.get('/dsr/requests', http.authorize('dsr:list', 'dsr'), async (_req, res) => {
    await auditLog.flush();
    const open = await dsr.list({ status: ['received', 'identity-verified', 'in-progress'] });
    const views = [];
    for (const r of open) views.push(await requestView(r));
    res.json(views);
  });

  app.get(
    '/dsr/requests/:id',
    http.authorize('dsr:read', (req) => ({ type: 'dsr', id: String(req.params.id) })),
    async (req, res) => {
      await auditLog.flush();
      const r = await dsr.get(String(req.params.id));
      if (r === undefined) throw notFound('Request');
      res.json(await requestView(r));
    },
  );

  app.post(
    '/dsr/requests/:id/erase',
    http.authorize('dsr:erase', (req) => ({ type: 'dsr', id: String(req.params.id) })),
    async (req, res) => {
      const result = await dsr.erase(String(req.params.id));
      res.json({
        status: result.request.status,
        summary: result.summary,
        receipt: result.receipt ?? null,
        // Kept as evidence, under this pseudonym (auditors: /audit/events?actorId=...).
        auditPreserved: result.auditPreserved,
        evidencePseudonym: result.evidencePseudonym ?? null,
      });
    },
  );

  app.get('/audit/events', http.authorize('audit:read', 'audit'), async (req, res) => {
    const filter: AuditQuery = { order: 'desc', limit: 50 };
    for (const key of ['actorId', 'action', 'resourceType', 'resourceId', 'category', 'cursor'] as const) {
      const v = queryString(req, key);
      if (v !== undefined) filter[key] = v;
    }
    const outcome = queryString(req, 'outcome');
    if (outcome !== undefined) {
      if (!['success', 'failure', 'denied'].includes(outcome)) {
        throw invalidInput('query.outcome', 'outcome must be success, failure or denied.');
      }
      filter.outcome = outcome as AuditQuery['outcome'];
    }
    const limit = queryString(req, 'limit', 4);
    if (limit !== undefined) {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 1 || n > 200)
        throw invalidInput('query.limit', 'limit must be 1..200.');
      filter.limit = n;
    }
    await auditLog.flush();
    const page = await auditLog.query(filter);
    res.json(page);
  });

  // An auditor records that they reviewed the trail (HIPAA 164.308(a)(1)(ii)(D), PCI DSS 10.4.1):
  // the review is itself an audit event, and the compliance report's log-review controls read it.
  app.post('/audit/reviews', http.authorize('audit:read', 'audit'), async (req, res) => {
    const scope = bodyString(req.body, 'scope', 512)!;
    const entry = await auditLog.recordReview({ by: principalOf(req).id, scope });
    res.status(201).json({ seq: entry.seq, time: entry.time });
  });

  app.get('/audit/verify', http.authorize('audit:verify', 'audit'), async (_req, res) => {
    await auditLog.flush();
    const report = await kit.compliance!.verifyAuditLog();
    res.json({
      ok: report.ok,
      checkedEntries: report.checkedEntries,
      treeSize: report.treeSize,
      root: report.root,
      checkpointsVerified: report.checkpointsVerified,
      ...(report.firstBad ? { firstBad: report.firstBad } : {}),
    });
  });

  app.post('/audit/checkpoint', http.authorize('audit:checkpoint', 'audit'), async (_req, res) => {
    await auditLog.flush();
    const cp = await auditLog.checkpoint();
    res.status(201).json({ treeSize: cp.treeSize, rootHash: cp.rootHash, time: cp.time, jws: cp.jws });
  });

  app.get('/compliance/report', http.authorize('compliance:read', 'compliance'), async (req, res) => {
    const framework = (queryString(req, 'framework', 16) ?? 'all') as Framework | 'all';
    const format = queryString(req, 'format', 8) ?? 'json';
    if (!['all', 'gdpr', 'soc2', 'iso27001', 'hipaa', 'pci'].includes(framework)) {
      throw invalidInput('query.framework', 'framework must be all, gdpr, soc2, iso27001, hipaa or pci.');
    }
    if (format !== 'json' && format !== 'html')
      throw invalidInput('query.format', 'format must be json or html.');
    await auditLog.flush();
    await kit.compliance!.verifyAuditLog();
    const report = await kit.compliance!.report(framework, {
      system: REPORT_SYSTEM,
      generatedBy: `user ${principalOf(req).id}`,
    });
    if (format === 'html') {
      // The report is self-contained and inline-styled: relax the API's strict CSP for this page only.
      res.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      res.type('html').send(renderHtml(report));
    } else {
      res.json(report);
    }
  });

  // A person attests a manual control (policy, training, DPIA...): signed and stored, shown in the
  // report as "attested" (never "pass") until it expires. The attester is the signed-in user.
  app.post(
    '/compliance/attestations',
    http.authorize('compliance:attest', 'compliance'),
    async (req, res) => {
      const p = principalOf(req);
      const user = await users.findOneBy({ id: p.id });
      const controlId = bodyString(req.body, 'controlId', 64)!;
      const evidenceUri = bodyString(req.body, 'evidenceUri', 2000, true);
      try {
        const attestation = await kit.compliance!.attest(controlId, {
          by: user?.displayName ?? p.id,
          role: p.roles.join(', ') || 'none',
          statement: bodyString(req.body, 'statement', 4000)!,
          ...(evidenceUri === undefined ? {} : { evidenceUri }),
          expiresAt: bodyString(req.body, 'expiresAt', 40)!,
        });
        res.status(201).json(attestation);
      } catch (err) {
        // Unknown or automated control, past expiry, bad URI: the client's mistake, said plainly.
        if (err instanceof BulwarkConfigError) {
          const field =
            String(err.details?.path ?? '')
              .split('.')
              .pop() ?? 'body';
          throw invalidInput(`body.${field}`, `${field} ${err.message.replace(/^\S+ /, '')}`);
        }
        throw err;
      }
    },
  );

  app.use(passkeyRoutes({ kit, http, dataSource, ...(passkeys !== undefined ? { options: passkeys } : {}) }));
  app.use('/privacy', privacyRouter(kit as BulwarkHttpKit));

  app.use(() => {
    throw notFound('Resource');
  });
  app.use(http.problemDetails());
  return app;
}

export { DEMO_USERS } from './seed';
export { dataDirFiles, type DataDirFiles } from './data-dir';
