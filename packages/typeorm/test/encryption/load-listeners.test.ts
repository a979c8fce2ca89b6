import 'reflect-metadata';
import type { KeyRing } from '@bulwark/core';
import {
  Column,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type DataSource,
  type EntityMetadata,
  type ObjectLiteral,
  type Relation,
} from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import { EncryptedField, registerBulwarkEncryption, type BulwarkEncryption } from '../../src';
import { BulwarkEncryptionSubscriber, BulwarkLoadListener } from '../../src/encryption-subscriber';
import { memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

/** No encrypted field. */
@Entity('ll_author')
class LlAuthor {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  name!: string;
}

/** Only lazy, unbound fields: hydration installs their accessors, afterLoad has nothing to do. */
@Entity('ll_card')
class LlCard {
  @PrimaryGeneratedColumn()
  id!: number;

  @EncryptedField({ lazy: true })
  email!: string;

  @EncryptedField({ lazy: true, nullable: true })
  note!: string | null;

  @ManyToOne(() => LlAuthor, { nullable: true, eager: false })
  @JoinColumn()
  author!: Relation<LlAuthor> | null;
}

/** An eager row-bound field: decrypted in afterLoad (the row key is in the associated data). */
@Entity('ll_doc')
class LlDoc {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  title!: string;

  @EncryptedField({ bindToRow: true })
  secret!: string;
}

/** A subclass entity (its own table): TypeORM hands its rows to LlDoc's listeners too. */
@Entity('ll_doc_draft')
class LlDocDraft extends LlDoc {
  @Column({ type: 'varchar', length: 40, nullable: true })
  draftNote!: string | null;
}

const entities = [LlAuthor, LlCard, LlDoc, LlDocDraft];

/** Own property keys and descriptors (value or accessor functions), to see that nothing changed. */
function shape(entity: object): Array<[PropertyKey, unknown, unknown, boolean | undefined]> {
  return Reflect.ownKeys(entity).map((key) => {
    const d = Object.getOwnPropertyDescriptor(entity, key)!;
    return [key, 'value' in d ? d.value : d.get, d.set, d.enumerable];
  });
}

/**
 * TypeORM calls a subscriber's afterLoad for every row of every entity it listens to. Bulwark's
 * load work (finishing row-bound and subject-keyed fields, recording a lazy row-bound field's
 * associated data) is registered per entity that needs it, so rows of plain entities and of
 * entities with only lazy fields (set up during hydration) skip that call: these tests hold that
 * every row that needs it still gets it, exactly once, and that the others had nothing to get.
 */
function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;

  beforeAll(async () => {
    // (The entities are compiled with class fields: built without their constructor, lazy fields stay fast.)
    db = await backend.create(entities, { entitySkipConstructor: true });
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    const [ann, bob] = await ds
      .getRepository(LlAuthor)
      .save([Object.assign(new LlAuthor(), { name: 'ann' }), Object.assign(new LlAuthor(), { name: 'bob' })]);
    await ds
      .getRepository(LlCard)
      .save([
        Object.assign(new LlCard(), { email: 'ann@example.com', note: 'first', author: ann }),
        Object.assign(new LlCard(), { email: 'bob@example.com', note: null, author: bob }),
      ]);
    await ds
      .getRepository(LlDoc)
      .save([
        Object.assign(new LlDoc(), { title: 'a', secret: 'secret a' }),
        Object.assign(new LlDoc(), { title: 'b', secret: 'secret b' }),
      ]);
    await ds
      .getRepository(LlDocDraft)
      .save([
        Object.assign(new LlDocDraft(), { title: 'c', secret: 'secret c', draftNote: 'n' }),
        Object.assign(new LlDocDraft(), { title: 'd', secret: 'secret d', draftNote: null }),
      ]);
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  /** Bulwark's afterLoad calls during `fn` (a spy: every call still runs). */
  async function loads<T>(fn: () => Promise<T>): Promise<[T, ObjectLiteral[]]> {
    const spy = jest.spyOn(BulwarkEncryptionSubscriber.prototype, 'afterEntityLoad');
    try {
      const result = await fn();
      return [result, spy.mock.calls.map(([entity]) => entity)];
    } finally {
      spy.mockRestore();
    }
  }

  const metadataOf = (target: object): EntityMetadata => ds.getMetadata(target as typeof LlCard);

  it('rows that need afterLoad get it once each; rows of plain and lazy-only entities skip it', async () => {
    const [authors, authorLoads] = await loads(() => ds.getRepository(LlAuthor).find());
    expect(authors).toHaveLength(2);
    expect(authorLoads).toHaveLength(0);

    const [cards, cardLoads] = await loads(() =>
      ds.getRepository(LlCard).find({ relations: { author: true }, order: { id: 'ASC' } }),
    );
    expect(cardLoads).toHaveLength(0);
    expect(JSON.parse(JSON.stringify(cards))).toEqual([
      expect.objectContaining({
        email: 'ann@example.com',
        note: 'first',
        author: expect.objectContaining({ name: 'ann' }),
      }),
      expect.objectContaining({
        email: 'bob@example.com',
        note: null,
        author: expect.objectContaining({ name: 'bob' }),
      }),
    ]);

    const [docs, docLoads] = await loads(() => ds.getRepository(LlDoc).find({ order: { title: 'ASC' } }));
    expect(docs.map((d) => d.secret)).toEqual(['secret a', 'secret b']);
    expect(docLoads).toHaveLength(2);
    expect(new Set(docLoads)).toEqual(new Set(docs));

    // Rows of the subclass entity match LlDoc's listener as well as their own: still one call each.
    const [drafts, draftLoads] = await loads(() =>
      ds.getRepository(LlDocDraft).find({ order: { title: 'ASC' } }),
    );
    expect(drafts.map((d) => [d.secret, d.draftNote])).toEqual([
      ['secret c', 'n'],
      ['secret d', null],
    ]);
    expect(draftLoads).toHaveLength(2);
    expect(new Set(draftLoads)).toEqual(new Set(drafts));

    // The QueryBuilder, and a lazy-only entity joined to rows that need afterLoad.
    const [qbDocs, qbLoads] = await loads(() =>
      ds.getRepository(LlDoc).createQueryBuilder('d').where('d.title = :t', { t: 'b' }).getMany(),
    );
    expect(qbDocs.map((d) => d.secret)).toEqual(['secret b']);
    expect(qbLoads).toHaveLength(1);
  });

  it('afterLoad would change nothing on the rows that skip it (same own properties, no promise)', async () => {
    const cards = await ds.getRepository(LlCard).find({ relations: { author: true }, order: { id: 'ASC' } });
    const authors = await ds.getRepository(LlAuthor).find();
    const rows: Array<[ObjectLiteral, EntityMetadata]> = [
      ...cards.map((c): [ObjectLiteral, EntityMetadata] => [c, metadataOf(LlCard)]),
      ...cards.map((c): [ObjectLiteral, EntityMetadata] => [c.author!, metadataOf(LlAuthor)]),
      ...authors.map((a): [ObjectLiteral, EntityMetadata] => [a, metadataOf(LlAuthor)]),
    ];
    for (const [row, metadata] of rows) {
      const before = shape(row);
      const result = registration.subscriber.afterEntityLoad(row, {
        metadata,
        entity: row,
      } as never);
      expect(result).toBeUndefined();
      expect(shape(row)).toEqual(before);
    }
    // Still undecrypted getters, decrypting on access.
    expect(typeof Object.getOwnPropertyDescriptor(cards[0], 'email')?.get).toBe('function');
    expect(cards.map((c) => c.email)).toEqual(['ann@example.com', 'bob@example.com']);
  });

  it('registering again replaces the listeners, and unregistering removes them', async () => {
    const listeners = () => ds.subscribers.filter((s) => s instanceof BulwarkLoadListener);
    expect(
      listeners()
        .map((l) => (l.listenTo() as { name: string }).name)
        .sort(),
    ).toEqual(['LlDoc', 'LlDocDraft']);
    const again = await registerBulwarkEncryption(ds, { keyRing: ring });
    try {
      expect(listeners()).toHaveLength(2);
      expect(ds.subscribers.filter((s) => s instanceof BulwarkEncryptionSubscriber)).toEqual([
        again.subscriber,
      ]);
      const [docs, docLoads] = await loads(() => ds.getRepository(LlDoc).find({ order: { title: 'ASC' } }));
      expect(docs.map((d) => d.secret)).toEqual(['secret a', 'secret b']);
      expect(docLoads).toHaveLength(2);
    } finally {
      again.unregister();
    }
    expect(listeners()).toHaveLength(0);
    expect(ds.subscribers.some((s) => s instanceof BulwarkEncryptionSubscriber)).toBe(false);
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    expect(listeners()).toHaveLength(2);
  });
}

describe('per-entity load listeners on SQLite', () => suite(sqlite));
describeWithService('postgres', 'per-entity load listeners on PostgreSQL', () => suite(postgres));
