"""Markdown → a static HTML page, for the subset the experiments write: headings, pipe tables,
paragraphs, bullet lists, images, links, **bold**, `code` and fenced code. No dependency, and every
cell's text is escaped (results carry user-chosen names)."""
from __future__ import annotations

import html
import re

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)"), lambda m: f'<img alt="{m[1]}" src="{m[2]}">'),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), lambda m: f'<a href="{m[2]}">{m[1]}</a>'),
    (re.compile(r"\*\*(.+?)\*\*"), lambda m: f"<strong>{m[1]}</strong>"),
    (re.compile(r"`([^`]+)`"), lambda m: f"<code>{m[1]}</code>"),
]

STYLE = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%;margin:.5rem 0}
code{background:#f5f5f5;padding:0 .2rem}pre{background:#f5f5f5;padding:.5rem;overflow-x:auto}"""


def inline(text: str) -> str:
    """Escape, then turn the inline markup into tags (images before links: ![..](..) contains [..](..))."""
    out = html.escape(text, quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def to_html(markdown: str, title: str) -> str:
    """A whole page."""
    lines, out, i = markdown.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html.escape("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
        elif m := re.match(r"(#{1,6}) (.*)", line):
            level = len(m[1])
            anchor = slug(m[2])
            out.append(f'<h{level} id="{anchor}">{inline(m[2])}</h{level}>')
            i += 1
        elif line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-:| ]+\|$", lines[i + 1].strip()):
            head = "".join(f"<th>{inline(c)}</th>" for c in _cells(line))
            body, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                body.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(lines[i])) + "</tr>")
                i += 1
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        elif line.startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].startswith(("- ", "* ")):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.strip():
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "```", "- ", "* ")):
                para.append(lines[i])
                i += 1
            out.append("<p>" + inline(" ".join(para)) + "</p>")
        else:
            i += 1
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
