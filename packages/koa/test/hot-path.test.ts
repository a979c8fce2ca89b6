import Router from '@koa/router';
import Koa from 'koa';
import { bulwark, type BulwarkOptions, type BulwarkState } from '../src';
import { hotPathScenarios } from '../../../test/support/hot-path-scenarios';

hotPathScenarios({
  name: 'koa',
  start(kit, options) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const router = new Router();
    router.all('/hello', bw.authorize('read', 'hello'), (ctx) => {
      ctx.body = {
        token: (ctx.state as BulwarkState).csrfToken!(),
        body: (ctx.request as { body?: unknown }).body ?? null,
      };
    });
    const app = new Koa().use(bw).use(router.routes());
    return { handler: app.callback() };
  },
});
