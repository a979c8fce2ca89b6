import { BulwarkConfigError, PolicyEngine, type Authorizer } from '@bulwark/core';
import express from 'express';
import request from 'supertest';
import { authorize, problemDetails } from '../src';

const quiet = { log: () => undefined };
const engine = new PolicyEngine({
  policy: {
    version: 1,
    roles: { user: {} },
    policies: [
      {
        id: 'p',
        rules: [
          {
            id: 'own',
            effect: 'allow',
            roles: ['user'],
            actions: ['read', 'update'],
            resources: ['docs/*'],
            when: { attr: 'resource.ownerId', eq: { ref: 'subject.id' } },
            fields: ['id', 'title'],
          },
        ],
      },
    ],
  },
});
const alice = { id: 'alice', roles: ['user'], type: 'user' as const, claims: {} };

function app(
  route: express.RequestHandler,
  handler: express.RequestHandler = (req, res) => res.json(req.authorizedResource),
) {
  const a = express();
  a.use(express.json());
  a.use((req, _res, next) => {
    req.principal = alice;
    next();
  });
  a.all('/docs/:id', route, handler);
  a.use(problemDetails(quiet));
  return a;
}

describe('authorize with loaders and field rules (Express)', () => {
  it('fails closed with a 500 that tells nothing when the loader throws', async () => {
    const route = authorize(
      'read',
      async () => {
        throw new Error('db://admin:hunter2@10.0.0.5 refused');
      },
      { authorizer: engine },
    );
    const res = await request(app(route)).get('/docs/1');
    expect(res.status).toBe(500);
    expect(res.text).not.toMatch(/hunter2|10\.0\.0\.5/);
  });

  it('filters the answer and refuses a forbidden field in the body', async () => {
    const load = async () => ({ type: 'docs', id: '1', ownerId: 'alice', title: 'T', secret: 's' });
    const read = await request(
      app(authorize('read', load, { authorizer: engine, filterResponse: true })),
    ).get('/docs/1');
    expect(read.body).toEqual({ id: '1', title: 'T' });
    const write = authorize('update', load, { authorizer: engine, checkBody: true });
    expect(
      (
        await request(app(write, (_q, r) => r.json({ ok: true })))
          .patch('/docs/1')
          .send({ title: 'U' })
      ).status,
    ).toBe(200);
    const bad = await request(app(write, (_q, r) => r.json({ ok: true })))
      .patch('/docs/1')
      .send({ ownerId: 'eve' });
    expect(bad.status).toBe(403);
    expect(bad.body.reasonId).toBe('field_denied');
  });

  it('fails closed when the authorizer has no field decisions (a CASL / casbin adapter)', async () => {
    const allowAll: Authorizer = { check: () => ({ allowed: true, effect: 'allow', reasonId: 'x' }) };
    const route = authorize('read', 'docs', { authorizer: allowAll, filterResponse: true });
    const res = await request(app(route, (_q, r) => r.json({ secret: 's' }))).get('/docs/1');
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('"secret"');
  });

  it('refuses bad field options at start-up', () => {
    expect(() => authorize('read', 'docs', { filterResponse: 'yes' as never })).toThrow(BulwarkConfigError);
    expect(() => authorize('read', 'docs', { checkBody: 1 as never })).toThrow(BulwarkConfigError);
  });
});

describe('authorize: the context the authorizer sees (Express)', () => {
  it("is the app's context with the client address over any ip of its own, one copy per request", async () => {
    const seen: Record<string, unknown>[] = [];
    const spy: Authorizer = {
      check(_subject, _action, _resource, context) {
        seen.push(context as Record<string, unknown>);
        return { allowed: true, effect: 'allow', reasonId: 'ok' };
      },
    };
    const appContext = { tenant: 't1', ip: '198.51.100.1' };
    const route = authorize('read', 'docs', { authorizer: spy, context: () => appContext });
    const server = app(route, (_req, res) => res.json({ ok: true }));
    await request(server).get('/docs/1').expect(200);
    await request(server).get('/docs/2').expect(200);
    expect(seen).toHaveLength(2);
    for (const context of seen) {
      expect(Object.keys(context)).toEqual(['tenant', 'ip']);
      expect(context).toEqual({ tenant: 't1', ip: '127.0.0.1' });
    }
    expect(seen[0]).not.toBe(seen[1]);
    expect(appContext).toEqual({ tenant: 't1', ip: '198.51.100.1' });
    // Without a context option: the address alone.
    seen.length = 0;
    await request(app(authorize('read', 'docs', { authorizer: spy }), (_req, res) => res.json({}))).get(
      '/docs/1',
    );
    expect(seen).toEqual([{ ip: '127.0.0.1' }]);
  });
});
