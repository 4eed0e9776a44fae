"""A TCP relay on loopback in front of a real model server, which kills that server (SIGKILL) the
moment the server's reply carries the first words of an answer.

It lets a test kill a real ``llama_cpp.server`` in the middle of a streamed answer while a
client it does not control (``qa serve``, ``qa chat``) is reading that answer: the relay only
passes bytes on and watches them; the answer, the death and the broken connection are real.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading

__all__ = ["KillingRelay"]

# A server-sent event whose delta holds text (the first event carries only the role).
_WORDS = re.compile(rb'"content":\s*"[^"]')


class KillingRelay:
    """Forwards ``127.0.0.1:<port>`` to the model server at ``upstream_port``; once ``armed``,
    SIGKILLs ``process`` after passing on the first reply bytes that carry answer text."""

    def __init__(self, upstream_port: int, process: subprocess.Popen) -> None:
        self.upstream_port = upstream_port
        self.process = process
        self.armed = True
        self.killed = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def retarget(self, upstream_port: int, process: subprocess.Popen) -> None:
        """Send the next connections to another server (a restarted one), armed again."""
        self.upstream_port, self.process = upstream_port, process
        self.killed.clear()
        self.armed = True

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()  # nothing listens upstream: the client sees a refused request
                continue
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, is_reply: bool) -> None:
        seen = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
                if is_reply and self.armed:
                    seen = (seen + data)[-4096:]
                    if _WORDS.search(seen):
                        self.armed = False
                        self.process.send_signal(signal.SIGKILL)
                        self.killed.set()
        except OSError:
            pass
        finally:
            # Pass the end on as it came: the reader sees the server's connection end mid-reply.
            for end in (target, source):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()
