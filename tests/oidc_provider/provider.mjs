// A standard OpenID Connect provider that is not Keycloak: panva's oidc-provider (npm, v9)
// with client credentials and RFC 9068 JWT access tokens through resource indicators.
//
// Environment:
//   OIDC_PROVIDER_HOME  directory whose node_modules holds oidc-provider (scripts/oidc-provider)
//   OIDC_PORT           port on 127.0.0.1 (the issuer is http://127.0.0.1:PORT)
//   OIDC_CLIENTS        JSON list of client metadata (client_id, client_secret,
//                       token_endpoint_auth_method, scope); read once, never printed
//   OIDC_RESOURCES      JSON object: resource indicator -> {audience, scope}
//   OIDC_DEFAULT_RESOURCE  the resource of a request that names none
// Prints "ready <issuer>" on stdout once listening; SIGTERM stops it.
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const home = process.env.OIDC_PROVIDER_HOME;
const port = Number(process.env.OIDC_PORT);
if (!home || !port) {
  console.error('OIDC_PROVIDER_HOME and OIDC_PORT are required');
  process.exit(2);
}
const { default: Provider, errors } = await import(
  pathToFileURL(join(home, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href);

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((c) => ({
  grant_types: ['client_credentials'], redirect_uris: [], response_types: [], ...c,
}));
const resources = JSON.parse(process.env.OIDC_RESOURCES || '{}');
const defaultResourceIndicator = process.env.OIDC_DEFAULT_RESOURCE;

// Its own signing key, new on every start.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig',
  kid: `op-${Date.now().toString(36)}` };

const scopes = new Set(['openid', 'offline_access']);
for (const server of Object.values(resources)) {
  for (const name of server.scope.split(' ')) if (name) scopes.add(name);
}

const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients,
  scopes: [...scopes],
  jwks: { keys: [jwk] },
  cookies: { keys: [jwk.d.slice(0, 32)] },
  ttl: { ClientCredentials: 300 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => defaultResourceIndicator,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        const server = resources[indicator];
        if (!server) throw new errors.InvalidTarget();
        return { audience: server.audience, scope: server.scope, accessTokenFormat: 'jwt',
          accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
