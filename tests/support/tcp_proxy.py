"""A TCP proxy on 127.0.0.1 that a test switches, to make a real PostgreSQL or Redis fail
the way networks do without touching the machine's shared servers:

- `pass`: bytes flow both ways;
- `hang`: connections are accepted and kept, and nothing is forwarded either way (a server
  that accepts but never answers; what was sent meanwhile is delivered after `pass`);
- `refuse`: every connection is closed at once, the ones open included (a server that is
  down or restarting).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Literal

Mode = Literal["pass", "hang", "refuse"]


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        self._closed = True
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._spawn(self._pipe, client, upstream)

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        other = {client: upstream, upstream: client}
        waiting: dict[socket.socket, bytearray] = {client: bytearray(), upstream: bytearray()}
        try:
            while not self._closed and self.mode != "refuse":
                readable, _, _ = select.select([client, upstream], [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    waiting[other[sock]] += data  # owed to the other side
                if self.mode == "pass":
                    for sock, owed in waiting.items():
                        if owed:
                            sock.sendall(owed)
                            owed.clear()
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
