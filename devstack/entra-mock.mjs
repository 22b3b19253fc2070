// A Microsoft Entra ID stand-in for tests: oauth2-mock-server with Entra's tenant paths, over HTTPS.
// Usage: node entra-mock.mjs <port> <tenant> <cert.pem> <key.pem>
// Tokens come from the client-credentials grant of the client 'test-client' / 'test-secret'. Tests shape
// them with extra form fields: aud, roles and wids (comma-separated), exp_offset (seconds from now), iss, tid.
// Without aud, the audience is the resource of a '<resource>/.default' scope, as in Entra; tokens for Exchange
// Online (EWS) then carry the full_access_as_app role unless roles is given.
// Like Entra's app-only tokens, client-credentials tokens carry 'sub' (the service principal) and no 'scope'.
// A client secret 'test-secret#stale-once#<anything>' is accepted too: the first token issued for it has already
// expired (its 'exp' is in the past, its expires_in still says an hour), as a token a server stops taking early
// (revoked, or a clock ahead); the tokens after it are good. Tests use it to see a refused token replaced.
// People sign in with the authorization code grant (PKCE checked by the mock): the authorize endpoint signs in
// at once the person its login_hint names (one of USERS, default the administrator; anyone else as a
// member of the tenant without app roles), and the ID token of the code
// carries that person's oid, name and app roles, as Entra puts a user's app role assignments in 'roles'.
import { createHash } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

const [port = '18443', tenant = 'tenant1', cert = 'cert.pem', key = 'key.pem'] = process.argv.slice(2);
const CLIENTS = { 'test-client': 'test-secret' };
const STALE_ONCE = '#stale-once#';
const staleSecretsUsed = new Set();

function knownSecret(clientId, secret) {
  const expected = CLIENTS[clientId];
  return expected !== undefined && (secret === expected || String(secret).startsWith(expected + STALE_ONCE));
}

function staleOnce(secret) {
  if (!String(secret ?? '').includes(STALE_ONCE) || staleSecretsUsed.has(secret)) {
    return false;
  }
  staleSecretsUsed.add(secret);
  return true;
}
const EXCHANGE_ONLINE = 'https://outlook.office365.com';
const DEFAULT_SUFFIX = '/.default';
const USERS = {
  'admin@contoso.test': { oid: '00000000-0000-0000-0000-0000000000a1', name: 'Ada Admin', roles: ['Sync.Admin', 'Sync.Approver'] },
  'reader@contoso.test': { oid: '00000000-0000-0000-0000-0000000000a2', name: 'Rita Reader', roles: ['Sync.Reader'] },
  'nobody@contoso.test': { oid: '00000000-0000-0000-0000-0000000000a3', name: 'Nora Nobody', roles: [] },
};
const DEFAULT_USER = 'admin@contoso.test';
const signedIn = new Map(); // authorization code -> the person it signs in

const server = new OAuth2Server(key, cert, {
  endpoints: {
    wellKnownDocument: `/${tenant}/v2.0/.well-known/openid-configuration`,
    token: `/${tenant}/oauth2/v2.0/token`,
    authorize: `/${tenant}/oauth2/v2.0/authorize`,
    jwks: `/${tenant}/discovery/v2.0/keys`,
  },
});
await server.issuer.keys.generate('RS256');

server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  const hint = String(req.query.login_hint ?? DEFAULT_USER);
  if (code) {
    signedIn.set(code, { ...(USERS[hint] ?? memberWithoutRoles(hint)), preferred_username: hint });
  }
});

function memberWithoutRoles(address) {
  // anyone else is a member of the tenant with no app role (a mailbox's owner consenting for their mailbox)
  const h = createHash('sha256').update(address).digest('hex');
  const oid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return { oid, name: address, roles: [] };
}

server.service.on('beforeTokenSigning', (token, req) => {
  const body = req.body ?? {};
  if (body.grant_type === 'authorization_code') {
    const person = signedIn.get(body.code) ?? {};
    if (token.payload.aud !== body.client_id) {
      token.payload.aud = 'api://sync-admin'; // the access token; the ID token keeps the client id as audience
    }
    Object.assign(token.payload, { tid: tenant, oid: person.oid, name: person.name, roles: person.roles ?? [] });
    token.payload.preferred_username = person.preferred_username;
    return;
  }
  const resource = String(body.scope ?? '')
    .split(' ')
    .find((scope) => scope.endsWith(DEFAULT_SUFFIX))
    ?.slice(0, -DEFAULT_SUFFIX.length);
  token.payload.aud = body.aud ?? resource ?? 'api://sync-admin';
  token.payload.tid = body.tid ?? tenant;
  token.payload.oid = '00000000-0000-0000-0000-00000000000a';
  if (body.grant_type === 'client_credentials') {
    token.payload.sub = token.payload.oid;
    delete token.payload.scope;
  }
  token.payload.azp = body.client_id;
  token.payload.roles = body.roles ? String(body.roles).split(',') : [];
  if (body.wids) {
    token.payload.wids = String(body.wids).split(',');
  }
  if (body.roles === undefined && token.payload.aud === EXCHANGE_ONLINE) {
    token.payload.roles = ['full_access_as_app'];
  }
  if (body.exp_offset !== undefined) {
    token.payload.exp = Math.floor(Date.now() / 1000) + Number(body.exp_offset);
  }
  if (body.iss) {
    token.payload.iss = body.iss;
  }
  if (body.grant_type === 'client_credentials' && knownSecret(body.client_id, body.client_secret) && staleOnce(body.client_secret)) {
    const now = Math.floor(Date.now() / 1000);
    token.payload.exp = now - 120;
    token.payload.iat = now - 3720;
    token.payload.nbf = now - 3730;
  }
});

server.service.on('beforeResponse', (resp, req) => {
  // the mock does not check client secrets by itself
  const grant = req.body?.grant_type;
  if (grant === 'authorization_code') {
    signedIn.delete(req.body.code); // a code signs in once
  }
  if (['client_credentials', 'authorization_code'].includes(grant) && !knownSecret(req.body.client_id, req.body.client_secret)) {
    resp.statusCode = 401;
    resp.body = { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' };
  }
});

await server.start(Number(port), '127.0.0.1');
server.issuer.url = `https://localhost:${port}`;
console.log(`entra mock for tenant ${tenant} on https://localhost:${port}`);
