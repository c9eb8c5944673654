// `tcr lab all`'s report: one HTML file with every lab's text, numbers and
// pictures inline (the SVG as markup), so it reads offline and alone.
import type { Lab, LabResult } from './lab.js';
import { escapeXml } from './svg.js';

export interface ReportEntry {
  lab: Lab;
  result?: LabResult;
  error?: string;
}

const STYLE = `body{font-family:DejaVu Sans,Verdana,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
.error{color:#b00}figure{margin:1em 0}figcaption{font-weight:bold}`;

/** An SVG document as inline markup: its XML declaration, if any, is not allowed inside HTML. */
const inline = (svg: string): string => svg.replace(/^<\?xml[^>]*>\s*/, '');

function section({ lab, result, error }: ReportEntry): string {
  const parts = [`<section id="${escapeXml(lab.name)}">`, `<h2>${escapeXml(lab.name)}: ${escapeXml(lab.title)}</h2>`];
  if (error || !result) parts.push(`<p class="error">This lab failed: ${escapeXml(error ?? 'no result')}</p>`);
  else {
    parts.push(`<pre>${escapeXml(result.text.trimEnd())}</pre>`);
    if (result.numbers.length) {
      parts.push('<table><tr><th>measured</th><th>value</th></tr>');
      for (const n of result.numbers)
        parts.push(`<tr><td>${escapeXml(n.name)}</td><td>${escapeXml(String(n.value))}${n.unit ? ` ${escapeXml(n.unit)}` : ''}</td></tr>`);
      parts.push('</table>');
    }
    for (const f of result.figures) parts.push(`<figure><figcaption>${escapeXml(f.title)}</figcaption>${inline(f.svg)}</figure>`);
  }
  parts.push('</section>');
  return parts.join('\n');
}

export function reportHtml(entries: ReportEntry[], about: { host: string; kernel: string; date: string }): string {
  const toc = entries.map((e) => `<li><a href="#${escapeXml(e.lab.name)}">${escapeXml(e.lab.title)}</a>${e.error ? ' (failed)' : ''}</li>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tcr labs</title><style>${STYLE}</style></head>
<body>
<h1>tcr labs</h1>
<p>Measured on ${escapeXml(about.host)}, Linux ${escapeXml(about.kernel)}, ${escapeXml(about.date)}. Every number comes from this run.</p>
<ul>${toc.join('')}</ul>
${entries.map(section).join('\n')}
</body></html>
`;
}
