import 'reflect-metadata';
import { envelopeKind, type KeyRing } from '@bulwark/core';
import { Column, Entity, PrimaryColumn, type DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import {
  BlindIndex,
  encryptExistingRows,
  EncryptedField,
  migrateBlindIndexes,
  registerBulwarkEncryption,
  rewrapEntities,
} from '../../src';
import { mariadb, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

// Primary keys the driver hands back less precisely than the database keeps them: a timestamp with
// microseconds (PostgreSQL's now(), a DATETIME(6)) comes back as a JS Date (milliseconds) from pg
// and mysql2. The jobs page and write by key, so a rounded key re-reads a page's last row (forever
// with a batch of one) and matches no row in the compare-and-set UPDATE, leaving it in plaintext.

/** Each backend's column type for a timestamp with microseconds. */
const MICROSECOND_TIMESTAMP: Record<EncryptionDb['kind'], 'timestamp' | 'datetime'> = {
  postgres: 'timestamp',
  mariadb: 'datetime',
  sqlite: 'datetime',
};

function entitiesFor(kind: EncryptionDb['kind']) {
  @Entity('ek_reading')
  class Reading {
    @PrimaryColumn({ type: MICROSECOND_TIMESTAMP[kind], precision: kind === 'sqlite' ? undefined : 6 })
    takenAt!: Date;

    @EncryptedField({ nullable: true })
    note!: string | null;

    @BlindIndex({ source: 'note', followKeyRotation: true })
    noteIndex!: string | null;
  }

  // A composite key whose first part is the rounded one.
  @Entity('ek_sample')
  class Sample {
    @PrimaryColumn({ type: MICROSECOND_TIMESTAMP[kind], precision: kind === 'sqlite' ? undefined : 6 })
    takenAt!: Date;

    @PrimaryColumn({ type: 'integer' })
    probe!: number;

    @EncryptedField({ nullable: true })
    note!: string | null;

    @Column({ type: 'integer', nullable: true })
    weight!: number | null;
  }
  return { Reading, Sample };
}

// Distinct milliseconds (TypeORM itself tells entities apart by the rounded key), each with microseconds.
const MICROS = ['001101', '002102', '003103', '004104', '005105'];

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let entities: ReturnType<typeof entitiesFor>;

  beforeAll(async () => {
    const kind = ({ SQLite: 'sqlite', PostgreSQL: 'postgres', MariaDB: 'mariadb' } as const)[backend.name];
    entities = entitiesFor(kind);
    db = await backend.create([entities.Reading, entities.Sample]);
    ds = db.dataSource;
    ring = await memoryRing();
  });
  afterAll(async () => {
    await db?.drop();
    await ring?.close();
  });

  it('a timestamp key with microseconds: every row encrypted, none read twice, verified', async () => {
    const readings = db.t('ek_reading');
    for (const [i, us] of MICROS.entries()) {
      await db.raw(`INSERT INTO ${readings} ("takenAt", "note") VALUES ($1, $2)`, [
        `2024-03-01 10:00:00.${us}`,
        `reading ${i}`,
      ]);
    }
    const samples = db.t('ek_sample');
    for (const [i, us] of MICROS.entries()) {
      for (const probe of [1, 2]) {
        await db.raw(`INSERT INTO ${samples} ("takenAt", "probe", "note") VALUES ($1, $2, $3)`, [
          `2024-03-01 10:00:00.${us}`,
          probe,
          `sample ${i}/${probe}`,
        ]);
      }
    }
    const registration = await registerBulwarkEncryption(ds, {
      keyRing: ring,
      plaintextReads: 'accept',
      onWarning: () => undefined, // the transitional mode's warning, expected here
    });
    try {
      const report = await encryptExistingRows(ds, { batchSize: 1 });
      expect(report.ok).toBe(true);
      expect(report.complete).toBe(true);
      const encrypted = (name: string) => report.columns.find((c) => c.entity === name)?.encrypted;
      expect(encrypted('Reading')).toBe(MICROS.length);
      expect(encrypted('Sample')).toBe(MICROS.length * 2);
      for (const table of [readings, samples]) {
        const stored = await db.raw(`SELECT "note" FROM ${table}`);
        expect(stored.length).toBeGreaterThan(0);
        for (const row of stored) expect(envelopeKind(row.note)).toBeDefined();
      }
      // A second run finds nothing left to do.
      const again = await encryptExistingRows(ds, { batchSize: 2 });
      expect(again.ok).toBe(true);
      expect(again.columns.reduce((n, c) => n + c.encrypted, 0)).toBe(0);
      // The envelopes are bound to the row as the ORM reads it.
      const notes = async () =>
        [
          ...(await ds.getRepository(entities.Reading).find()).map((r) => r.note),
          ...(await ds.getRepository(entities.Sample).find()).map((r) => r.note),
        ].sort();
      const expected = [
        ...MICROS.map((_, i) => `reading ${i}`),
        ...MICROS.flatMap((_, i) => [`sample ${i}/1`, `sample ${i}/2`]),
      ].sort();
      expect(await notes()).toEqual(expected);

      // Rewrapping after a key rotation pages and writes by the same keys.
      await ring.rotate('default');
      const rewrapped = await rewrapEntities(ds, ring, { batchSize: 2 });
      expect(rewrapped.failed).toEqual([]);
      expect(rewrapped.rewrapped).toBe(MICROS.length * 3);
      expect(await notes()).toEqual(expected);
      // ... and so does moving the blind indexes to the new key version.
      const indexes = await migrateBlindIndexes(ds, ring, { batchSize: 1, entities: [entities.Reading] });
      expect(indexes).toMatchObject({ complete: true, processed: MICROS.length, migrated: MICROS.length });
      expect(indexes.failed).toEqual([]);
      expect((await migrateBlindIndexes(ds, ring, { entities: [entities.Reading] })).migrated).toBe(0);
    } finally {
      registration.unregister();
    }
  });
}

describe('encryptExistingRows keys on SQLite', () => suite(sqlite));
describeWithService('postgres', 'encryptExistingRows keys on PostgreSQL', () => suite(postgres));
describeWithService('mariadb', 'encryptExistingRows keys on MariaDB', () => suite(mariadb));
