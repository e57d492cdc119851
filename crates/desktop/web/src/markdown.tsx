// Markdown from the server (letters) drawn as elements, never as an HTML string: raw HTML is off
// (it stays text), links keep only http(s) and mailto targets, images show their alt text, and
// only the tags below are made.

import MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";
import { h, type ComponentChildren, type VNode } from "preact";

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
const SAFE_LINK = /^(https?:|mailto:)/i;
md.validateLink = (url: string) => SAFE_LINK.test(url.trim());

const TAGS = new Set([
  "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th",
  "td", "strong", "em", "s", "blockquote", "hr", "br", "a", "code", "pre",
]);

interface Frame {
  tag: string;
  attrs: Record<string, string>;
  children: ComponentChildren[];
}

function build(tokens: Token[]): ComponentChildren[] {
  const root: Frame = { tag: "", attrs: {}, children: [] };
  const stack: Frame[] = [root];
  const top = () => stack[stack.length - 1];
  for (const t of tokens) {
    switch (t.type) {
      case "inline":
        top().children.push(...build(t.children ?? []));
        continue;
      case "text":
      case "html_inline":
      case "html_block":
        top().children.push(t.content);
        continue;
      case "softbreak":
        top().children.push("\n");
        continue;
      case "hardbreak":
        top().children.push(h("br", null));
        continue;
      case "code_inline":
        top().children.push(h("code", null, t.content));
        continue;
      case "fence":
      case "code_block":
        top().children.push(h("pre", null, h("code", null, t.content)));
        continue;
      case "image":
        top().children.push(t.content);
        continue;
      case "hr":
        top().children.push(h("hr", null));
        continue;
    }
    if (t.nesting === 1) {
      const attrs: Record<string, string> = {};
      if (t.tag === "a") {
        const href = t.attrGet("href") ?? "";
        if (SAFE_LINK.test(href)) {
          attrs.href = href;
          attrs.rel = "noopener noreferrer nofollow";
          attrs.target = "_blank";
        }
      }
      const align = t.attrGet("style");
      if ((t.tag === "td" || t.tag === "th") && align?.includes("right")) attrs.class = "num";
      stack.push({ tag: TAGS.has(t.tag) ? t.tag : "span", attrs, children: [] });
    } else if (t.nesting === -1 && stack.length > 1) {
      const done = stack.pop()!;
      top().children.push(h(done.tag, done.attrs, ...done.children) as VNode);
    }
  }
  return root.children;
}

/** Markdown as elements; text from the server can never become markup or script. */
export function Markdown({ source }: { source: string }) {
  return <div class="markdown">{build(md.parse(source, {}))}</div>;
}
