"""Which journal entries already went out live on one socket, so a resume does not send them twice."""


class LiveSpan:
    """The entries that went out live on one socket: every entry of its audience from `first` to
    `last`, both included.

    The hub hands a socket each entry of its audience once, in seq order (realtime/hub.py), and a
    socket that cannot keep up is closed rather than skipped (realtime/delivery.py); a replay reads
    the journal through the same audience tags. So two numbers say exactly which entries went out
    live, whatever their count: a set or a bitmap per socket cost memory and, for every delivery,
    the CPU of keeping it.
    """

    __slots__ = ("first", "last")

    def __init__(self) -> None:
        self.first = 0  # none yet
        self.last = 0

    def add(self, seq: int) -> None:
        if not self.first:
            self.first = seq
        self.last = seq

    def __contains__(self, seq: int) -> bool:
        return 0 < self.first <= seq <= self.last
