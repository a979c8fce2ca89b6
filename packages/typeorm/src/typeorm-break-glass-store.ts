import {
  BulwarkPolicyError,
  ErrorCodes,
  type BreakGlassStore,
  type StoredBreakGlassGrant,
} from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { int, json, RegisterSql } from './register-sql';

const COLUMNS =
  '"id", "subject_id", "actor", "reason", "actions", "resources", "granted_at_ms", "expires_at_ms", ' +
  '"revoked_at_ms", "expired_audited", "uses"';
const ACTOR_TYPES = new Set(['user', 'service', 'system', 'anonymous']);

function storeError(message: string, cause?: unknown): BulwarkPolicyError {
  return new BulwarkPolicyError(
    ErrorCodes.POLICY_BREAK_GLASS_STORE,
    `break-glass store: ${message}`,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * core's BreakGlassStore in the application database (table bulwark_break_glass_grant, migration
 * BulwarkRegisterTables1735689900000): every instance of a `PolicyEngine` with this store honours a
 * grant, and stops honouring a revoked one, on its next decision. Revocation, each counted use and
 * the claim on an expiry's audit event are single conditional UPDATEs (atomic on both dialects).
 */
export class TypeOrmBreakGlassStore implements BreakGlassStore {
  private readonly sql: RegisterSql;
  private readonly t: string;

  constructor(dataSource: DataSource) {
    this.sql = new RegisterSql(dataSource, storeError);
    this.t = this.sql.table('bulwark_break_glass_grant');
  }

  async insert(g: StoredBreakGlassGrant): Promise<void> {
    const n = await this.sql.affected(
      `INSERT INTO ${this.t} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT ("id") DO NOTHING`,
      [
        g.id,
        g.actor.id,
        JSON.stringify(g.actor),
        g.reason,
        JSON.stringify(g.actions),
        JSON.stringify(g.resources),
        g.grantedAtMs,
        g.expiresAtMs,
        g.revokedAtMs ?? null,
        g.expiredAudited ? 1 : 0,
        g.uses,
      ],
      'insert',
    );
    if (n !== 1) throw storeError('a grant with this id exists');
  }

  async get(id: string): Promise<StoredBreakGlassGrant | undefined> {
    const rows = await this.sql.rows(`SELECT ${COLUMNS} FROM ${this.t} WHERE "id" = $1`, [id], 'read');
    return rows.length === 0 ? undefined : grant(rows[0]!);
  }

  async active(subjectId: string, nowMs: number): Promise<StoredBreakGlassGrant[]> {
    const rows = await this.sql.rows(
      `SELECT ${COLUMNS} FROM ${this.t} WHERE "subject_id" = $1 AND "revoked_at_ms" IS NULL AND "expires_at_ms" > $2 ` +
        `ORDER BY "granted_at_ms", "id"`,
      [subjectId, nowMs],
      'read',
    );
    return rows.map(grant);
  }

  async list(): Promise<StoredBreakGlassGrant[]> {
    return (
      await this.sql.rows(`SELECT ${COLUMNS} FROM ${this.t} ORDER BY "granted_at_ms", "id"`, [], 'list')
    ).map(grant);
  }

  async revoke(id: string, atMs: number): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.t} SET "revoked_at_ms" = $1 WHERE "id" = $2 AND "revoked_at_ms" IS NULL AND "expires_at_ms" > $1`,
        [atMs, id],
        'revoke',
      )) === 1
    );
  }

  async recordUse(id: string, nowMs: number): Promise<number | undefined> {
    const rows = await this.sql.rows(
      `UPDATE ${this.t} SET "uses" = "uses" + 1 WHERE "id" = $1 AND "revoked_at_ms" IS NULL AND "expires_at_ms" > $2 ` +
        `RETURNING "uses"`,
      [id, nowMs],
      'record use',
    );
    if (rows.length === 0) return undefined;
    const uses = int(rows[0]!.uses);
    if (!(uses >= 1)) throw storeError('malformed use count');
    return uses;
  }

  async expiredUnaudited(nowMs: number): Promise<StoredBreakGlassGrant[]> {
    return (
      await this.sql.rows(
        `SELECT ${COLUMNS} FROM ${this.t} WHERE "revoked_at_ms" IS NULL AND "expires_at_ms" <= $1 AND "expired_audited" = 0 ` +
          `ORDER BY "expires_at_ms", "id"`,
        [nowMs],
        'read',
      )
    ).map(grant);
  }

  async claimExpiry(id: string): Promise<boolean> {
    return (
      (await this.sql.affected(
        `UPDATE ${this.t} SET "expired_audited" = 1 WHERE "id" = $1 AND "expired_audited" = 0`,
        [id],
        'claim expiry',
      )) === 1
    );
  }

  async close(): Promise<void> {
    // The DataSource belongs to the application; it closes it.
  }
}

/** Rows are checked on the way out: a row edited around the store grants nothing. */
function grant(row: Record<string, unknown>): StoredBreakGlassGrant {
  const actor = json(row.actor) as StoredBreakGlassGrant['actor'] | undefined;
  const actions = json(row.actions);
  const resources = json(row.resources);
  const grantedAtMs = int(row.granted_at_ms);
  const expiresAtMs = int(row.expires_at_ms);
  const revokedAtMs = row.revoked_at_ms === null ? undefined : int(row.revoked_at_ms);
  const uses = int(row.uses);
  const strings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  if (
    typeof row.id !== 'string' ||
    actor === undefined ||
    typeof actor.id !== 'string' ||
    actor.id !== row.subject_id ||
    !ACTOR_TYPES.has(actor.type) ||
    typeof row.reason !== 'string' ||
    !strings(actions) ||
    !strings(resources) ||
    Number.isNaN(grantedAtMs) ||
    Number.isNaN(expiresAtMs) ||
    (revokedAtMs !== undefined && Number.isNaN(revokedAtMs)) ||
    !(uses >= 0)
  ) {
    throw storeError('malformed grant');
  }
  return {
    id: row.id,
    actor: {
      id: actor.id,
      type: actor.type,
      ...(typeof actor.ip === 'string' ? { ip: actor.ip } : {}),
      ...(typeof actor.sessionId === 'string' ? { sessionId: actor.sessionId } : {}),
    },
    reason: row.reason,
    actions,
    resources,
    grantedAtMs,
    expiresAtMs,
    ...(revokedAtMs === undefined ? {} : { revokedAtMs }),
    expiredAudited: int(row.expired_audited) === 1,
    uses,
  };
}
