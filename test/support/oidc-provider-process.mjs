// A real OpenID provider (oidc-provider, the certified Node implementation) for the OIDC tests,
// run in its own process (it is ESM and Koa 3). Configuration comes as JSON in OIDC_TEST_CONFIG:
// { clients: [...], users: { id: claims } }. Prints {"issuer": ...} once
// listening (on OIDC_TEST_PORT, default any free port). Test-only extras, on the provider's own origin:
//   GET  /interaction/:uid        signs in `login_hint` (default the first user) with no form;
//   POST /__test/tamper {mode}    makes the next token response carry a forged ID token;
//   POST /__test/logout-token     signs a logout token (for the back-channel attack tests).
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateKeyPair, SignJWT, exportJWK, decodeJwt } from 'jose';

// oidc-provider is a dev dependency of @bulwark/identity (npm may keep it under that package's
// node_modules, next to the Koa 2 it needs): resolved from there.
const fromIdentity = createRequire(new URL('../../packages/identity/package.json', import.meta.url));
const manifest = fromIdentity.resolve('oidc-provider/package.json');
const { default: Provider } = await import(
  pathToFileURL(join(dirname(manifest), fromIdentity(manifest).main ?? 'lib/index.js')).href
);

const config = JSON.parse(process.env.OIDC_TEST_CONFIG);
const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.OIDC_TEST_PORT ?? 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const signingKey = (await generateKeyPair('RS256', { extractable: true })).privateKey;
const signingJwk = { ...(await exportJWK(signingKey)), kid: 'op-key-1', alg: 'RS256', use: 'sig' };
const otherKey = (await generateKeyPair('RS256')).privateKey;

let tamper; // { mode } for the next token response
let lastIdToken; // the previous ID token, for the replayed-nonce attack

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['bulwark-test-cookie-key-0123456789'] },
  claims: {
    openid: ['sub', 'sid', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = `<!DOCTYPE html><html><body>${form}</body></html>`;
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  async findAccount(_ctx, sub) {
    const claims = config.users[sub];
    if (claims === undefined) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    // Every test client is first party: consent is implied.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid offline_access email profile groups');
    await grant.save();
    return grant;
  },
  ttl: { Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, RefreshToken: 3600 },
});
provider.proxy = false;
provider.on('backchannel.error', (_ctx, error, clientId) => {
  process.stderr.write(
    `backchannel logout to ${clientId} failed: ${error.message} ${error.cause?.code} ${error.cause?.message}\n`,
  );
});
provider.on('server_error', (_ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));

async function forge(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = { alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' };
  if (mode === 'replay') return lastIdToken;
  if (mode === 'alg-none') {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  }
  const changed = { ...claims };
  let key = signingKey;
  if (mode === 'other-key') key = otherKey;
  if (mode === 'wrong-audience') changed.aud = 'another-client';
  if (mode === 'wrong-issuer') changed.iss = 'http://127.0.0.1:1/evil';
  if (mode === 'expired') {
    changed.iat = Math.floor(Date.now() / 1000) - 7200;
    changed.exp = Math.floor(Date.now() / 1000) - 3600;
  }
  if (mode === 'hs256') {
    // HMAC with the client secret: a "valid" token if the RP let the token choose its algorithm.
    const secret = Buffer.from(config.clients[0].client_secret);
    return new SignJWT(changed).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  }
  return new SignJWT(changed).setProtectedHeader(header).sign(key);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
    const issued = ctx.body.id_token;
    if (tamper !== undefined) {
      const { mode } = tamper;
      tamper = undefined;
      ctx.body = { ...ctx.body, id_token: await forge(issued, mode) };
    }
    lastIdToken = issued;
  }
});

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw === '' ? {} : JSON.parse(raw);
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const accountId = details.params.login_hint ?? Object.keys(config.users)[0];
      const amr = config.users[accountId]?.amr ?? ['pwd'];
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId, amr } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__test/tamper') {
      tamper = await readJson(req);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__test/logout-token') {
      const { claims, header, key } = await readJson(req);
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'logout+jwt', ...header })
        .sign(key === 'other' ? otherKey : signingKey);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      return;
    }
    callback(req, res);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error?.message ?? error));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
