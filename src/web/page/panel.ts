// The side panel: a node's console (xterm.js over a WebSocket), its logs and exec; a link's impairment and capture.
import { Terminal } from '@xterm/xterm';
import { h, post, withToken, wsUrl } from './api.js';
import type { LiveState } from './types.js';

export class Panel {
  private close?: () => void;

  constructor(
    private readonly root: HTMLElement,
    private readonly say: (msg: string, bad?: boolean) => void,
  ) {}

  private reset(title: string, wide: boolean): HTMLElement {
    this.close?.();
    this.close = undefined;
    const body = h('div', { class: 'body' });
    this.root.replaceChildren(h('h2', {}, title), body);
    this.root.hidden = false;
    // The console needs its 80 columns; a link's form does not.
    this.root.classList.toggle('wide', wide);
    return body;
  }

  openNode(name: string): void {
    const body = this.reset(name, true);
    const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 13, rows: 20, cols: 80, scrollback: 2000 });
    const box = h('div', { class: 'term', 'data-console': name });
    const ws = new WebSocket(wsUrl(`/ws/console?node=${encodeURIComponent(name)}`));
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
    ws.onclose = (e) => term.write(`\r\n[console closed${e.reason ? `: ${e.reason}` : ''}]\r\n`);
    const enc = new TextEncoder();
    term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    term.onBinary((d) => ws.readyState === WebSocket.OPEN && ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0))));

    const cmd = h('input', { type: 'text', placeholder: 'command line, e.g. ip -br addr', 'aria-label': 'command', 'data-exec': name });
    const out = h('pre', { class: 'out' });
    const run = h('button', {}, 'exec');
    const exec = async () => {
      if (!cmd.value.trim()) return;
      run.disabled = true;
      out.textContent = `$ ${cmd.value}\n…`;
      try {
        const r = await post<{ exitCode: number; timedOut: boolean; stdout: string; stderr: string }>('/api/exec', { node: name, cmd: cmd.value });
        out.textContent = `$ ${cmd.value}\n${r.stdout}${r.stderr}`;
        out.append(h('div', { class: r.exitCode === 0 ? 'exit ok' : 'exit bad', 'data-exit-code': String(r.exitCode) }, `exit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}`));
      } catch (err) {
        out.textContent = String((err as Error).message);
      } finally {
        run.disabled = false;
      }
    };
    run.addEventListener('click', () => void exec());
    cmd.addEventListener('keydown', (e) => e.key === 'Enter' && void exec());

    const logs = h('pre', { class: 'out logs' });
    const logsBtn = h('button', {}, 'logs');
    logsBtn.addEventListener('click', async () => {
      const res = await fetch(withToken(`/api/logs?node=${encodeURIComponent(name)}`));
      logs.textContent = await res.text();
      logs.scrollTop = logs.scrollHeight;
    });
    body.append(box, h('div', { class: 'row' }, cmd, run, logsBtn), out, logs);
    term.open(box);
    term.focus();
    this.close = () => {
      ws.close();
      term.dispose();
    };
  }

  openLink(id: string, state: LiveState): void {
    const link = state.status.links.find((l) => l.id === id);
    if (!link) return;
    const body = this.reset(`link ${id}`, false);
    body.append(h('p', {}, `${link.endpoints.join(' — ')} · ${link.kind}`));
    if (link.kind !== 'forwarded') {
      body.append(h('p', { class: 'hint' }, 'impairment and capture need a forwarded link (impair: or capture: in the topology, or topo up --forward-all)'));
      return;
    }
    const fields = ['delay', 'jitter', 'loss', 'rate'] as const;
    const inputs = fields.map((f) => h('input', { type: 'text', name: f, placeholder: { delay: '40ms', jitter: '5ms', loss: '1%', rate: '10mbit' }[f], 'aria-label': f }));
    const set = h('button', { 'data-action': 'impair' }, 'set');
    const clear = h('button', { 'data-action': 'clear' }, 'clear');
    set.addEventListener('click', () => {
      const spec = Object.fromEntries(inputs.filter((i) => i.value.trim()).map((i) => [i.name, i.value.trim()]));
      post('/api/impair', { link: id, spec }).then(() => this.say(`impairment set on ${id}`), (e: Error) => this.say(e.message, true));
    });
    clear.addEventListener('click', () => post('/api/impair', { link: id, clear: true }).then(() => this.say(`impairment cleared on ${id}`), (e: Error) => this.say(e.message, true)));
    const seconds = h('input', { type: 'number', min: '1', max: '600', value: '10', 'aria-label': 'seconds' });
    const cap = h('a', { class: 'button', 'data-action': 'capture', download: '' }, 'capture pcap');
    const href = () => cap.setAttribute('href', withToken(`/api/capture?link=${encodeURIComponent(id)}&seconds=${Number(seconds.value) || 10}`));
    href();
    seconds.addEventListener('input', href);
    body.append(
      h('h3', {}, 'impairment (both ways)'),
      h('div', { class: 'grid' }, ...fields.flatMap((f, i) => [h('label', {}, f), inputs[i]!])),
      h('div', { class: 'row' }, set, clear),
      h('h3', {}, 'capture'),
      h('div', { class: 'row' }, seconds, h('span', {}, 's'), cap),
    );
  }
}
