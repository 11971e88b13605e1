// Calls back to the server: the token from the page's own address goes with every one.
export const token = new URLSearchParams(location.search).get('token') ?? '';

export function withToken(path: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export function wsUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${withToken(path)}`;
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(withToken(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const v = (await res.json()) as T & { error?: { message: string; hint?: string } };
  if (!res.ok) throw new Error(v.error ? `${v.error.message}${v.error.hint ? ` (${v.error.hint})` : ''}` : `HTTP ${res.status}`);
  return v;
}

/** A DOM element in one call: h('div', { class: 'x', 'data-node': 'r1' }, child, 'text'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}
