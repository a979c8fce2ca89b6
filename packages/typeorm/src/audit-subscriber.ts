import { BulwarkConfigError, ErrorCodes, type AuditActor, type AuditEvent } from '@bulwark/core';
import type {
  DataSource,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  ObjectLiteral,
  RemoveEvent,
  UpdateEvent,
} from 'typeorm';
import { classificationOf } from './classification';
import { sameValue } from './field-codec';
import { fieldRegistry, type EncryptedValueType } from './field-registry';
import { PendingDecryption, SealedValue } from './sealed-value';

/** Where events go: core's AuditLog fits (`append(event)`). */
export interface AuditAppender {
  append(event: AuditEvent): Promise<unknown>;
}

export interface BulwarkAuditOptions {
  auditLog: AuditAppender;
  /**
   * Who made the change. Per operation: `repository.save(entity, { data: { actor } })` (TypeORM
   * hands `data` to subscribers); otherwise this (a value or a function, e.g. reading an
   * AsyncLocalStorage request context); default `{ id: 'typeorm', type: 'system' }`.
   */
  actor?: AuditActor | (() => AuditActor | undefined);
}

export const ENCRYPTED_MARKER = '[ENCRYPTED]';
export const BLIND_INDEX_MARKER = '[BLIND_INDEX]';

type Change = { before?: unknown; after?: unknown; changed: boolean };

function plain(value: unknown): unknown {
  return value instanceof SealedValue ? value.plain : value;
}

function jsonValue(value: unknown): unknown {
  value = plain(value);
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return '[BINARY]';
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return '[UNSERIALIZABLE]';
  }
}

/**
 * Turns entity changes of @Audited entities into audit events with a redacted diff:
 *   encrypted fields     `[ENCRYPTED]` (null stays null) + changed: true/false
 *   classified fields    `[REDACTED:<category>]` + changed
 *   blind-index columns  `[BLIND_INDEX]` + changed
 *   other columns        before / after values
 *
 * Transactions: events are appended from the after* events, which TypeORM runs inside the save's
 * transaction and awaits; a failing append therefore rolls the entity change back (no unaudited
 * change commits). The AuditLog writes through its own store, though, so an append is durable
 * even if the surrounding transaction later rolls back for another reason: the trail can hold an
 * event for a change that did not commit, never the reverse. A TypeOrmAuditStore on the same
 * SQLite DataSource cannot be used here (SQLite has one writer and the entity transaction holds
 * it): give the audit store its own database file / DataSource.
 */
export class BulwarkAuditSubscriber implements EntitySubscriberInterface<ObjectLiteral> {
  constructor(private readonly options: BulwarkAuditOptions) {}

  async afterInsert(event: InsertEvent<ObjectLiteral>): Promise<void> {
    await this.record('create', event.metadata, event.queryRunner?.data, undefined, event.entity);
  }

  async afterUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> {
    await this.record(
      'update',
      event.metadata,
      event.queryRunner?.data,
      event.databaseEntity,
      event.entity,
      event.databaseEntity === undefined,
    );
  }

  async afterRemove(event: RemoveEvent<ObjectLiteral>): Promise<void> {
    const before = event.databaseEntity ?? event.entity;
    await this.record(
      'delete',
      event.metadata,
      event.queryRunner?.data,
      before,
      undefined,
      false,
      event.entityId,
    );
  }

  private async record(
    verb: 'create' | 'update' | 'delete',
    metadata: EntityMetadata,
    data: unknown,
    before: ObjectLiteral | undefined,
    after: ObjectLiteral | undefined,
    partial = false,
    entityId?: unknown,
  ): Promise<void> {
    const spec = fieldRegistry.audited(metadata.target);
    if (spec === undefined) return;
    const changes = this.diff(metadata, before, after, verb, partial);
    if (verb === 'update' && Object.keys(changes).length === 0) return;
    const type = spec.resourceType ?? metadata.name;
    const id = resourceId(metadata, after ?? before, entityId);
    const event: AuditEvent = {
      actor: this.actor(data),
      action: `${type}.${verb}`,
      resource: id === undefined ? { type } : { type, id },
      outcome: 'success',
      ...(spec.category === undefined ? {} : { category: spec.category }),
      details: { entity: metadata.name, changes, ...(partial ? { partial: true } : {}) },
    };
    await this.options.auditLog.append(event);
  }

  private actor(data: unknown): AuditActor {
    const fromData = (data as { actor?: AuditActor } | undefined)?.actor;
    if (fromData !== undefined) return fromData;
    const configured = typeof this.options.actor === 'function' ? this.options.actor() : this.options.actor;
    return configured ?? { id: 'typeorm', type: 'system' };
  }

  private diff(
    metadata: EntityMetadata,
    before: ObjectLiteral | undefined,
    after: ObjectLiteral | undefined,
    verb: 'create' | 'update' | 'delete',
    partial: boolean,
  ): Record<string, Change> {
    const encrypted = new Map<string, EncryptedValueType>(
      fieldRegistry.encrypted(metadata.target).map((s) => [s.property, s.type]),
    );
    const indexes = new Set(fieldRegistry.blindIndexes(metadata.target).map((s) => s.property));
    const out: Record<string, Change> = {};
    for (const column of metadata.columns) {
      if (column.relationMetadata !== undefined && column.relationMetadata !== null) continue;
      const p = column.propertyName;
      const a = after === undefined ? undefined : plain(column.getEntityValue(after));
      const b = before === undefined ? undefined : plain(column.getEntityValue(before));
      if (verb === 'update' && a === undefined) continue; // not part of this update
      if (verb === 'create' && a === undefined) continue;
      const type = encrypted.get(p);
      const where = { entity: metadata.name, column: p };
      const unknownBefore = b instanceof PendingDecryption || partial;
      const changed =
        verb !== 'update'
          ? true
          : unknownBefore
            ? true
            : type !== undefined
              ? !sameValue(a, b, type, where)
              : !equalJson(a, b);
      if (verb === 'update' && !changed) continue;
      const category = classificationOf(metadata.target, p);
      const mask = (v: unknown): unknown => {
        if (v === undefined) return undefined;
        if (v === null) return null;
        if (type !== undefined) return ENCRYPTED_MARKER;
        if (indexes.has(p)) return BLIND_INDEX_MARKER;
        if (category !== undefined) return `[REDACTED:${category}]`;
        return jsonValue(v);
      };
      const change: Change = { changed };
      if (verb !== 'create' && !partial) change.before = mask(b);
      if (verb !== 'delete') change.after = mask(a);
      out[p] = change;
    }
    return out;
  }
}

function equalJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(jsonValue(a)) === JSON.stringify(jsonValue(b));
}

function resourceId(
  metadata: EntityMetadata,
  row: ObjectLiteral | undefined,
  entityId: unknown,
): string | undefined {
  const values: string[] = [];
  for (const column of metadata.primaryColumns) {
    let v: unknown = row === undefined ? undefined : column.getEntityValue(row);
    if ((v === undefined || v === null) && entityId !== null && typeof entityId === 'object') {
      v = column.getEntityValue(entityId as ObjectLiteral);
    } else if ((v === undefined || v === null) && metadata.primaryColumns.length === 1) {
      v = entityId;
    }
    if (v === undefined || v === null) return undefined;
    values.push(String(v));
  }
  return values.length === 1 ? values[0] : JSON.stringify(values);
}

/**
 * Adds the audit subscriber to an initialised DataSource (after registerBulwarkEncryption, so it
 * runs after the encryption subscriber and sees plaintext to compare, which it never logs).
 */
export function registerBulwarkAudit(
  dataSource: DataSource,
  options: BulwarkAuditOptions,
): { subscriber: BulwarkAuditSubscriber; unregister(): void } {
  if (options === null || typeof options !== 'object' || typeof options.auditLog?.append !== 'function') {
    throw new BulwarkConfigError(
      ErrorCodes.CONFIG_INVALID,
      'registerBulwarkAudit: auditLog must have append(event)',
      {
        path: 'auditLog',
      },
    );
  }
  const subscriber = new BulwarkAuditSubscriber(options);
  const subscribers = dataSource.subscribers as unknown as object[];
  subscribers.push(subscriber);
  return {
    subscriber,
    unregister() {
      const i = subscribers.indexOf(subscriber);
      if (i >= 0) subscribers.splice(i, 1);
    },
  };
}
