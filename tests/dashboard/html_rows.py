"""Read the rows of a dashboard table (``data-testid``) out of a page's HTML."""

from __future__ import annotations

from html.parser import HTMLParser


class _Rows(HTMLParser):
    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid = testid
        self.depth = 0  # >0 while inside the wanted table
        self.rows: list[dict[str, str]] = []
        self.row: dict[str, str] | None = None
        self.cell: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-testid") == self.testid:
            self.depth = 1
        elif self.depth and tag == "tr":
            self.row = {f"@{k[5:]}": v or "" for k, v in a.items() if k.startswith("data-")}
            self.row["@class"] = a.get("class") or ""
        elif self.depth and tag == "td" and self.row is not None:
            self.cell = a.get("data-col") or f"td{len([k for k in self.row if k[0] != '@'])}"
            self.text = []

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "td" and self.row is not None and self.cell:
            self.row[self.cell] = " ".join("".join(self.text).split())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if any(k[0] != "@" for k in self.row):
                self.rows.append(self.row)
            self.row = None
        elif tag == "table":
            self.depth = 0

    def handle_data(self, data: str) -> None:
        if self.cell:
            self.text.append(data)


def table_rows(html: str, testid: str) -> list[dict[str, str]]:
    """Rows of ``<table data-testid=testid>``: cells by ``data-col``, row attrs as ``@name``."""
    parser = _Rows(testid)
    parser.feed(html)
    return parser.rows
