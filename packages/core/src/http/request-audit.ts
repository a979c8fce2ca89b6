import { isIP } from 'node:net';
import {
  AUDIT_LIMITS,
  type AuditActor,
  type AuditEvent,
  type AuditOutcome,
  type AuditResource,
} from '../audit/audit-event';
import type { HttpPrincipal } from './http-principal';
import type { DenialExplanation } from '../authz/denial-explanation';
import { copyDenialExplanation } from './denial-details';

/** The facts of one finished request, as adapters collect them. */
export interface RequestAuditFacts {
  method: string;
  /** The matched route pattern (`/patients/:id`) when known, else the path without its query. */
  route: string;
  status: number;
  latencyMs: number;
  /** Server-generated request id. */
  requestId?: string;
  /** The client's own X-Request-Id (sanitised), kept apart from `requestId`: `details.clientRequestId`. */
  clientRequestId?: string;
  principal?: Pick<HttpPrincipal, 'id' | 'type'>;
  ip?: string;
  userAgent?: string;
  resource?: { type: string; id?: string };
  /** Action name; default `http.<method>` (e.g. `http.get`). */
  action?: string;
  /** Stable error code of a refused request (`EBADCSRFTOKEN`, `ERR_TOKEN_EXPIRED`...). */
  errorCode?: string;
  /**
   * What exactly failed when the code does not say (`aud.check_failed` for a token of another
   * audience). Kept in the audit trail, never in the response: clients see one code for every
   * invalid token.
   */
  errorReason?: string;
  /** Authorization decision reason id, when a decision was made. */
  reasonId?: string;
  /** Why an authorization denied (`explainDenial`: rules, conditions, type names; no values): `details.denial`. */
  denial?: DenialExplanation;
  category?: string;
}

/** 2xx / 3xx succeeded; 401 and 403 were refused (denied); anything else failed. */
export function outcomeFromStatus(status: number): AuditOutcome {
  if (status >= 200 && status < 400) return 'success';
  if (status === 401 || status === 403) return 'denied';
  return 'failure';
}

function clip(value: string | undefined, max: number): string | undefined {
  return value === undefined || value.length <= max ? value : value.slice(0, max);
}

// A request's method or route can hold anything a client sent; audit actions and fields have fixed
// grammars and limits, so values are clipped and charset-restricted rather than rejected (a hostile
// request must not be able to suppress its own audit event).
const ACTION_CHARS = /[^A-Za-z0-9_.:/-]/g;

/**
 * `http.<method>` per request method, remembered: a server sees a handful of methods, and building
 * the action text cost more than the rest of the event's strings. Bounded, since a method can be
 * anything an adapter passes.
 */
const methodActions = new Map<string, string>();
const METHOD_ACTIONS_MAX = 64;

function methodAction(rawMethod: string): string {
  let action = methodActions.get(rawMethod);
  if (action === undefined) {
    const method = rawMethod.toLowerCase().replace(ACTION_CHARS, '').slice(0, 16) || 'unknown';
    // Always valid: `http.` and at most 16 characters that ACTION_CHARS allows.
    action = `http.${method}`;
    if (methodActions.size < METHOD_ACTIONS_MAX) methodActions.set(rawMethod, action);
  }
  return action;
}

/**
 * One audit event per request (PCI DSS 10.2.2 fields: who, what, on what, outcome, when, where from).
 * `defaultCategory` is the event's category when the facts name none (the auditor's own).
 */
export function requestAuditEvent(facts: RequestAuditFacts, defaultCategory?: string): AuditEvent {
  const action =
    facts.action === undefined
      ? methodAction(facts.method)
      : clip(facts.action.replace(ACTION_CHARS, '_'), AUDIT_LIMITS.action)!;
  const ip = facts.ip?.startsWith('::ffff:') ? facts.ip.slice(7) : facts.ip;
  // Optional fields are assigned, not spread from temporary objects: this runs once per request.
  const actor: AuditActor = {
    id: clip(facts.principal?.id ?? 'anonymous', AUDIT_LIMITS.actorId)!,
    type: facts.principal?.type ?? 'anonymous',
  };
  if (ip !== undefined && isIP(ip) !== 0) actor.ip = ip;
  if (facts.userAgent !== undefined) actor.userAgent = clip(facts.userAgent, AUDIT_LIMITS.userAgent);
  const details: Record<string, unknown> = {
    method: facts.method.slice(0, 16),
    route: clip(facts.route, 512)!,
    status: facts.status,
    latencyMs: Math.round(facts.latencyMs * 1000) / 1000,
  };
  if (facts.errorCode !== undefined) details.errorCode = facts.errorCode.slice(0, 64);
  if (facts.errorReason !== undefined) details.errorReason = facts.errorReason.slice(0, 64);
  if (facts.reasonId !== undefined) details.reasonId = facts.reasonId.slice(0, 128);
  if (facts.clientRequestId !== undefined) {
    details.clientRequestId = facts.clientRequestId.slice(0, AUDIT_LIMITS.requestId);
  }
  const event: AuditEvent = {
    actor,
    action: /^[A-Za-z0-9]/.test(action) ? action : `http.${action}`,
    outcome: outcomeFromStatus(facts.status),
    details,
  };
  const denial = copyDenialExplanation(facts.denial);
  if (denial !== undefined) details.denial = denial;
  if (facts.resource !== undefined) {
    const resource: AuditResource = { type: clip(facts.resource.type, AUDIT_LIMITS.resourceType)! };
    if (facts.resource.id !== undefined) resource.id = clip(facts.resource.id, AUDIT_LIMITS.resourceId);
    event.resource = resource;
  }
  if (facts.requestId !== undefined) event.requestId = clip(facts.requestId, AUDIT_LIMITS.requestId);
  const category = facts.category ?? defaultCategory;
  if (category !== undefined) event.category = category;
  return event;
}
