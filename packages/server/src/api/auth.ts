/**
 * Bearer-token authentication and role checks, in an onRequest hook: a request without a valid token is refused
 * before its body is read (an anonymous client cannot make the server inflate a gigabyte).
 *
 * Roles: sensor (upload and the sensor endpoints), viewer (read), admin (everything: tokens, settings, database,
 * plus what viewers and sensors may do). The token is never logged: fastify's request serialiser logs no headers,
 * and the logger redacts `authorization` wherever it appears.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/database.js';
import { verifyToken } from '../store/tokens.js';
import { ApiError, type App } from './context.js';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export function registerAuth(app: App, store: Store): void {
  app.decorateRequest('token', null);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const config = req.routeOptions.config;
    if (config.public === true) return;
    // Only the API is behind tokens; anything else unmatched (a UI path) is the static handler's or a 404.
    if (!req.url.startsWith('/api/')) return;
    const header = req.headers.authorization;
    const m = header === undefined ? null : BEARER.exec(header);
    const token = m?.[1] === undefined ? null : await verifyToken(store.read, store.db, m[1]);
    if (token === null) {
      reply.header('www-authenticate', 'Bearer realm="tally"');
      throw new ApiError(401, header === undefined ? 'an API token is required (Authorization: Bearer <token>)' : 'invalid or revoked token', 'UNAUTHORIZED');
    }
    req.token = token;
    const roles = config.roles;
    if (roles !== undefined && !roles.includes(token.role)) {
      throw new ApiError(403, `a ${roles.join(' or ')} token is required (this one has role ${token.role})`, 'FORBIDDEN');
    }
  });
}
