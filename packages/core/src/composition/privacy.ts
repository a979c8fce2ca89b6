import { hkdfSync } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log';
import type { KeyRing } from '../crypto/key-ring';
import { BreachRegister } from '../privacy/breach-register';
import { ClassificationRegistry, defaultClassificationRegistry } from '../privacy/classification-registry';
import { ConsentManager } from '../privacy/consent-manager';
import type { ConsentStore } from '../privacy/consent-store';
import { checkClash, DataRetention, duplicatePolicy } from '../privacy/data-retention';
import { DataSubjectRequests, type IdentityVerifier } from '../privacy/data-subject-requests';
import type { DsrStore } from '../privacy/dsr-store';
import { ErasureEvidence, type ErasureEvidenceOptions } from '../privacy/erasure-evidence';
import { ErasureReceiptSigner } from '../privacy/erasure-receipt';
import { MemoryConsentStore } from '../privacy/memory-consent-store';
import { MemoryDsrStore } from '../privacy/memory-dsr-store';
import {
  checkRecipientsKnown,
  duplicateActivity,
  ProcessingRegister,
  type ProcessingActivity,
} from '../privacy/processing-register';
import {
  duplicateProcessor,
  ProcessorRegister,
  unknownParent,
  type Processor,
} from '../privacy/processor-register';
import type { BreachIncident } from '../privacy/breach-register';
import type { RetentionHold, RetentionRule, RetentionRun } from '../privacy/data-retention';
import type { RegisterStore } from '../privacy/register-store';
import { HMAC_MIN_BYTES } from './audit';
import type { PrivacyConfig } from './bulwark-config';
import {
  checkJwk,
  checkSecretBytes,
  readJwk,
  readSecretBytes,
  requireStore,
  underPath,
  underPathAsync,
  type JwkConfig,
} from './config-input';
import {
  configError,
  invalid,
  isPlainObject,
  optionalArray,
  optionalFunction,
  section,
  optionKeys,
} from '../util/options';
import { withClock, type Opened } from './opened';

// The `privacy` section: consent, data-subject requests, processors, the processing record,
// retention of personal data and the breach register.

const KNOWN_PRIVACY = optionKeys<PrivacyConfig>({
  classification: true,
  consent: true,
  dsr: true,
  processors: true,
  processing: true,
  retention: true,
  breaches: true,
});
const KNOWN_CONSENT = optionKeys<NonNullable<PrivacyConfig['consent']>>({
  store: true,
  purposes: true,
  auditCategory: true,
});
const KNOWN_DSR = optionKeys<NonNullable<PrivacyConfig['dsr']>>({
  store: true,
  verifyIdentity: true,
  receiptSigner: true,
  responseDays: true,
  maxExtensionDays: true,
  actor: true,
  evidence: true,
});
/** HKDF info of the erasure pseudonym key derived from the audit HMAC key. */
const DSR_PSEUDONYM_KEY_INFO = 'bulwark/dsr-erasure-pseudonym/v1';
const KNOWN_PROCESSING = optionKeys<NonNullable<PrivacyConfig['processing']>>({
  controller: true,
  activities: true,
});
const KNOWN_RETENTION = optionKeys<NonNullable<PrivacyConfig['retention']>>({
  rules: true,
  maxBatches: true,
});
const KNOWN_BREACHES = optionKeys<NonNullable<PrivacyConfig['breaches']>>({ deadlines: true });

export function planPrivacy(value: unknown): PrivacyConfig | undefined {
  const privacy = section(value, 'privacy', KNOWN_PRIVACY);
  if (privacy === undefined) return undefined;
  if (privacy.classification !== undefined && !(privacy.classification instanceof ClassificationRegistry)) {
    throw invalid('privacy.classification', 'a ClassificationRegistry', privacy.classification);
  }
  const consent = section(privacy.consent, 'privacy.consent', KNOWN_CONSENT);
  if (consent !== undefined) {
    requireStore(consent.store, 'privacy.consent.store', ['append', 'latest', 'history'], 'ConsentStore');
    optionalArray(consent.purposes, 'privacy.consent.purposes');
  }
  const dsr = section(privacy.dsr, 'privacy.dsr', KNOWN_DSR);
  if (dsr !== undefined) {
    requireStore(dsr.store, 'privacy.dsr.store', ['save', 'get', 'list'], 'DsrStore');
    optionalFunction(dsr.verifyIdentity, 'privacy.dsr.verifyIdentity');
    if (dsr.receiptSigner !== undefined && !(dsr.receiptSigner instanceof ErasureReceiptSigner)) {
      checkJwk(dsr.receiptSigner, 'privacy.dsr.receiptSigner');
    }
    const evidence = dsr.evidence as Record<string, unknown> | undefined;
    if (evidence !== undefined) {
      if (evidence === null || typeof evidence !== 'object' || Array.isArray(evidence)) {
        throw invalid('privacy.dsr.evidence', 'an object', evidence);
      }
      if (evidence.pseudonymKey !== undefined) {
        checkSecretBytes(evidence.pseudonymKey, 'privacy.dsr.evidence.pseudonymKey', HMAC_MIN_BYTES);
      }
      // The rules are checked here, so the error names the config path (the key is read at open).
      const { pseudonymKey: _key, ...rules } = evidence;
      new ErasureEvidence(rules as ErasureEvidenceOptions, 'privacy.dsr.evidence', false);
    }
  }
  optionalArray(privacy.processors, 'privacy.processors');
  const processing = section(privacy.processing, 'privacy.processing', KNOWN_PROCESSING);
  if (processing !== undefined) {
    if (!isPlainObject(processing.controller)) {
      throw invalid(
        'privacy.processing.controller',
        '{ name, contact?, dpo?, representative? }',
        processing.controller,
      );
    }
    optionalArray(processing.activities, 'privacy.processing.activities');
  }
  const retention = section(privacy.retention, 'privacy.retention', KNOWN_RETENTION);
  if (retention !== undefined) {
    optionalArray(retention.rules, 'privacy.retention.rules');
  }
  section(privacy.breaches, 'privacy.breaches', KNOWN_BREACHES);
  // Registrations (purposes, processors, activities, rules) are checked now, on throwaway services.
  assemblePrivacy(privacy as PrivacyConfig, {});
  checkRegistrations(privacy as PrivacyConfig);
  return privacy as PrivacyConfig;
}

/** Identity verifier set after start-up, failing closed (with a warning) until it is. */
class LateIdentityVerifier {
  #verifier?: IdentityVerifier;
  #warned = false;

  constructor(verifier?: IdentityVerifier) {
    this.#verifier = verifier;
  }

  set(verifier: IdentityVerifier): void {
    if (typeof verifier !== 'function') throw invalid('privacy.dsr.verifyIdentity', 'a function', verifier);
    if (this.#verifier !== undefined) {
      throw configError('privacy.dsr.verifyIdentity', 'is already set; it cannot be replaced at run time');
    }
    this.#verifier = verifier;
  }

  readonly verify: IdentityVerifier = (input) => {
    if (this.#verifier !== undefined) return this.#verifier(input);
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(
        'privacy.dsr.verifyIdentity is not set: identity checks fail until bulwark.setIdentityVerifier() is called',
        'BulwarkConfigWarning',
      );
    }
    return false;
  };
}

export interface OpenedPrivacy {
  classification: ClassificationRegistry;
  consent?: ConsentManager;
  dsr?: DataSubjectRequests;
  verifier?: LateIdentityVerifier;
  processors: ProcessorRegister;
  processing?: ProcessingRegister;
  dataRetention: DataRetention;
  breaches: BreachRegister;
}

interface PrivacyWiring {
  keyRing?: KeyRing;
  auditLog?: AuditLog;
  clock?: () => Date;
  consentStore?: ConsentStore;
  dsrStore?: DsrStore;
  receiptSigner?: ErasureReceiptSigner;
  /** The erasure pseudonym key, read or derived by `openPrivacy`. */
  pseudonymKey?: Uint8Array;
  stores?: PrivacyStores;
}

/** The register stores `createBulwark({ stores })` hands to the privacy services. */
export interface PrivacyStores {
  breaches?: RegisterStore<BreachIncident>;
  processors?: RegisterStore<Processor>;
  processing?: RegisterStore<ProcessingActivity>;
  retentionRules?: RegisterStore<RetentionRule>;
  legalHolds?: RegisterStore<RetentionHold>;
  retentionRuns?: RegisterStore<RetentionRun>;
}

/**
 * The registrations the configuration declares (processors, activities, retention rules),
 * checked without any store: plan() calls it so a mistake names its config path before anything
 * is opened.
 */
function checkRegistrations(privacy: PrivacyConfig): void {
  const processorIds = new Set<string>();
  (privacy.processors ?? []).forEach((input, i) =>
    underPath(`privacy.processors[${i}]`, () => {
      const p = ProcessorRegister.prepare(input);
      if (processorIds.has(p.id)) throw duplicateProcessor(p.id);
      if (p.parentId !== undefined && !processorIds.has(p.parentId)) throw unknownParent(p);
      processorIds.add(p.id);
    }),
  );
  const rules: RetentionRule[] = [];
  (privacy.retention?.rules ?? []).forEach((rule, i) =>
    underPath(`privacy.retention.rules[${i}]`, () => {
      const r = DataRetention.preparePolicy(rule);
      if (rules.some((x) => x.id === r.id)) throw duplicatePolicy(r.id);
      checkClash(r, rules);
      rules.push(r);
    }),
  );
  const activityIds = new Set<string>();
  (privacy.processing?.activities ?? []).forEach((activity, i) =>
    underPath(`privacy.processing.activities[${i}]`, () => {
      const a = ProcessingRegister.prepare(activity);
      if (activityIds.has(a.id)) throw duplicateActivity(a.id);
      checkRecipientsKnown(a, processorIds);
      activityIds.add(a.id);
    }),
  );
}

/**
 * Writes the configuration's registrations into the (possibly shared) registers: each is
 * inserted when absent and replaced when it differs, so instances started with one configuration
 * agree, and a restart re-applies it without duplicates.
 */
async function seedPrivacy(privacy: PrivacyConfig, out: OpenedPrivacy): Promise<void> {
  for (const [i, input] of (privacy.processors ?? []).entries()) {
    await underPathAsync(`privacy.processors[${i}]`, () => out.processors.ensure(input));
  }
  for (const [i, rule] of (privacy.retention?.rules ?? []).entries()) {
    await underPathAsync(`privacy.retention.rules[${i}]`, () => out.dataRetention.ensurePolicy(rule));
  }
  const processing = out.processing;
  if (processing !== undefined) {
    for (const [i, activity] of (privacy.processing?.activities ?? []).entries()) {
      await underPathAsync(`privacy.processing.activities[${i}]`, () => processing.ensure(activity));
    }
  }
}

/**
 * Builds the privacy services. Pure (no I/O): `plan()` runs it on throwaway memory stores to
 * validate the section before anything is opened, `open()` again with the real wiring.
 */
function assemblePrivacy(privacy: PrivacyConfig, wired: PrivacyWiring): OpenedPrivacy {
  const { keyRing, auditLog, clock } = wired;
  const classification = privacy.classification ?? defaultClassificationRegistry;
  const audit = auditLog ? { auditLog } : {};
  const stores = wired.stores ?? {};
  const out: OpenedPrivacy = {
    classification,
    processors: new ProcessorRegister(stores.processors ? { store: stores.processors } : {}),
    dataRetention: underPath(
      'privacy.retention',
      () =>
        new DataRetention({
          ...audit,
          ...(privacy.retention?.maxBatches !== undefined
            ? { maxBatches: privacy.retention.maxBatches }
            : {}),
          configPath: 'privacy.retention',
          ...(stores.retentionRules ? { ruleStore: stores.retentionRules } : {}),
          ...(stores.legalHolds ? { holdStore: stores.legalHolds } : {}),
          ...(stores.retentionRuns ? { runStore: stores.retentionRuns } : {}),
          ...withClock(clock),
        }),
    ),
    breaches: underPath(
      'privacy.breaches',
      () =>
        new BreachRegister({
          ...audit,
          ...(privacy.breaches?.deadlines !== undefined ? { deadlines: privacy.breaches.deadlines } : {}),
          ...(stores.breaches ? { store: stores.breaches } : {}),
          ...withClock(clock),
        }),
    ),
  };
  if (privacy.consent) {
    const c = privacy.consent;
    const consent = underPath(
      'privacy.consent',
      () =>
        new ConsentManager({
          store: wired.consentStore ?? new MemoryConsentStore(),
          ...audit,
          ...(c.auditCategory !== undefined ? { auditCategory: c.auditCategory } : {}),
          configPath: 'privacy.consent',
          ...withClock(clock),
        }),
    );
    (c.purposes ?? []).forEach((purpose, i) =>
      underPath(`privacy.consent.purposes[${i}]`, () => consent.registerPurpose(purpose)),
    );
    out.consent = consent;
  }

  if (privacy.dsr) {
    const d = privacy.dsr;
    const verifier = new LateIdentityVerifier(d.verifyIdentity);
    out.verifier = verifier;
    out.dsr = underPath(
      'privacy.dsr',
      () =>
        new DataSubjectRequests({
          verifyIdentity: verifier.verify,
          store: wired.dsrStore ?? new MemoryDsrStore(),
          // Erasure crypto-shreds the subject's key and redacts the subject's audit entries.
          ...(keyRing ? { keyRing } : {}),
          ...audit,
          ...(wired.receiptSigner ? { receiptSigner: wired.receiptSigner } : {}),
          classification,
          ...(d.responseDays !== undefined ? { responseDays: d.responseDays } : {}),
          ...(d.maxExtensionDays !== undefined ? { maxExtensionDays: d.maxExtensionDays } : {}),
          configPath: 'privacy.dsr',
          ...(d.actor !== undefined ? { actor: d.actor } : {}),
          ...dsrEvidence(d.evidence, wired.pseudonymKey),
          ...withClock(clock),
        }),
    );
  }

  if (privacy.processing) {
    const pr = privacy.processing;
    const processing = underPath(
      'privacy.processing',
      () =>
        new ProcessingRegister({
          controller: pr.controller,
          classification,
          processors: out.processors,
          ...(stores.processing ? { store: stores.processing } : {}),
          ...withClock(clock),
        }),
    );
    out.processing = processing;
  }
  return out;
}

/** The DSR evidence options: the configured rules with the key read (or derived) at open. */
function dsrEvidence(
  evidence: NonNullable<PrivacyConfig['dsr']>['evidence'],
  pseudonymKey: Uint8Array | undefined,
): { evidence?: ErasureEvidenceOptions } {
  if (evidence === undefined && pseudonymKey === undefined) return {};
  const { pseudonymKey: _configured, ...rules } = evidence ?? {};
  return { evidence: { ...rules, ...(pseudonymKey ? { pseudonymKey } : {}) } };
}

/** Reads the receipt key, takes the stores (closed by close()), then assembles the services. */
export async function openPrivacy(
  privacy: PrivacyConfig,
  wired: {
    keyRing?: KeyRing;
    auditLog?: AuditLog;
    auditHmacKey?: Uint8Array;
    clock?: () => Date;
    stores?: PrivacyStores & { dsr?: DsrStore; consent?: ConsentStore };
  },
  opened: Opened[],
): Promise<OpenedPrivacy> {
  const d = privacy.dsr;
  let pseudonymKey: Uint8Array | undefined;
  if (d?.evidence?.pseudonymKey !== undefined) {
    pseudonymKey = await readSecretBytes(
      d.evidence.pseudonymKey,
      'privacy.dsr.evidence.pseudonymKey',
      HMAC_MIN_BYTES,
    );
  } else if (d !== undefined && wired.auditHmacKey !== undefined) {
    // RFC 5869: a key of its own, derived under a label, so a pseudonym never equals a leaf MAC.
    pseudonymKey = new Uint8Array(
      hkdfSync('sha256', wired.auditHmacKey, new Uint8Array(0), DSR_PSEUDONYM_KEY_INFO, 32),
    );
  } else if (
    d !== undefined &&
    wired.auditLog !== undefined &&
    d.evidence?.discardSecurityEvidence !== true
  ) {
    throw configError(
      'privacy.dsr.evidence.pseudonymKey',
      "is required with an audit log: erasure keeps the subject's security-relevant entries under a keyed " +
        'pseudonym. Set audit.hmacKey (the key is derived from it) or this key, or discardSecurityEvidence: ' +
        'true (which erases that evidence)',
    );
  }
  const receiptSigner =
    d?.receiptSigner === undefined || d.receiptSigner instanceof ErasureReceiptSigner
      ? d?.receiptSigner
      : await underPathAsync('privacy.dsr.receiptSigner', async () =>
          ErasureReceiptSigner.fromJWK(
            await readJwk(d.receiptSigner as JwkConfig, 'privacy.dsr.receiptSigner'),
          ),
        );
  let consentStore: ConsentStore | undefined;
  if (privacy.consent) {
    // planPrivacy() demands a store (here or through `stores`).
    const store: ConsentStore =
      privacy.consent.store === 'memory' ? new MemoryConsentStore() : privacy.consent.store!;
    consentStore = store;
    opened.push({ name: 'privacy.consent.store', close: () => store.close?.() });
  }
  let dsrStore: DsrStore | undefined;
  if (d) {
    const store: DsrStore = d.store === 'memory' ? new MemoryDsrStore() : d.store!;
    dsrStore = store;
    opened.push({ name: 'privacy.dsr.store', close: () => store.close?.() });
  }
  const { auditHmacKey: _unused, ...rest } = wired;
  const out = assemblePrivacy(privacy, {
    ...rest,
    consentStore,
    dsrStore,
    receiptSigner,
    ...(pseudonymKey ? { pseudonymKey } : {}),
  });
  await seedPrivacy(privacy, out);
  return out;
}
