import type { ConsentManager } from '../privacy/consent-manager';
import type { DataSubjectRequests } from '../privacy/data-subject-requests';
import type { DataSubjectRequest } from '../privacy/dsr-store';
import type { SubjectExportFormat } from '../privacy/format-subject-export';
import { BulwarkConfigError, BulwarkPrivacyError, ErrorCodes } from '../errors';
import { BulwarkHttpError } from './bulwark-http-error';
import type { HttpPrincipal } from './http-principal';
import { checkResourceId } from './input-guard';

/** One privacy request, as an adapter sees it (path relative to where the router is mounted). */
export interface PrivacyApiRequest {
  method: string;
  path: string;
  principal?: HttpPrincipal;
  body?: unknown;
  ip?: string;
  userAgent?: string;
}

export interface PrivacyApiResponse {
  status: number;
  headers: Record<string, string>;
  /** A JSON value, or a string for exports (CSV / XML / JSON file). */
  body: unknown;
  /** What was acted on, for the request's audit event. */
  resource: { type: string; id?: string };
  /** Dotted action for the audit event (`privacy.consent.grant`). */
  action: string;
}

export interface PrivacyApiOptions {
  consent?: Pick<ConsentManager, 'grant' | 'withdraw' | 'check' | 'listPurposes' | 'purpose'>;
  dsr?: Pick<DataSubjectRequests, 'receive' | 'verifyIdentity' | 'export' | 'get'>;
}

const FORMATS: readonly SubjectExportFormat[] = ['json', 'csv', 'xml'];

function notFound(): BulwarkHttpError {
  return new BulwarkHttpError(ErrorCodes.HTTP_NOT_FOUND, 404, 'No privacy endpoint at this URL.');
}

function summary(request: DataSubjectRequest) {
  return {
    id: request.id,
    type: request.type,
    status: request.status,
    receivedAt: request.receivedAt,
    dueAt: request.effectiveDueAt,
  };
}

/**
 * The privacy endpoints behind both adapters' `privacyRouter(kit)`, for the authenticated subject
 * acting on their own data (GDPR Art. 7(3), 15, 17, 20):
 *
 *   GET    /consents                  purposes with this subject's consent status
 *   POST   /consents/:purposeId       grant (body `{ version? }`), 201
 *   DELETE /consents/:purposeId       withdraw (as easy as the grant: same inputs)
 *   POST   /requests/export           body `{ format: json|csv|xml }`: the export file, 200
 *   POST   /requests/erasure          logs an erasure request, 202 (an operator runs it)
 *   GET    /requests/:id              status of one of the subject's own requests
 *
 * The bearer-authenticated principal is the identity evidence handed to the app's
 * `verifyIdentity`; a request of another subject answers 404, never 403 (no existence oracle).
 */
export class PrivacyApi {
  readonly #consent?: PrivacyApiOptions['consent'];
  readonly #dsr?: PrivacyApiOptions['dsr'];

  constructor(options: PrivacyApiOptions) {
    if (options?.consent === undefined && options?.dsr === undefined) {
      throw new BulwarkConfigError(
        ErrorCodes.CONFIG_INVALID,
        'privacyRouter needs kit.consent and/or kit.dsr',
        {
          path: 'kit.consent',
        },
      );
    }
    this.#consent = options.consent;
    this.#dsr = options.dsr;
  }

  async handle(req: PrivacyApiRequest): Promise<PrivacyApiResponse> {
    const principal = req.principal;
    if (principal === undefined) {
      throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'This resource needs a bearer token.');
    }
    const parts = req.path.split('/').filter((p) => p.length > 0);
    const [head, id, extra] = parts;
    if (extra !== undefined) throw notFound();
    const body =
      typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
    const proof = {
      ...(req.ip !== undefined ? { ip: req.ip } : {}),
      ...(req.userAgent !== undefined ? { userAgent: req.userAgent.slice(0, 512) } : {}),
      source: 'api',
    };

    if (head === 'consents' && this.#consent !== undefined) {
      const consent = this.#consent;
      if (id === undefined && req.method === 'GET') {
        const purposes = consent.listPurposes();
        const statuses = await Promise.all(purposes.map((p) => consent.check(principal.id, p.id)));
        return {
          status: 200,
          headers: {},
          body: purposes.map((p, i) => ({ ...statuses[i]!, name: p.name, currentVersion: p.currentVersion })),
          resource: { type: 'consent' },
          action: 'privacy.consent.list',
        };
      }
      if (id !== undefined) {
        const purposeId = checkResourceId(decodeURIComponent(id));
        consent.purpose(purposeId); // ERR_CONSENT_UNKNOWN_PURPOSE -> 404
        const version = body.version;
        if (version !== undefined && (typeof version !== 'number' || !Number.isSafeInteger(version))) {
          throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_INVALID_ARGUMENT, 'version must be an integer.', {
            location: 'body.version',
          });
        }
        const options = { ...proof, ...(version !== undefined ? { version } : {}) };
        if (req.method === 'POST') {
          await consent.grant(principal.id, purposeId, options);
          const status = await consent.check(principal.id, purposeId);
          return {
            status: 201,
            headers: {},
            body: status,
            resource: { type: 'consent', id: purposeId },
            action: 'privacy.consent.grant',
          };
        }
        if (req.method === 'DELETE') {
          await consent.withdraw(principal.id, purposeId, options);
          const status = await consent.check(principal.id, purposeId);
          return {
            status: 200,
            headers: {},
            body: status,
            resource: { type: 'consent', id: purposeId },
            action: 'privacy.consent.withdraw',
          };
        }
      }
    }

    if (head === 'requests' && this.#dsr !== undefined) {
      const dsr = this.#dsr;
      const evidence = { authenticatedPrincipal: principal.id, method: 'bearer-token' };
      if (id === 'export' && req.method === 'POST') {
        const format = body.format ?? 'json';
        if (!FORMATS.includes(format as SubjectExportFormat)) {
          throw new BulwarkPrivacyError(
            ErrorCodes.PRIVACY_INVALID_ARGUMENT,
            'format must be json, csv or xml.',
            { location: 'body.format' },
          );
        }
        const received = await dsr.receive({ type: 'access', subjectId: principal.id, channel: 'api' });
        await dsr.verifyIdentity(received.id, evidence);
        const { files } = await dsr.export(received.id, { formats: [format as SubjectExportFormat] });
        const file = files[0]!;
        return {
          status: 200,
          headers: {
            'content-type': `${file.contentType}`,
            'content-disposition': `attachment; filename="${file.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
            'cache-control': 'no-store',
          },
          body: file.body,
          resource: { type: 'dsr', id: received.id },
          action: 'privacy.dsr.export',
        };
      }
      if (id === 'erasure' && req.method === 'POST') {
        const received = await dsr.receive({ type: 'erasure', subjectId: principal.id, channel: 'api' });
        const verified = await dsr.verifyIdentity(received.id, evidence);
        return {
          status: 202,
          headers: {},
          body: summary(verified),
          resource: { type: 'dsr', id: received.id },
          action: 'privacy.dsr.erasure',
        };
      }
      if (id !== undefined && req.method === 'GET') {
        const requestId = checkResourceId(id);
        const found = await dsr.get(requestId);
        // Another subject's request is indistinguishable from a missing one.
        if (found === undefined || found.subjectId !== principal.id) {
          throw new BulwarkPrivacyError(ErrorCodes.PRIVACY_NOT_FOUND, 'No such request.');
        }
        return {
          status: 200,
          headers: {},
          body: summary(found),
          resource: { type: 'dsr', id: requestId },
          action: 'privacy.dsr.status',
        };
      }
    }
    throw notFound();
  }
}
