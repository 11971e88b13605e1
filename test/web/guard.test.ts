// Who may talk to `topo web`: foreign Host/Origin first (403), then the token (401).
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { check } from '../../src/web/guard.js';

const req = (url: string, headers: Record<string, string>) => ({ url, headers }) as unknown as IncomingMessage;
const T = 'secret-token';

describe('web guard', () => {
  it('lets the own loopback name with the token through', () => {
    expect(check(req(`/?token=${T}`, { host: '127.0.0.1:8080' }), 8080, T)).toEqual({ ok: true });
    expect(check(req(`/ws/state?token=${T}`, { host: 'localhost:8080', origin: 'http://localhost:8080' }), 8080, T)).toEqual({ ok: true });
    expect(check(req(`/?token=${T}`, { host: '127.0.0.1', origin: 'http://127.0.0.1' }), 80, T)).toEqual({ ok: true });
    expect(check(req(`/?token=${T}`, { host: '127.0.0.1' }), 8080, T)).toMatchObject({ ok: false, status: 403 });
  });

  it('401 without the token, with a wrong one, or one of another length', () => {
    for (const url of ['/', '/?token=', '/?token=secret-tokem', `/?token=${T}x`]) expect(check(req(url, { host: '127.0.0.1:8080' }), 8080, T)).toMatchObject({ ok: false, status: 401 });
  });

  it('403 for a foreign Host or Origin even with the token (DNS rebinding), before looking at the token', () => {
    const cases: Record<string, string>[] = [
      { host: 'evil.example:8080' },
      { host: '127.0.0.1:8081' },
      {},
      { host: '127.0.0.1:8080', origin: 'http://evil.example' },
      { host: '127.0.0.1:8080', origin: 'https://127.0.0.1:8080' },
      { host: '127.0.0.1:8080', origin: 'null' },
    ];
    for (const headers of cases) expect(check(req(`/?token=${T}`, headers), 8080, T), JSON.stringify(headers)).toMatchObject({ ok: false, status: 403 });
    expect(check(req('/', { host: 'evil.example:8080' }), 8080, T)).toMatchObject({ status: 403 });
  });
});
