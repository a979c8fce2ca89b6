/**
 * docs/migrate-from-casl.md, tested: a NestJS app authorized with @casl/ability (the NestJS
 * documentation's recipe) and the same app on Bulwark's @Authorize answer the same requests with
 * the same statuses and bodies; the guide quotes exactly the code run here.
 */
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { SignJWT } from 'jose';
import request from 'supertest';
import { AfterModule, caslAuthorizer } from './casl/after';
import { BeforeModule, CaslAbilityFactory } from './casl/before';
import { quotedRegions } from './guide-regions';

const KEY = Buffer.from('guide-casl-jwt-secret-0123456789abcdef');
const bearer = async (sub: string, roles: string[]) =>
  `Bearer ${await new SignJWT({ roles }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('10m').sign(KEY)}`;

async function journey(app: INestApplication) {
  const server = app.getHttpServer();
  const ann = await bearer('ann', ['user']);
  const bob = await bearer('bob', ['user']);
  const root = await bearer('root', ['admin']);
  const as = (auth: string | undefined, method: 'get' | 'patch' | 'delete', url: string, body?: object) => {
    const r = request(server)[method](url);
    if (auth) r.set('Authorization', auth);
    return body ? r.send(body) : r;
  };
  const seen: [string, number, unknown?][] = [];
  const step = async (name: string, res: Promise<request.Response>, withBody = false) => {
    const r = await res;
    seen.push(withBody ? [name, r.status, r.body] : [name, r.status]);
  };
  await step('list without a token', as(undefined, 'get', '/articles'));
  await step('list as ann', as(ann, 'get', '/articles'), true);
  await step('ann renames her article', as(ann, 'patch', '/articles/1', { title: 'Ann, renamed' }), true);
  await step("ann renames bob's article", as(ann, 'patch', '/articles/2', { title: 'mine now' }));
  await step("bob renames ann's draft", as(bob, 'patch', '/articles/3', { title: 'mine now' }));
  await step(
    "admin renames bob's article",
    as(root, 'patch', '/articles/2', { title: 'Edited by admin' }),
    true,
  );
  await step('ann renames an article that does not exist', as(ann, 'patch', '/articles/99', { title: 'x' }));
  await step('ann deletes her draft (users may not delete)', as(ann, 'delete', '/articles/3'));
  await step('admin deletes a published article', as(root, 'delete', '/articles/1'));
  await step('admin deletes a draft', as(root, 'delete', '/articles/3'));
  await step('list after', as(bob, 'get', '/articles'), true);
  return seen;
}

async function start(module: unknown): Promise<INestApplication> {
  const app = await NestFactory.create(module as never, { logger: false, abortOnError: false });
  await app.init();
  return app;
}

describe('guide: migrate from @casl/ability guards to @Authorize', () => {
  it('the CASL app (NestJS recipe) behaves as the guide says', async () => {
    const app = await start(BeforeModule.register(KEY));
    try {
      expect(await journey(app)).toEqual(EXPECTED);
    } finally {
      await app.close();
    }
  });

  it('the Bulwark app answers the same requests the same way', async () => {
    const app = await start(AfterModule.register(KEY));
    try {
      expect(await journey(app)).toEqual(EXPECTED);
    } finally {
      await app.close();
    }
  });

  it('step 0: the Bulwark routes decided by the existing CASL ability (Authorizer bridge) answer the same', async () => {
    const app = await start(AfterModule.register(KEY, caslAuthorizer(new CaslAbilityFactory())));
    try {
      expect(await journey(app)).toEqual(EXPECTED);
    } finally {
      await app.close();
    }
  });

  it('quotes in the guide exactly the code these tests run', () => {
    const quotes = quotedRegions('docs/migrate-from-casl.md');
    expect(quotes).toHaveLength(6);
    for (const q of quotes)
      expect({ where: q.where, code: q.quoted }).toEqual({ where: q.where, code: q.source });
  });
});

const article = (id: number, authorId: string, title: string, isPublished: boolean) => ({
  id,
  authorId,
  title,
  isPublished,
});
const EXPECTED = [
  ['list without a token', 401],
  [
    'list as ann',
    200,
    [
      article(1, 'ann', 'Ann, published', true),
      article(2, 'bob', 'Bob, published', true),
      article(3, 'ann', 'Ann, draft', false),
    ],
  ],
  ['ann renames her article', 200, article(1, 'ann', 'Ann, renamed', true)],
  ["ann renames bob's article", 403],
  ["bob renames ann's draft", 403],
  ["admin renames bob's article", 200, article(2, 'bob', 'Edited by admin', true)],
  ['ann renames an article that does not exist', 404],
  ['ann deletes her draft (users may not delete)', 403],
  ['admin deletes a published article', 403],
  ['admin deletes a draft', 204],
  ['list after', 200, [article(1, 'ann', 'Ann, renamed', true), article(2, 'bob', 'Edited by admin', true)]],
];
