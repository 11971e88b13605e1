// The page: drawing, side panel, event list; state arrives over one WebSocket as the lab changes.
import { h, post, wsUrl } from './api.js';
import { Drawing } from './graph.js';
import { Panel } from './panel.js';
import type { JournalEvent, LiveState, PushMessage } from './types.js';

const app = document.getElementById('app')!;
const title = h('h1', {}, 'topo');
const conn = h('span', { class: 'conn', 'data-connection': 'connecting' }, 'connecting…');
const status = h('span', { class: 'status' });
const canvas = h('div', { class: 'canvas' });
const side = h('aside', { class: 'panel' });
side.hidden = true;
const events = h('ol', { class: 'events' });
app.append(h('header', {}, title, conn, status), h('main', {}, h('section', { class: 'drawing' }, canvas), side), h('footer', {}, events));

let state: LiveState | undefined;
const say = (msg: string, bad = false) => {
  status.textContent = msg;
  status.className = bad ? 'status bad' : 'status';
};
const panel = new Panel(side, say);
const drawing = new Drawing(canvas, {
  openNode: (name) => panel.openNode(name),
  openLink: (id) => state && panel.openLink(id, state),
  setLink: (id, to) => void post('/api/link', { link: id, state: to }).then(() => say(`link ${id} ${to}`), (e: Error) => say(e.message, true)),
});

function describe(e: JournalEvent): string {
  const f = e as Record<string, unknown>;
  switch (e.type) {
    case 'node':
      return `${String(f.node)} ${String(f.state)}`;
    case 'link':
      return `link ${String(f.link)} ${String(f.state)}`;
    case 'lab':
      return `lab ${String(f.state)}${f.detail ? ` (${String(f.detail)})` : ''}`;
    case 'notice':
      return String(f.message);
    case 'step':
      return `step ${String(f.step)} ${String(f.name)} ${String(f.state)}`;
    default:
      return e.type;
  }
}

function connect(): void {
  const ws = new WebSocket(wsUrl('/ws/state'));
  ws.onopen = () => {
    conn.textContent = 'live';
    conn.dataset.connection = 'live';
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data)) as PushMessage;
    if (msg.type === 'state') {
      state = msg.state;
      title.textContent = `topo · ${state.status.lab}`;
      document.title = `topo: ${state.status.lab}`;
      drawing.update(state);
    } else {
      const li = h('li', {}, h('time', {}, msg.event.time.slice(11, 19)), ` ${describe(msg.event)}`);
      events.prepend(li);
      while (events.children.length > 100) events.lastElementChild!.remove();
    }
  };
  // The server stops with the lab: say so rather than retry forever against nothing.
  ws.onclose = () => {
    conn.textContent = 'disconnected (the lab or topo web stopped)';
    conn.dataset.connection = 'closed';
  };
}
connect();
