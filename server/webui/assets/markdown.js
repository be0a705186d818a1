// A small Markdown renderer for chat answers. Everything the model wrote
// is HTML-escaped first; only the markup this file emits is HTML. It knows
// fenced code blocks, headings, lists, block quotes, rules, paragraphs,
// inline code, bold, italics and http(s) links: enough for chat, and no
// dependency.
"use strict";

function escapeHTML(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// renderInline formats one line of text. Code spans are cut out first so
// nothing inside them is formatted; links accept only http(s) URLs.
function renderInline(text) {
  const codes = [];
  let s = text.replace(/`([^`]+)`/g, (_, code) => {
    codes.push("<code>" + escapeHTML(code) + "</code>");
    return "\u0000" + (codes.length - 1) + "\u0000";
  });
  s = escapeHTML(s);
  s = s.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^*\w])\*([^*\s][^*]*?)\*(?!\w)/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^_\w])_([^_\s][^_]*?)_(?!\w)/g, "$1<em>$2</em>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

// renderMarkdown turns a whole answer into HTML. An unclosed code fence
// (an answer still streaming) renders as a code block up to the end.
function renderMarkdown(src) {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length) {
      out.push("<p>" + para.map(renderInline).join("<br>") + "</p>");
      para = [];
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line))) {
      flush();
      const fence = m[1];
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) {
        body.push(lines[i]);
      }
      const cls = m[2] ? ' class="language-' + escapeHTML(m[2]) + '"' : "";
      out.push("<pre><code" + cls + ">" + escapeHTML(body.join("\n")) + "</code></pre>");
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      flush();
      out.push("<h" + m[1].length + ">" + renderInline(m[2]) + "</h" + m[1].length + ">");
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push("<hr>");
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      const item = /^\s*\d/.test(line) ? /^\s*\d+[.)]\s+/ : /^\s*[-*+]\s+/;
      const ordered = /^\s*\d/.test(line);
      const items = [];
      for (; i < lines.length && item.test(lines[i]); i++) {
        items.push("<li>" + renderInline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, "")) + "</li>");
      }
      i--;
      const tag = ordered ? "ol" : "ul";
      out.push("<" + tag + ">" + items.join("") + "</" + tag + ">");
    } else if (/^\s*>/.test(line)) {
      flush();
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) {
        quoted.push(lines[i].replace(/^\s*>\s?/, ""));
      }
      i--;
      out.push("<blockquote>" + renderMarkdown(quoted.join("\n")) + "</blockquote>");
    } else if (line.trim() === "") {
      flush();
    } else {
      para.push(line);
    }
  }
  flush();
  return out.join("\n");
}

if (typeof module !== "undefined") {
  module.exports = { escapeHTML, renderInline, renderMarkdown };
}
