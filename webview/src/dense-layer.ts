/**
 * The pixel layer of a chart: its dense series rasterised (dense-lines.ts) into an image the size
 * of the plot's canvas and composited onto the plot, from uPlot's `draw` hook.
 */
import type uPlot from 'uplot';
import { packRgba, rasterizeSeries, type PixelBuffer } from './dense-lines';
import { axisMap } from './line-path';

/** Colours resolved to pixels by a canvas, so any CSS colour works. */
const pixelColors = new Map<string, number>();
let colorProbe: CanvasRenderingContext2D | null | undefined;

function pixelColor(css: string): number {
  let c = pixelColors.get(css);
  if (c !== undefined) return c;
  colorProbe ??= document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  c = packRgba(128, 128, 128, 255);
  if (colorProbe) {
    colorProbe.clearRect(0, 0, 1, 1);
    colorProbe.fillStyle = css;
    colorProbe.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = colorProbe.getImageData(0, 0, 1, 1).data;
    c = packRgba(r, g, b, a);
  }
  if (pixelColors.size > 200) pixelColors.clear();
  pixelColors.set(css, c);
  return c;
}

function seriesColor(u: uPlot, i: number): string {
  const stroke = u.series[i].stroke;
  const c = typeof stroke === 'function' ? stroke(u, i) : stroke;
  return typeof c === 'string' ? c : '#888';
}

/**
 * The series of a uPlot drawn as pixels over its plot area, from its `draw` hook (after the grid,
 * where uPlot would have stroked them). The image and the canvas it goes through are the size of
 * the plot's canvas, made once and kept: new ones cost milliseconds on first use (memory the
 * process has not touched yet), and a canvas drawn onto another and written to again before that
 * one is painted is copied whole first, so every chart has its own.
 */
export class DenseLayer {
  private ctx: CanvasRenderingContext2D | null = null;
  private image: ImageData | undefined;
  private pixels: Uint32Array | undefined;

  /** Makes the image, the canvas and the colours a draw needs: when the plot is built (a long frame anyway). */
  prepare(u: uPlot): void {
    if (!this.ready(u.ctx.canvas.width, u.ctx.canvas.height) || !this.ctx || !this.image || !this.pixels) return;
    // touch all of it now rather than in the first draw
    this.pixels.fill(0);
    this.ctx.putImageData(this.image, 0, 0);
    for (let i = 1; i < u.series.length; i++) pixelColor(seriesColor(u, i));
  }

  /** The image and canvas at the plot canvas's size; false when there is nothing to draw on. */
  private ready(w: number, h: number): boolean {
    if (w <= 0 || h <= 0) return false;
    if (this.image?.width === w && this.image.height === h) return true;
    const canvas = this.ctx?.canvas ?? document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    this.ctx ??= canvas.getContext('2d');
    this.image = new ImageData(w, h);
    this.pixels = new Uint32Array(this.image.data.buffer);
    return true;
  }

  draw(u: uPlot): void {
    const xMap = axisMap(u, 'x');
    if (!xMap || !this.ready(u.ctx.canvas.width, u.ctx.canvas.height)) return;
    const { ctx, image, pixels } = this;
    if (!ctx || !image || !pixels) return;
    const left = Math.max(0, Math.round(u.bbox.left));
    const top = Math.max(0, Math.round(u.bbox.top));
    const right = Math.min(image.width, Math.round(u.bbox.left + u.bbox.width));
    const bottom = Math.min(image.height, Math.round(u.bbox.top + u.bbox.height));
    if (right <= left || bottom <= top) return;
    // clear the plot area's rows (the rest stays empty)
    pixels.fill(0, top * image.width, bottom * image.width);
    const buf: PixelBuffer = { pixels, width: image.width, height: image.height, clip: { left, top, right, bottom } };
    const xs = u.data[0] as ArrayLike<number>;
    for (let i = 1; i < u.series.length; i++) {
      const s = u.series[i];
      const yMap = axisMap(u, s.scale ?? 'y');
      const ys = u.data[i] as ArrayLike<number | null | undefined> | undefined;
      if (!s.show || !yMap || !ys || ys.length === 0) continue;
      // (uPlot sets a series' dash on the canvas as it is: in device pixels)
      rasterizeSeries(buf, {
        xs,
        ys,
        from: 0,
        to: ys.length - 1,
        xMap,
        yMap,
        color: pixelColor(seriesColor(u, i)),
        dash: s.dash,
      });
    }
    const w = right - left;
    const h = bottom - top;
    ctx.putImageData(image, 0, 0, left, top, w, h);
    u.ctx.drawImage(ctx.canvas, left, top, w, h, left, top, w, h);
  }
}
