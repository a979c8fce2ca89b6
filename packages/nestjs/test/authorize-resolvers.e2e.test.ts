/**
 * @Authorize with the app's own services and data, over real HTTP: a `ResourceLoader` provider
 * that injects a TypeORM repository (@nestjs/typeorm, SQLite) and a request-scoped one that
 * injects the request; numeric owner ids from the database meet string principal ids; a denial
 * explains itself in the 403 body in development (never with stored values) and always in the
 * audit entry.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller, Get, Inject, Injectable, Req, Scope, type INestApplication } from '@nestjs/common';
import { ContextIdFactory, ModuleRef, REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { Column, Entity, PrimaryColumn, type Repository } from 'typeorm';
import {
  AuditLog,
  MemoryAuditStore,
  PolicyEngine,
  type AuditEntry,
  type AuthzResource,
  type PolicyWarning,
} from '@bulwark/core';
import {
  Audited,
  Authorize,
  AuthorizedResource,
  BulwarkModule,
  type BulwarkRequestContext,
  type ResourceLoader,
} from '../src';
import { tokenService } from './support/fixtures';

@Entity('nest_authz_note')
class Note {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  /** The app's users table has integer keys; principals carry string ids. */
  @Column({ type: 'integer' })
  ownerId!: number;

  @Column({ type: 'varchar', length: 200 })
  body!: string;
}

const SECRET_BODY = 'salary review for Jo Bloggs';

/** A singleton loader using the app's repository (dependency injection through @nestjs/typeorm). */
@Injectable()
class NoteLoader implements ResourceLoader {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  async load(r: BulwarkRequestContext): Promise<AuthzResource | undefined> {
    const row = await this.notes.findOneBy({ id: Number(r.params.id) });
    return row === null
      ? undefined
      : { type: 'notes', id: String(row.id), ownerId: row.ownerId, body: row.body };
  }
}

/** A request-scoped loader: gets this request injected (e.g. for a tenant header the app reads). */
@Injectable({ scope: Scope.REQUEST })
class ScopedNoteLoader implements ResourceLoader {
  constructor(
    @Inject(REQUEST) private readonly req: { headers: Record<string, string | undefined> },
    @InjectRepository(Note) private readonly notes: Repository<Note>,
  ) {}

  async load(r: BulwarkRequestContext): Promise<AuthzResource | undefined> {
    const row = await this.notes.findOneBy({ id: Number(r.params.id) });
    if (row === null) return undefined;
    return {
      type: 'notes',
      id: String(row.id),
      ownerId: row.ownerId,
      via: this.req.headers['x-probe'] ?? 'none',
    };
  }
}

/** A per-request unit of work: one instance per request, whoever asks for it. */
let unitsOfWork = 0;
@Injectable({ scope: Scope.REQUEST })
class UnitOfWork {
  readonly n = ++unitsOfWork;
}

/** A request-scoped loader that shares the request's unit of work. */
@Injectable({ scope: Scope.REQUEST })
class WorkLoader implements ResourceLoader {
  constructor(private readonly work: UnitOfWork) {}

  async load(r: BulwarkRequestContext): Promise<AuthzResource | undefined> {
    return { type: 'notes', id: String(r.params.id), ownerId: Number(r.params.id), work: this.work.n };
  }
}

@Controller('notes')
class NotesController {
  constructor(private readonly moduleRef: ModuleRef) {}

  /** A singleton controller resolving the request's unit of work itself (as an interceptor would). */
  @Get(':id/work')
  @Authorize('read', { loader: WorkLoader })
  async work(@AuthorizedResource() note: AuthzResource, @Req() req: object): Promise<unknown> {
    const again = await this.moduleRef.resolve(UnitOfWork, ContextIdFactory.getByRequest(req), {
      strict: false,
    });
    return { loader: note.work, handler: again.n };
  }

  @Get(':id')
  @Audited('notes.read')
  @Authorize('read', { loader: NoteLoader })
  read(@AuthorizedResource() note: AuthzResource): unknown {
    return { id: note.id, body: note.body };
  }

  @Get(':id/scoped')
  @Audited('notes.read')
  @Authorize('read', { loader: ScopedNoteLoader })
  scoped(@AuthorizedResource() note: AuthzResource): unknown {
    return { id: note.id, via: note.via };
  }
}

const POLICY = {
  version: 1 as const,
  roles: { user: {} },
  policies: [
    {
      id: 'notes',
      rules: [
        {
          id: 'own-notes',
          effect: 'allow' as const,
          roles: ['user'],
          actions: 'read',
          resources: 'notes/*',
          when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
          reasonId: 'owner',
        },
      ],
    },
  ],
};

async function appWith(options: { explainDenials?: boolean }, dir: string) {
  const warnings: PolicyWarning[] = [];
  const engine = new PolicyEngine({ policy: POLICY, onWarning: (w) => warnings.push(w) });
  const auditLog = await AuditLog.open({ store: new MemoryAuditStore() });
  const tokens = tokenService();
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: path.join(
          dir,
          `notes-${String(options.explainDenials)}-${Math.random().toString(36).slice(2)}.sqlite`,
        ),
        entities: [Note],
        synchronize: true,
        logging: false,
      }),
      TypeOrmModule.forFeature([Note]),
      BulwarkModule.forRoot({ tokens, authorizer: engine, auditLog, ...options }),
    ],
    controllers: [NotesController],
    providers: [NoteLoader, ScopedNoteLoader, UnitOfWork, WorkLoader],
  }).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger: false });
  await app.init();
  const repo = app.get<Repository<Note>>('NoteRepository');
  await repo.save([
    { id: 1, ownerId: 1, body: SECRET_BODY },
    { id: 2, ownerId: 2, body: 'second' },
  ]);
  const as = async (sub: string) => `Bearer ${await tokens.sign({ roles: ['user'] }, { subject: sub })}`;
  const entries = async (): Promise<AuditEntry[]> => {
    await auditLog.flush();
    return (await auditLog.query({ limit: 100 })).entries;
  };
  return { app, as, entries, warnings, close: async () => (await app.close(), await auditLog.close()) };
}

describe('@Authorize with DI loaders and explained denials (NestJS, SQLite)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-nest-authz-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lets the owner read through a loader that injects a repository: numeric owner id, string user id', async () => {
    const t = await appWith({}, dir);
    try {
      const own = await request(t.app.getHttpServer())
        .get('/notes/1')
        .set('Authorization', await t.as('1'));
      expect(own.status).toBe(200);
      expect(own.body).toEqual({ id: '1', body: SECRET_BODY });
      // The id rule was used: reported once, as a warning naming types only.
      expect(t.warnings).toEqual([
        expect.objectContaining({
          ruleId: 'own-notes',
          actualType: 'number',
          expectedType: 'string',
          coerced: true,
        }),
      ]);
      expect(
        (
          await request(t.app.getHttpServer())
            .get('/notes/9')
            .set('Authorization', await t.as('1'))
        ).status,
      ).toBe(404);
    } finally {
      await t.close();
    }
  });

  it('resolves a request-scoped loader in the request’s own DI sub-tree', async () => {
    const t = await appWith({}, dir);
    try {
      const server = t.app.getHttpServer();
      const a = await request(server)
        .get('/notes/1/scoped')
        .set('Authorization', await t.as('1'))
        .set('X-Probe', 'first');
      const b = await request(server)
        .get('/notes/1/scoped')
        .set('Authorization', await t.as('1'))
        .set('X-Probe', 'second');
      expect([a.status, a.body.via, b.status, b.body.via]).toEqual([200, 'first', 200, 'second']);
      expect(
        (
          await request(server)
            .get('/notes/2/scoped')
            .set('Authorization', await t.as('1'))
        ).status,
      ).toBe(403);
    } finally {
      await t.close();
    }
  });

  it('a request-scoped loader and the singleton controller share the request’s DI sub-tree (one unit of work per request)', async () => {
    const t = await appWith({}, dir);
    try {
      const server = t.app.getHttpServer();
      const a = await request(server)
        .get('/notes/1/work')
        .set('Authorization', await t.as('1'));
      const b = await request(server)
        .get('/notes/1/work')
        .set('Authorization', await t.as('1'));
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.body.loader).toBe(a.body.handler);
      expect(b.body.loader).toBe(b.body.handler);
      expect(b.body.loader).not.toBe(a.body.loader);
    } finally {
      await t.close();
    }
  });

  it('with explainDenials: true (development), explains a 403 (nearest rule, failed condition, types) without stored values', async () => {
    const t = await appWith({ explainDenials: true }, dir);
    try {
      const denied = await request(t.app.getHttpServer())
        .get('/notes/1')
        .set('Authorization', await t.as('2'));
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({
        code: 'ERR_POLICY_DENIED',
        reasonId: 'default_deny',
        explanation: {
          reasonId: 'default_deny',
          nearest: {
            policyId: 'notes',
            ruleId: 'own-notes',
            failed: 'condition',
            condition: {
              summary: 'resource.ownerId eq subject.id',
              why: 'false',
              actualType: 'number',
              expectedType: 'string',
            },
          },
        },
      });
      expect(denied.text).not.toContain(SECRET_BODY);
      const [entry] = (await t.entries()).filter((e) => e.outcome === 'denied');
      expect(entry).toMatchObject({
        action: 'notes.read',
        details: { reasonId: 'default_deny', denial: { nearest: { ruleId: 'own-notes' } } },
      });
    } finally {
      await t.close();
    }
  });

  it('by default (not NODE_ENV=development), the body has only the reason id; the audit entry still explains', async () => {
    const t = await appWith({}, dir);
    try {
      const denied = await request(t.app.getHttpServer())
        .get('/notes/1')
        .set('Authorization', await t.as('2'));
      expect(denied.status).toBe(403);
      expect(denied.body.reasonId).toBe('default_deny');
      expect(denied.body).not.toHaveProperty('explanation');
      expect(denied.text).not.toMatch(/own-notes|ownerId|notes\//);
      const [entry] = (await t.entries()).filter((e) => e.outcome === 'denied');
      expect(entry.details).toMatchObject({
        reasonId: 'default_deny',
        denial: { reasonId: 'default_deny', nearest: { ruleId: 'own-notes', failed: 'condition' } },
      });
      expect(JSON.stringify(entry.details)).not.toContain(SECRET_BODY);
    } finally {
      await t.close();
    }
  });

  it('refuses a non-boolean explainDenials at start-up', async () => {
    await expect(
      Test.createTestingModule({
        imports: [BulwarkModule.forRoot({ tokens: tokenService(), explainDenials: 'yes' as never })],
      }).compile(),
    ).rejects.toThrow(/explainDenials/);
  });
});
