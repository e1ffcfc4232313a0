/**
 * A small SVG bar chart, written by hand: a grid of panels, each a list of labelled horizontal bars
 * scaled to the panel's largest value. Enough for side-by-side ratios; no chart package needed.
 */
export interface Bar {
  label: string;
  value: number;
  /** The text printed after the bar; default the value. */
  text?: string;
  /** 0: the subject (Threadline), 1: a baseline, 2: a second baseline. */
  tone?: 0 | 1 | 2;
}

export interface Panel {
  title: string;
  note?: string;
  bars: Bar[];
}

const TONES = ['#2563eb', '#9ca3af', '#f59e0b'];
const WIDTH = 460;
const LABEL = 170;
const BAR_H = 16;
const GAP = 6;

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panelHeight(p: Panel): number {
  return 44 + p.bars.length * (BAR_H + GAP) + (p.note ? 14 : 0);
}

function renderPanel(p: Panel, x: number, y: number): string {
  const max = Math.max(...p.bars.map((b) => b.value), 1e-9);
  const room = WIDTH - LABEL - 90;
  const parts = [`<text x="${x}" y="${y + 16}" font-size="13" font-weight="bold">${escape(p.title)}</text>`];
  if (p.note) parts.push(`<text x="${x}" y="${y + 31}" font-size="10" fill="#555">${escape(p.note)}</text>`);
  let by = y + (p.note ? 40 : 28);
  for (const b of p.bars) {
    const w = Math.max(1, (b.value / max) * room);
    parts.push(
      `<text x="${x + LABEL - 6}" y="${by + 12}" font-size="11" text-anchor="end">${escape(b.label)}</text>`,
      `<rect x="${x + LABEL}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${TONES[b.tone ?? 0]}"/>`,
      `<text x="${x + LABEL + w + 4}" y="${by + 12}" font-size="11">${escape(b.text ?? String(b.value))}</text>`,
    );
    by += BAR_H + GAP;
  }
  return parts.join('\n');
}

export function renderChart(title: string, subtitle: string, panels: Panel[]): string {
  const columns = 2;
  const rows: Panel[][] = [];
  for (let i = 0; i < panels.length; i += columns) rows.push(panels.slice(i, i + columns));
  let y = 56;
  const body: string[] = [];
  for (const row of rows) {
    row.forEach((p, i) => body.push(renderPanel(p, 16 + i * (WIDTH + 24), y)));
    y += Math.max(...row.map(panelHeight)) + 10;
  }
  const width = columns * WIDTH + 56;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">${escape(title)}</text>`,
    `<text x="16" y="42" font-size="11" fill="#555">${escape(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
