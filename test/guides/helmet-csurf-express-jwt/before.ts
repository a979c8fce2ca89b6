/**
 * docs/migrate-from-helmet-csurf-express-jwt.md, BEFORE: an Express notes API secured the usual
 * way, helmet + csurf (cookie mode, with cookie-parser) + express-jwt. The guide quotes the
 * regions between `#region` / `#endregion`; test/guides/helmet-csurf-express-jwt.test.ts runs
 * this app and after.ts against the same requests.
 */
import cookieParser from 'cookie-parser';
import csurf from 'csurf';
import express, { type ErrorRequestHandler } from 'express';
import { expressjwt, type Request as JwtRequest } from 'express-jwt';
import helmet from 'helmet';

export function createBeforeApp(jwtSecret: string): express.Express {
  const notes: { owner: string; text: string }[] = [];
  // #region before
  const app = express();
  app.use(helmet());
  app.use(express.json());
  app.use(cookieParser());
  app.use(csurf({ cookie: { httpOnly: true, sameSite: 'strict' } }));
  const requireJwt = expressjwt({ secret: jwtSecret, algorithms: ['HS256'] });

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/csrf-token', (req, res) => {
    res.json({ csrfToken: req.csrfToken!() });
  });
  app.get('/api/notes', requireJwt, (req: JwtRequest, res) => {
    res.json(notes.filter((n) => n.owner === req.auth?.sub));
  });
  app.post('/api/notes', requireJwt, (req: JwtRequest, res) => {
    const note = { owner: String(req.auth?.sub), text: String(req.body?.text ?? '') };
    notes.push(note);
    res.status(201).json(note);
  });

  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    if (err.code === 'EBADCSRFTOKEN') return void res.status(403).json({ error: 'invalid csrf token' });
    if (err.name === 'UnauthorizedError') return void res.status(401).json({ error: 'invalid token' });
    res.status(500).json({ error: 'internal error' });
  };
  app.use(errors);
  // #endregion before
  return app;
}
