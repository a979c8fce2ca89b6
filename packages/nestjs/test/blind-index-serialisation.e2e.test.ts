import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ClassSerializerInterceptor,
  Controller,
  Get,
  Module,
  Param,
  UseInterceptors,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { EnvKeyProvider, generateMasterKey, KeyRing, MemoryKeyStore } from '@bulwark/core';
import {
  BlindIndex,
  EncryptedField,
  registerBulwarkEncryption,
  type BulwarkEncryption,
} from '@bulwark/typeorm';

@Entity('ser_user')
class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 40 })
  name!: string;

  @EncryptedField()
  email!: string;

  @BlindIndex({ source: 'email', normalise: ['trim', 'lowercase'] })
  emailIndex!: string | null;

  @EncryptedField({ nullable: true })
  bio!: string | null;
}

/**
 * Issue 20 item 6: a blind index is an HMAC of personal data, and nothing a client needs; entities
 * returned by NestJS handlers must not carry it, with Nest's ClassSerializerInterceptor
 * (class-transformer) and without it (JSON.stringify), over real HTTP.
 */
describe('blind-index columns in NestJS responses', () => {
  let app: INestApplication;
  let ds: DataSource;
  let ring: KeyRing;
  let registration: BulwarkEncryption;
  let dir: string;
  let stored: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-ser-'));
    ds = await new DataSource({
      type: 'better-sqlite3',
      database: path.join(dir, 'app.sqlite'),
      entities: [User],
      synchronize: true,
    }).initialize();
    ring = await KeyRing.open({
      provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
      store: new MemoryKeyStore(),
    });
    registration = await registerBulwarkEncryption(ds, { keyRing: ring });
    const repo = ds.getRepository(User);
    await repo.save([
      repo.create({ name: 'ann', email: 'Ann@Example.test', bio: '' }),
      repo.create({ name: 'bob', email: 'bob@example.test', bio: null }),
    ]);
    stored = String((await ds.query('SELECT "emailIndex" FROM "ser_user" WHERE "id" = 1'))[0].emailIndex);

    @Controller('users')
    class UsersController {
      @Get()
      list(): Promise<User[]> {
        return ds.getRepository(User).find({ order: { id: 'ASC' } });
      }

      @Get(':id')
      one(@Param('id') id: string): Promise<User | null> {
        return ds.getRepository(User).findOneBy({ id: Number(id) });
      }
    }

    @Controller('serialized')
    @UseInterceptors(ClassSerializerInterceptor)
    class SerializedController {
      @Get()
      list(): Promise<User[]> {
        return ds.getRepository(User).find({ order: { id: 'ASC' } });
      }
    }

    @Module({ controllers: [UsersController, SerializedController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    registration?.unregister();
    await ds?.destroy();
    await ring?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plain handlers (JSON.stringify) answer without the index, with the decrypted fields', async () => {
    expect(stored).toMatch(/^[0-9a-f]{8}$/);
    const list = await request(app.getHttpServer()).get('/users').expect(200);
    expect(list.body).toEqual([
      { id: 1, name: 'ann', email: 'Ann@Example.test', bio: '' },
      { id: 2, name: 'bob', email: 'bob@example.test', bio: null },
    ]);
    expect(list.text).not.toContain(stored);
    const one = await request(app.getHttpServer()).get('/users/1').expect(200);
    expect(one.body).toEqual({ id: 1, name: 'ann', email: 'Ann@Example.test', bio: '' });
  });

  it('ClassSerializerInterceptor (class-transformer) answers without the index', async () => {
    const res = await request(app.getHttpServer()).get('/serialized').expect(200);
    expect(res.body).toEqual([
      { id: 1, name: 'ann', email: 'Ann@Example.test', bio: '' },
      { id: 2, name: 'bob', email: 'bob@example.test', bio: null },
    ]);
    expect(res.text).not.toContain(stored);
  });
});
