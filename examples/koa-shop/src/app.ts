import 'reflect-metadata';
import { hkdfSync } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import {
  BulwarkHttpError,
  createBulwark,
  ErrorCodes,
  type AuditActor,
  type Bulwark,
  type HttpPrincipal,
  type TrustProxyOption,
} from '@bulwark/core';
import {
  bulwark,
  clientIp,
  handleClientErrors,
  privacyRouter,
  session,
  type BulwarkState,
} from '@bulwark/koa';
import {
  registerBulwarkAudit,
  registerBulwarkEncryption,
  TypeOrmAuditStore,
  TypeOrmConsentStore,
  TypeOrmKeyStore,
} from '@bulwark/typeorm';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import { openDatabases, type ShopDatabases } from './databases';
import { openShopSessions, type ShopSessions } from './sessions';
import { loadDemoSecrets } from './demo-secrets';
import { Customer } from './entities/customer';
import { MarketingEmail } from './entities/marketing-email';
import { Order } from './entities/order';
import { PaymentCard } from './entities/payment-card';
import { accountPage, homePage, loginPage } from './pages';
import { catalogue, marketingPurpose, shopPolicy } from './shop-policy';
import { ShopInputError, ShopService } from './shop-service';

export interface ShopAppOptions {
  /** Reverse proxies trusted for X-Forwarded-For (docs/reverse-proxy.md); env TRUST_PROXY in `npm start`. */
  trustProxy?: TrustProxyOption;
  /** Where SQLite files and the demo secrets live. Default `examples/koa-shop/data`. */
  dataDir?: string;
  /** `postgres://...` to run on PostgreSQL (the demo secrets still live in `dataDir`). */
  databaseUrl?: string;
  /** Default 0 (any free port); `src/main.ts` passes PORT or 3002. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Serve over plain HTTP: session and CSRF cookies without `Secure` (and without the `__Host-`
   * prefix, which requires it), no CSP `upgrade-insecure-requests`. Default false: HTTPS is
   * assumed. Only for the demo on http://localhost (`src/main.ts` sets it; never in production).
   */
  allowInsecureHttp?: boolean;
  /**
   * `redis://...`: browser sessions in Redis, shared by every instance (env REDIS_URL in
   * `npm start`). Default: in this process's memory.
   */
  redisUrl?: string;
  /** Prefix of the session keys in Redis. Default `koa-shop:sess:`. */
  redisKeyPrefix?: string;
  /** Receives server errors (5xx); default console.error. Never receives request bodies. */
  logError?: (error: unknown) => void;
}

export interface ShopApp {
  readonly url: string;
  readonly server: Server;
  readonly koa: Koa<BulwarkState>;
  readonly bulwark: Bulwark;
  readonly databases: ShopDatabases;
  readonly service: ShopService;
  /** The browser sessions (server-side, in Redis with `redisUrl`). */
  readonly sessions: ShopSessions;
  close(): Promise<void>;
}

type ShopContext = Context & { state: BulwarkState & { card?: PaymentCard | null } };

const SESSION_TTL_SEC = 3600;
const ISSUER = 'bulwark-koa-shop';

/** Protected HTML pages: a browser without a session goes to the login form instead of a 401. */
const HTML_PAGES = new Set(['/account']);

function body(ctx: Context): Record<string, unknown> {
  const value = (ctx.request as { body?: unknown }).body;
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function principal(ctx: Context): HttpPrincipal {
  const p = (ctx.state as BulwarkState).principal;
  if (p === undefined) throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'Log in first.');
  return p;
}

/** Who the entity audit subscriber records as having made a change. */
function actorOf(ctx: Context): AuditActor {
  return {
    id: principal(ctx).id,
    type: 'user',
    ...(clientIp(ctx) ? { ip: clientIp(ctx) } : {}),
    ...(ctx.get('user-agent') ? { userAgent: ctx.get('user-agent').slice(0, 256) } : {}),
  };
}

function badInput(err: unknown): never {
  if (err instanceof ShopInputError) {
    throw new BulwarkHttpError('ERR_SHOP_INVALID_INPUT', 400, err.message, { location: err.field });
  }
  throw err;
}

/**
 * Starts the shop: opens the databases, wires Bulwark, seeds the demo accounts on first run and
 * listens. Everything is closed by `close()` (pending audit events are flushed first).
 */
export async function createShopApp(options: ShopAppOptions = {}): Promise<ShopApp> {
  const dataDir = path.resolve(options.dataDir ?? path.join(__dirname, '..', 'data'));
  const secureCookies = options.allowInsecureHttp !== true;
  const logError = options.logError ?? ((error: unknown) => console.error(error));
  const secrets = await loadDemoSecrets(dataDir);
  const databases = await openDatabases({
    dataDir,
    ...(options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : {}),
    entities: [Customer, PaymentCard, Order, MarketingEmail],
  });

  let kit: Bulwark | undefined;
  try {
    kit = await createBulwark({
      // A demo: some registers live in memory (see docs/asvs.md for what the production preset,
      // on under NODE_ENV=production, requires of a real deployment).
      production: false,
      keys: {
        masterKey: secrets.masterKey,
        store: new TypeOrmKeyStore(databases.keys),
        ensure: ['pii', 'cardholder'],
      },
      tokens: {
        algorithms: ['HS256'],
        signingKey: { key: secrets.jwtSecret },
        issuer: ISSUER,
        audience: ISSUER,
        defaultTtlSec: SESSION_TTL_SEC,
      },
      audit: {
        store: await TypeOrmAuditStore.open(databases.audit, { destroyDataSourceOnClose: true }),
        hmacKey: secrets.auditHmacKey,
        // Signed checkpoints every 1000 entries or every minute (whichever comes first): deleting
        // the newest audit rows, head row included, is then caught by verify.
        checkpoint: {
          signingKey: { file: secrets.auditCheckpointKeyFile },
          store: { file: secrets.auditCheckpointsFile },
          every: { entries: 1000, ms: 60_000 },
        },
      },
      authz: { policy: shopPolicy },
      privacy: {
        consent: { store: new TypeOrmConsentStore(databases.keys), purposes: [marketingPurpose] },
      },
      threat: { bruteForce: {} },
      // The compliance kit reads the live services (the session engine is registered below).
      compliance: { privilegedRoles: ['staff'] },
    });
  } catch (err) {
    for (const ds of [databases.audit, databases.keys, databases.app])
      await ds.destroy().catch(() => undefined);
    throw err;
  }
  const bw = kit;
  /** Undoes a start-up that failed after the services were opened. */
  const release = async (err: unknown): Promise<never> => {
    await bw.close().catch(() => undefined);
    for (const ds of [databases.keys, databases.app])
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
    throw err;
  };
  let encryption: Awaited<ReturnType<typeof registerBulwarkEncryption>>;
  let entityAudit: ReturnType<typeof registerBulwarkAudit>;
  const service = new ShopService(databases.app, bw);
  try {
    // The encryption subscriber first, then the entity audit subscriber (it sees sealed values).
    encryption = await registerBulwarkEncryption(databases.app, {
      keyRing: bw.keyRing!,
      defaultKeyId: 'pii',
    });
    entityAudit = registerBulwarkAudit(databases.app, { auditLog: bw.auditLog! });
    await service.seed();
  } catch (err) {
    return release(err);
  }

  // Browser sessions are server-side (Bulwark's SessionEngine): the cookie holds a random token,
  // the store (Redis with REDIS_URL) its HMAC; idle 15 minutes (PCI DSS 8.2.8), absolute 8 hours.
  let sessions: ShopSessions;
  try {
    sessions = await openShopSessions({
      secret: Buffer.from(hkdfSync('sha256', secrets.csrfSecret, '', 'koa-shop sessions', 32)),
      secure: secureCookies,
      auditLog: bw.auditLog!,
      ...(options.redisUrl !== undefined ? { redisUrl: options.redisUrl } : {}),
      ...(options.redisKeyPrefix !== undefined ? { keyPrefix: options.redisKeyPrefix } : {}),
    });
  } catch (err) {
    return release(err);
  }
  bw.compliance!.register({ sessions: sessions.engine }); // PCI DSS 8.2.8 reads it live

  const mw = bulwark(bw, {
    ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    csrf: { secret: secrets.csrfSecret, cookie: { secure: secureCookies } },
    ...(secureCookies
      ? {}
      : {
          securityHeaders: { contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } } },
        }),
    authenticate: { publicPaths: ['/', '/login', '/health', '/api/login', '/api/csrf', '/api/products'] },
    problemDetails: { log: (error) => logError(error) },
  });

  const koa = new Koa<BulwarkState>();
  koa.proxy = false;
  koa.silent = true; // errors are answered (and 5xx logged) by the bundle's problemDetails step

  // A browser carries a server-side session in an HttpOnly cookie (opened first, so the CSRF token
  // is bound to it and the bundle's authenticate step takes its principal); API clients send
  // `Authorization: Bearer` with a JWT. Because browsers send cookies on cross-site requests by
  // themselves, every state-changing request must also carry the CSRF token (the bundle's csrf
  // step), which a cross-site page cannot read.
  koa.use(session(sessions.engine));
  koa.use(async (ctx: Context, next: Next) => {
    const anonymous = ctx.state.principal === undefined && ctx.get('authorization') === '';
    if (ctx.method === 'GET' && HTML_PAGES.has(ctx.path) && anonymous) {
      ctx.redirect('/login');
      return;
    }
    await next();
  });
  koa.use(mw);
  koa.use(privacyRouter(bw, { prefix: '/privacy' }));

  const router = new Router<BulwarkState>();
  const authorize = mw.authorize.bind(mw);

  // Loads the card named in the URL; authorization then checks its owner. A missing card and
  // someone else's card are both a 403, so card tokens cannot be probed.
  const loadCard = async (ctx: Context, next: Next) => {
    (ctx as ShopContext).state.card = await service.card(String(ctx.params.token));
    await next();
  };
  const cardResource = (ctx: Context) => ({
    type: 'cards',
    id: String(ctx.params.token),
    ownerId: (ctx as ShopContext).state.card?.customerId ?? '',
  });

  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });

  // ---- pages (server-rendered forms with the CSRF token in a hidden field) ------------------
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = homePage(catalogue);
  });

  router.get('/login', (ctx) => {
    ctx.type = 'html';
    ctx.body = loginPage(ctx.state.csrfToken!());
  });

  const login = async (ctx: Context, form: boolean) => {
    const { email, password } = body(ctx);
    const ip = clientIp(ctx);
    // Audited inside as auth.login, method password (ShopService.authenticate: PasswordSignIn).
    const customer = await service.authenticate(email, password, {
      ...(ip ? { ip } : {}),
      ...(ctx.state.requestId ? { requestId: ctx.state.requestId } : {}),
    });
    if (customer === undefined) {
      if (form) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(ctx.state.csrfToken!(), 'Wrong e-mail or password.');
        return;
      }
      throw new BulwarkHttpError('ERR_SHOP_LOGIN_FAILED', 401, 'Wrong e-mail or password.');
    }
    // The browser's session: a new id at sign-in, so an id planted before it (session fixation)
    // opens nothing. API clients get a bearer token as well.
    await ctx.state.session!.login({
      id: customer.id,
      roles: [customer.role],
      authentication: { method: 'password', factors: ['password'] },
    });
    if (form) {
      ctx.status = 303;
      ctx.redirect('/account');
      return;
    }
    const token = await bw.tokens!.sign(
      { roles: [customer.role] },
      { subject: customer.id, ttlSec: SESSION_TTL_SEC },
    );
    ctx.body = { token, tokenType: 'Bearer', expiresIn: SESSION_TTL_SEC };
  };
  // The form answers 303 on success (401 on failure): that is what makes the address a known client.
  router.post('/login', mw.bruteForce({ accountField: 'email', successStatuses: [303] }), (ctx) =>
    login(ctx, true),
  );
  router.post('/api/login', mw.bruteForce({ accountField: 'email' }), (ctx) => login(ctx, false));

  router.post('/logout', async (ctx) => {
    await ctx.state.session!.logout(); // deleted from the store: the old cookie opens nothing
    ctx.status = 303;
    ctx.redirect('/');
  });

  const renderAccount = async (ctx: Context, message?: string) => {
    const me = principal(ctx);
    const customer = await service.customer(me.id);
    if (customer === null) throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'Log in first.');
    const consent = await bw.consent!.check(me.id, marketingPurpose.id);
    ctx.type = 'html';
    ctx.body = accountPage({
      name: customer.name,
      email: customer.email,
      cards: customer.role === 'customer' ? await service.listCards(me.id) : [],
      marketing: { granted: consent.granted, text: marketingPurpose.text, version: marketingPurpose.version },
      products: catalogue,
      csrfToken: ctx.state.csrfToken!(),
      ...(message !== undefined ? { message } : {}),
    });
  };
  router.get('/account', authorize('profile:read', 'profile'), (ctx) => renderAccount(ctx));

  router.post('/account/cards', authorize('card:create', 'cards'), async (ctx) => {
    try {
      await service.saveCard(principal(ctx).id, body(ctx), actorOf(ctx));
    } catch (err) {
      if (!(err instanceof ShopInputError)) throw err;
      ctx.status = 400;
      return renderAccount(ctx, err.message);
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/account/orders', authorize('order:create', 'orders'), async (ctx) => {
    const { sku, cardToken } = body(ctx);
    try {
      await service.placeOrder(principal(ctx).id, { cardToken, items: [{ sku, quantity: 1 }] }, actorOf(ctx));
    } catch (err) {
      if (!(err instanceof ShopInputError)) throw err;
      ctx.status = 400;
      return renderAccount(ctx, err.message);
    }
    ctx.status = 303;
    ctx.redirect('/account');
  });

  // The form route of the privacy API: same ConsentManager, so the grant is audited with its proof.
  router.post('/account/marketing', authorize('profile:read', 'profile'), async (ctx) => {
    const me = principal(ctx);
    const change = {
      ip: clientIp(ctx),
      userAgent: ctx.get('user-agent').slice(0, 256),
      source: 'account-page',
    };
    if (body(ctx).choice === 'grant') await bw.consent!.grant(me.id, marketingPurpose.id, change);
    else await bw.consent!.withdraw(me.id, marketingPurpose.id, change);
    ctx.status = 303;
    ctx.redirect('/account');
  });

  // ---- JSON API (the CSRF token goes in the x-csrf-token header) ----------------------------
  router.get('/api/csrf', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { csrfToken: ctx.state.csrfToken!() };
  });

  router.get('/api/products', (ctx) => {
    ctx.body = catalogue;
  });

  router.get('/api/me', authorize('profile:read', 'profile'), async (ctx) => {
    const me = principal(ctx);
    const customer = await service.customer(me.id);
    if (customer === null) throw new BulwarkHttpError(ErrorCodes.HTTP_AUTH_REQUIRED, 401, 'Log in first.');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      id: customer.id,
      email: customer.email,
      name: customer.name,
      role: customer.role,
      csrfToken: ctx.state.csrfToken!(),
    };
  });

  router.get('/api/cards', authorize('card:list', 'cards'), async (ctx) => {
    const last4 = typeof ctx.query.last4 === 'string' ? ctx.query.last4 : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await service.listCards(principal(ctx).id, last4).catch(badInput);
  });

  router.post('/api/cards', authorize('card:create', 'cards'), async (ctx) => {
    const { card, created } = await service
      .saveCard(principal(ctx).id, body(ctx), actorOf(ctx))
      .catch(badInput);
    ctx.status = created ? 201 : 200;
    ctx.body = card;
  });

  router.get('/api/cards/:token', loadCard, authorize('card:read', cardResource), async (ctx) => {
    const card = (ctx as ShopContext).state.card!;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = (await service.listCards(card.customerId)).find((c) => c.token === card.id);
  });

  router.delete('/api/cards/:token', loadCard, authorize('card:delete', cardResource), async (ctx) => {
    await service.deleteCard((ctx as ShopContext).state.card!, actorOf(ctx));
    ctx.status = 204;
  });

  router.post('/api/orders', authorize('order:create', 'orders'), async (ctx) => {
    const order = await service.placeOrder(principal(ctx).id, body(ctx), actorOf(ctx)).catch(badInput);
    ctx.status = 201;
    ctx.body = order;
  });

  router.get('/api/orders', authorize('order:list', 'orders'), async (ctx) => {
    ctx.body = await service.listOrders(principal(ctx).id);
  });

  router.get('/api/admin/orders', authorize('order:list-all', 'orders'), async (ctx) => {
    ctx.body = await service.listOrders();
  });

  // Marketing e-mail: opt-in only. Without a standing grant of the current text: 403 ERR_CONSENT_REQUIRED.
  router.post(
    '/api/marketing/email',
    authorize('marketing:send', 'marketing'),
    mw.requireConsent(marketingPurpose.id),
    async (ctx) => {
      const sent = await service.sendMarketingEmail(principal(ctx).id);
      ctx.status = 202;
      ctx.body = { queued: true, subject: sent.subject, consentVersion: sent.consentVersion };
    },
  );

  router.get('/api/admin/audit/verify', authorize('audit:verify', 'audit'), async (ctx) => {
    await mw.close(); // request events recorded so far are durable before the check
    const report = await bw.auditLog!.verify();
    ctx.body = {
      ok: report.ok,
      entries: report.treeSize,
      root: report.root,
      ...(report.firstBad ? { firstBad: report.firstBad } : {}),
    };
  });

  koa.use(router.routes());
  koa.use(router.allowedMethods());

  const server = await new Promise<Server>((resolve, reject) => {
    const s = koa.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    // Oversized headers (431) and unparsable requests (400) answer problem+json too.
    handleClientErrors(s);
  }).catch(release);
  const address = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    server,
    koa,
    bulwark: bw,
    databases,
    service,
    sessions,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await mw.close();
        entityAudit.unregister();
        encryption.unregister();
        await sessions.close();
        await bw.close(); // flushes and closes the audit log (and its DataSource), the key ring, the stores
        for (const ds of [databases.keys, databases.app]) if (ds.isInitialized) await ds.destroy();
      })();
      return closing;
    },
  };
}
