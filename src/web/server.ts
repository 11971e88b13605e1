// `topo web`'s server: one page for one running lab, on loopback, everything through the lab's control socket.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { attach, type RemoteLab } from '../control/remote-lab.js';
import { TopoError } from '../errors.js';
import { handleApi } from './api.js';
import { check } from './guard.js';
import { LiveLab } from './live.js';

export interface WebServer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** Settles when the server stopped (the lab went away, or close()). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export interface WebOptions {
  sockPath: string;
  lab: string;
  port?: number;
}

/** The bundle `npm run build` writes (scripts/build-web.mjs); the same path from src (tsx) and from dist. */
const PAGE_DIR = new URL('../../dist/web/page/', import.meta.url);

export async function loadPage(): Promise<{ js: string; css: string }> {
  try {
    const [js, css] = await Promise.all([readFile(new URL('app.js', PAGE_DIR), 'utf8'), readFile(new URL('app.css', PAGE_DIR), 'utf8')]);
    return { js, css };
  } catch {
    throw new TopoError(`the web page is not built (${new URL('app.js', PAGE_DIR).pathname} is missing)`, { code: 'E_NOT_BUILT', hint: 'run `npm run build` in the topo checkout' });
  }
}

/** One self-contained document: no CDN, no second request, so it works offline and the token guards all of it. */
function pageHtml(lab: string, page: { js: string; css: string }): string {
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  // `</script` inside the bundle would end the element early.
  const js = page.js.replace(/<\/script/gi, '<\\/script');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>topo: ${esc(lab)}</title><link rel="icon" href="data:,"><style>${page.css}</style></head><body><div id="app"></div><script>${js}</script></body></html>`;
}

export async function startWebServer(opts: WebOptions): Promise<WebServer> {
  const page = await loadPage();
  const remote = await attach(opts.sockPath, opts.lab);
  const status = await remote.status();
  const live = new LiveLab(remote, status);
  await live.start();
  const token = randomBytes(24).toString('base64url');
  const html = pageHtml(opts.lab, page);
  // Compressed once: the page (mostly xterm.js) is about 400 kB, a quarter of that gzipped.
  const gz = gzipSync(html);
  let port = 0;
  const ctx = { remote, lab: opts.lab, changed: () => void live.refresh() };

  const server = http.createServer((req, res) => {
    const verdict = check(req, port, token);
    if (!verdict.ok) {
      res.writeHead(verdict.status, { 'content-type': 'text/plain' });
      return void res.end(`${verdict.status === 401 ? 'unauthorized' : 'forbidden'}: ${verdict.reason}\n`);
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    // Nothing of this page may be framed by another one.
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    if (req.method === 'GET' && url.pathname === '/') {
      const zipped = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', vary: 'accept-encoding', ...(zipped ? { 'content-encoding': 'gzip' } : {}) });
      return void res.end(zipped ? gz : html);
    }
    if (req.method === 'GET' && url.pathname === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end(JSON.stringify(live.state));
    }
    void handleApi(ctx, req, res, url).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket: Duplex, head) => {
    socket.on('error', () => undefined);
    const verdict = check(req, port, token);
    if (!verdict.ok) {
      socket.end(`HTTP/1.1 ${verdict.status} ${verdict.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (url.pathname === '/ws/state') return wss.handleUpgrade(req, socket, head, (ws) => serveState(ws, live));
    if (url.pathname === '/ws/console') {
      const node = url.searchParams.get('node') ?? '';
      return wss.handleUpgrade(req, socket, head, (ws) => serveConsole(ws, remote, node));
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new TopoError(`cannot listen on 127.0.0.1:${opts.port ?? 0} (${err.code ?? err.message})`, { code: 'E_PORT', hint: err.code === 'EADDRINUSE' ? 'choose another --port, or leave it out for a free one' : undefined })),
    );
    // Loopback only: the page drives the lab, nobody else on the network may.
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  }).catch(async (err: unknown) => {
    await live.close();
    await remote.close();
    throw err;
  });
  port = (server.address() as import('node:net').AddressInfo).port;

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const close = () =>
    (closing ??= (async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await live.close();
      await remote.close();
      resolveClosed();
    })());
  // The lab stopping closes its control socket: the page's server stops with it.
  remote.onDisconnect(() => void close());
  return { url: `http://127.0.0.1:${port}/?token=${token}`, port, token, closed, close };
}

function serveState(ws: WebSocket, live: LiveLab): void {
  const unsubscribe = live.subscribe((m) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
  });
  ws.on('close', unsubscribe);
  ws.on('error', () => undefined);
}

/** The same byte stream as `topo console`: guest output to the terminal, keystrokes (binary or text) to the guest. */
function serveConsole(ws: WebSocket, remote: RemoteLab, node: string): void {
  ws.on('error', () => undefined);
  const pending: Buffer[] = [];
  let sock: import('node:net').Socket | undefined;
  ws.on('message', (data: Buffer) => (sock ? sock.write(data) : pending.push(Buffer.from(data))));
  ws.on('close', () => sock?.destroy());
  remote.open({ op: 'console', node }).then(
    (s) => {
      sock = s;
      if (ws.readyState !== ws.OPEN) return void s.destroy();
      for (const b of pending.splice(0)) s.write(b);
      s.on('data', (b: Buffer) => ws.send(b));
      s.on('close', () => ws.close(1000, 'console closed'));
      s.on('error', () => undefined);
      s.resume();
    },
    (err: Error) => ws.close(4000, err.message.slice(0, 120)),
  );
}
