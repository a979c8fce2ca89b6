import { PolicyEngine, type AuthzResource } from '@bulwark/core';
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
            id: 'all',
            effect: 'allow',
            roles: ['user'],
            actions: ['read', 'update'],
            resources: ['docs/*'],
            fields: ['id', 'title'],
          },
          { id: 'list', effect: 'allow', roles: ['user'], actions: ['list'], resources: ['docs'] },
          {
            id: 'not-42',
            effect: 'deny',
            roles: ['user'],
            actions: ['read', 'update'],
            resources: ['docs/42'],
          },
        ],
      },
    ],
  },
});
const alice = { id: 'alice', roles: ['user'], type: 'user' as const, claims: {} };

function app(route: express.RequestHandler, signedIn = true) {
  const a = express();
  a.use(express.json());
  a.use((req, _res, next) => {
    if (signedIn) req.principal = alice;
    next();
  });
  a.all('/docs/:id', route, (req, res) => res.json(req.authorizedResource));
  a.use(problemDetails(quiet));
  return a;
}

describe('authorize hardening (Express)', () => {
  it('applies an id-specific deny to a numeric id from a loader', async () => {
    // A loader reading an integer primary key (an entity spread, a JavaScript app) hands over 42, not '42'.
    const load = async (req: express.Request) =>
      ({ type: 'docs', id: Number(req.params.id) }) as unknown as AuthzResource;
    const route = authorize('read', load, { authorizer: engine });
    const denied = await request(app(route)).get('/docs/42');
    expect(denied.status).toBe(403);
    const allowed = await request(app(route)).get('/docs/7');
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual({ type: 'docs', id: '7' });
  });

  it('refuses a forbidden field carried in an array body (a batch write)', async () => {
    const load = async (req: express.Request) => ({ type: 'docs', id: String(req.params.id) });
    const route = authorize('update', load, { authorizer: engine, checkBody: true });
    const ok = await request(app(route))
      .patch('/docs/7')
      .send([{ title: 'a' }, { title: 'b' }]);
    expect(ok.status).toBe(200);
    const bad = await request(app(route))
      .patch('/docs/7')
      .send([{ title: 'a' }, { ownerId: 'eve' }]);
    expect(bad.status).toBe(403);
    expect(bad.body.reasonId).toBe('field_denied');
    const nested = await request(app(route))
      .patch('/docs/7')
      .send([[{ ownerId: 'eve' }]]);
    expect(nested.status).toBe(403);
  });

  it('answers an anonymous caller 401 before the resource loader runs', async () => {
    const loads: string[] = [];
    const load = async (req: express.Request) => {
      loads.push(String(req.params.id));
      return undefined; // a 404 would tell an anonymous caller which records exist
    };
    const res = await request(app(authorize('read', load, { authorizer: engine }), false)).get('/docs/7');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(loads).toEqual([]);
  });

  it('leaves out list items the caller may not read (no {} placeholder revealing the count)', async () => {
    const a = express();
    a.use((req, _res, next) => {
      req.principal = alice;
      next();
    });
    a.get(
      '/docs',
      authorize('list', 'docs', { authorizer: engine, filterResponse: { action: 'read' } }),
      (_req, res) => {
        res.json([
          { id: '7', title: 'open', secret: 's' },
          { id: '42', title: 'hidden', secret: 's' },
        ]);
      },
    );
    a.use(problemDetails(quiet));
    const list = await request(a).get('/docs');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([{ id: '7', title: 'open' }]);
  });
});
