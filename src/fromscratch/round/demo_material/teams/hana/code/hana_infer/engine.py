"""Hana inference engine: a batched decoder loop with a paged cache (team-written)."""

from dataclasses import dataclass, field


@dataclass
class Page:
    capacity: int
    keys: list = field(default_factory=list)
    values: list = field(default_factory=list)

    def full(self) -> bool:
        return len(self.keys) >= self.capacity


@dataclass
class Sequence:
    request_id: str
    tokens: list
    pages: list = field(default_factory=list)
    finished: bool = False


class Scheduler:
    """Admits sequences while the page budget allows, oldest first."""

    def __init__(self, page_size: int, max_pages: int):
        self.page_size = page_size
        self.max_pages = max_pages
        self.waiting: list[Sequence] = []
        self.running: list[Sequence] = []

    def pages_in_use(self) -> int:
        return sum(len(s.pages) for s in self.running)

    def submit(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def step(self) -> list[Sequence]:
        while self.waiting:
            need = -(-len(self.waiting[0].tokens) // self.page_size)
            if self.pages_in_use() + need > self.max_pages:
                break
            seq = self.waiting.pop(0)
            seq.pages = [Page(self.page_size) for _ in range(need)]
            self.running.append(seq)
        self.running = [s for s in self.running if not s.finished]
        return list(self.running)


def decode_round(model, scheduler: Scheduler, eos_id: int) -> int:
    batch = scheduler.step()
    if not batch:
        return 0
    nxt = model.forward_last([s.tokens for s in batch])
    for seq, tok in zip(batch, nxt):
        seq.tokens.append(int(tok))
        if int(tok) == eos_id:
            seq.finished = True
        elif seq.pages[-1].full():
            seq.pages.append(Page(scheduler.page_size))
    return len(batch)
