import { EntitySchema } from 'typeorm';

/**
 * Tables of TypeOrmKeyStore (create them with BulwarkKeyTables1735689700000). They hold only
 * wrapped key material (encrypted by the KeyProvider's master key), never a usable key.
 */

export interface KeyRecordRow {
  keyId: string;
  primaryVersion: number;
  minDecryptVersion: number;
  createdAt: string;
  rotatedAt: string;
}

export interface KeyVersionRow {
  keyId: string;
  version: number;
  algorithm: string;
  wrappedKey: string;
  createdAt: string;
}

export interface RingSecretRow {
  id: number;
  wrappedKey: string;
  createdAt: string;
}

export interface SubjectKeyRow {
  subjectRef: string;
  algorithm: string;
  wrappedKey: string | null;
  createdAt: string;
  shreddedAt: string | null;
}

const text = (name: string, nullable = false) => ({ type: 'text' as const, name, nullable });

export const KeyRecordSchema = new EntitySchema<KeyRecordRow>({
  name: 'BulwarkKey',
  tableName: 'bulwark_key',
  columns: {
    keyId: { type: 'varchar', length: 64, name: 'key_id', primary: true },
    primaryVersion: { type: 'integer', name: 'primary_version' },
    minDecryptVersion: { type: 'integer', name: 'min_decrypt_version' },
    createdAt: text('created_at'),
    rotatedAt: text('rotated_at'),
  },
});

export const KeyVersionSchema = new EntitySchema<KeyVersionRow>({
  name: 'BulwarkKeyVersion',
  tableName: 'bulwark_key_version',
  columns: {
    keyId: { type: 'varchar', length: 64, name: 'key_id', primary: true },
    version: { type: 'integer', primary: true },
    algorithm: { type: 'varchar', length: 32 },
    wrappedKey: text('wrapped_key'),
    createdAt: text('created_at'),
  },
});

export const RingSecretSchema = new EntitySchema<RingSecretRow>({
  name: 'BulwarkRingSecret',
  tableName: 'bulwark_ring_secret',
  columns: {
    id: { type: 'integer', primary: true },
    wrappedKey: text('wrapped_key'),
    createdAt: text('created_at'),
  },
});

export const SubjectKeySchema = new EntitySchema<SubjectKeyRow>({
  name: 'BulwarkSubjectKey',
  tableName: 'bulwark_subject_key',
  columns: {
    subjectRef: { type: 'varchar', length: 64, name: 'subject_ref', primary: true },
    algorithm: { type: 'varchar', length: 32 },
    wrappedKey: text('wrapped_key', true),
    createdAt: text('created_at'),
    shreddedAt: text('shredded_at', true),
  },
});

/** Add to the DataSource's `entities` together with the migration below. */
export const bulwarkKeyEntities = [KeyRecordSchema, KeyVersionSchema, RingSecretSchema, SubjectKeySchema];
