"""``python -m ingest.demo [--port N] [--sources]``: serve the demo site in the foreground.

Prints the port and the virtual hosts (all to be resolved to 127.0.0.1) and
writes nothing to disk. ``--sources`` also prints the matching source
registry (TOML) on standard output.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ingest.demo.server import SiteServer


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest.demo",
        description="Serve the news-ingest demo news site on 127.0.0.1.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: any free port)"
    )
    parser.add_argument(
        "--sources", action="store_true", help="also print the source registry (TOML)"
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    server = SiteServer(port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    site = server.site
    print(f"news-ingest demo site listening on {server.base_url} (port {server.port})")
    print("virtual hosts (resolve each to 127.0.0.1):")
    for source in site.sources:
        print(f"  {source.host:<32} {source.name} ({source.kind})")
        print(f"  {'':<32} feed: {source.feed_url}")
    if args.sources:
        print()
        print(site.sources_toml())
    print("press Ctrl+C to stop", flush=True)
    if threading.current_thread() is threading.main_thread():
        # Stop cleanly on SIGTERM, and on SIGINT even when started in the background.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
