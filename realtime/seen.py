"""Which journal entries already went out live on one socket, so a resume does not send them twice."""


class LiveWindow:
    """The newest WINDOW sequence numbers, one bit each: set if that entry was sent live.

    A bounded count of remembered entries (the old `deque(maxlen=64)`) let a burst of more than 64
    live entries before a `resume` come back as duplicates. Remembering by position in the journal
    instead costs WINDOW / 8 bytes per socket, whatever the traffic; an entry older than the window
    is resent, which only a client that delayed its resume by thousands of entries can see.
    """

    WINDOW = 4096
    _MASK = (1 << WINDOW) - 1

    def __init__(self) -> None:
        self.top = 0  # the highest seq recorded
        self.bits = 0  # bit i set: seq (top - i) went out live

    def add(self, seq: int) -> None:
        if seq > self.top:
            shift = seq - self.top
            self.bits = (self.bits << shift) & self._MASK if shift < self.WINDOW else 0
            self.top = seq
        offset = self.top - seq
        if offset < self.WINDOW:
            self.bits |= 1 << offset

    def __contains__(self, seq: int) -> bool:
        offset = self.top - seq
        return 0 <= offset < self.WINDOW and bool((self.bits >> offset) & 1)
