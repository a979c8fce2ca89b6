import type { KeyRing } from '@bulwark/core';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { EncryptedField, registerBulwarkEncryption, type BulwarkEncryption } from '../../src';
import { memoryRing, sqlite, type EncryptionDb } from './support';

/**
 * A lazy field is an accessor installed on each loaded entity. An entity class whose constructor
 * defines the field (a TypeScript class field under `useDefineForClassFields`, the default from
 * target ES2022, as this repository compiles) makes V8 turn every loaded entity into a slow
 * dictionary-mode object when the accessor replaces the data property: the app is told once per
 * entity class, without values. An entity whose constructor does not define it is not warned about.
 */

@Entity('lw_fielded')
class FieldedNote {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  title!: string;

  @EncryptedField({ lazy: true })
  secret!: string;
}

// The same shape without class fields: decorators applied by hand, as plain JavaScript would.
class PlainNote {
  declare id: number;
  declare title: string;
  declare secret: string;
}
Entity('lw_plain')(PlainNote);
PrimaryGeneratedColumn()(PlainNote.prototype, 'id');
Column({ type: 'varchar', length: 40 })(PlainNote.prototype, 'title');
EncryptedField({ lazy: true })(PlainNote.prototype, 'secret');

describe('lazy field on an entity whose constructor defines it (sqlite)', () => {
  let db: EncryptionDb;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  const warnings: { message: string; code: string }[] = [];

  beforeAll(async () => {
    db = await sqlite.create([FieldedNote, PlainNote]);
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(db.dataSource, {
      keyRing: ring,
      onWarning: (message, code) => warnings.push({ message, code }),
    });
    for (const Cls of [FieldedNote, PlainNote] as const) {
      await db.dataSource.getRepository<{ title: string; secret: string }>(Cls).save([
        { title: 'a', secret: 'first-secret-value' },
        { title: 'b', secret: 'second-secret-value' },
      ]);
    }
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  it('the premise: the decorated class defines the field, the hand-decorated one does not', () => {
    expect(Object.hasOwn(new FieldedNote(), 'secret')).toBe(true);
    expect(Object.hasOwn(new PlainNote(), 'secret')).toBe(false);
  });

  it('warns once for the class-field entity, never for the other, and still decrypts on read', async () => {
    const fielded = db.dataSource.getRepository(FieldedNote);
    const plain = db.dataSource.getRepository(PlainNote);
    for (let i = 0; i < 2; i++) {
      const [a, b] = await Promise.all([
        fielded.find({ order: { id: 'ASC' } }),
        plain.find({ order: { id: 'ASC' } }),
      ]);
      expect(a.map((n) => n.secret)).toEqual(['first-secret-value', 'second-secret-value']);
      expect(b.map((n) => n.secret)).toEqual(['first-secret-value', 'second-secret-value']);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('BULWARK_LAZY_FIELD_CLASS_FIELD');
    expect(warnings[0]!.message).toContain('FieldedNote.secret');
    expect(warnings[0]!.message).toContain('useDefineForClassFields');
    expect(warnings[0]!.message).not.toContain('secret-value');
  });

  it('a throwing warning sink does not fail a load', async () => {
    @Entity('lw_throwing')
    class ThrowingNote {
      @PrimaryGeneratedColumn()
      id!: number;

      @EncryptedField({ lazy: true })
      secret!: string;
    }
    const other = await sqlite.create([ThrowingNote]);
    const reg = await registerBulwarkEncryption(other.dataSource, {
      keyRing: ring,
      onWarning: () => {
        throw new Error('sink down');
      },
    });
    try {
      const repo = other.dataSource.getRepository(ThrowingNote);
      await repo.save({ secret: 'third-secret-value' });
      const [loaded] = await repo.find();
      expect(loaded!.secret).toBe('third-secret-value');
    } finally {
      reg.unregister();
      await other.drop();
    }
  });
});
