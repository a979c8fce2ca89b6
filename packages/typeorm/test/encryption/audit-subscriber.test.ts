import { randomUUID } from 'node:crypto';
import { AuditLog, MemoryAuditStore, type AuditEntry, type KeyRing } from '@bulwark/core';
import type { DataSource } from 'typeorm';
import { describeWithService } from '../../../../test/support/services';
import { registerBulwarkAudit, registerBulwarkEncryption, type BulwarkEncryption } from '../../src';
import { Clinic, Patient, User, allEntities } from './entities';
import { memoryRing, postgres, sqlite, type Backend, type EncryptionDb } from './support';

function suite(backend: Backend) {
  let db: EncryptionDb;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let log: AuditLog;
  let unregisterAudit: () => void;

  beforeAll(async () => {
    db = await backend.create(allEntities);
    ds = db.dataSource;
    ring = await memoryRing();
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    log = await AuditLog.open({ store: new MemoryAuditStore() });
    unregisterAudit = registerBulwarkAudit(ds, {
      auditLog: log,
      actor: { id: 'default-actor', type: 'service' },
    }).unregister;
  });
  afterAll(async () => {
    unregisterAudit?.();
    registration?.unregister();
    await log?.close();
    await db?.drop();
    await ring?.close();
  });

  const entries = async (): Promise<AuditEntry[]> => (await log.query({ limit: 1000 })).entries;
  const last = async () => (await entries()).at(-1) as AuditEntry;

  it('records inserts, updates and removes with a redacted diff', async () => {
    const repo = ds.getRepository(User);
    const user = await repo.save(
      Object.assign(new User(), {
        name: 'Audited Ann',
        email: 'ann@audit.test',
        nationalId: 'NI-9',
        age: 30,
      }),
      { data: { actor: { id: 'u-42', type: 'user' } } },
    );
    let entry = await last();
    expect(entry.action).toBe('User.create');
    expect(entry.actor).toMatchObject({ id: 'u-42', type: 'user' });
    expect(entry.resource).toEqual({ type: 'User', id: String(user.id) });
    const created = entry.details?.changes as Record<string, Record<string, unknown>>;
    expect(created.name).toEqual({ changed: true, after: 'Audited Ann' });
    expect(created.email).toEqual({ changed: true, after: '[ENCRYPTED]' });
    expect(created.emailIndex).toEqual({ changed: true, after: '[BLIND_INDEX]' });
    expect(created.age).toEqual({ changed: true, after: '[ENCRYPTED]' });
    const text = JSON.stringify(await entries());
    for (const secret of ['ann@audit.test', 'NI-9', '"30"', 'bw2']) expect(text).not.toContain(secret);

    // update: only changed fields, encrypted ones say whether they changed
    const loaded = await repo.findOneByOrFail({ id: user.id });
    loaded.name = 'Ann B';
    loaded.email = 'annb@audit.test';
    await repo.save(loaded);
    entry = await last();
    expect(entry.action).toBe('User.update');
    expect(entry.actor).toMatchObject({ id: 'default-actor' });
    const updated = entry.details?.changes as Record<string, Record<string, unknown>>;
    expect(updated.name).toEqual({ changed: true, before: 'Audited Ann', after: 'Ann B' });
    expect(updated.email).toEqual({ changed: true, before: '[ENCRYPTED]', after: '[ENCRYPTED]' });
    expect(updated.nationalId).toBeUndefined(); // unchanged
    expect(updated.age).toBeUndefined();
    expect(JSON.stringify(entry)).not.toContain('annb@audit.test');

    // repository.update (no loaded row): after values only, flagged partial
    await repo.update({ id: user.id }, { nationalId: 'NI-10' });
    entry = await last();
    expect(entry.action).toBe('User.update');
    expect(entry.details).toMatchObject({
      partial: true,
      changes: { nationalId: { changed: true, after: '[ENCRYPTED]' } },
    });
    expect(JSON.stringify(entry)).not.toContain('NI-10');

    // a save that changes nothing records nothing
    const count = (await entries()).length;
    await repo.save(await repo.findOneByOrFail({ id: user.id }));
    expect((await entries()).length).toBe(count);

    await repo.remove(await repo.findOneByOrFail({ id: user.id }));
    entry = await last();
    expect(entry.action).toBe('User.delete');
    expect(entry.resource).toEqual({ type: 'User', id: String(user.id) });
    const removed = entry.details?.changes as Record<string, Record<string, unknown>>;
    expect(removed.email).toEqual({ changed: true, before: '[ENCRYPTED]' });
    expect(removed.name).toEqual({ changed: true, before: 'Ann B' });
  });

  it('classified fields are redacted by category; non-audited entities are not recorded', async () => {
    const before = (await entries()).length;
    await ds.getRepository(Clinic).save(Object.assign(new Clinic(), { address: 'not audited' }));
    expect((await entries()).length).toBe(before);
    const patient = Object.assign(new Patient(), {
      id: randomUUID(),
      patientId: 'pa-1',
      diagnosis: 'asthma',
      ward: 'W1',
    });
    await ds.getRepository(Patient).save(patient);
    const entry = await last();
    expect(entry.action).toBe('patient.create');
    const changes = entry.details?.changes as Record<string, Record<string, unknown>>;
    expect(changes.diagnosis).toEqual({ changed: true, after: '[ENCRYPTED]' });
    expect(changes.ward).toEqual({ changed: true, after: 'W1' });
    expect(JSON.stringify(entry)).not.toContain('asthma');
  });

  it('a failing audit append rolls the entity change back (no unaudited change commits)', async () => {
    const failing = registerBulwarkAudit(ds, {
      auditLog: {
        append: async () => {
          throw new Error('audit store down');
        },
      },
    });
    try {
      const user = Object.assign(new User(), { name: 'Never', email: 'never@audit.test' });
      await expect(ds.getRepository(User).save(user)).rejects.toThrow('audit store down');
      const rows = await db.raw(`SELECT * FROM ${db.t('enc_user')} WHERE "name" = $1`, ['Never']);
      expect(rows).toEqual([]);
      expect(user.email).toBe('never@audit.test'); // plaintext restored after the rollback
    } finally {
      failing.unregister();
    }
  });
}

describe('audit subscriber on SQLite', () => suite(sqlite));
describeWithService('postgres', 'audit subscriber on PostgreSQL', () => suite(postgres));
