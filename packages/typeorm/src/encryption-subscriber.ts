import { randomUUID } from 'node:crypto';
import type {
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  LoadEvent,
  ObjectLiteral,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';

import { computeIndex } from './blind-index-column';
import { BulwarkTypeOrmError, TypeOrmErrorCodes } from './bulwark-typeorm-error';
import type { EncryptionContext, ResolvedBlindIndex, ResolvedField } from './encryption-context';
import { fieldAad, open, openSync, rowKey, seal, sealSync } from './field-cipher';
import { sameValue } from './field-codec';
import { fieldRegistry } from './field-registry';
import { LazyEnvelope, PendingDecryption, SealedValue, UNCHANGED } from './sealed-value';

type ColumnMetadata = EntityMetadata['columns'][number];

interface EntityPlan {
  fields: ResolvedField[];
  indexes: ResolvedBlindIndex[];
  /** Some field needs the row (bindToRow: primary key in the aad; subject: the subject id). */
  needsRow: boolean;
  /** Some field is encrypted under a subject key, which may have to be loaded (async). */
  hasSubject: boolean;
  /** Fields declared `lazy` and their shared accessors (see lazyAccessor). */
  lazy: Array<{ field: ResolvedField; accessor: PropertyDescriptor }>;
  /**
   * A loaded row may need afterLoad: an eager field (PendingDecryption to finish), a lazy
   * row-bound field (its associated data is recorded), or a lazy field whose column is not
   * hydrated through installLazyHydration (embedded). False: hydration did all there is to do.
   */
  needsLoad: boolean;
}

const EMPTY: EntityPlan = {
  fields: [],
  indexes: [],
  needsRow: false,
  hasSubject: false,
  lazy: [],
  needsLoad: false,
};

function isRecord(value: unknown): value is ObjectLiteral {
  return value !== null && typeof value === 'object';
}

/** The default warning sink of the subscriber and of registerBulwarkEncryption: a process warning with its code. */
export function emitWarning(message: string, code: string): void {
  process.emitWarning(message, { code });
}

/** The plaintext behind a value the subscriber may have replaced. */
export function plainOf(value: unknown): unknown {
  return value instanceof SealedValue ? value.plain : value;
}

/** Row values for associated data: the stored row overlaid with what this write sets. */
function merged(databaseEntity: ObjectLiteral | undefined, entity: ObjectLiteral): ObjectLiteral {
  const out: ObjectLiteral = {};
  for (const source of [databaseEntity ?? {}, entity]) {
    for (const [k, v] of Object.entries(source)) if (v !== undefined) out[k] = plainOf(v);
  }
  return out;
}

/**
 * Encrypts on write and decrypts on load the fields the column transformer cannot handle alone:
 * row-bound (associated data includes the primary key) and subject-keyed (async key load) fields,
 * and fills @BlindIndex columns from their source. Every write is sealed here when listeners run,
 * so the transformer only writes the prepared envelopes.
 *
 * Write paths and the event that carries them (TypeORM 1.x):
 *   save() insert / cascade insert      beforeInsert(entity)            full row: binding + subject
 *   save() update / cascade update      beforeUpdate(entity, databaseEntity)   full row
 *   insert() / qb.insert().values()     beforeInsert(value set)         the values given
 *   update() / qb.update().set()        beforeUpdate(value set, no row) no row id: bindToRow refused
 * The caller's object gets its plaintext back in after* (or on rollback).
 */
export class BulwarkEncryptionSubscriber implements EntitySubscriberInterface<ObjectLiteral> {
  private readonly plans = new Map<unknown, EntityPlan>();
  private readonly sealed = new WeakMap<QueryRunner, Set<ObjectLiteral>>();

  /** One shared accessor per lazy field (see lazyAccessor). */
  private readonly accessors = new Map<ResolvedField, PropertyDescriptor>();

  /** Entity classes already warned about (see warnSlowLazy). */
  private readonly slowLazyWarned = new WeakSet<object>();

  /** Lazy columns whose hydration installs the accessor (installLazyHydration). */
  private readonly hydrated = new WeakSet<ColumnMetadata>();

  constructor(
    private readonly ctx: EncryptionContext,
    /** Where the one-per-entity lazy-field warning goes (registerBulwarkEncryption's `onWarning`). */
    private readonly warn: (message: string, code: string) => void = emitWarning,
  ) {
    this.installLazyHydration();
  }

  /**
   * A lazy field is an accessor on each loaded entity. When the entity's constructor already gave
   * it an own data property (a class field: TypeScript with `useDefineForClassFields`, the default
   * from target ES2022, emits `email;` in the class body, and TypeORM runs the constructor on load),
   * V8 turns every such entity into a slow dictionary-mode object when the data property becomes an
   * accessor: several times the cost to build, slower to read and serialise. Said once per entity
   * class; nothing about values.
   */
  private warnSlowLazy(entity: ObjectLiteral, property: string): void {
    const target = (entity as { constructor?: unknown }).constructor;
    if (typeof target !== 'function' || this.slowLazyWarned.has(target)) return;
    this.slowLazyWarned.add(target);
    const name = (target as { name?: string }).name || 'entity';
    try {
      this.warn(
        `bulwark: ${name}.${property} is a lazy encrypted field, but ${name}'s constructor defines '${property}' as a class field, so each loaded ${name} becomes a slow (dictionary-mode) object when its lazy accessor is installed. Compile the entities with "useDefineForClassFields": false, or set the DataSource option entitySkipConstructor: true`,
        'BULWARK_LAZY_FIELD_CLASS_FIELD',
      );
    } catch {
      // A throwing warning sink must not fail a load.
    }
  }

  private accessor(field: ResolvedField): PropertyDescriptor {
    let accessor = this.accessors.get(field);
    if (accessor === undefined) this.accessors.set(field, (accessor = lazyAccessor(this.ctx, field)));
    return accessor;
  }

  /**
   * Lazy fields get their accessor while TypeORM hydrates the row (ColumnMetadata#setEntityValue
   * of this DataSource's lazy columns), so it is added to the new entity instead of replacing a
   * data property afterwards: V8 keeps such objects fast, a replaced property makes each one slow
   * to build. afterLoad installs it for any row hydrated another way.
   */
  private installLazyHydration(): void {
    const dataSource = this.ctx.dataSource;
    if (!dataSource?.isInitialized) return;
    for (const metadata of dataSource.entityMetadatas) {
      for (const spec of fieldRegistry.encrypted(metadata.target)) {
        if (spec.lazy !== true) continue;
        const column = metadata.findColumnWithPropertyPath(spec.property) as
          (ColumnMetadata & { [ORIGINAL_SET]?: ColumnMetadata['setEntityValue'] }) | undefined;
        if (column === undefined || column.embeddedMetadata !== undefined) continue;
        const original = (column[ORIGINAL_SET] ??= column.setEntityValue);
        const accessor = this.accessor(this.ctx.field(spec));
        const property = spec.property;
        const warnSlowLazy = (entity: ObjectLiteral): void => this.warnSlowLazy(entity, property);
        column.setEntityValue = function (this: ColumnMetadata, entity: ObjectLiteral, value: unknown) {
          if (value instanceof LazyEnvelope) {
            if (Object.hasOwn(entity, property)) warnSlowLazy(entity);
            installLazy(entity, property, accessor, value.envelope);
          } else original.call(this, entity, value);
        };
        this.hydrated.add(column);
      }
    }
  }

  plan(metadata: EntityMetadata): EntityPlan {
    let plan = this.plans.get(metadata.target);
    if (plan === undefined) {
      const fields = fieldRegistry.encrypted(metadata.target).map((s) => this.ctx.field(s));
      const indexes = fieldRegistry.blindIndexes(metadata.target).map((s) => this.ctx.blindIndex(s));
      const hasSubject = fields.some((f) => f.spec.subject !== undefined);
      const needsRow = hasSubject || fields.some((f) => f.spec.bindToRow);
      const lazy = fields
        .filter((f) => f.spec.lazy === true)
        .map((field) => ({ field, accessor: this.accessor(field) }));
      const needsLoad = fields.some(
        (f) =>
          f.spec.lazy !== true ||
          f.spec.bindToRow ||
          !this.hydrated.has(metadata.findColumnWithPropertyPath(f.spec.property) as ColumnMetadata),
      );
      plan =
        fields.length === 0 && indexes.length === 0
          ? EMPTY
          : { fields, indexes, needsRow, hasSubject, lazy, needsLoad };
      this.plans.set(metadata.target, plan);
    }
    return plan;
  }

  // Hot path (a save() of N rows calls this N times): without subject-keyed fields every envelope
  // is sealed synchronously and no promise is created; TypeORM accepts void or a promise. Errors
  // are still reported as a rejected promise, as from an async listener.
  beforeInsert(event: InsertEvent<ObjectLiteral>): Promise<void> | void {
    const row = event.entity;
    if (!isRecord(row)) return;
    const plan = this.plan(event.metadata);
    if (plan === EMPTY) return;
    if (plan.hasSubject) return this.beforeInsertAsync(event, plan, row);
    try {
      this.fillIndexes(plan, row);
      if (plan.needsRow) this.ensureKey(event.metadata, plan, row);
      // The merged row is only read for row binding (primary key in the aad).
      const context = plan.needsRow ? merged(undefined, row) : undefined;
      let touched = false;
      for (const field of plan.fields) {
        const value: unknown = row[field.spec.property];
        if (!needsSealing(value)) continue;
        row[field.spec.property] = new SealedValue(
          sealSync(this.ctx, field, value, fieldAad(field, context)),
          value,
        );
        touched = true;
      }
      if (touched) this.track(event.queryRunner, row);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async beforeInsertAsync(
    event: InsertEvent<ObjectLiteral>,
    plan: EntityPlan,
    row: ObjectLiteral,
  ): Promise<void> {
    this.fillIndexes(plan, row);
    if (plan.fields.some((f) => f.spec.bindToRow)) this.ensureKey(event.metadata, plan, row);
    const context = merged(undefined, row);
    let touched = false;
    for (const field of plan.fields) {
      const value: unknown = row[field.spec.property];
      if (!needsSealing(value)) continue;
      row[field.spec.property] = new SealedValue(await seal(this.ctx, field, value, context), value);
      touched = true;
    }
    if (touched) this.track(event.queryRunner, row);
  }

  afterInsert(event: InsertEvent<ObjectLiteral>): void {
    this.restore(event.queryRunner, event.entity);
  }

  async beforeUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> {
    const row = event.entity;
    if (!isRecord(row)) return;
    const plan = this.plan(event.metadata);
    if (plan === EMPTY) return;
    this.fillIndexes(plan, row);
    const db = event.databaseEntity;
    if (!isRecord(db)) {
      // repository.update(criteria, partial) / qb.update().set(): only the values being set.
      const context = merged(undefined, row);
      for (const field of plan.fields) refuseSubjectMove(field, row);
      for (const field of plan.fields) {
        const value: unknown = row[field.spec.property];
        if (!needsSealing(value)) continue;
        row[field.spec.property] = new SealedValue(await seal(this.ctx, field, value, context), value);
      }
      this.track(event.queryRunner, row);
      return;
    }
    // save() of a loaded / identified entity. TypeORM decides what to UPDATE by comparing each
    // column's transformed value with the stored one; random IVs make every envelope differ, so
    // unchanged fields get one shared UNCHANGED marker on both sides (left out of the UPDATE),
    // changed ones a fresh envelope.
    const context = merged(db, row);
    const dbContext = merged(undefined, db);
    const encrypted = new Set(plan.fields.map((f) => f.spec.property));
    let realChange =
      (event.updatedColumns ?? []).some((c) => !encrypted.has(c.propertyName)) ||
      (event.updatedRelations ?? []).length > 0;
    const decisions: Array<{ field: ResolvedField; value: unknown; before: unknown; changed: boolean }> = [];
    for (const field of plan.fields) {
      const subject = field.spec.subject;
      const subjectChanged = subject !== undefined && String(context[subject]) !== String(dbContext[subject]);
      let value: unknown = row[field.spec.property];
      if (value === undefined && subjectChanged) {
        // The row moves to another subject without this field: re-encrypt the stored value under
        // the new subject's key, or it would stay under the old one (and be refused on load).
        value = await this.plainFrom(field, db[field.spec.property], dbContext);
      }
      if (!needsSealing(value)) continue;
      const before = await this.plainFrom(field, db[field.spec.property], dbContext);
      let changed = !sameValue(value, before, field.spec.type, field.where);
      if (subjectChanged) changed = true;
      // Transitional read mode: the stored value may be plaintext that loaded as this same value;
      // rewrite it so a saved row never keeps a value in clear.
      if (this.ctx.plaintextReads === 'accept') changed = true;
      if (
        field.spec.bindToRow &&
        JSON.stringify(rowKey(field, context)) !== JSON.stringify(rowKey(field, dbContext))
      ) {
        changed = true;
      }
      if (changed) realChange = true;
      decisions.push({ field, value, before, changed });
    }
    for (const { field, value, before, changed } of decisions) {
      const p = field.spec.property;
      if (changed || !realChange) {
        // Nothing else changes: rewriting a fresh envelope keeps the after* event (which restores
        // the caller's plaintext) firing; TypeORM would otherwise skip the update entirely. A lazy
        // field that is unchanged gets the stored row's own envelope back (byte for byte).
        const stored = changed ? undefined : LazySlot.envelope(db, p);
        row[p] = new SealedValue(stored ?? (await seal(this.ctx, field, value, context)), value);
      } else {
        row[p] = new SealedValue(UNCHANGED, value);
        db[p] = new SealedValue(UNCHANGED, before);
      }
    }
    this.track(event.queryRunner, row);
    this.track(event.queryRunner, db);
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): void {
    this.restore(event.queryRunner, event.entity);
    this.restore(event.queryRunner, event.databaseEntity);
  }

  /**
   * The load listeners to register beside this subscriber: one per entity of the DataSource whose
   * rows need afterLoad (EntityPlan.needsLoad), listening to that entity only. This subscriber
   * has no afterLoad of its own, because TypeORM calls a subscriber's afterLoad for every row it
   * loads, of every entity it listens to, with a new event object each time: rows of entities
   * with no encrypted field, or only lazy fields (their accessors are set during hydration), would
   * pay that call for nothing.
   */
  loadListeners(): BulwarkLoadListener[] {
    const dataSource = this.ctx.dataSource;
    if (!dataSource?.isInitialized) return [];
    return dataSource.entityMetadatas
      .filter((metadata) => this.plan(metadata).needsLoad)
      .map((metadata) => new BulwarkLoadListener(this, metadata.target));
  }

  // Called once per loaded entity of an entity that needs it (loadListeners). The column
  // transformer has already decrypted every field that needs neither the row id nor a subject
  // key, so usually nothing is left: return without creating a promise (TypeORM would otherwise
  // collect and await one per entity).
  afterEntityLoad(entity: ObjectLiteral, event?: LoadEvent<ObjectLiteral>): Promise<void> | void {
    if (!isRecord(entity)) return;
    const metadata = event?.metadata;
    const plan = metadata !== undefined ? this.plan(metadata) : this.planFor(entity);
    if (plan === EMPTY) return;
    if (plan.lazy.length > 0) {
      for (const { field, accessor } of plan.lazy) {
        const property = field.spec.property;
        if (LazySlot.envelope(entity, property) === undefined) {
          // (installed at hydration otherwise: reading the property would decrypt it)
          const value: unknown = entity[property];
          if (value instanceof LazyEnvelope) installLazy(entity, property, accessor, value.envelope);
        }
        if (field.spec.bindToRow && LazySlot.envelope(entity, property) !== undefined) {
          recordLazyAad(entity, field);
        }
      }
    }
    for (const field of plan.fields) {
      if (field.spec.lazy === true) continue; // reading it would decrypt it now
      if (entity[field.spec.property] instanceof PendingDecryption) return this.finishLoad(entity, plan);
    }
  }

  private async finishLoad(entity: ObjectLiteral, plan: EntityPlan): Promise<void> {
    for (const field of plan.fields) {
      if (field.spec.lazy === true) continue;
      const value: unknown = entity[field.spec.property];
      if (value instanceof PendingDecryption) {
        entity[field.spec.property] = await open(this.ctx, field, value.envelope, entity);
      }
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const set = this.sealed.get(event.queryRunner);
    if (set === undefined) return;
    for (const obj of [...set]) this.restore(event.queryRunner, obj);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    // Objects whose write was skipped by TypeORM after sealing (no after* event) get their
    // plaintext back here at the latest.
    this.afterTransactionRollback(event as unknown as TransactionRollbackEvent);
  }

  private planFor(entity: ObjectLiteral): EntityPlan {
    const ds = this.ctx.dataSource;
    return ds.hasMetadata(entity.constructor) ? this.plan(ds.getMetadata(entity.constructor)) : EMPTY;
  }

  private async plainFrom(field: ResolvedField, stored: unknown, row: ObjectLiteral): Promise<unknown> {
    if (stored instanceof PendingDecryption) return open(this.ctx, field, stored.envelope, row);
    // A lazy value the stored row still holds unread decrypts through its getter, here.
    return plainOf(stored);
  }

  private fillIndexes(plan: EntityPlan, row: ObjectLiteral): void {
    for (const index of plan.indexes) {
      const source: unknown = row[index.spec.source];
      if (source === undefined) continue;
      row[index.spec.property] = computeIndex(this.ctx, index, plainOf(source));
    }
  }

  /** A uuid primary key TypeORM (or PostgreSQL) would generate at insert is generated now, so it can be bound. */
  private ensureKey(metadata: EntityMetadata, plan: EntityPlan, row: ObjectLiteral): void {
    const bound = plan.fields.find((f) => f.spec.bindToRow && needsSealing(row[f.spec.property]));
    if (bound === undefined || rowKey(bound, row) !== undefined) return;
    const [pk, ...more] = metadata.primaryColumns;
    if (
      more.length === 0 &&
      pk?.isGenerated &&
      pk.generationStrategy === 'uuid' &&
      pk.getEntityValue(row) == null
    ) {
      pk.setEntityValue(row, randomUUID());
    }
  }

  private track(runner: QueryRunner | undefined, obj: ObjectLiteral): void {
    if (runner === undefined) return;
    let set = this.sealed.get(runner);
    if (set === undefined) this.sealed.set(runner, (set = new Set()));
    set.add(obj);
  }

  private restore(runner: QueryRunner | undefined, obj: unknown): void {
    if (!isRecord(obj)) return;
    for (const [k, v] of Object.entries(obj)) if (v instanceof SealedValue) obj[k] = v.plain;
    if (runner !== undefined) this.sealed.get(runner)?.delete(obj);
  }
}

/**
 * The afterLoad of one entity's rows (BulwarkEncryptionSubscriber.loadListeners), registered
 * with the encryption subscriber. TypeORM also hands it the rows of subclasses of the entity,
 * which have listeners of their own: each row is finished by its own entity's listener, once.
 */
export class BulwarkLoadListener implements EntitySubscriberInterface<ObjectLiteral> {
  constructor(
    readonly subscriber: BulwarkEncryptionSubscriber,
    private readonly target: EntityMetadata['target'],
  ) {}

  listenTo(): EntityMetadata['target'] {
    return this.target;
  }

  afterLoad(entity: ObjectLiteral, event: LoadEvent<ObjectLiteral>): Promise<void> | void {
    if (event.metadata.target !== this.target) return;
    return this.subscriber.afterEntityLoad(entity, event);
  }
}

/** Returns the object it is given: a base whose subclass constructor stamps fields onto it. */
class Stamp {
  constructor(target: object) {
    return target as Stamp;
  }
}

/**
 * Where a loaded entity keeps its lazy fields' envelopes (by property) and, for row-bound ones,
 * their associated data: private fields stamped onto the entity itself (`new LazySlot(entity)`
 * runs Stamp's constructor, which returns the entity, so the fields land there). Adding them is a
 * plain property store for V8, where the symbol-keyed slot this replaces needed an
 * Object.defineProperty call per row (non-enumerable); a WeakMap entry measured slower than
 * either. Private fields are invisible to JSON, Object.keys, getOwnPropertySymbols, spread /
 * Object.assign, deep equality and util.inspect, and are not inherited by objects made with
 * Object.create(entity). An envelope entry stays after the value is read: it is what the row
 * stored, which an unchanged save writes back.
 */
class LazySlot extends Stamp {
  #envelopes: Record<string, string> = {};
  /**
   * The associated data of a lazy bindToRow field, computed from the row's key when it was loaded
   * (afterLoad): the getter decrypts against the row the envelope came from, even when the caller
   * changed or removed the key before the first read (the clone pattern `loaded.id = newId; save`).
   */
  #aads: Record<string, string> | undefined = undefined;

  /** The entity's envelopes, stamping the slot on first use. */
  static envelopesOf(entity: ObjectLiteral): Record<string, string> {
    if (!(#envelopes in entity)) new LazySlot(entity);
    return (entity as LazySlot).#envelopes;
  }

  /** The envelope the row stored for `property`, if it was loaded lazily. */
  static envelope(entity: ObjectLiteral, property: string): string | undefined {
    return #envelopes in entity ? (entity as LazySlot).#envelopes[property] : undefined;
  }

  static aad(entity: ObjectLiteral, property: string): string | undefined {
    return #aads in entity ? (entity as LazySlot).#aads?.[property] : undefined;
  }

  static setAad(entity: ObjectLiteral, property: string, aad: string): void {
    if (!(#aads in entity)) new LazySlot(entity);
    ((entity as LazySlot).#aads ??= {})[property] = aad;
  }
}

/** The column's own setEntityValue, kept when installLazyHydration wraps it. */
const ORIGINAL_SET = Symbol('bulwark.setEntityValue');

function installLazy(
  entity: ObjectLiteral,
  property: string,
  accessor: PropertyDescriptor,
  envelope: string,
): void {
  LazySlot.envelopesOf(entity)[property] = envelope;
  Object.defineProperty(entity, property, accessor);
}

/** Records a lazy bindToRow field's associated data from the row key as loaded (none: no key selected). */
function recordLazyAad(entity: ObjectLiteral, field: ResolvedField): void {
  if (rowKey(field, entity) === undefined) return; // the getter reports the missing key if read
  LazySlot.setAad(entity, field.spec.property, fieldAad(field, entity));
}

function settle(entity: ObjectLiteral, property: string, value: unknown): void {
  Object.defineProperty(entity, property, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The accessor afterLoad puts on a lazy field of every loaded entity: one per field, shared by all
 * entities (no closure per row, and V8 keeps one hidden class for them). The first read decrypts
 * the row's envelope (with the row's associated data, read at that moment) and replaces the
 * accessor with a plain data property holding the value; assigning before any read replaces it
 * without decrypting. Either way the property is an ordinary one afterwards, so TypeORM's change
 * detection and the save path see plaintext as for an eagerly decrypted field (an untouched one
 * compares equal and is left out of the UPDATE).
 */
function lazyAccessor(ctx: EncryptionContext, field: ResolvedField): PropertyDescriptor {
  const property = field.spec.property;
  return {
    configurable: true,
    enumerable: true,
    get(this: ObjectLiteral): unknown {
      const envelope = LazySlot.envelope(this, property);
      if (envelope === undefined) {
        // The accessor was copied onto another object (Object.create, a prototype): no row.
        throw new BulwarkTypeOrmError(
          TypeOrmErrorCodes.NOT_DECRYPTED,
          `${field.where.entity}.${field.where.column} is a lazy field read from an object that was not loaded from the database`,
          { ...field.where },
        );
      }
      const aad = LazySlot.aad(this, property) ?? fieldAad(field, this);
      const value = openSync(ctx, field, envelope, aad);
      settle(this, property, value);
      return value;
    },
    set(this: ObjectLiteral, value: unknown): void {
      settle(this, property, value);
    },
  };
}

/**
 * An update() / qb.update().set() that sets a subject column but not the subject-keyed field would
 * leave the stored envelope under the previous subject's key, in a row now naming another subject:
 * exactly what a tampered row looks like, and refused on every later load. Refuse the write.
 */
function refuseSubjectMove(field: ResolvedField, set: ObjectLiteral): void {
  const subject = field.spec.subject;
  if (subject === undefined || set[subject] === undefined || set[field.spec.property] !== undefined) return;
  const { entity, column } = field.where;
  throw new BulwarkTypeOrmError(
    TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED,
    `${entity}.${subject} is the data subject of the encrypted ${entity}.${column}; an update that sets ${subject} without ${column} would leave ${column} under the previous subject's key. Load the entity, change ${subject} and save() it (the value is re-encrypted), or set ${column} in the same update`,
    { entity, column, subject },
  );
}

function needsSealing(value: unknown): boolean {
  return (
    value !== undefined && value !== null && typeof value !== 'function' && !(value instanceof SealedValue)
  );
}
