"""Unrelated helper code: text tables."""


def pad(cell, width):
    text = str(cell)
    return text + " " * (width - len(text))


def render(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        lines.append(" | ".join(pad(c, w) for c, w in zip(r, widths)))
    return "\n".join(lines)


class Ledger:
    def __init__(self):
        self.entries = {}

    def add(self, key, amount):
        self.entries[key] = self.entries.get(key, 0) + amount
        return self.entries[key]

    def report(self):
        return render(sorted(self.entries.items()))
