import express from 'express';
import { bulwark, type BulwarkOptions } from '../src';
import { hotPathScenarios } from '../../../test/support/hot-path-scenarios';

hotPathScenarios({
  name: 'express',
  start(kit, options) {
    const bw = bulwark(kit, options as BulwarkOptions);
    const app = express();
    app.use(bw);
    app.all('/hello', bw.authorize('read', 'hello'), (req, res) => {
      res.json({ token: req.csrfToken!(), body: req.body ?? null });
    });
    app.use(bw.problemDetails());
    return { handler: app };
  },
});
