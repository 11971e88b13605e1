// What maintainer scripts would have done that a package needs to start, since dpkg-deb -x runs none:
// system users and groups (sysusers.d files, else the postinst's adduser/addgroup/usermod calls) and the
// directories of tmpfiles.d `d` lines (e.g. /run/frr, created at boot since /run is a tmpfs). Pure.

export interface SystemAccounts {
  /** name -> primary group */
  readonly users: Map<string, { group: string; home: string; gecos: string }>;
  /** name -> members */
  readonly groups: Map<string, Set<string>>;
}

export interface RuntimeDir {
  readonly path: string;
  readonly mode: string;
  readonly user: string;
  readonly group: string;
}

export function emptyAccounts(): SystemAccounts {
  return { users: new Map(), groups: new Map() };
}

function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const addGroup = (a: SystemAccounts, g: string) => {
  if (!a.groups.has(g)) a.groups.set(g, new Set());
};

/** sysusers.d lines: `u NAME ID "GECOS" HOME SHELL`, `g NAME ...`, `m USER GROUP`. */
export function parseSysusers(text: string, a: SystemAccounts): void {
  for (const raw of text.split('\n')) {
    const [type, name, id, gecos, home] = words(raw.replace(/#.*/, ''));
    if (!type || !name) continue;
    if (type === 'g') addGroup(a, name);
    else if (type === 'u') {
      // "u name uid:gid": the primary group is named after the gid when it is a name.
      const group = id?.includes(':') && !/^\d+$/.test(id.split(':')[1]!) ? id.split(':')[1]! : name;
      addGroup(a, group);
      a.users.set(name, { group, home: home && home !== '-' ? home : '/nonexistent', gecos: gecos && gecos !== '-' ? gecos : name });
    } else if (type === 'm' && id) {
      addGroup(a, id);
      a.groups.get(id)!.add(name);
    }
  }
}

const VALUE_OPTS = new Set(['--ingroup', '--home', '--gecos', '--shell', '--uid', '--gid', '--group', '--comment', '--firstuid', '--lastuid', '--firstgid', '--lastgid', '--conf', '-G', '-g', '-d', '-s', '-c', '-u']);

/** The adduser/addgroup/useradd/groupadd/usermod calls of a postinst (line continuations joined). */
export function parsePostinst(text: string, a: SystemAccounts): void {
  const joined = text.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const w = words(line.replace(/(^|\s)#.*/, '').replace(/[;&|]+.*$/, '').trim());
    const cmd = w[0]?.replace(/^.*\//, '');
    if (!cmd || !['adduser', 'addgroup', 'useradd', 'groupadd', 'usermod'].includes(cmd)) continue;
    const opts = new Map<string, string>();
    const flags = new Set<string>();
    const args: string[] = [];
    for (let i = 1; i < w.length; i++) {
      const t = w[i]!;
      if (VALUE_OPTS.has(t)) opts.set(t, w[++i] ?? '');
      else if (t.startsWith('-')) flags.add(t.split('=')[0]!);
      else if (/^[a-z_][a-z0-9_.-]*\$?$/i.test(t)) args.push(t);
      else args.push('');
    }
    if (args.some((x) => x === '')) continue; // variables or command substitution: nothing we can know
    if (cmd === 'groupadd' || (cmd === 'addgroup' && args.length === 1) || (cmd === 'adduser' && flags.has('--group') && !flags.has('--system'))) {
      if (args[0]) addGroup(a, args[0]);
    } else if (cmd === 'usermod') {
      const user = args[0];
      for (const g of (opts.get('-G') ?? '').split(',').filter(Boolean)) {
        addGroup(a, g);
        if (user) a.groups.get(g)!.add(user);
      }
    } else if ((cmd === 'adduser' || cmd === 'addgroup') && args.length === 2) {
      addGroup(a, args[1]!);
      a.groups.get(args[1]!)!.add(args[0]!);
    } else if (args.length === 1) {
      const name = args[0]!;
      const group = opts.get('--ingroup') ?? opts.get('--gid') ?? opts.get('-g') ?? (flags.has('--group') || cmd === 'useradd' ? name : 'nogroup');
      addGroup(a, group);
      a.users.set(name, { group, home: opts.get('--home') ?? opts.get('-d') ?? '/nonexistent', gecos: opts.get('--gecos') ?? opts.get('-c') ?? name });
    }
  }
}

/** tmpfiles.d `d`/`D` lines; /var/run/... is written as /run/.... */
export function parseTmpfiles(text: string): RuntimeDir[] {
  const out: RuntimeDir[] = [];
  for (const raw of text.split('\n')) {
    const [type, p, mode, user, group] = words(raw.replace(/#.*/, ''));
    if ((type !== 'd' && type !== 'D') || !p?.startsWith('/') || /[%*?]/.test(p)) continue;
    out.push({ path: p.replace(/^\/var\/run\//, '/run/'), mode: mode && /^[0-7]{3,4}$/.test(mode) ? mode : '0755', user: user && user !== '-' ? user : 'root', group: group && group !== '-' ? group : 'root' });
  }
  return out;
}

/** /etc/passwd and /etc/group of the layer: root, nobody, then the packages' accounts (ids from 100 up). */
export function renderAccounts(a: SystemAccounts): { passwd: string; group: string } {
  const gids = new Map<string, number>([['root', 0], ['nogroup', 65534]]);
  let next = 100;
  for (const g of [...a.groups.keys()].sort()) if (!gids.has(g)) gids.set(g, next++);
  const passwd = ['root:x:0:0:root:/root:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'];
  let uid = 100;
  for (const [name, u] of [...a.users.entries()].sort(([x], [y]) => (x < y ? -1 : 1))) {
    if (name === 'root' || name === 'nobody') continue;
    passwd.push(`${name}:x:${uid++}:${gids.get(u.group) ?? 65534}:${u.gecos.replace(/[:\n]/g, ' ')}:${u.home}:/usr/sbin/nologin`);
  }
  const group = [...gids.entries()].sort(([, x], [, y]) => x - y).map(([g, id]) => `${g}:x:${id}:${[...(a.groups.get(g) ?? [])].sort().join(',')}`);
  return { passwd: `${passwd.join('\n')}\n`, group: `${group.join('\n')}\n` };
}
