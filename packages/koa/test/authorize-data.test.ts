import { BulwarkConfigError, PolicyEngine, type Authorizer } from '@bulwark/core';
import { bodyParser } from '@koa/bodyparser';
import Koa, { type Middleware } from 'koa';
import request from 'supertest';
import { authorize, problemDetails } from '../src';

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

function server(
  route: Middleware,
  body: (ctx: Koa.Context) => unknown = (ctx) => ctx.state.authorizedResource,
) {
  const app = new Koa();
  app.use(problemDetails({ log: () => undefined }));
  app.use(bodyParser());
  app.use(async (ctx, next) => {
    ctx.state.principal = alice;
    await next();
  });
  app.use(route);
  app.use((ctx) => {
    ctx.body = body(ctx);
  });
  return app.callback();
}

describe('authorize with loaders and field rules (Koa)', () => {
  const load = async () => ({ type: 'docs', id: '1', ownerId: 'alice', title: 'T', secret: 's' });

  it('answers 404 when the loader finds nothing, 403 for another owner, and fails closed when it throws', async () => {
    expect(
      (await request(server(authorize('read', async () => undefined, { authorizer: engine }))).get('/'))
        .status,
    ).toBe(404);
    const other = async () => ({ type: 'docs', id: '2', ownerId: 'bob' });
    expect((await request(server(authorize('read', other, { authorizer: engine }))).get('/')).status).toBe(
      403,
    );
    const failing = authorize('read', async () => Promise.reject(new Error('db://admin:hunter2@10.0.0.5')), {
      authorizer: engine,
    });
    const res = await request(server(failing)).get('/');
    expect(res.status).toBe(500);
    expect(res.text).not.toMatch(/hunter2/);
  });

  it('filters the answer and refuses a forbidden field in the body', async () => {
    const read = await request(
      server(authorize('read', load, { authorizer: engine, filterResponse: true })),
    ).get('/');
    expect(read.body).toEqual({ id: '1', title: 'T' });
    const write = authorize('update', load, { authorizer: engine, checkBody: true });
    expect(
      (
        await request(server(write, () => ({ ok: true })))
          .post('/')
          .send({ title: 'U' })
      ).status,
    ).toBe(200);
    const bad = await request(server(write, () => ({ ok: true })))
      .post('/')
      .send({ ownerId: 'eve' });
    expect(bad.status).toBe(403);
    expect(bad.body.reasonId).toBe('field_denied');
  });

  it('fails closed when the authorizer has no field decisions', async () => {
    const allowAll: Authorizer = { check: () => ({ allowed: true, effect: 'allow', reasonId: 'x' }) };
    const res = await request(
      server(authorize('read', 'docs', { authorizer: allowAll, filterResponse: true }), () => ({
        secret: 's',
      })),
    ).get('/');
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('"secret"');
  });

  it('refuses bad field options at start-up', () => {
    expect(() => authorize('read', 'docs', { filterResponse: { action: '' } })).toThrow(BulwarkConfigError);
  });

  it('answers an anonymous caller 401 before the resource loader runs', async () => {
    const loads: number[] = [];
    const route = authorize(
      'read',
      async () => {
        loads.push(1);
        return undefined;
      },
      { authorizer: engine },
    );
    const app = new Koa();
    app.use(problemDetails({ log: () => undefined }));
    app.use(route);
    const res = await request(app.callback()).get('/');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_HTTP_AUTH_REQUIRED');
    expect(loads).toEqual([]);
  });
});

describe('authorize: the context the authorizer sees (Koa)', () => {
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
    const handler = server(route, () => ({ ok: true }));
    await request(handler).get('/docs/1').expect(200);
    await request(handler).get('/docs/2').expect(200);
    expect(seen).toHaveLength(2);
    for (const context of seen) {
      expect(Object.keys(context)).toEqual(['tenant', 'ip']);
      expect(context).toEqual({ tenant: 't1', ip: '127.0.0.1' });
    }
    expect(seen[0]).not.toBe(seen[1]);
    expect(appContext).toEqual({ tenant: 't1', ip: '198.51.100.1' });
    // Without a context option: the address alone.
    seen.length = 0;
    await request(server(authorize('read', 'docs', { authorizer: spy }), () => ({}))).get('/docs/1');
    expect(seen).toEqual([{ ip: '127.0.0.1' }]);
  });
});
