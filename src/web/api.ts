// The page's HTTP calls, each one control-socket request: link down/up, impair set/clear, exec, logs, a capture download.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RemoteLab } from '../control/remote-lab.js';
import { TopoError } from '../errors.js';
import type { ImpairSpec } from '../topology/impairment.js';

export interface ApiContext {
  remote: RemoteLab;
  lab: string;
  /** Called after a change so the page sees its effect without waiting for the next tick. */
  changed: () => void;
}

const MAX_BODY = 1024 * 1024;
const MAX_CAPTURE_S = 600;

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new TopoError('send JSON (Content-Type: application/json)', { code: 'E_BAD_REQUEST' });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new TopoError('request too large', { code: 'E_TOO_LARGE' });
    chunks.push(c);
  }
  const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new TopoError('expected a JSON object', { code: 'E_BAD_REQUEST' });
  return v as Record<string, unknown>;
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new TopoError(`${what} missing`, { code: 'E_BAD_REQUEST' });
  return v;
};

function json(res: ServerResponse, status: number, v: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(v));
}

/** Handles /api/*; true when the path was one of ours. */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const route = `${req.method} ${url.pathname}`;
  try {
    switch (route) {
      case 'POST /api/link': {
        const b = await body(req);
        const state = b.state === 'up' || b.state === 'down' ? b.state : undefined;
        if (!state) throw new TopoError('state must be "up" or "down"', { code: 'E_BAD_REQUEST' });
        json(res, 200, await ctx.remote.setLink(str(b.link, 'link'), state));
        ctx.changed();
        return true;
      }
      case 'POST /api/impair': {
        const b = await body(req);
        const endpoint = str(b.link, 'link');
        const r = b.clear ? await ctx.remote.impair(endpoint, { clear: true }) : await ctx.remote.impair(endpoint, { spec: (b.spec ?? {}) as ImpairSpec });
        json(res, 200, r);
        ctx.changed();
        return true;
      }
      case 'POST /api/exec': {
        const b = await body(req);
        const r = await ctx.remote.exec(str(b.node, 'node'), str(b.cmd, 'cmd'), { timeout: 60_000 });
        json(res, 200, { exitCode: r.exitCode, timedOut: r.timedOut, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') });
        return true;
      }
      case 'GET /api/logs': {
        const sock = await ctx.remote.open({ op: 'logs', node: str(url.searchParams.get('node'), 'node'), tail: 500 });
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        sock.pipe(res);
        sock.resume();
        return true;
      }
      case 'GET /api/capture': {
        const link = str(url.searchParams.get('link'), 'link');
        const seconds = Math.min(MAX_CAPTURE_S, Math.max(1, Number(url.searchParams.get('seconds')) || 10));
        const sock = await ctx.remote.open({ op: 'capture', endpoint: link, format: 'pcap' });
        const name = `${ctx.lab}-${link.replace(/[^A-Za-z0-9._-]/g, '_')}.pcap`;
        res.writeHead(200, { 'content-type': 'application/vnd.tcpdump.pcap', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store' });
        // A download must end: the capture runs for the chosen time, then the file is complete.
        const timer = setTimeout(() => sock.end(), seconds * 1000);
        res.on('close', () => (clearTimeout(timer), sock.destroy()));
        sock.pipe(res);
        sock.resume();
        return true;
      }
      default:
        return false;
    }
  } catch (err) {
    const e = err instanceof TopoError ? err : new TopoError(err instanceof Error ? err.message : String(err), { code: 'E_BAD_REQUEST' });
    if (!res.headersSent) json(res, e.code === 'E_BAD_REQUEST' || e.code === 'E_TOO_LARGE' ? 400 : 422, { error: { code: e.code, message: e.message, hint: e.hint } });
    else res.destroy();
    return true;
  }
}
