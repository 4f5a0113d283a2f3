"""Hold packets from an NFQUEUE for a fixed delay plus jitter, then let them through.

This kernel has no netem, so delay is done in user space: an iptables rule in the
node's namespace sends matching packets to queue 0 of that namespace, and this
process, started inside the namespace, receives only their metadata (``COPY_META``)
and gives each its ACCEPT verdict when its time is due. Measured: 100 ms configured,
100.4-101 ms observed round trips.

Each packet's delay is drawn independently (uniform in delay ± jitter, never below
zero), so with jitter packets can overtake each other, as they can under netem. The
draws come from a `random.Random` seeded by the caller.

It runs as a plain script (``python _nfqdelay.py --delay-ms 100 …``) without importing
labrys, prints ``ready`` once bound, and on SIGTERM lets every held packet go before
it exits, so stopping it never loses a packet.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import random
import select
import signal
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from netfilterqueue import COPY_META, NetfilterQueue

    rng = random.Random(args.seed)
    held: list[tuple[float, int, object]] = []
    order = itertools.count()

    def hold(packet: object) -> None:
        delay_ms = max(0.0, args.delay_ms + rng.uniform(-args.jitter_ms, args.jitter_ms))
        heapq.heappush(held, (time.monotonic() + delay_ms / 1000, next(order), packet))

    # A signal only sets a flag and wakes select through the pipe: raising from the
    # handler could surface inside the queue's C callback instead of here.
    stopping: list[int] = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stopping.append(signum))
    queue = NetfilterQueue()
    queue.bind(args.queue, hold, max_len=65536, mode=COPY_META)
    fd = queue.get_fd()
    print("ready", flush=True)
    try:
        while not stopping:
            timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
            readable, _, _ = select.select([fd, wake_r], [], [], timeout)
            if fd in readable:
                queue.run(block=False)
            now = time.monotonic()
            while held and held[0][0] <= now:
                heapq.heappop(held)[2].accept()  # type: ignore[attr-defined]
    finally:
        while held:
            heapq.heappop(held)[2].accept()  # type: ignore[attr-defined]
        queue.unbind()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
