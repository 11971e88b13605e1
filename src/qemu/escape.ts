// QEMU's option parser splits on ',' and treats ',,' as a literal comma: every value we interpolate goes through here.

export function escapeValue(value: string | number): string {
  return String(value).replaceAll(',', ',,');
}

/** Build "type,key=value,..." with every value escaped; undefined/false entries are dropped. */
export function qemuOpts(head: string | undefined, props: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = head === undefined ? [] : [escapeValue(head)];
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    parts.push(value === true ? `${key}=on` : `${key}=${escapeValue(value)}`);
  }
  return parts.join(',');
}
