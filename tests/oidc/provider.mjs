// A real OpenID Connect provider (the certified `oidc-provider` package) for Aftercare's
// single sign-on tests, on loopback only.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: {"port", "issuer", "clients": [client metadata], "accounts": {login: {password,
// claims}}}. It prints one line, "ready <issuer>", once it listens.
//
// Sign-in pages are this file's own (a login form with a "second factor used" box, so a
// test can decide the `amr` of the session); consent is granted for the registered clients
// as a company provider does for first-party applications.
//
// For the tests of a provider that misbehaves, POST /__test/tamper {"mode": ...} makes the
// next token response carry an ID token changed that way: "forged" (signed with another
// key under the same key id), "expired", "nonce", "issuer", "audience", "unsigned"
// (alg none), "oversized". Everything else is the package's own behaviour.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts || {};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

const groupsClaim = config.groupsClaim || 'groups';

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function plain(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}
const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
    // With the openid scope, as Okta and Entra ID do (oidc-provider on its own sends amr
    // and acr only when asked for them by name).
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: [groupsClaim],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // Put the claims of the granted scopes in the ID token, as Okta, Entra ID and Keycloak do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    // The package's own pages load a web font from the internet: these load nothing.
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = plain('Test identity provider: sign out', `${form}`
          + '<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>'
          + '<button type="submit" form="op.logoutForm">No, stay signed in</button>');
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = plain('Test identity provider: signed out', '<p>You are signed out.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = plain('Test identity provider: error',
      Object.entries(out).map(([k, v]) => `<p>${escape(k)}: ${escape(v)}</p>`).join(''));
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  ttl: { IdToken: 600, AccessToken: 600, Session: 3600, Interaction: 600, Grant: 3600 },
});
provider.proxy = false;

let tamper = null;

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function tampered(idToken, mode) {
  const [headerPart, payloadPart] = idToken.split('.');
  const header = b64json(headerPart);
  const claims = b64json(payloadPart);
  const now = Math.floor(Date.now() / 1000);
  let key = await importJWK(signingJwk, 'RS256');
  if (mode === 'forged') {
    key = (await generateKeyPair('RS256')).privateKey;
  } else if (mode === 'expired') {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  } else if (mode === 'nonce') {
    claims.nonce = 'not-the-nonce-that-was-sent';
  } else if (mode === 'issuer') {
    claims.iss = 'http://127.0.0.1:9/another-issuer';
  } else if (mode === 'audience') {
    claims.aud = 'another-client';
  } else if (mode === 'oversized') {
    claims.padding = 'x'.repeat(64 * 1024);
  } else if (mode === 'unsigned') {
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    return `${none}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  } else {
    throw new Error(`unknown tamper mode ${mode}`);
  }
  return new SignJWT(claims).setProtectedHeader({ alg: header.alg, kid: header.kid, typ: header.typ })
    .sign(key);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
    const mode = tamper;
    tamper = null;
    ctx.body = { ...ctx.body, id_token: await tampered(ctx.body.id_token, mode) };
  }
});

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(plain(title, body));
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    if (details.prompt.name !== 'login') {
      // Consent is granted by loadExistingGrant; nothing to ask.
      return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    }
    return page(res, 200, 'Test identity provider: sign in',
      `<form method="post" action="/interaction/${escape(details.uid)}">`
      + '<label for="login">Username</label> <input id="login" name="login" autocomplete="username"> '
      + '<label for="password">Password</label> <input id="password" name="password" type="password"> '
      + '<label><input type="checkbox" name="mfa" value="1"> used a second factor</label> '
      + '<button type="submit">Sign in</button></form>');
  }
  const form = await readForm(req);
  const login = form.get('login') || '';
  const account = accounts[login];
  if (!account || account.password !== form.get('password')) {
    return page(res, 400, 'Test identity provider: sign in', '<p role="alert">Wrong username or password.</p>'
      + `<p><a href="/interaction/${escape(details.uid)}">Try again</a></p>`);
  }
  const mfa = form.get('mfa') === '1';
  return provider.interactionFinished(req, res, {
    login: { accountId: login, amr: mfa ? ['pwd', 'mfa'] : ['pwd'], acr: mfa ? 'urn:test:mfa' : 'urn:test:pwd' },
  }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, config.issuer);
    if (url.pathname === '/__test/tamper' && req.method === 'POST') {
      const form = await readForm(req);
      tamper = form.get('mode') || null;
      res.writeHead(204);
      return res.end();
    }
    if (url.pathname.startsWith('/interaction/')) {
      return await interaction(req, res);
    }
    return callback(req, res);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) page(res, 500, 'Test identity provider: error', `<p>${escape(error.message)}</p>`);
    return undefined;
  }
});

server.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${config.issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
