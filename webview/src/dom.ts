/** A small element builder: the dashboard is a handful of static layouts whose parts update in place. */

type Attr = string | number | boolean | undefined | null;
type Child = Node | string | null | undefined | false;

/**
 * Creates an element with attributes (false/null/undefined omitted, true as an empty attribute)
 * and children. Text always goes through text nodes, never innerHTML: run labels, token strings and
 * error messages come from files and must not become markup.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Replaces an element's children. */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

/** Sets text only when it changed (cheap to call on every frame). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
