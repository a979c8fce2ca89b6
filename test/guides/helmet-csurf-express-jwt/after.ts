/**
 * docs/migrate-from-helmet-csurf-express-jwt.md, AFTER: the same notes API on Bulwark. Each
 * middleware is replaced by its Bulwark counterpart, one for one: helmet -> securityHeaders,
 * csurf -> csrf (the same `req.csrfToken()` API and `EBADCSRFTOKEN` code), express-jwt ->
 * authenticate (TokenService: algorithm allow-list, exp required), the error handler ->
 * problemDetails (RFC 9457).
 */
import { TokenService } from '@bulwark/core';
import { authenticate, csrf, problemDetails, securityHeaders } from '@bulwark/express';
import express from 'express';

export function createAfterApp(jwtSecret: string, csrfSecret: string): express.Express {
  const notes: { owner: string; text: string }[] = [];
  // #region after
  const tokens = new TokenService({
    algorithms: ['HS256'],
    verification: { key: Buffer.from(jwtSecret) },
  });

  const app = express();
  app.use(securityHeaders());
  app.use(express.json());
  app.use(csrf({ secret: csrfSecret }));
  const requireJwt = authenticate({ tokens });

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/csrf-token', (req, res) => {
    res.json({ csrfToken: req.csrfToken!() });
  });
  app.get('/api/notes', requireJwt, (req, res) => {
    res.json(notes.filter((n) => n.owner === req.principal?.id));
  });
  app.post('/api/notes', requireJwt, (req, res) => {
    const note = { owner: String(req.principal?.id), text: String(req.body?.text ?? '') };
    notes.push(note);
    res.status(201).json(note);
  });

  app.use(problemDetails());
  // #endregion after
  return app;
}
