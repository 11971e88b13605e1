// `topo web` on the triangle, driven in a real browser (Debian's chromium through puppeteer-core): live state,
// link controls, a node's console, the token and Host checks, and the server stopping with the lab.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctrlC, repoRoot, topo, waitForOutput, type TopoChild } from '../helpers/cli.js';

let base: string;
let web: TopoChild;
let url: URL;
let browser: Browser;
let page: Page;
const run = (args: string[]) => topo(args, { TOPO_RUN_DIR: base });
const triangle = path.join(repoRoot, 'topologies/triangle.yaml');

interface PsLab {
  links: { id: string; endpoints: string[]; state: string }[];
}
const ps = async (): Promise<PsLab> => (JSON.parse((await run(['ps', 'triangle', '--json'])).stdout) as PsLab[])[0]!;

/** A raw request, so the test chooses the Host header a browser would send after DNS rebinding. */
function request(pathAndQuery: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: Number(url.port), path: pathAndQuery, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

function wsStatus(pathAndQuery: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${url.port}${pathAndQuery}`, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('error', () => undefined);
  });
}

beforeAll(async () => {
  // Tests run from src: bundle the page first (what `npm run build` does).
  await execa(process.execPath, ['scripts/build-web.mjs'], { cwd: repoRoot });
  base = await mkdtemp(path.join(os.tmpdir(), 'topo-web-'));
  // Forwarded links: rates on the drawing, impairment and capture from the page.
  const up = await run(['up', '--detach', '--forward-all', triangle, '--accel', 'tcg']);
  expect(up.exitCode, up.all).toBe(0);
  web = run(['web', 'triangle']);
  const line = (await waitForOutput(web, /topo web: \S+\n/)).match(/^topo web: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/m);
  expect(line).not.toBeNull();
  url = new URL(line![1]!);
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // As root Chromium refuses its sandbox; the page is our own.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 760 });
});

afterAll(async () => {
  await browser?.close();
  await run(['down', '--all']);
  web?.kill();
  await rm(base, { recursive: true, force: true });
});

describe('topo web in a browser', () => {
  it('draws every node ready and every link of `topo ps --json` once, its controls visible', async () => {
    await page.goto(url.href);
    await page.waitForFunction('document.querySelectorAll(\'[data-node][data-state="ready"]\').length === 3');
    const nodes = await page.$$eval('[data-node]', (els) => els.map((e) => [e.getAttribute('data-node'), e.getAttribute('data-state')]));
    expect(nodes.sort()).toEqual([['r1', 'ready'], ['r2', 'ready'], ['r3', 'ready']]);
    const ids = (await ps()).links.map((l) => l.id);
    const links = await page.$$eval('[data-link]', (els) => els.map((e) => [e.getAttribute('data-link'), e.getAttribute('data-state')]));
    expect(links.sort()).toEqual(ids.map((id) => [id, 'up']).sort());
    for (const id of ids) {
      for (const action of ['down', 'up']) {
        const visible = await page.$eval(`[data-link="${id}"] [data-action="${action}"]`, (el) => el.checkVisibility() && el.getBoundingClientRect().width > 0);
        expect(visible, `${id} ${action}`).toBe(true);
      }
    }
  });

  it('`topo link ID down` turns the link down in the page without a reload; its up control brings it back', async () => {
    const id = (await ps()).links[0]!.id;
    // A reload would lose this.
    await page.evaluate('window.marker = 42');
    const down = await run(['link', 'triangle', id, 'down']);
    expect(down.exitCode, down.all).toBe(0);
    await page.waitForSelector(`[data-link="${id}"][data-state="down"]`);
    expect(await page.evaluate('window.marker')).toBe(42);
    await page.click(`[data-link="${id}"] [data-action="up"]`);
    await page.waitForSelector(`[data-link="${id}"][data-state="up"]`);
    expect((await ps()).links.find((l) => l.id === id)!.state).toBe('up');
  });

  it("clicking a node opens its console: typing hostname shows the node's name", async () => {
    await page.click('[data-node="r2"]');
    await page.waitForSelector('[data-console="r2"] .xterm');
    await page.click('[data-console="r2"]');
    await page.keyboard.press('Enter');
    await page.keyboard.type('hostname');
    await page.keyboard.press('Enter');
    const rows = `[...document.querySelectorAll('[data-console="r2"] .xterm-rows > div')].map((row) => row.textContent.trim())`;
    await page.waitForFunction(`${rows}.includes('r2')`, { timeout: 30_000 });
  });

  it('exec shows the exit code; a link impaired from the page is impaired in the lab; its capture downloads as pcap', async () => {
    await page.type('[data-exec="r2"]', 'hostname; exit 3');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-exit-code="3"]');
    expect(await page.$eval('.out', (el) => el.textContent)).toMatch(/^\$ hostname; exit 3\nr2\nexit 3$/);
    const id = (await ps()).links[1]!.id;
    await page.click(`[data-link="${id}"] [data-action="open"]`);
    await page.type('input[name="delay"]', '20ms');
    await page.type('input[name="loss"]', '1%');
    await page.click('[data-action="impair"]');
    await page.waitForFunction(`document.querySelector('[data-link="${id}"] .impair').textContent.includes('20ms')`);
    const show = JSON.parse((await run(['impair', 'triangle', '--show', '--json'])).stdout) as { link: string; impair?: { delayMs: number; lossPct: number } }[];
    expect(show.filter((s) => s.link === id).map((s) => s.impair)).toEqual([expect.objectContaining({ delayMs: 20, lossPct: 1 }), expect.objectContaining({ delayMs: 20, lossPct: 1 })]);
    // The capture link is a download; fetch what it serves (1 s of capture) and check the pcap magic.
    await page.$eval('input[aria-label="seconds"]', (el) => ((el as unknown as { value: string }).value = '1'));
    await page.$eval('input[aria-label="seconds"]', (el) => el.dispatchEvent(new Event('input')));
    const href = await page.$eval('[data-action="capture"]', (el) => el.getAttribute('href')!);
    const res = await fetch(new URL(href, url));
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="triangle-.+\.pcap"$/);
    expect(Buffer.from(await res.arrayBuffer()).readUInt32LE(0)).toBe(0xa1b2c3d4);
    if (process.env.TOPO_WEB_SCREENSHOT) {
      // The README's picture: one link down, one impaired, r2's console open.
      const last = (await ps()).links[2]!.id;
      await page.click(`[data-link="${last}"] [data-action="down"]`);
      await page.waitForSelector(`[data-link="${last}"][data-state="down"]`);
      await page.click('[data-node="r2"]');
      await page.waitForSelector('[data-console="r2"] .xterm');
      await page.click('[data-console="r2"]');
      await page.keyboard.press('Enter');
      await page.keyboard.type('hostname');
      await page.keyboard.press('Enter');
      await new Promise((r) => setTimeout(r, 1500));
      await page.screenshot({ path: process.env.TOPO_WEB_SCREENSHOT });
    }
  });

  it('refuses requests and WebSockets without the token (401) or with a foreign Host or Origin (403)', async () => {
    const token = url.searchParams.get('token')!;
    const own = `127.0.0.1:${url.port}`;
    expect(await request(`/?token=${token}`, { host: own })).toBe(200);
    expect(await request('/', { host: own })).toBe(401);
    expect(await request('/?token=wrong', { host: own })).toBe(401);
    expect(await request('/api/state', { host: own })).toBe(401);
    expect(await request(`/?token=${token}`, { host: `attacker.example:${url.port}` })).toBe(403);
    expect(await request(`/?token=${token}`, { host: own, origin: 'http://attacker.example' })).toBe(403);
    expect(await wsStatus('/ws/state')).toBe(401);
    expect(await wsStatus(`/ws/console?node=r1&token=${token}`, { origin: 'http://attacker.example' })).toBe(403);
    expect(await wsStatus(`/ws/state?token=${token}`)).toBe(101);
  });

  it('a --port in use is one line, exit 1, nothing left listening', async () => {
    const r = await run(['web', 'triangle', '--port', url.port]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`topo: error: cannot listen on 127.0.0.1:${url.port} (EADDRINUSE) (choose another --port, or leave it out for a free one)`);
  });

  it('Ctrl-C stops a second server: exit 130, its port closed', async () => {
    const other = topo(['web', 'triangle'], { TOPO_RUN_DIR: base }, { group: true });
    const port = Number((await waitForOutput(other, /topo web: \S+\n/)).match(/127\.0\.0\.1:(\d+)/)![1]);
    ctrlC(other);
    expect((await other).exitCode).toBe(130);
    const refused = await new Promise<string>((resolve) => http.get({ host: '127.0.0.1', port }, () => resolve('answered')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
    expect(refused).toBe('ECONNREFUSED');
  });

  it('stops with the lab', async () => {
    expect((await run(['down', 'triangle'])).exitCode).toBe(0);
    const r = await web;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).toMatch(/lab triangle stopped/);
    await page.waitForSelector('[data-connection="closed"]');
  });
});
