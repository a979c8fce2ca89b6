import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Body, Controller, Get, Param, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { EnvKeyProvider, generateMasterKey, KeyRing, MemoryKeyStore } from '@bulwark/core';
import { EncryptedField } from '@bulwark/typeorm';
import { BULWARK_TYPEORM_ENCRYPTION, BulwarkModule, Public, type BulwarkTypeOrmEncryption } from '../src';
import { tokenService } from './support/fixtures';

@Entity('nest_patient')
class Patient {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @EncryptedField()
  diagnosis!: string;
}

@Controller('patients')
@Public()
class PatientsController {
  constructor(@InjectRepository(Patient) private readonly patients: Repository<Patient>) {}

  @Post()
  async create(@Body() body: { name: string; diagnosis: string }): Promise<{ id: number }> {
    const saved = await this.patients.save(this.patients.create(body));
    return { id: saved.id };
  }

  @Get(':id')
  async read(@Param('id') id: string): Promise<Patient | null> {
    return this.patients.findOneBy({ id: Number(id) });
  }
}

describe('TypeORM integration (SQLite through @nestjs/typeorm)', () => {
  let dir: string;
  let app: INestApplication;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-nest-typeorm-'));
    const keyRing = await KeyRing.open({
      provider: new EnvKeyProvider({ env: { BULWARK_MASTER_KEY: generateMasterKey() } }),
      store: new MemoryKeyStore(),
    });
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: path.join(dir, 'app.sqlite'),
          entities: [Patient],
          synchronize: true,
          logging: false,
        }),
        TypeOrmModule.forFeature([Patient]),
        BulwarkModule.forRootAsync({
          typeorm: true,
          useFactory: () => ({ tokens: tokenService(), typeorm: { keyRing } }),
        }),
      ],
      controllers: [PatientsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers the encryption subscriber: rows hold ciphertext, the API sees plaintext', async () => {
    const encryption = app.get<BulwarkTypeOrmEncryption>(BULWARK_TYPEORM_ENCRYPTION);
    const dataSource = app.get(DataSource);
    expect(dataSource.subscribers).toContain(encryption.subscriber);

    const created = await request(app.getHttpServer())
      .post('/patients')
      .send({ name: 'Ada', diagnosis: 'hypertension' })
      .expect(201);
    const [row] = (await dataSource.query('SELECT diagnosis FROM nest_patient WHERE id = ?', [
      created.body.id,
    ])) as {
      diagnosis: string;
    }[];
    expect(row.diagnosis).not.toContain('hypertension');
    expect(row.diagnosis).toMatch(/^bw2\./);

    const read = await request(app.getHttpServer()).get(`/patients/${created.body.id}`).expect(200);
    expect(read.body).toMatchObject({ name: 'Ada', diagnosis: 'hypertension' });
  });

  it('refuses forRootAsync({ typeorm: true }) when the factory gives no key ring', async () => {
    const moduleRef = Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: path.join(dir, 'other.sqlite'),
          entities: [Patient],
          synchronize: true,
          name: 'other',
        }),
        BulwarkModule.forRootAsync({
          typeorm: { dataSourceName: 'other' },
          useFactory: () => ({ tokens: tokenService() }),
        }),
      ],
    });
    await expect(moduleRef.compile()).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      details: { path: 'typeorm.keyRing' },
    });
  });
});
