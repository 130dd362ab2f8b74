"""The bundled demo news site: three fictional publishers and a wire service.

``make demo`` and the test suite serve it from 127.0.0.1 with
:class:`SiteServer`; every source is a virtual host under the reserved
``.test`` top-level domain, which the pipeline maps to 127.0.0.1 itself.
"""

from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.demo.site import DemoSource, NewsSite, Resource

__all__ = ["DemoSource", "NewsSite", "Reply", "RequestInfo", "Resource", "SiteServer"]
