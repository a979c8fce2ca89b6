import { randomUUID } from 'node:crypto';
import { ErrorCodes, type KeyRing } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import { registerBulwarkEncryption, TypeOrmErrorCodes, type BulwarkEncryption } from '../../src';
import { allEntities, Memo, Patient } from './entities';
import { caught, memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

/** `bw2s.<subject ref>.` of a stored envelope. */
const refOf = (envelope: unknown): string => String(envelope).split('.')[1];

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;

  beforeAll(async () => {
    db = await backend.create(allEntities);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
  });
  afterAll(async () => {
    registration?.unregister();
    await db?.drop();
    await ring?.close();
  });

  const patients = () => ds.getRepository(Patient);
  const memos = () => ds.getRepository(Memo);

  async function newPatient(subject: string, diagnosis: string): Promise<Patient> {
    return patients().save(
      Object.assign(new Patient(), { id: randomUUID(), patientId: subject, diagnosis, ward: 'A' }),
    );
  }

  const storedDiagnosis = async (id: string): Promise<unknown> =>
    (await db.raw(`SELECT "diagnosis" FROM ${db.t('enc_patient')} WHERE "id" = $1`, [id]))[0].diagnosis;

  it("a row moved to another subject by plain SQL is refused on load, not served as that subject's", async () => {
    const a = await newPatient(`subj-a-${randomUUID()}`, 'diagnosis of A');
    const b = `subj-b-${randomUUID()}`;
    await db.raw(`UPDATE ${db.t('enc_patient')} SET "patientId" = $1 WHERE "id" = $2`, [b, a.id]);

    for (const load of [
      () => patients().findOneBy({ id: a.id }),
      () => patients().find({ where: { patientId: b } }),
      () => ds.createQueryBuilder(Patient, 'p').where('p.id = :id', { id: a.id }).getOne(),
    ]) {
      const error = await caught(load);
      expect(error.code).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
      expect(error.details).toMatchObject({ entity: 'Patient', column: 'diagnosis' });
      expect(`${error.message} ${JSON.stringify(error.details)}`).not.toMatch(/diagnosis of A|subj-/);
    }
    // Moved back, the row is A's again and reads normally: nothing was destroyed.
    await db.raw(`UPDATE ${db.t('enc_patient')} SET "patientId" = $1 WHERE "id" = $2`, [a.patientId, a.id]);
    expect((await patients().findOneByOrFail({ id: a.id })).diagnosis).toBe('diagnosis of A');
  });

  it('an envelope copied into a row of another subject is refused (no row binding to catch it)', async () => {
    const mine = await memos().save(
      Object.assign(new Memo(), { ownerId: 'memo-alice', text: "alice's memo" }),
    );
    const theirs = await memos().save(Object.assign(new Memo(), { ownerId: 'memo-bob', text: "bob's memo" }));
    const [{ text }] = await db.raw(`SELECT "text" FROM ${db.t('enc_memo')} WHERE "id" = $1`, [mine.id]);
    await db.raw(`UPDATE ${db.t('enc_memo')} SET "text" = $1 WHERE "id" = $2`, [text, theirs.id]);
    expect((await memos().findOneByOrFail({ id: mine.id })).text).toBe("alice's memo");
    const error = await caught(() => memos().findOneBy({ id: theirs.id }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
    expect(error.details).toMatchObject({ entity: 'Memo', column: 'text' });
  });

  it('a row whose subject column is emptied does not return its subject-keyed value', async () => {
    const memo = await memos().save(Object.assign(new Memo(), { ownerId: 'memo-carol', text: 'x' }));
    await db.raw(`UPDATE ${db.t('enc_memo')} SET "ownerId" = NULL WHERE "id" = $1`, [memo.id]);
    const error = await caught(() => memos().findOneBy({ id: memo.id }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
  });

  it('a named-key envelope in a subject-keyed column is refused (it would escape crypto-shredding)', async () => {
    const memo = await memos().save(Object.assign(new Memo(), { ownerId: 'memo-dave', text: 'x' }));
    const planted = ring.encrypt('default', 'planted', { aad: 'enc_memo.text' });
    await db.raw(`UPDATE ${db.t('enc_memo')} SET "text" = $1 WHERE "id" = $2`, [planted, memo.id]);
    const error = await caught(() => memos().findOneBy({ id: memo.id }));
    expect(error.code).toBe(ErrorCodes.CRYPTO_SUBJECT_MISMATCH);
  });

  it('reading a subject-keyed field without its subject column fails with a typed error naming the column', async () => {
    const p = await newPatient('subj-select', 'x');
    const error = await caught(() =>
      patients().find({ select: { id: true, diagnosis: true }, where: { id: p.id } }),
    );
    expect(error.code).toBe(TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED);
    expect(error.details).toMatchObject({ entity: 'Patient', column: 'diagnosis', subject: 'patientId' });
    const [withSubject] = await patients().find({
      select: { id: true, patientId: true, diagnosis: true },
      where: { id: p.id },
    });
    expect(withSubject.diagnosis).toBe('x');
  });

  it('save() moving a row to another subject re-encrypts its values under the new subject', async () => {
    const p = await newPatient('subj-from', 'moves with the patient');
    const loaded = await patients().findOneByOrFail({ id: p.id });
    loaded.patientId = 'subj-to';
    await patients().save(loaded);
    expect(refOf(await storedDiagnosis(p.id))).toBe(ring.subjectRef('subj-to'));
    expect((await patients().findOneByOrFail({ id: p.id })).diagnosis).toBe('moves with the patient');

    // A partial entity (the field not given) is re-encrypted from the stored value too.
    await patients().save({ id: p.id, patientId: 'subj-again' });
    expect(refOf(await storedDiagnosis(p.id))).toBe(ring.subjectRef('subj-again'));
    expect((await patients().findOneByOrFail({ id: p.id })).diagnosis).toBe('moves with the patient');
  });

  it('update() of the subject column without the subject-keyed field is refused; with it, it works', async () => {
    const p = await newPatient('subj-upd', 'kept');
    const before = await storedDiagnosis(p.id);
    const error = await caught(() => patients().update({ id: p.id }, { patientId: 'subj-other' }));
    expect(error.code).toBe(TypeOrmErrorCodes.WRITE_CONTEXT_REQUIRED);
    expect(error.details).toMatchObject({ entity: 'Patient', column: 'diagnosis', subject: 'patientId' });
    expect(await storedDiagnosis(p.id)).toBe(before);
    expect((await patients().findOneByOrFail({ id: p.id })).patientId).toBe('subj-upd');
    await memos().save(Object.assign(new Memo(), { ownerId: 'memo-upd', text: 'memo' }));
    const memo = await memos().findOneByOrFail({ ownerId: 'memo-upd' });
    await memos().update({ id: memo.id }, { ownerId: 'memo-upd-2', text: 'rewritten' });
    expect((await memos().findOneByOrFail({ id: memo.id })).text).toBe('rewritten');
  });
}

describe('subject-keyed @EncryptedField values are bound to the row subject on SQLite', () => suite(sqlite));
describeWithService(
  'postgres',
  'subject-keyed @EncryptedField values are bound to the row subject on PostgreSQL',
  () => suite(postgres),
);
