import assert from 'node:assert/strict';

/** Well-formed XML, roughly: tags nest and close, attributes are quoted, no stray '<' or '&'. */
export function assertWellFormedXml(xml: string, what: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    const between = xml.slice(last, m.index);
    assert.ok(
      !/[<>]/.test(between) && !/&(?!(amp|lt|gt|quot|apos);)/.test(between),
      `${what}: stray markup before offset ${m.index}: ${between.slice(0, 60)}`,
    );
    if (m[1]) assert.equal(stack.pop(), m[2], `${what}: </${m[2]}> closes the wrong tag`);
    else if (!m[4]) stack.push(m[2]);
    last = re.lastIndex;
  }
  assert.ok(!/[<>]/.test(xml.slice(last)), `${what}: stray markup at the end`);
  assert.deepEqual(stack, [], `${what}: unclosed tags`);
}
