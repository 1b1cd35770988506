import { Resvg } from '@resvg/resvg-js';
import { instance, type Viz } from '@viz-js/viz';

let viz: Promise<Viz> | undefined;

/** DOT → SVG with Graphviz compiled to WebAssembly: in-process, no browser, no binary on PATH. */
export async function dotToSvg(dot: string): Promise<string> {
  viz ??= instance();
  return (await viz).renderString(dot, { format: 'svg' });
}

/** SVG → PNG with resvg, at `scale` (2 reads well on a high-density screen), on white. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
