/**
 * AMQP version templates: `{version}-{release}`. Placeholders are dotted paths into the
 * message body (`{build.nvr}`); `{{` and `}}` are literal braces.
 */

const PLACEHOLDER = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;

export type TemplatePart = { readonly text: string } | { readonly path: readonly string[] };

export type TemplateResult = { ok: true; parts: TemplatePart[] } | { ok: false; reason: string };

export function parseVersionTemplate(template: string): TemplateResult {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    const next = template[i + 1];
    if ((c === '{' && next === '{') || (c === '}' && next === '}')) {
      text += c;
      i += 2;
    } else if (c === '}') {
      return { ok: false, reason: `unmatched "}" at offset ${i} (write "}}" for a literal brace)` };
    } else if (c === '{') {
      const end = template.indexOf('}', i);
      if (end < 0) return { ok: false, reason: `unclosed "{" at offset ${i}` };
      const name = template.slice(i + 1, end);
      if (!PLACEHOLDER.test(name)) {
        return {
          ok: false,
          reason: `invalid placeholder "{${name}}" (use a dotted path such as {version} or {build.release})`,
        };
      }
      if (text !== '') parts.push({ text });
      text = '';
      parts.push({ path: name.split('.') });
      i = end + 1;
    } else {
      text += c;
      i += 1;
    }
  }
  if (text !== '') parts.push({ text });
  if (!parts.some((p) => 'path' in p)) {
    return {
      ok: false,
      reason:
        'needs at least one placeholder such as {version}, or every message would map to the same version',
    };
  }
  return { ok: true, parts };
}
