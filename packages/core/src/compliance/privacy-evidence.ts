import { BulwarkConfigError, ErrorCodes } from '../errors';
import type { BreachRegister } from '../privacy/breach-register';
import type { ConsentManager } from '../privacy/consent-manager';
import type { DataRetention } from '../privacy/data-retention';
import type { DataSubjectRequests, DsrSelfTestResult } from '../privacy/data-subject-requests';
import type { ProcessingRegister } from '../privacy/processing-register';
import type { ProcessorRegister } from '../privacy/processor-register';
import type {
  BreachEvidence,
  ConsentEvidence,
  DataRetentionEvidence,
  DsrEvidence,
  DsrSelfTestEvidence,
  ProcessingEvidence,
  ProcessorEvidence,
} from './evidence';

type Awaitable<T> = T | Promise<T>;

/**
 * A privacy service as the kit sees it: one of Bulwark's privacy services (ConsentManager,
 * DataSubjectRequests, ...), read through its public API, or a function returning the evidence
 * snapshot for a custom implementation.
 */
export type PrivacySource<T> = ((now: Date) => Awaitable<T>) | object;

export type PrivacyName = 'consent' | 'dsr' | 'processors' | 'breaches' | 'processing' | 'dataRetention';

/** Arrays each snapshot must have (checks iterate them; a malformed snapshot is a read error). */
const REQUIRED_ARRAYS: Record<PrivacyName, readonly string[]> = {
  consent: ['purposes'],
  dsr: ['requests', 'sources', 'formats'],
  processors: ['processors', 'gaps'],
  breaches: ['incidents'],
  processing: ['activities'],
  dataRetention: ['rules', 'sources'],
};

function malformed(name: string, message: string): BulwarkConfigError {
  return new BulwarkConfigError(ErrorCodes.CONFIG_INVALID, `compliance.services.${name} ${message}`, {
    path: `compliance.services.${name}`,
  });
}

const has = (o: object, ...methods: string[]): boolean =>
  methods.every((m) => typeof (o as Record<string, unknown>)[m] === 'function');

/** DSR statuses that still need an answer. */
const CLOSED_DSR = new Set(['completed', 'rejected']);

// Readers for Bulwark's privacy services. Each keeps ids, counts, dates and settings; subject ids,
// consent texts, contacts and free-text descriptions stay out of the evidence.
const ADAPTERS: Record<PrivacyName, (service: object, now: Date) => Promise<unknown> | undefined> = {
  consent: (service) => {
    if (!has(service, 'listPurposes')) return undefined;
    const c = service as ConsentManager;
    return (async (): Promise<ConsentEvidence> => {
      const counts = has(service, 'grantCounts') ? await c.grantCounts() : {};
      return {
        purposes: c.listPurposes().map((p) => ({
          id: p.id,
          marketing: p.marketing === true,
          requiresConsent: p.requiresConsent === true,
          version: p.currentVersion,
          ...(typeof counts[p.id] === 'number' ? { granted: counts[p.id] as number } : {}),
        })),
      };
    })();
  },
  dsr: (service) => {
    if (!has(service, 'list', 'sources', 'overdue')) return undefined;
    const d = service as DataSubjectRequests;
    return (async (): Promise<DsrEvidence> => ({
      requests: (await d.list()).map((r) => ({
        id: r.id,
        type: r.type,
        status: r.status,
        open: !CLOSED_DSR.has(r.status),
        receivedAt: r.receivedAt,
        // The deadline that binds: Art. 12(3) extensions included.
        dueAt: r.effectiveDueAt ?? r.dueAt,
        ...(r.completedAt ? { closedAt: r.completedAt } : {}),
      })),
      // Every SubjectDataSource must implement export(); erase / rectify are optional.
      sources: d.sources().map((s) => ({ id: s.id, export: true, erase: s.erase, rectify: s.rectify })),
      formats: ['json', 'csv', 'xml'],
      ...(typeof d.lastSelfTest === 'function' && d.lastSelfTest() !== undefined
        ? { selfTest: copySelfTest(d.lastSelfTest()!) }
        : {}),
    }))();
  },
  processors: (service, now) => {
    if (!has(service, 'list', 'missingAgreements')) return undefined;
    const p = service as ProcessorRegister;
    return (async (): Promise<ProcessorEvidence> => ({
      processors: (await p.list()).map((x) => ({
        id: x.id,
        name: x.name,
        role: x.role,
        ...(x.country === undefined ? {} : { country: x.country }),
        transferMechanism: x.transferMechanism,
        agreements: x.agreements.map((a) => ({
          type: a.type,
          ...(a.signedAt ? { signedAt: a.signedAt } : {}),
          ...(a.expiresAt ? { expiresAt: a.expiresAt } : {}),
        })),
      })),
      gaps: (await p.missingAgreements(now)).map((g) => ({
        processorId: g.processorId,
        required: g.required,
        reason: g.reason,
        basis: g.basis,
      })),
    }))();
  },
  breaches: (service) => {
    if (!has(service, 'list', 'overdue')) return undefined;
    const b = service as BreachRegister;
    return (async (): Promise<BreachEvidence> => ({
      ...(typeof b.deadlines === 'function' ? { deadlines: b.deadlines() } : {}),
      incidents: (await b.list()).map((i) => ({
        id: i.id,
        detectedAt: i.detectedAt,
        ...(i.drill === true ? { drill: true } : {}),
        notifications: i.notifications.map((n) => ({
          audience: n.to,
          required: n.required,
          dueAt: n.dueAt,
          ...(n.notifiedAt ? { sentAt: n.notifiedAt } : {}),
        })),
      })),
    }))();
  },
  processing: (service) => {
    if (!has(service, 'list', 'gaps')) return undefined;
    const r = service as ProcessingRegister;
    return (async (): Promise<ProcessingEvidence> => ({
      activities: (await r.list()).map((a) => ({
        id: a.id,
        name: a.name,
        purposes: [...a.purposes],
        ...(a.lawfulBasis ? { lawfulBasis: a.lawfulBasis } : {}),
        entities: [...a.entities],
      })),
      gaps: await r.gaps(),
    }))();
  },
  dataRetention: (service) => {
    if (!has(service, 'policies', 'sources')) return undefined;
    const d = service as DataRetention;
    return (async (): Promise<DataRetentionEvidence> => ({
      rules: (await d.policies()).map((x) => ({
        id: x.id,
        target: x.sourceId !== undefined ? `source:${x.sourceId}` : `category:${String(x.category)}`,
        days: x.days,
      })),
      sources: (await d.sources()).map((s) => ({
        id: s.id,
        category: s.category,
        ...(s.ruleId ? { ruleId: s.ruleId } : {}),
        ...(s.days !== undefined ? { days: s.days } : {}),
        ...(s.lastPurge
          ? {
              lastPurge: {
                at: s.lastPurge.at,
                purged: s.lastPurge.purged,
                ...(s.lastPurge.outcome ? { outcome: s.lastPurge.outcome } : {}),
              },
            }
          : {}),
      })),
    }))();
  },
};

function copySelfTest(t: DsrSelfTestResult): DsrSelfTestEvidence {
  return {
    at: t.at,
    ok: t.ok,
    sources: t.sources.map((s) => ({ id: s.id, ok: s.ok, records: s.records, types: [...s.types] })),
  };
}

/** Reads one privacy service (or calls its snapshot function) and checks the snapshot's shape. */
export async function adaptPrivacySource(
  name: PrivacyName,
  source: PrivacySource<unknown>,
  now: Date,
): Promise<unknown> {
  let snapshot: unknown;
  if (typeof source === 'function') {
    snapshot = await (source as (now: Date) => Awaitable<unknown>)(now);
  } else {
    snapshot = await ADAPTERS[name](source, now);
    if (snapshot === undefined) {
      throw malformed(
        name,
        'is not a supported service: register the Bulwark service or a function returning its evidence',
      );
    }
  }
  if (snapshot === null || typeof snapshot !== 'object') throw malformed(name, 'evidence must be an object');
  for (const key of REQUIRED_ARRAYS[name]) {
    if (!Array.isArray((snapshot as Record<string, unknown>)[key])) {
      throw malformed(name, `evidence.${key} must be an array`);
    }
  }
  return snapshot;
}
