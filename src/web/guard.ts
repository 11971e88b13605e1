// Who may talk to `topo web`: the right token, and only through the server's own loopback name (no DNS rebinding).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** The names a browser on this machine uses for the server: anything else in Host or Origin is a foreign page. */
export function ownHosts(port: number): Set<string> {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  // On the default port browsers leave the port out of Host and Origin.
  if (port === 80) hosts.push('127.0.0.1', 'localhost');
  return new Set(hosts);
}

export function tokenOf(req: IncomingMessage): string | undefined {
  const url = new URL(req.url ?? '/', 'http://x');
  return url.searchParams.get('token') ?? req.headers['x-topo-token']?.toString();
}

export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Host and Origin first (403), then the token (401): a rebinding page learns nothing, not even whether its guess was right. */
export function check(req: IncomingMessage, port: number, token: string): Verdict {
  const hosts = ownHosts(port);
  const host = req.headers.host;
  if (!host || !hosts.has(host.toLowerCase())) return { ok: false, status: 403, reason: `foreign Host ${JSON.stringify(host ?? '')}` };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let o: URL | undefined;
    try {
      o = new URL(origin);
    } catch {
      o = undefined;
    }
    if (!o || o.protocol !== 'http:' || !hosts.has(o.host.toLowerCase())) return { ok: false, status: 403, reason: `foreign Origin ${JSON.stringify(origin)}` };
  }
  if (!sameToken(tokenOf(req), token)) return { ok: false, status: 401, reason: 'missing or wrong token' };
  return { ok: true };
}
