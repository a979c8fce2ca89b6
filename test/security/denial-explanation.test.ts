/**
 * Denials explain themselves over real HTTP, on Express and Koa: in development (NODE_ENV=development,
 * or `explainDenials: true`) the 403 body carries `explanation` (the nearest allow rule and the
 * condition that failed, with type names but no stored value); otherwise (production, test, an
 * unset NODE_ENV, or `explainDenials: false`) only the reason id goes out, while the audit entry
 * keeps the explanation in every mode. The resource
 * loaders are async functions of the request, and the stored owner id is a number while principal
 * ids are strings.
 */
import type { Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import {
  AuditLog,
  createBulwark,
  MemoryAuditStore,
  MemoryBreakGlassStore,
  PolicyEngine,
  TokenService,
  type AuditEntry,
  type AuthzResource,
  type PolicyDocument,
} from '@bulwark/core';
import { authorizeRequest, problemFor, type HttpPrincipal } from '@bulwark/core/http';
import * as bwExpress from '@bulwark/express';
import * as bwKoa from '@bulwark/koa';

const quiet = { log: () => undefined };
const STORED_BODY = 'quarterly numbers, draft';

const POLICY: PolicyDocument = {
  version: 1,
  roles: { user: {}, admin: {} },
  policies: [
    {
      id: 'notes',
      rules: [
        {
          id: 'own-notes',
          effect: 'allow',
          roles: ['user'],
          actions: 'read',
          resources: 'notes/*',
          when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
          reasonId: 'owner',
        },
        {
          id: 'archived',
          effect: 'deny',
          roles: ['*'],
          actions: '*',
          resources: 'notes/*',
          when: { attr: 'resource.archived', eq: true },
          reasonId: 'archived',
        },
      ],
    },
  ],
};

/** The app's own table: integer keys and owner ids. */
const NOTES = new Map<number, { id: number; ownerId: number; archived: boolean; body: string }>([
  [1, { id: 1, ownerId: 1, archived: false, body: STORED_BODY }],
  [2, { id: 2, ownerId: 1, archived: true, body: 'old' }],
]);

/** An async loader that reads the stored record (as a repository would). */
async function loadNote(id: string): Promise<AuthzResource | undefined> {
  await new Promise((r) => setImmediate(r));
  const row = NOTES.get(Number(id));
  return (
    row && { type: 'notes', id: String(row.id), ownerId: row.ownerId, archived: row.archived, body: row.body }
  );
}

interface Harness {
  server: Server;
  entries(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

type Build = (
  deps: { tokens: TokenService; authorizer: PolicyEngine; auditLog: AuditLog },
  options: { explainDenials?: boolean },
) => { server: Server; closeAudit(): Promise<void> };

const ADAPTERS: Record<string, Build> = {
  Express({ tokens, authorizer, auditLog }, options) {
    const app = express();
    const audit = bwExpress.audit({ log: auditLog });
    app.use(bwExpress.requestId(), audit, bwExpress.authenticate({ tokens }));
    app.get(
      '/notes/:id',
      bwExpress.authorize('read', (req) => loadNote(String(req.params.id)), { authorizer, ...options }),
      (req, res) => res.json({ id: req.authorizedResource!.id, body: req.authorizedResource!.body }),
    );
    app.use(bwExpress.problemDetails(quiet));
    return { server: app.listen(0), closeAudit: () => audit.close() };
  },
  Koa({ tokens, authorizer, auditLog }, options) {
    const app = new Koa<bwKoa.BulwarkState>();
    app.silent = true;
    const audit = bwKoa.audit({ log: auditLog });
    app
      .use(bwKoa.problemDetails(quiet))
      .use(bwKoa.requestId())
      .use(audit)
      .use(bwKoa.authenticate({ tokens }));
    const router = new Router<bwKoa.BulwarkState>();
    router.get(
      '/notes/:id',
      bwKoa.authorize('read', (ctx) => loadNote(String(ctx.params.id)), { authorizer, ...options }),
      (ctx) => {
        const note = ctx.state.authorizedResource!;
        ctx.body = { id: note.id, body: note.body };
      },
    );
    app.use(router.routes());
    return { server: app.listen(0), closeAudit: () => audit.close() };
  },
};

for (const [name, build] of Object.entries(ADAPTERS)) {
  describe(`denials explain themselves (${name})`, () => {
    const tokens = new TokenService({
      algorithms: ['HS256'],
      signingKey: { key: new Uint8Array(32).fill(3) },
    });
    const bearer = async (sub: string) =>
      `Bearer ${await tokens.sign({ roles: ['user'] }, { subject: sub })}`;
    const open: Harness[] = [];

    async function harness(options: { explainDenials?: boolean } = {}): Promise<Harness> {
      const auditLog = await AuditLog.open({ store: new MemoryAuditStore() });
      const authorizer = new PolicyEngine({ policy: POLICY, onWarning: () => undefined });
      const { server, closeAudit } = build({ tokens, authorizer, auditLog }, options);
      const h: Harness = {
        server,
        async entries() {
          await closeAudit();
          await auditLog.flush();
          return (await auditLog.query({ limit: 100 })).entries;
        },
        async close() {
          await new Promise((r) => server.close(r));
          await auditLog.close();
        },
      };
      open.push(h);
      return h;
    }
    afterEach(async () => {
      while (open.length > 0) await open.pop()!.close();
    });

    it('allows the owner: the numeric owner id from the loader meets the string principal id', async () => {
      const h = await harness();
      const res = await request(h.server)
        .get('/notes/1')
        .set('Authorization', await bearer('1'));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: '1', body: STORED_BODY });
    });

    it('explainDenials: true: the 403 names the nearest rule and the failed condition, not the values', async () => {
      const h = await harness({ explainDenials: true });
      const res = await request(h.server)
        .get('/notes/1')
        .set('Authorization', await bearer('2'));
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({
        code: 'ERR_POLICY_DENIED',
        reasonId: 'default_deny',
        explanation: {
          reasonId: 'default_deny',
          nearest: {
            policyId: 'notes',
            ruleId: 'own-notes',
            failed: 'condition',
            condition: { summary: 'resource.ownerId eq subject.id', why: 'false', actualType: 'number' },
          },
        },
      });
      expect(res.text).not.toContain(STORED_BODY);
      const [entry] = await h.entries();
      expect(entry).toMatchObject({
        outcome: 'denied',
        resource: { type: 'notes', id: '1' },
        details: {
          status: 403,
          reasonId: 'default_deny',
          denial: { reasonId: 'default_deny', nearest: { ruleId: 'own-notes', failed: 'condition' } },
        },
      });
      expect(JSON.stringify(entry)).not.toContain(STORED_BODY);
    });

    it('names the deny rule that decided', async () => {
      const h = await harness({ explainDenials: true });
      const res = await request(h.server)
        .get('/notes/2')
        .set('Authorization', await bearer('1'));
      expect(res.status).toBe(403);
      expect(res.body.reasonId).toBe('archived');
      expect(res.body.explanation).toEqual({
        reasonId: 'archived',
        deniedBy: { policyId: 'notes', ruleId: 'archived', condition: 'policies[0].rules[1].when' },
        summary: 'deny by notes/archived',
      });
    });

    it('explainDenials: false keeps policy internals out of the body; the audit entry still has them', async () => {
      const h = await harness({ explainDenials: false });
      const res = await request(h.server)
        .get('/notes/1')
        .set('Authorization', await bearer('2'));
      expect(res.status).toBe(403);
      expect(res.body.reasonId).toBe('default_deny');
      expect(res.body).not.toHaveProperty('explanation');
      expect(res.text).not.toMatch(/own-notes|ownerId|policies\[/);
      const [entry] = await h.entries();
      expect(entry?.details).toMatchObject({ denial: { nearest: { ruleId: 'own-notes' } } });
    });

    it('explains by default under NODE_ENV=development only (not production, test or unset)', async () => {
      const h = await harness();
      const saved = process.env.NODE_ENV;
      const bodies: Record<string, unknown> = {};
      try {
        for (const env of ['development', 'production', 'test', undefined]) {
          if (env === undefined) delete process.env.NODE_ENV;
          else process.env.NODE_ENV = env;
          const res = await request(h.server)
            .get('/notes/1')
            .set('Authorization', await bearer('2'));
          expect(res.status).toBe(403);
          bodies[String(env)] = res.body.explanation?.nearest?.ruleId ?? null;
        }
      } finally {
        if (saved === undefined) delete process.env.NODE_ENV;
        else process.env.NODE_ENV = saved;
      }
      expect(bodies).toEqual({ development: 'own-notes', production: null, test: null, undefined: null });
      const entries = await h.entries();
      expect(entries).toHaveLength(4);
      for (const entry of entries)
        expect(entry.details).toMatchObject({
          reasonId: 'default_deny',
          denial: { reasonId: 'default_deny' },
        });
    });

    it('refuses a non-boolean explainDenials when the route is built', () => {
      const authorize = name === 'Express' ? bwExpress.authorize : bwKoa.authorize;
      expect(() => authorize('read', 'notes', { explainDenials: 'yes' as never })).toThrow(/explainDenials/);
    });
  });
}

describe('createBulwark with shared break-glass grants', () => {
  it('keeps explain() on the kit authorizer, so its denials explain themselves too', async () => {
    const kit = await createBulwark({
      tokens: { algorithms: ['HS256'], signingKey: { key: new Uint8Array(32).fill(5) } },
      audit: { store: new MemoryAuditStore() },
      authz: { policy: POLICY },
      stores: { breakGlass: new MemoryBreakGlassStore() },
    });
    try {
      expect(kit.authorizer).not.toBe(kit.policyEngine);
      const subject = { id: '2', roles: ['user'], type: 'user', claims: {} } as unknown as HttpPrincipal;
      const error = await authorizeRequest(
        kit.authorizer!,
        subject,
        'read',
        (await loadNote('1'))!,
        undefined,
        {
          explainDenials: true,
        },
      ).catch((e: unknown) => e);
      expect(problemFor(error).body).toMatchObject({
        reasonId: 'default_deny',
        explanation: { nearest: { ruleId: 'own-notes', failed: 'condition' } },
      });
    } finally {
      await kit.close();
    }
  });
});
